"""Reading a recording: its records in order, up to the last complete one of a file cut short."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import zstandard

from cdpclient import compression
from cdpclient.errors import InvalidCaptureFile
from cdpclient.recording import format as fmt

__all__ = ["Recording", "is_recording", "iter_records", "read_recording"]

_BLOCK = 1 << 20


def _head(path: Path) -> bytes:
    """The first plain bytes of ``path`` (decompressed when it is zstd)."""
    with open(path, "rb") as f:
        raw = f.read(4096)
    if raw.startswith(compression.MAGIC):
        try:
            return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(raw))[:64]
        except zstandard.ZstdError:
            return b""
    return raw[:64]


def is_recording(path: str | Path) -> bool:
    """Whether ``path`` is a file that starts as a cdpclient recording."""
    p = Path(path)
    try:
        return p.is_file() and _head(p)[1:1 + len(fmt.HEAD)] == fmt.HEAD
    except OSError:
        return False


class _Stream:
    """Iterates records; afterwards ``truncated`` / ``problem`` say whether and how the file ended early."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.truncated = False
        self.problem: str | None = None
        self.size = path.stat().st_size
        self.expanded = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        unpacker = msgpack.Unpacker(raw=False, max_buffer_size=0, strict_map_key=False)
        limit = compression.expansion_limit(self.size)
        finished = True
        with open(self.path, "rb") as f:
            head = f.read(4)
            f.seek(0)
            zstd = head.startswith(compression.MAGIC)
            d = zstandard.ZstdDecompressor().decompressobj() if zstd else None
            while True:
                raw = f.read(_BLOCK)
                if not raw:
                    break
                if d is None:
                    data = raw
                else:
                    try:
                        data = d.decompress(raw)
                        while d.eof and d.unused_data:  # another frame follows
                            rest = d.unused_data
                            d = zstandard.ZstdDecompressor().decompressobj()
                            data += d.decompress(rest)
                    except zstandard.ZstdError as exc:
                        self.truncated, self.problem = True, f"damaged compressed data ({exc})"
                        break
                    finished = d.eof
                self.expanded += len(data)
                if self.expanded > limit:
                    raise compression.expansion_refused(self.path, self.size, self.expanded, limit)
                unpacker.feed(data)
                yield from unpacker
        leftover = self.expanded - unpacker.tell() if not self.truncated else 0
        if not self.truncated and (leftover or (zstd and not finished)):
            self.truncated = True
            self.problem = ("it ends in the middle of a record" if leftover
                            else "it ends without the end of its stream (the recording process was stopped)")


@dataclasses.dataclass
class Recording:
    """A recording read into memory: ``header``, the records after it, and whether it was cut short."""

    path: Path
    header: dict[str, Any]
    records: list[dict[str, Any]]
    truncated: bool
    problem: str | None
    size: int
    expanded: int

    @property
    def description(self) -> dict[str, Any]:
        return dict(self.header.get("description") or {})

    @property
    def chunks_kept(self) -> bool:
        return bool(self.header.get("chunks", fmt.CHUNKS_FULL) == fmt.CHUNKS_FULL)


def iter_records(path: str | Path) -> _Stream:
    """The records of ``path`` as an iterable; after iterating, its ``truncated`` and ``problem`` say
    whether the file ended before its end (a killed recorder).  Raises :class:`InvalidCaptureFile`
    when the file is not a recording."""
    p = Path(path)
    if not is_recording(p):
        raise InvalidCaptureFile(f"{p} is not a cdpclient recording", path=p, kind="recording")
    return _Stream(p)


def read_recording(path: str | Path) -> Recording:
    """All of ``path``'s records (see :func:`iter_records`); the header is checked."""
    stream = iter_records(path)
    records = list(stream)
    if not records or not fmt.is_header(records[0]):
        raise InvalidCaptureFile(f"{stream.path} has no recording header", path=stream.path, kind="recording")
    header = fmt.header_fields(records[0])
    if int(header.get("version") or 0) > fmt.FORMAT:
        raise InvalidCaptureFile(f"{stream.path} is recording format {header.get('version')}; this cdpclient "
                                 f"reads format {fmt.FORMAT} (upgrade cdpclient)", path=stream.path, kind="recording")
    return Recording(stream.path, header, records[1:], stream.truncated, stream.problem, stream.size,
                     stream.expanded)
