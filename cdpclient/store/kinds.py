"""The capture kinds: one table of what each is called and written as, and the one place that
decides which kind a file holds (from its content, never its name alone).

Every other part names kinds through this module: the store (file names, imports),
the captures (extensions of ``--out`` files), the profile readers (kind of a plain
file, names in messages) and the CLI (``--kind``, ``--format``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import BinaryIO

from cdpclient import compression, msgstream
from cdpclient.errors import InvalidCaptureFile
from cdpclient.store.jsonscan import Scan, ScanError, scan

# Formats a profile exports to (``Store.export(fmt=...)``, ``cdpclient.profiles.export``).
EXPORT_FORMATS: tuple[str, ...] = ("collapsed", "speedscope", "pprof")
# Formats a watch recording exports to (``cdpclient.watch.export``): one JSON document.
WATCH_FORMATS: tuple[str, ...] = ("json",)
# Every ``--format``, with the file suffix an export into a directory gets.
EXPORT_SUFFIXES: dict[str, str] = {
    "collapsed": ".collapsed.txt",
    "speedscope": ".speedscope.json",
    "pprof": ".pb.gz",
    "json": ".watch.json",
}
FORMATS: tuple[str, ...] = tuple(EXPORT_SUFFIXES)


@dataclasses.dataclass(frozen=True)
class Kind:
    """One capture kind."""

    name: str                        # as records and ``--kind`` spell it
    extension: str                   # the file extension, in the format Chrome DevTools opens
    title: str                       # how a message names it ("a CPU profile")
    exports: tuple[str, ...] = ()    # formats it exports to (see EXPORT_SUFFIXES)
    heap: bool = False               # a heap snapshot the heap engine reads (top, diff, retainers, leaks)
    stream: str | None = None        # a msgpack record stream (cdpclient.msgstream) with this header kind;
                                     # None: a JSON document


TABLE: dict[str, Kind] = {k.name: k for k in (
    Kind("heapsnapshot", ".heapsnapshot", "heap snapshot", heap=True),
    Kind("heaptimeline", ".heaptimeline", "allocation timeline", EXPORT_FORMATS, heap=True),
    Kind("cpuprofile", ".cpuprofile", "CPU profile", EXPORT_FORMATS),
    Kind("heapprofile", ".heapprofile", "sampling heap profile", EXPORT_FORMATS),
    Kind("report", ".json", "diagnostic report"),
    Kind("watch", ".watch", "watch recording", WATCH_FORMATS, stream="cdpclient.watch"),
    Kind("recording", ".cdprec", "inspector session recording", stream="cdpclient.session"),
)}
KINDS: tuple[str, ...] = tuple(TABLE)
EXTENSIONS: dict[str, str] = {k.name: k.extension for k in TABLE.values()}
HEAP_KINDS: tuple[str, ...] = tuple(k.name for k in TABLE.values() if k.heap)
PROFILE_KINDS: tuple[str, ...] = tuple(k.name for k in TABLE.values() if set(k.exports) & set(EXPORT_FORMATS))
STREAM_KINDS: tuple[str, ...] = tuple(k.name for k in TABLE.values() if k.stream)
_BY_STREAM: dict[str, str] = {k.stream: k.name for k in TABLE.values() if k.stream}


def title(kind: str) -> str:
    """How messages name ``kind`` ("CPU profile"); an unknown kind as it is spelled."""
    found = TABLE.get(kind)
    return found.title if found else kind


# Files up to this size get the full check even when only their kind is asked for.
FULL_CHECK_BELOW = 64 << 20
HEAD_BYTES = 1 << 20
_TIMELINE_KEYS = ("trace_function_infos", "trace_tree", "samples")
_CPU_KEYS = {"nodes", "startTime", "endTime", "samples"}


def validate_file(path: Path) -> str:
    """Check all of ``path`` (streaming) and return its kind.

    Raises :class:`InvalidCaptureFile` with the reason: empty, truncated or
    malformed JSON, or JSON that is not one of the capture kinds.  A msgpack
    stream (a watch recording) is read whole; its cut tail (a writer killed
    mid-record) is allowed: the stream is readable up to its last complete record.
    """
    if _is_stream(path):
        return _stream_kind(path)
    return _kind(_scan(path, limit=None), path)


def detect_kind(path: Path) -> str:
    """The kind of ``path``, checking less than :func:`validate_file` on large files.

    A file up to 64 MB is checked whole.  A larger one is judged by its first
    megabyte and by its end (it must close the JSON object): a heap snapshot's
    header says whether it is a timeline (``trace_function_count``).  Files whose
    head does not decide get the full check.
    """
    size = _size(path)
    if size <= FULL_CHECK_BELOW or compression.is_compressed(path) or _is_stream(path):
        return validate_file(path)
    head = _scan(path, limit=HEAD_BYTES)
    try:
        kind = _kind(head, path)
    except InvalidCaptureFile:
        return validate_file(path)
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 64))
        if not fh.read().rstrip().endswith(b"}"):
            raise InvalidCaptureFile(f"{path}: truncated JSON (the file does not end with '}}')", path=str(path))
    return kind


def guess_profile_kind(path: Path) -> str | None:
    """A quick guess from a file's first 4 KB, for profiles given as plain files: cpuprofile, heapprofile,
    heaptimeline (any heap snapshot: the timeline reader says when it has no traces) or None.
    Never raises; :func:`detect_kind` decides and explains."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    text = head.lstrip().decode("utf-8", "replace")
    if text.startswith('{"snapshot"'):
        return "heaptimeline"
    if '"head"' in text and '"callFrame"' in text:
        return "heapprofile"
    if '"nodes"' in text and '"callFrame"' in text:
        return "cpuprofile"
    return None


# The first bytes of a compressed file's content decide whether it is worth expanding further.
SNIFF_BYTES = 64 << 10
_CAPTURE_KEY = re.compile(rb'"(?:snapshot|nodes|head|header|profile|startTime|endTime|samples|timeDeltas)"\s*:')


def check_head(head: bytes, path: Path) -> None:
    """Refuse, from its first bytes (after decompression), content that is no capture kind.

    A capture is a msgpack stream (a watch recording) or a JSON object that names, in its
    first 64 KiB, a key a heap snapshot, a profile, a timeline or a report starts with.
    Empty or blank content passes: the full check names it.
    """
    if not head or msgstream.looks_like_stream(head[:8]):
        return
    text = head[:SNIFF_BYTES]
    body = text.lstrip(b" \t\r\n")
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:].lstrip(b" \t\r\n")
    if not body:
        return
    if body[:1] != b"{":
        raise InvalidCaptureFile(f"{path}: not a capture: its content starts with {body[:16]!r}, not a JSON "
                                 f"object or a watch recording", path=str(path))
    if not _CAPTURE_KEY.search(text):
        raise InvalidCaptureFile(f"{path}: not a capture: a JSON object whose first {len(text):,} bytes name none "
                                 f"of the keys a heap snapshot, profile, timeline or report starts with",
                                 path=str(path))


class _Replay:
    """A reader that gives ``head`` again, then the rest of ``fh``."""

    def __init__(self, head: bytes, fh: BinaryIO) -> None:
        self.head, self.fh = head, fh

    def read(self, size: int = -1) -> bytes:
        if self.head:
            out, self.head = self.head, b""
            return out
        return self.fh.read(size)


def _is_stream(path: Path) -> bool:
    """Whether ``path`` starts like a msgpack stream (through zstd if compressed); never raises."""
    try:
        with compression.open_content(path) as fh:
            return msgstream.looks_like_stream(fh.read(8))
    except Exception:  # unreadable, a directory, damaged zstd: the JSON path explains
        return False


def _stream_kind(path: Path) -> str:
    try:
        stream = msgstream.read(path)
    except msgstream.NotAStream as exc:
        raise InvalidCaptureFile(str(exc), path=str(path)) from exc
    except OSError as exc:
        raise InvalidCaptureFile(f"{path}: cannot read: {exc}", path=str(path)) from exc
    except Exception as exc:
        if compression.is_zstd_error(exc):
            raise InvalidCaptureFile(f"{path}: damaged zstd compression: {exc}", path=str(path)) from exc
        raise
    kind = _BY_STREAM.get(stream.kind)
    if kind is None:
        raise InvalidCaptureFile(f"{path}: a msgpack stream of {stream.kind!r}, not a capture "
                                 f"(streams: {', '.join(_BY_STREAM)})", path=str(path))
    return kind


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError as exc:
        raise InvalidCaptureFile(f"{path}: no such file", path=str(path)) from exc
    except OSError as exc:
        raise InvalidCaptureFile(f"{path}: {exc.strerror}", path=str(path)) from exc


def _scan(path: Path, limit: int | None) -> Scan:
    if path.is_dir():
        raise InvalidCaptureFile(f"{path}: is a directory, not a capture file", path=str(path))
    _size(path)
    try:
        with compression.open_content(path) as fh:
            if compression.is_compressed(path):  # refuse what is no capture before expanding it all
                head = fh.read(SNIFF_BYTES)
                check_head(head, path)
                return scan(_Replay(head, fh), limit=limit, capture=("snapshot",))  # type: ignore[arg-type]
            return scan(fh, limit=limit, capture=("snapshot",))
    except ScanError as exc:
        raise InvalidCaptureFile(f"{path}: {exc.reason}", path=str(path)) from exc
    except OSError as exc:  # unreadable, or a damaged zstd frame
        raise InvalidCaptureFile(f"{path}: cannot read: {exc}", path=str(path)) from exc
    except Exception as exc:  # zstandard.ZstdError does not derive from OSError
        if compression.is_zstd_error(exc):
            raise InvalidCaptureFile(f"{path}: damaged zstd compression: {exc}", path=str(path)) from exc
        raise


def _kind(s: Scan, path: Path) -> str:
    keys = set(s.top_keys)
    if s.top_keys[:1] == ["snapshot"] and "meta" in s.sub_keys.get("snapshot", ()):
        if s.complete:
            missing = {"nodes", "edges", "strings"} - keys
            if missing:
                raise InvalidCaptureFile(f"{path}: heap snapshot without {', '.join(sorted(missing))}",
                                         path=str(path))
            return "heaptimeline" if any(k in s.nonempty for k in _TIMELINE_KEYS) else "heapsnapshot"
        return "heaptimeline" if _trace_function_count(s) > 0 else "heapsnapshot"
    if "head" in keys and {"callFrame", "selfSize"} <= set(s.sub_keys.get("head", ())):
        return "heapprofile"
    if "header" in keys and "reportVersion" in s.sub_keys.get("header", ()):
        return "report"
    if _CPU_KEYS <= keys:
        return "cpuprofile"
    if not s.complete:
        raise InvalidCaptureFile(f"{path}: not a capture (undecided from the head)", path=str(path))
    shown = ", ".join(s.top_keys[:6]) + (", ..." if len(s.top_keys) > 6 else "")
    titles = [k.title for k in TABLE.values() if not k.stream]
    raise InvalidCaptureFile(
        f"{path}: JSON, but not a {', '.join(titles[:-1])} or {titles[-1]} "
        f"(top-level keys: {shown or 'none'})", path=str(path))


def _trace_function_count(s: Scan) -> int:
    try:
        return int(json.loads(s.values["snapshot"]).get("trace_function_count") or 0)
    except (KeyError, ValueError, AttributeError):
        return 0
