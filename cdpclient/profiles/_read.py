"""Reading profile files with one clear error for anything malformed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cdpclient.errors import InvalidCaptureFile
from cdpclient.store.kinds import title


def invalid(path: Path, kind: str, why: str) -> InvalidCaptureFile:
    return InvalidCaptureFile(f"{path}: not a valid {title(kind)}: {why}", path=str(path), kind=kind)


def read_json(path: Path, kind: str) -> Any:
    """The parsed JSON of a profile file; InvalidCaptureFile if missing, empty, truncated or not JSON."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise InvalidCaptureFile(f"{path}: no such file", path=str(path), kind=kind) from exc
    except OSError as exc:
        raise InvalidCaptureFile(f"{path}: cannot read: {exc.strerror or exc}", path=str(path), kind=kind) from exc
    if not data.strip():
        raise invalid(path, kind, "the file is empty")
    try:
        return json.loads(data)
    except RecursionError:
        raise invalid(path, kind, "JSON nested too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at byte {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        # A parse error in the last few bytes is what a cut-off download or capture looks like.
        near_end = isinstance(exc, json.JSONDecodeError) and exc.pos >= len(data.rstrip()) - 64
        hint = " (the file ends early: truncated?)" if near_end else ""
        raise invalid(path, kind, f"broken JSON{where}{hint}") from exc


# What a reader walking hostile data can raise beyond its own checks: turned into one line by
# :func:`malformed`, never an internal error.
DATA_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, RecursionError)


def malformed(path: Path, kind: str, exc: BaseException) -> InvalidCaptureFile:
    text = str(exc)
    text = text if len(text) <= 80 else text[:79] + "…"
    return invalid(path, kind, f"malformed content ({type(exc).__name__}: {text})")
