"""Reading profile files with one clear error for anything malformed."""

from __future__ import annotations

import json
import re
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
        try:
            return json.loads(data)
        except RecursionError:  # a deep call tree: Python's json recurses once per level
            return loads_deep(data.decode("utf-8"))
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


_TOKEN = re.compile(r'[ \t\r\n]*(?:([\[\]{}:,])|(")|(-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?)'
                    r'|(true|false|null))')
_LITERALS = {"true": True, "false": False, "null": None}


def loads_deep(text: str) -> Any:
    """``json.loads`` with an explicit stack: any depth of nesting, no recursion.

    Slower than the C parser; used only when that one runs out of recursion.  Raises
    :class:`json.JSONDecodeError` for text that is not one JSON value.
    """
    from json.decoder import scanstring  # type: ignore[attr-defined]

    stack: list[Any] = []          # open containers
    keys: list[Any] = []           # per open object: the key waiting for its value (None: none)
    pos = 0
    want_value = True              # a value may come next (else: ',' or a closing bracket)
    done = False
    result: Any = None

    def error(what: str) -> json.JSONDecodeError:
        return json.JSONDecodeError(what, text, pos)

    while True:
        m = _TOKEN.match(text, pos)
        if m is None:
            if done and not text[pos:].strip():
                return result
            raise error("unexpected text")
        pos = m.end()
        punct, quote, number = m.group(1), m.group(2), m.group(3)
        if done:
            raise error("extra data after the document")
        value: Any
        top = stack[-1] if stack else None
        in_object = isinstance(top, dict)
        if punct in ("]", "}"):
            empty_ok = top is not None and not top and (isinstance(top, list) or keys[-1] is None)
            if top is None or (punct == "]") != isinstance(top, list) or (want_value and not empty_ok):
                raise error(f"unexpected {punct!r}")
            value = stack.pop()
            keys.pop()
        elif punct == ",":
            if want_value or top is None:
                raise error("unexpected ','")
            want_value = True
            continue
        elif punct == ":":
            raise error("unexpected ':'")
        elif not want_value:
            raise error("missing ','")
        elif in_object and keys[-1] is None:  # a key
            if not quote:
                raise error("an object key must be a string")
            key, pos = scanstring(text, pos)
            colon = _TOKEN.match(text, pos)
            if colon is None or colon.group(1) != ":":
                raise error("missing ':' after a key")
            pos = colon.end()
            keys[-1] = key
            continue
        elif punct in ("[", "{"):
            stack.append([] if punct == "[" else {})
            keys.append(None)
            want_value = True
            continue
        elif quote:
            value, pos = scanstring(text, pos)
        elif number is not None:
            value = float(number) if m.group(4) or m.group(5) else int(number)
        else:
            value = _LITERALS[m.group(6)]
        # a complete value: into its container, or the document is done
        if not stack:
            result, done = value, True
            continue
        top = stack[-1]
        if isinstance(top, list):
            top.append(value)
        else:
            top[keys[-1]] = value
            keys[-1] = None
        want_value = False
