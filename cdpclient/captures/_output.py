"""Capture files that appear complete or not at all.

Writes go to a hidden temporary name beside the destination (created 0600);
``commit()`` flushes, syncs and renames it into place.  Anything else (an
exception, a cancelled task, ``discard()``) removes the temporary file, so an
interrupted capture never leaves a file that looks like a finished one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cdpclient.errors import CaptureError

_BUFFER = 1 << 20  # chunks are ~100 KB; a 1 MB buffer keeps write syscalls few


def temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")


def ensure_parent(path: Path) -> None:
    """Create missing parent directories 0700 (they may hold heap contents)."""
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=0o700, exist_ok=True)


class StreamFile:
    """A destination file written in pieces; see the module docstring.

    ``written`` counts the bytes handed to :meth:`write` (before compression).
    With ``compress`` the file is a zstd frame stream.  A write error (disk
    full) is raised as :class:`CaptureError` with the path in the message.
    """

    def __init__(self, path: str | os.PathLike[str], *, compress: bool = False) -> None:
        self.path = Path(path)
        self.temp = temp_name(self.path)
        self.written = 0
        try:
            ensure_parent(self.path)
            fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            raise CaptureError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self._raw = os.fdopen(fd, "wb", buffering=_BUFFER)
        self._out: Any = self._raw
        if compress:
            import zstandard

            self._out = zstandard.ZstdCompressor(level=3).stream_writer(self._raw, closefd=False)
        self._done = False

    def write(self, data: str | bytes) -> None:
        raw = data.encode() if isinstance(data, str) else data
        try:
            self._out.write(raw)
        except OSError as exc:
            raise CaptureError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self.written += len(raw)

    def commit(self) -> int:
        """Finish the file and move it into place; returns its size on disk."""
        try:
            if self._out is not self._raw:
                self._out.close()
            self._raw.flush()
            os.fsync(self._raw.fileno())
            self._raw.close()
            os.replace(self.temp, self.path)
        except OSError as exc:
            self.discard()
            raise CaptureError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self._done = True
        return self.path.stat().st_size

    def discard(self) -> None:
        """Drop the temporary file (idempotent; a committed file stays)."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(Exception):
            self._raw.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)


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
