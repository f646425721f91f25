"""Capture files that appear complete or not at all.

:class:`cdpclient.fileio.AtomicFile` does the writing (0600, a hidden
temporary name beside the destination, renamed into place on ``commit()``,
removed on any other way out); here its :class:`OSError` becomes the
:class:`CaptureError` a capture raises, with the path in the message.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cdpclient.errors import CaptureError
from cdpclient.fileio import AtomicFile


def _error(path: Path, exc: OSError) -> CaptureError:
    return CaptureError(f"cannot write {path}: {exc.strerror or exc}")


class StreamFile:
    """A capture file written in pieces; see the module docstring.

    ``written`` counts the bytes handed to :meth:`write` (before compression).
    With ``compress`` the file is a zstd stream (:mod:`cdpclient.compression`).
    A write error (disk full) is raised as :class:`CaptureError`.
    """

    def __init__(self, path: str | os.PathLike[str], *, compress: bool = False) -> None:
        self.path = Path(path)
        try:
            self._file = AtomicFile(self.path, compress=compress)
        except OSError as exc:
            raise _error(self.path, exc) from exc

    @property
    def written(self) -> int:
        return self._file.written

    def write(self, data: str | bytes) -> None:
        try:
            self._file.write(data)
        except OSError as exc:
            raise _error(self.path, exc) from exc

    def commit(self) -> int:
        """Finish the file and move it into place; returns its size on disk."""
        try:
            return self._file.commit()
        except OSError as exc:
            raise _error(self.path, exc) from exc

    def discard(self) -> None:
        """Drop the temporary file (idempotent; a committed file stays)."""
        self._file.discard()


@contextlib.contextmanager
def stream_file(path: str | os.PathLike[str], *, compress: bool = False) -> Iterator[StreamFile]:
    """``with stream_file(p) as f: f.write(...); size = f.commit()``; no commit, no file."""
    out = StreamFile(path, compress=compress)
    try:
        yield out
    finally:
        out.discard()


def write_profile(out: StreamFile, reply: dict[str, Any], method: str) -> tuple[int, dict[str, Any]]:
    """Write the ``profile`` of a stop command's reply to ``out`` as JSON and commit; ``(size, profile)``."""
    import json

    profile = reply.get("profile")
    if not profile:
        raise CaptureError(f"{method} returned no profile")
    out.write(json.dumps(profile, separators=(",", ":")))
    return out.commit(), profile


def write_whole(path: str | os.PathLike[str], data: str | bytes, *, compress: bool = False) -> int:
    """Write ``data`` to ``path`` atomically (0600); returns the size on disk."""
    with stream_file(path, compress=compress) as out:
        out.write(data)
        return out.commit()
