"""Reading allocation timelines (``.heaptimeline``): a heap snapshot with allocation traces.

``HeapProfiler.startTrackingHeapObjects({trackAllocations: true})`` ... ``stopTrackingHeapObjects``
produces a heap snapshot whose ``trace_tree`` holds, per allocation stack, the count and bytes
allocated during the recording, and whose nodes carry the ``trace_node_id`` of the stack that
allocated them: the objects still alive at the end.

The file can be hundreds of MB. It is never parsed whole: the sections are located by scanning
the mapped file, the ``nodes`` array is read in chunks keeping only the three columns needed
(``id``, ``self_size``, ``trace_node_id``, found through the snapshot's own ``meta``), and the
edges are skipped.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdpclient.errors import AnalysisError
from cdpclient.profiles._read import DATA_ERRORS, invalid, malformed
from cdpclient.profiles.calltree import CallTree, Metric, build
from cdpclient.profiles.frames import Frame

if TYPE_CHECKING:
    import numpy as np

TIMELINE_METRICS = [Metric("alloc_bytes", "bytes"), Metric("alloc_count", "count"),
                    Metric("live_bytes", "bytes"), Metric("live_count", "count")]

_CHUNK = 32 << 20  # bytes of the nodes array parsed at a time


@dataclass
class GrowthPoint:
    """Heap figures at one moment of the recording (``t_s`` seconds from its start; None: its end)."""

    t_s: float | None
    bytes: float
    count: float


@dataclass
class Timeline:
    """An allocation timeline as a call tree of allocation stacks, with growth over time.

    Tree metrics: ``alloc_bytes`` / ``alloc_count`` (allocated during the recording),
    ``live_bytes`` / ``live_count`` (of those, still alive in the final snapshot).
    ``live_by_interval``: per interval between the recording's samples, the bytes
    allocated then that are still alive at the end (what the DevTools timeline bars show).
    ``heap_over_time``: the tracked heap size after each heapStatsUpdate batch, when the
    capture kept its events (side file); else empty.
    """

    tree: CallTree
    node_count: int
    duration_s: float
    live_by_interval: list[GrowthPoint] = field(default_factory=list)
    heap_over_time: list[GrowthPoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    kind = "heaptimeline"


class _Sections:
    """Byte offsets of the top-level sections of a heap snapshot file."""

    def __init__(self, mm: mmap.mmap, path: Path) -> None:
        self.mm = mm
        self.path = path

    def find(self, key: str, start: int) -> int:
        """Offset just after ``"key":`` (searching from ``start``), or -1."""
        needle = b'"' + key.encode() + b'":'
        at = self.mm.find(needle, start)
        return -1 if at < 0 else at + len(needle)


def _bad(path: Path, why: str) -> Exception:
    return invalid(path, "heaptimeline", why)


def load_timeline(path: Path, *, events_path: Path | None = None,
                  progress: Callable[[str], None] | None = None) -> Timeline:
    """Read a ``.heaptimeline`` file (and optionally its ``.events.json`` side file).

    Raises InvalidCaptureFile for a malformed or truncated file and AnalysisError for
    a heap snapshot that carries no allocation traces.
    """
    path = Path(path)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise _bad(path, f"cannot read: {exc.strerror or exc}") from exc
    with fh:
        if fh.seek(0, 2) == 0:
            raise _bad(path, "the file is empty")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            try:
                return _parse(mm, path, events_path, progress or (lambda _m: None))
            except DATA_ERRORS as exc:
                raise malformed(path, "heaptimeline", exc) from exc


def _parse(mm: mmap.mmap, path: Path, events_path: Path | None, progress: Callable[[str], None]) -> Timeline:
    import numpy as np

    sec = _Sections(mm, path)
    if not mm[:64].lstrip().startswith(b'{"snapshot"'):
        raise _bad(path, "it does not start like a heap snapshot")
    nodes_at = sec.find("nodes", 0)
    if nodes_at < 0:
        raise _bad(path, "no 'nodes' section (truncated?)")
    header = mm[:nodes_at - len(b'"nodes":')].decode("utf-8", "replace").rstrip().rstrip(",") + "}"
    try:
        snapshot = json.loads(header)["snapshot"]
        meta = snapshot["meta"]
        node_fields: list[str] = meta["node_fields"]
        node_count = int(snapshot.get("node_count", -1))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise _bad(path, f"unreadable snapshot header ({exc})") from exc
    if not int(snapshot.get("trace_function_count", 0) or 0) or "trace_node_id" not in node_fields:
        raise AnalysisError(f"{path}: a heap snapshot without allocation traces, not an allocation timeline "
                            "(record one with 'cdpclient timeline')", path=str(path))

    # --- nodes: three columns, read in chunks -------------------------------------
    progress("reading heap nodes")
    width = len(node_fields)
    cols = [node_fields.index(name) for name in ("id", "self_size", "trace_node_id")]
    nodes_end = mm.find(b"]", nodes_at)
    if nodes_end < 0:
        raise _bad(path, "the 'nodes' array never ends (truncated?)")
    if node_count * width > (nodes_end - nodes_at) // 2 + 1:  # a digit and a comma per value at least
        raise _bad(path, f"node_count={node_count:,} is more than its 'nodes' array can hold")
    ids, sizes, traces = _read_columns(mm, nodes_at + 1, nodes_end, width, cols, path, node_count)
    if node_count >= 0 and len(ids) != node_count:
        raise _bad(path, f"{len(ids)} nodes where the header promises {node_count}")

    # --- trace sections ------------------------------------------------------------
    tfi_at = sec.find("trace_function_infos", nodes_end)
    _release(mm, tfi_at)  # the edges were only scanned past
    tree_at = sec.find("trace_tree", max(tfi_at, 0))
    samples_at = sec.find("samples", max(tree_at, 0))
    strings_at = sec.find("strings", max(samples_at, 0))
    if min(tfi_at, tree_at, strings_at) < 0:
        raise _bad(path, "allocation trace sections missing (truncated?)")
    tfi_end = mm.find(b"]", tfi_at)
    tfi = _numbers(mm[tfi_at + 1:tfi_end])
    tree_end = (samples_at - len(b'"samples":')) if samples_at > 0 else strings_at - len(b'"strings":')
    try:
        trace_tree = json.loads(mm[tree_at:tree_end].decode().rstrip().rstrip(","))
        strings = json.loads(mm[strings_at:].decode("utf-8", "replace").rstrip().rstrip("}").rstrip())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _bad(path, f"broken trace tree or strings ({exc}; truncated?)") from exc
    samples = np.zeros((0, 2))
    if samples_at > 0:
        sample_fields = meta.get("sample_fields", ["timestamp_us", "last_assigned_id"])
        flat = _numbers(mm[samples_at + 1:mm.find(b"]", samples_at)])
        if len(sample_fields) and len(flat) % len(sample_fields) == 0:
            samples = flat.reshape(-1, len(sample_fields))[
                :, [sample_fields.index("timestamp_us"), sample_fields.index("last_assigned_id")]]

    progress("joining allocations to stacks")
    frames = _function_frames(tfi, meta.get("trace_function_info_fields", []), strings, path)
    tree = _trace_tree(trace_tree, meta.get("trace_node_fields", []), frames, traces, sizes, path)
    timeline = Timeline(tree=tree, node_count=len(ids),
                        duration_s=float(samples[-1, 0] - samples[0, 0]) / 1e6 if len(samples) else 0.0)
    timeline.live_by_interval = _live_by_interval(samples, ids, sizes, traces)
    if events_path is not None:
        timeline.heap_over_time = _heap_over_time(events_path, timeline.notes)
    return timeline


def _numbers(raw: bytes) -> np.ndarray:
    import numpy as np

    text = raw.decode("ascii", "replace").strip()
    if not text:
        return np.zeros(0, dtype=np.int64)
    return np.array(text.replace("\n", "").split(","), dtype=np.int64) if len(text) < 4096 else \
        np.fromstring(text, dtype=np.int64, sep=",")


def _read_columns(mm: mmap.mmap, start: int, end: int, width: int, cols: list[int], path: Path,
                  expected: int = -1) -> list[np.ndarray]:
    """Columns ``cols`` of the flat ``nodes`` array between byte offsets start and end.

    The text is parsed straight from the mapped file with vectorised digit arithmetic, and
    only the wanted columns are ever converted: a text-to-number pass over every field
    (``np.fromstring``) costs about three times as long for a seven-field node.
    """
    import numpy as np

    allowed = np.zeros(256, dtype=bool)
    allowed[list(b"0123456789, \n\r\t")] = True
    parts: list[list[np.ndarray]] = [[] for _ in cols]
    # Preallocate when the header gives the node count: no second copy at the end.
    filled = [0] * len(cols)
    out_cols = [np.empty(expected, dtype=np.int64) for _ in cols] if expected > 0 else None
    seen = 0  # numbers before this chunk: fixes which column the chunk starts in
    pos = start
    while pos < end:
        stop = min(pos + _CHUNK, end)
        if stop < end:  # cut after a comma so no number is split in two
            stop = mm.rfind(b",", pos, stop) + 1 or stop
        raw = np.frombuffer(mm, dtype=np.uint8, count=stop - pos, offset=pos).copy()
        pos = stop
        if not allowed[raw].all():
            raise _bad(path, "non-numeric data in 'nodes'")
        digit = (raw - 48) < 10
        # A number starts at a digit after a non-digit and ends before a non-digit.
        starts = np.flatnonzero(digit[1:] & ~digit[:-1]) + 1
        ends = np.flatnonzero(digit[:-1] & ~digit[1:]) + 1
        if len(digit) and digit[0]:
            starts = np.concatenate([[0], starts])
        if len(digit) and digit[-1]:
            ends = np.append(ends, len(digit))
        for k, c in enumerate(cols):
            first = (c - seen) % width
            values = _uints(raw, starts[first::width], ends[first::width], path)
            if out_cols is not None and filled[k] + len(values) > expected:
                raise _bad(path, f"more nodes than the header's node_count {expected}")
            if out_cols is not None:
                out_cols[k][filled[k]:filled[k] + len(values)] = values
            else:
                parts[k].append(values)
            filled[k] += len(values)
        seen += len(starts)
        _release(mm, pos)
    if seen % width:
        raise _bad(path, "the 'nodes' array does not divide into whole nodes")
    if out_cols is not None:
        return [col[:n] for col, n in zip(out_cols, filled, strict=True)]
    return [np.concatenate(p) if p else np.zeros(0, dtype=np.int64) for p in parts]


def _release(mm: mmap.mmap, upto: int) -> None:
    """Drop the mapped pages before ``upto`` from this process (they stay in the page cache):
    the scan touches every page of a file of hundreds of MB, which would otherwise all
    count as resident memory until the map is closed."""
    end = upto - upto % mmap.PAGESIZE
    if end > 0 and hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        mm.madvise(mmap.MADV_DONTNEED, 0, end)


def _uints(raw: np.ndarray, starts: np.ndarray, ends: np.ndarray, path: Path) -> np.ndarray:
    """The unsigned integers whose digits are ``raw[starts[k]:ends[k]]``."""
    import numpy as np

    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    longest = int((ends - starts).max())
    if longest > 18:
        raise _bad(path, "a number in 'nodes' is too long")
    value = np.zeros(len(starts), dtype=np.int64)
    # Right-align every number in a field of `longest` digits; positions before its first
    # digit read as 0, so they add leading zeros only.
    for j in range(longest):
        idx = ends - longest + j
        value *= 10
        value += np.where(idx >= starts, raw[np.maximum(idx, 0)] - 48, 0)
    return value


def _function_frames(tfi: np.ndarray, fields: list[str], strings: list[str], path: Path) -> list[Frame]:
    width = len(fields)
    if not width or len(tfi) % width:
        raise _bad(path, "malformed 'trace_function_infos'")
    rows = tfi.reshape(-1, width).tolist()
    name_i, script_i = fields.index("name"), fields.index("script_name")
    line_i, col_i = fields.index("line"), fields.index("column")
    try:
        # V8 writes trace positions 1-based, 0 when unknown.
        return [Frame(strings[r[name_i]], strings[r[script_i]] if r[script_i] >= 0 else "",
                      max(r[line_i], 0), max(r[col_i], 0)) for r in rows]
    except IndexError as exc:
        raise _bad(path, "a trace function names a missing string") from exc


def _trace_tree(root: list[Any], fields: list[str], frames: list[Frame], traces: np.ndarray,
                sizes: np.ndarray, path: Path) -> CallTree:
    """The nested ``trace_tree`` ([id, function_info_index, count, size, [children...]]) as a CallTree."""
    import numpy as np

    try:
        id_i, fn_i = fields.index("id"), fields.index("function_info_index")
        count_i, size_i, kids_i = fields.index("count"), fields.index("size"), fields.index("children")
    except ValueError as exc:
        raise _bad(path, f"unexpected trace_node_fields {fields}") from exc
    width = len(fields)
    parent: list[int] = []
    fn: list[int] = []
    trace_id: list[int] = []
    alloc: list[tuple[float, float]] = []
    stack: list[tuple[list[Any], int]] = [(root, -1)]
    try:
        while stack:
            flat, up = stack.pop()
            # A node list holds one or more nodes of ``width`` entries each (siblings).
            for at in range(0, len(flat), width):
                i = len(parent)
                parent.append(up)
                fn.append(int(flat[at + fn_i]))
                trace_id.append(int(flat[at + id_i]))
                alloc.append((float(flat[at + size_i]), float(flat[at + count_i])))
                kids = flat[at + kids_i]
                if kids:
                    stack.append((kids, i))
    except (TypeError, IndexError, ValueError) as exc:
        raise _bad(path, "malformed 'trace_tree'") from exc
    if not parent or max(fn) >= len(frames) or min(fn) < 0:
        raise _bad(path, "malformed 'trace_tree': a node names no trace function")

    n = len(parent)
    values = np.zeros((n, 4))
    values[:, :2] = np.asarray(alloc)
    # Live objects: join each heap node's trace_node_id to the trace tree node with that id.
    # (sorted ids and a binary search: a hostile id of 10**15 must not size a lookup table)
    trace_ids = np.asarray(trace_id, dtype=np.int64)
    by_id = np.argsort(trace_ids, kind="stable")
    sorted_ids = trace_ids[by_id]
    traced = traces[traces > 0]
    traced_sizes = sizes[traces > 0]
    slot = np.minimum(np.searchsorted(sorted_ids, traced), n - 1)
    where = np.where(sorted_ids[slot] == traced, by_id[slot], -1)
    known = where >= 0
    values[:, 2] = np.bincount(where[known], weights=traced_sizes[known], minlength=n)
    values[:, 3] = np.bincount(where[known], minlength=n)
    return build(frames, parent, fn, values, TIMELINE_METRICS)


def _live_by_interval(samples: np.ndarray, ids: np.ndarray, sizes: np.ndarray,
                      traces: np.ndarray) -> list[GrowthPoint]:
    """Bytes allocated in each interval between timeline samples that are still alive at the end.

    Heap object ids grow with allocation, and each sample records the last id handed
    out at its time, so an object's id places its allocation between two samples.
    """
    import numpy as np

    if len(samples) < 2:
        return []
    last_ids = samples[:, 1]
    tracked = traces > 0
    # slot 0: allocated after tracking started and by the first sample (under load a whole
    # burst of work can land there); slot k: after sample k-1 and by sample k; slot
    # len(last_ids): after the last sample (V8 takes none when tracking stops), reported
    # with t_s None ("by the end").
    slot = np.searchsorted(last_ids, ids[tracked], side="left")
    counts = np.bincount(slot, minlength=len(last_ids) + 1)
    nbytes = np.bincount(slot, weights=sizes[tracked], minlength=len(last_ids) + 1)
    t0 = float(samples[0, 0])
    points = [GrowthPoint(t_s=(float(samples[k, 0]) - t0) / 1e6, bytes=float(nbytes[k]), count=float(counts[k]))
              for k in range(len(last_ids))]
    points.append(GrowthPoint(t_s=None, bytes=float(nbytes[-1]), count=float(counts[-1])))
    return points


def _heap_over_time(events_path: Path, notes: list[str]) -> list[GrowthPoint]:
    """Tracked heap size over time from recorded ``heapStatsUpdate`` / ``lastSeenObjectId`` events.

    Each heapStatsUpdate carries ``[fragment, count, size]`` triples: the live objects of
    that time fragment now. Their sum after each ``lastSeenObjectId`` is the heap size then.
    The side file is optional: anything unreadable leaves a note, not an error.
    """
    try:
        data = json.loads(Path(events_path).read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        notes.append(f"ignored unreadable events file {events_path}: {exc}")
        return []
    events = data.get("events", []) if isinstance(data, dict) else data
    if not isinstance(events, list):
        notes.append(f"ignored events file {events_path}: no list of events")
        return []
    frag_size: dict[int, float] = {}
    frag_count: dict[int, float] = {}
    points: list[GrowthPoint] = []
    t0: float | None = None
    for ev in events:
        if not isinstance(ev, dict):
            continue
        method = ev.get("method", "")
        params = ev.get("params", ev)
        if method.endswith("heapStatsUpdate") or "statsUpdate" in params:
            update = params.get("statsUpdate") or []
            for k in range(0, len(update) - 2, 3):
                frag_count[int(update[k])] = float(update[k + 1])
                frag_size[int(update[k])] = float(update[k + 2])
        elif method.endswith("lastSeenObjectId") or "lastSeenObjectId" in params:
            ts = float(params.get("timestamp", 0.0))  # milliseconds
            t0 = ts if t0 is None else t0
            points.append(GrowthPoint(t_s=(ts - t0) / 1000.0, bytes=sum(frag_size.values()),
                                      count=sum(frag_count.values())))
    return points
