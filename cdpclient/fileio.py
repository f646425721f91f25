"""Private, atomic files: the one place that creates capture and store files.

Everything cdpclient writes may hold heap contents (tokens, passwords), so files
are 0600 and directories 0700 whatever the umask.  A file appears complete or not
at all: writes go to a hidden temporary name beside the destination, and
:meth:`AtomicFile.commit` flushes, syncs and renames it into place.  Anything
else (an exception, a cancelled task, :meth:`AtomicFile.discard`) removes the
temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Self

from cdpclient import compression

FILE_MODE = 0o600
DIR_MODE = 0o700
_BUFFER = 1 << 20  # inspector chunks are ~100 KB; a 1 MB buffer keeps write syscalls few


def make_private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents as 0700 directories, whatever the umask."""
    if path.is_dir():
        return
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    if not p.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(p))
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)


def create_private(path: Path) -> None:
    """Create an empty 0600 file; fails if it exists."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE))
    os.chmod(path, FILE_MODE)


def open_private(path: Path, *, exclusive: bool = True) -> BinaryIO:
    """Open ``path`` for binary writing as a 0600 file (new, or truncated unless ``exclusive``)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "wb", buffering=_BUFFER)


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (a directory after a rename makes the rename durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_beside(path: Path) -> Path:
    """A hidden, unique temporary name in ``path``'s directory (so a rename is atomic)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")


class AtomicFile:
    """A destination file written in pieces that appears complete or not at all.

    ``written`` counts the bytes handed to :meth:`write` (before compression).
    With ``compress`` the file is a zstd stream (see :mod:`cdpclient.compression`).
    Errors are the underlying :class:`OSError` (ENOSPC on a full disk).
    """

    def __init__(self, path: str | os.PathLike[str], *, compress: bool = False) -> None:
        self.path = Path(path)
        self.temp = temp_beside(self.path)
        self.written = 0
        make_private_dir(self.path.parent)
        self._raw = open_private(self.temp)
        self._out: Any = self._raw
        if compress:
            self._out = compression.stream_writer(self._raw)
        self._done = False

    def write(self, data: str | bytes) -> None:
        raw = data.encode() if isinstance(data, str) else data
        self._out.write(raw)
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
        except BaseException:
            self.discard()
            raise
        self._done = True
        with contextlib.suppress(OSError):
            fsync_path(self.path.parent)
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], *, compress: bool = False) -> Iterator[AtomicFile]:
    """``with atomic_file(p) as f: f.write(...); f.commit()``; no commit, no file."""
    out = AtomicFile(path, compress=compress)
    try:
        yield out
    finally:
        out.discard()


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, compress: bool = False) -> int:
    """Write ``data`` to ``path`` atomically as a 0600 file; returns the size on disk."""
    with atomic_file(path, compress=compress) as out:
        out.write(data)
        return out.commit()


def write_json_atomic(path: str | os.PathLike[str], value: Any, *, indent: int | None = 2) -> int:
    """Write ``value`` as JSON (sorted keys) to ``path`` atomically (0600)."""
    data = json.dumps(value, indent=indent, sort_keys=True).encode() + b"\n"
    return write_atomic(path, data)


def compress_file(src: Path, dest: Path, progress: Callable[[int], None] | None = None) -> tuple[str, int, str, int]:
    """zstd-compress ``src`` into a new 0600 file ``dest`` (fsynced) in one pass.

    Returns ``(sha256, size)`` of the content and of the compressed file.  A write
    error (disk full) is raised as the :class:`OSError` underneath.
    """
    create_private(dest)
    with open(src, "rb") as fin, open(dest, "wb") as raw:
        digests = compression.compress_stream(fin, raw, size=src.stat().st_size, progress=progress)
        raw.flush()
        os.fsync(raw.fileno())
    return digests


def decompress_file(src: Path, dest: Path, check_head: Callable[[bytes], None] | None = None) -> None:
    """Decompress a zstd file into a new 0600 file ``dest``, bounded (see :mod:`cdpclient.compression`).

    ``check_head`` sees the first block of the content and may raise to refuse it.  On any
    error (past the bound, refused content, damage, a full disk) ``dest`` is removed.
    """
    create_private(dest)
    try:
        with open(src, "rb") as fin, open(dest, "wb") as fout:
            compression.decompress_stream(fin, fout, path=src, check_head=check_head)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(dest)
        raise
