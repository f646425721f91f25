"""zstd at rest: the one place that compresses and decompresses capture files.

Level 1 is the project's measured choice on real heap snapshots: it compresses
them better than level 3 and about twice as fast.  Frames carry a checksum, so
damage is detected on reading.

Every read of a compressed file is bounded (:func:`expansion_limit`): a file may expand to
200x its compressed size, never less than 64 MiB and never more than 16 GiB, unless the
caller allows more (:func:`allow_expansion`, ``CDPCLIENT_MAX_EXPAND``; the CLI's
``--max-expand SIZE``).  A read that goes past the limit stops at once with
:class:`~cdpclient.errors.InvalidCaptureFile` naming the file, its compressed size and how
far it expanded; a file written meanwhile is the writer's to remove.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from cdpclient.errors import InvalidCaptureFile, UsageError

ZSTD_LEVEL = 1
MAGIC = b"\x28\xb5\x2f\xfd"
BLOCK = 1 << 20

# Decompression bounds: what a capture file may expand to unless the caller allows more.
MAX_RATIO = 200                 # expanded / compressed, beyond ...
RATIO_FLOOR = 64 << 20          # ... this many bytes (small files may compress very well)
MAX_EXPANDED = 16 << 30         # never more than this, whatever the ratio
MAX_EXPAND_ENV = "CDPCLIENT_MAX_EXPAND"
_allowed: contextvars.ContextVar[int | None] = contextvars.ContextVar("cdpclient_max_expand", default=None)

Progress = Callable[[int], None]  # called with bytes done so far


def is_compressed(path: Path) -> bool:
    """Whether ``path`` starts with a zstd frame."""
    with open(path, "rb") as fh:
        return fh.read(4) == MAGIC


def is_zstd_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from zstandard (its errors do not derive from OSError)."""
    return type(exc).__module__.startswith("zstandard")


def compressor() -> Any:
    import zstandard

    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True)


def stream_writer(raw: Any, size: int = -1) -> Any:
    """A writer that compresses into ``raw`` (left open when the writer closes)."""
    return compressor().stream_writer(raw, size=size, closefd=False)


def content_size(path: Path) -> int | None:
    """The uncompressed size a zstd file's first frame header declares, if it does."""
    import zstandard

    with open(path, "rb") as fh:
        size = zstandard.frame_content_size(fh.read(18))
    return size if size >= 0 else None


def _parse_size(text: str) -> int:
    """``16GiB``, ``500MB``, ``1073741824``: bytes (a local copy: :mod:`cdpclient.units` sits below)."""
    import re

    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?b?)\s*", text.lower())
    if not m:
        raise UsageError(f"{{max_expand}} {text!r}: give a size such as 32GiB or 500MB", options=("max_expand",))
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2)]
    if m.group(3) == "b" and m.group(2):  # "MB": decimal units
        scale = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}[m.group(2)]
    return int(float(m.group(1)) * scale)


def allow_expansion(size: int | str | None) -> contextvars.Token[int | None]:
    """Let compressed files expand up to ``size`` bytes (a number or ``"32GiB"``) in this context,
    whatever their ratio; None goes back to the default bounds.  Returns the ContextVar token."""
    value = _parse_size(size) if isinstance(size, str) else size
    return _allowed.set(value)


def allowed_expansion() -> int | None:
    """What the caller allowed (:func:`allow_expansion`, else ``CDPCLIENT_MAX_EXPAND``), or None."""
    value = _allowed.get()
    if value is not None:
        return value
    env = os.environ.get(MAX_EXPAND_ENV, "").strip()
    return _parse_size(env) if env else None


def expansion_limit(compressed_size: int) -> int:
    """How many bytes a file of ``compressed_size`` compressed bytes may expand to."""
    allowed = allowed_expansion()
    if allowed is not None:
        return allowed
    return min(MAX_EXPANDED, max(RATIO_FLOOR, MAX_RATIO * compressed_size))


def _human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover


def expansion_refused(path: Path, compressed_size: int, expanded: int, limit: int,
                      declared: bool = False) -> InvalidCaptureFile:
    """The one-line error of a file that expands past ``limit``."""
    how = f"declares {_human(expanded)}" if declared else f"expanded past {_human(expanded)}"
    ratio = f", {expanded / compressed_size:,.0f}x" if compressed_size else ""
    err = InvalidCaptureFile(
        f"{path}: {_human(compressed_size)} of zstd {how}{ratio} (limit {_human(limit)}); stopped there, "
        f"a decompression bomb or a damaged file? {{max_expand}} SIZE (or {MAX_EXPAND_ENV}) allows more",
        path=str(path), options=("max_expand",))
    return err


class BoundedReader:
    """A decompressing reader that stops with :func:`expansion_refused` once ``limit`` bytes came out."""

    def __init__(self, reader: Any, path: Path, compressed_size: int, limit: int) -> None:
        self.reader, self.path, self.compressed_size, self.limit = reader, path, compressed_size, limit
        self.done = 0

    def read(self, size: int = -1) -> bytes:
        want = BLOCK if size is None or size < 0 else size
        data: bytes = self.reader.read(min(want, self.limit - self.done + 1))
        self.done += len(data)
        if self.done > self.limit:
            raise expansion_refused(self.path, self.compressed_size, self.done - 1, self.limit)
        if size is None or size < 0:  # read all: in blocks, each checked
            parts = [data]
            while data:
                data = self.read(BLOCK)
                parts.append(data)
            return b"".join(parts)
        return data


def _check_declared(path: Path, head: bytes, compressed_size: int, limit: int) -> None:
    import zstandard

    try:
        declared = zstandard.frame_content_size(head)
    except zstandard.ZstdError:
        return  # the decompressor explains
    if declared > limit:
        raise expansion_refused(path, compressed_size, declared, limit, declared=True)


@contextlib.contextmanager
def open_content(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for reading its content, decompressing zstd on the fly (bounded: see the module)."""
    with open(path, "rb") as raw:
        if raw.read(4) == MAGIC:
            import zstandard

            size = os.fstat(raw.fileno()).st_size
            limit = expansion_limit(size)
            raw.seek(0)
            _check_declared(Path(path), raw.read(18), size, limit)
            raw.seek(0)
            with zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as reader:
                yield BoundedReader(reader, Path(path), size, limit)  # type: ignore[misc]
            return
        raw.seek(0)
        yield raw


class _HashingWriter:
    """A file-like sink that hashes what passes through it."""

    def __init__(self, raw: BinaryIO, h: Any) -> None:
        self.raw, self.h, self.size = raw, h, 0

    def write(self, data: bytes) -> int:
        self.h.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


def compress_stream(fin: BinaryIO, raw: BinaryIO, size: int = -1,
                    progress: Progress | None = None) -> tuple[str, int, str, int]:
    """zstd-compress ``fin`` into ``raw`` in one pass.

    Returns ``(sha256, size)`` of the content and of the compressed bytes.  A write
    error (disk full) is raised as the :class:`OSError` underneath.
    """
    content_hash, stored_hash = hashlib.sha256(), hashlib.sha256()
    done = 0
    sink = _HashingWriter(raw, stored_hash)
    try:
        with stream_writer(sink, size=size) as writer:
            while block := fin.read(BLOCK):
                content_hash.update(block)
                done += len(block)
                writer.write(block)
                if progress:
                    progress(done)
    except Exception as exc:
        # a write error in the sink surfaces as a ZstdError from the writer's exit
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__context__ or cause.__cause__
        if cause is not None and cause is not exc:
            raise cause from exc
        raise
    return content_hash.hexdigest(), done, stored_hash.hexdigest(), sink.size


def decompress_stream(fin: BinaryIO, fout: BinaryIO, *, path: Path | None = None,
                      check_head: Callable[[bytes], None] | None = None) -> int:
    """Decompress the zstd stream ``fin`` into ``fout``; returns the bytes written.

    Bounded (see the module): past the limit it raises :class:`InvalidCaptureFile` and what
    was written so far is the caller's to remove.  ``check_head`` sees the first block
    before anything more is expanded (and may raise to refuse the content).
    """
    import zstandard

    name = Path(path) if path is not None else Path(getattr(fin, "name", "<stream>"))
    try:
        size = os.fstat(fin.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        size = 0
    limit = expansion_limit(size)
    start = fin.tell()
    _check_declared(name, fin.read(18), size, limit)
    fin.seek(start)
    done = 0
    with zstandard.ZstdDecompressor().stream_reader(fin, read_across_frames=True, closefd=False) as reader:
        bounded = BoundedReader(reader, name, size, limit)
        first = True
        while block := bounded.read(BLOCK):
            if first and check_head is not None:
                check_head(block)
            first = False
            fout.write(block)
            done += len(block)
    return done
