"""Append-only streams of msgpack records: what watches and session recordings are written as.

A stream is a sequence of msgpack maps.  The first is a header
(``{"stream": KIND, "version": N, ...}``); every later record is whatever the
writer appends.  Each record is written whole and flushed as it goes, so a
killed writer or a full disk leaves a file that is readable up to its last
complete record; :func:`read` reports a cut tail instead of failing on it.
Files are 0600 (recordings hold heap contents and tokens).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from cdpclient import compression
from cdpclient.fileio import create_private, make_private_dir

_READ = 1 << 16


class StreamWriter:
    """Append records to a new msgpack stream file.

    ``fsync_every`` bounds what a power loss can take (seconds between fsyncs);
    every record reaches the OS at once either way (unbuffered writes).  A write
    that fails (disk full, file size limit) is rolled back to the end of the last
    complete record before the error propagates, so the file stays a clean stream
    and a later write may succeed once space is freed.
    """

    def __init__(self, path: str | os.PathLike[str], kind: str, version: int = 1, *,
                 fsync_every: float = 5.0, **header: Any) -> None:
        self.path = Path(path)
        make_private_dir(self.path.parent)
        create_private(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        self._packer = msgpack.Packer(use_bin_type=True, datetime=False)
        self._fsync_every = fsync_every
        self._last_sync = 0.0
        self.size = 0
        self.records = 0
        try:
            self._write({"stream": kind, "version": version, **({"header": header} if header else {})},
                        count=False)
        except BaseException:
            self.close()
            raise

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (a map of msgpack-able values).

        Raises ``OSError`` (``ENOSPC``, ``EFBIG``...) with the file cut back to its
        last complete record.
        """
        self._write(record)

    def _write(self, record: dict[str, Any], count: bool = True) -> None:
        if self._fd < 0:
            raise ValueError(f"{self.path}: stream closed")
        data = memoryview(self._packer.pack(record))
        done = 0
        try:
            while done < len(data):
                done += os.write(self._fd, data[done:])
        except OSError:
            if done:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self.size)
            raise
        self.size += len(data)
        if count:
            self.records += 1
        now = time.monotonic()
        if now - self._last_sync >= self._fsync_every:
            os.fsync(self._fd)
            self._last_sync = now

    def sync(self) -> None:
        """fsync what was written so far."""
        if self._fd >= 0:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> StreamWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Stream:
    """What :func:`read` found: the header, the records, and whether the tail was cut."""

    kind: str
    version: int
    header: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    truncated_bytes: int = 0  # bytes after the last complete record (a cut tail), 0 if whole

    @property
    def truncated(self) -> bool:
        return self.truncated_bytes > 0


class NotAStream(ValueError):
    """The file does not start with a msgpack stream header."""


def looks_like_stream(head: bytes) -> bool:
    """Whether ``head`` (the first bytes of a file) starts a msgpack stream."""
    # a small msgpack map (0x81-0x8f) whose first key is the 6-byte string "stream"
    return len(head) >= 8 and 0x81 <= head[0] <= 0x8F and head[1:8] == b"\xa6stream"


def iter_records(path: str | os.PathLike[str]) -> Iterator[dict[str, Any] | int]:
    """Yield the header, then each complete record; finally, if the tail is cut, its byte count (an int).

    Streams in constant memory whatever the file size; a zstd-compressed file is
    read through a decompressor.
    """
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=256 << 20)
    consumed = total = 0
    with compression.open_content(Path(path)) as fh:  # a stream compressed at rest reads the same
        while chunk := fh.read(_READ):
            total += len(chunk)
            unpacker.feed(chunk)
            try:
                for obj in unpacker:
                    if not isinstance(obj, dict):
                        raise ValueError("not a map")
                    consumed = unpacker.tell()
                    yield obj
            except (msgpack.FormatError, msgpack.StackError, ValueError):
                # garbage after the last good record (a torn write): the rest is the cut tail
                while chunk := fh.read(_READ):
                    total += len(chunk)
                break
    if total > consumed:
        yield total - consumed


def read(path: str | os.PathLike[str]) -> Stream:
    """Read a whole stream (use :func:`iter_records` for large ones).

    Raises :class:`NotAStream` if the file is not one; a cut tail is reported in
    :attr:`Stream.truncated_bytes`, never raised.
    """
    it = iter_records(path)
    try:
        first = next(it)
    except StopIteration:
        raise NotAStream(f"{path}: empty file") from None
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError) as exc:
        raise NotAStream(f"{path}: not a msgpack stream ({exc})") from exc
    if not isinstance(first, dict) or not isinstance(first.get("stream"), str):
        raise NotAStream(f"{path}: not a msgpack stream (no header)")
    out = Stream(kind=first["stream"], version=int(first.get("version", 1)), header=dict(first.get("header") or {}))
    for item in it:
        if isinstance(item, int):
            out.truncated_bytes = item
        else:
            out.records.append(item)
    return out
