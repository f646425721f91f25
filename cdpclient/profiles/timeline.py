"""Reading allocation timelines (``.heaptimeline``): a heap snapshot with allocation traces.

``HeapProfiler.startTrackingHeapObjects({trackAllocations: true})`` ... ``stopTrackingHeapObjects``
produces a heap snapshot whose ``trace_tree`` holds, per allocation stack, the count and bytes
allocated during the recording, and whose nodes carry the ``trace_node_id`` of the stack that
allocated them: the objects still alive at the end.

V8 leaves ``trace_node_id`` 0 on many survivors (often most of them), so the stacks alone
undercount what the recording left behind. The snapshot's ``samples`` (``[timestamp_us,
last_assigned_id]`` per heap-stats update) bound the object ids handed out in each interval:
every object with an allocation stack, or with an id from the first sample's on, was
allocated during the recording, and its id places it in an interval (:class:`Survivors`).

The file can be hundreds of MB. It is never parsed whole: the sections are located by scanning
the mapped file, the ``nodes`` array is read in chunks keeping only the columns needed
(``id``, ``self_size``, ``trace_node_id`` for every node, ``type`` and ``name`` only for the
survivors, found through the snapshot's own ``meta``), and the edges are skipped.
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
_CLASS_ROWS = 10  # survivor classes kept, most objects first

# DevTools' class names for node types that are not named by a constructor.
_NAMED_TYPES = ("object", "native")
_TYPE_CLASS = {"hidden": "(system)", "code": "(compiled code)"}


@dataclass
class GrowthPoint:
    """Heap figures at one moment of the recording (``t_s`` seconds from its start; None: its end)."""

    t_s: float | None
    bytes: float
    count: float


@dataclass
class IntervalSurvivors(GrowthPoint):
    """What was allocated in one interval of the recording (up to ``t_s``; None: after the
    last sample) and is still alive at the end: all of it (``bytes``, ``count``) and the
    part with an allocation stack (``traced_*``)."""

    traced_bytes: float = 0.0
    traced_count: float = 0.0


@dataclass
class Survivors:
    """Objects alive at the end that were allocated during the recording, with and without
    an allocation stack (V8 keeps none for many of them)."""

    count: int = 0
    bytes: float = 0.0
    traced_count: int = 0
    traced_bytes: float = 0.0
    placed_by_id: bool = True  # False: no samples, so only the objects with a stack are known

    @property
    def untraced_count(self) -> int:
        return self.count - self.traced_count

    @property
    def untraced_bytes(self) -> float:
        return self.bytes - self.traced_bytes

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "bytes": self.bytes, "traced_count": self.traced_count,
                "traced_bytes": self.traced_bytes, "untraced_count": self.untraced_count,
                "untraced_bytes": self.untraced_bytes, "placed_by_id": self.placed_by_id}


@dataclass
class ClassSurvivors:
    """The survivors of one class (DevTools' Summary grouping: constructor name, or
    ``(string)``, ``(closure)``, ``(array)``... by type)."""

    name: str
    count: int
    bytes: float
    traced_count: int


@dataclass
class Timeline:
    """An allocation timeline as a call tree of allocation stacks, with growth over time.

    Tree metrics: ``alloc_bytes`` / ``alloc_count`` (allocated during the recording),
    ``live_bytes`` / ``live_count`` (of those, still alive in the final snapshot): the
    objects V8 kept an allocation stack for.
    ``survivors``: everything alive at the end that was allocated during the recording,
    with or without a stack; ``survivors_by_class`` its biggest classes by count.
    ``live_by_interval``: per interval between the recording's samples, the survivors
    allocated then (what the DevTools timeline bars show); their counts add up to
    ``survivors``.
    ``heap_over_time``: the tracked heap size after each heapStatsUpdate batch, when the
    capture kept its events (side file); else empty.
    """

    tree: CallTree
    node_count: int
    duration_s: float
    survivors: Survivors = field(default_factory=Survivors)
    survivors_by_class: list[ClassSurvivors] = field(default_factory=list)
    live_by_interval: list[IntervalSurvivors] = field(default_factory=list)
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

    # --- trace sections (located first: the samples say which nodes are survivors) -----
    nodes_end = mm.find(b"]", nodes_at)
    if nodes_end < 0:
        raise _bad(path, "the 'nodes' array never ends (truncated?)")
    width = len(node_fields)
    if node_count * width > (nodes_end - nodes_at) // 2 + 1:  # a digit and a comma per value at least
        raise _bad(path, f"node_count={node_count:,} is more than its 'nodes' array can hold")
    tfi_at = sec.find("trace_function_infos", nodes_end)
    tree_at = sec.find("trace_tree", max(tfi_at, 0))
    samples_at = sec.find("samples", max(tree_at, 0))
    strings_at = sec.find("strings", max(samples_at, 0))
    _release(mm, max(tfi_at, 0))  # the scan touched every page of the nodes and edges
    if min(tfi_at, tree_at, strings_at) < 0:
        raise _bad(path, "allocation trace sections missing (truncated?)")
    samples = np.zeros((0, 2), dtype=np.int64)
    if samples_at > 0:
        sample_fields = meta.get("sample_fields", ["timestamp_us", "last_assigned_id"])
        flat = _numbers(mm[samples_at + 1:mm.find(b"]", samples_at)])
        if len(sample_fields) and len(flat) % len(sample_fields) == 0:
            samples = flat.reshape(-1, len(sample_fields))[
                :, [sample_fields.index("timestamp_us"), sample_fields.index("last_assigned_id")]]
    # Ids are handed out in allocation order and each sample holds the next id to hand out,
    # so an id from the first sample's on was allocated during the recording. (Without
    # samples only the objects with an allocation stack are known to be.)
    first_id = int(samples[0, 1]) if len(samples) else None

    # --- nodes: id, size and trace of all, type and name of the survivors, in chunks ----
    progress("reading heap nodes")
    cols = [node_fields.index(name) for name in ("id", "self_size", "trace_node_id")]
    extra = [node_fields.index(name) for name in ("type", "name") if name in node_fields]
    columns = _read_columns(mm, nodes_at + 1, nodes_end, width, cols, path, node_count,
                            extra=extra if len(extra) == 2 else [], first_id=first_id)
    ids, sizes, traces = columns.main
    if node_count >= 0 and len(ids) != node_count:
        raise _bad(path, f"{len(ids)} nodes where the header promises {node_count}")
    _release(mm, nodes_end)

    tfi_end = mm.find(b"]", tfi_at)
    tfi = _numbers(mm[tfi_at + 1:tfi_end])
    tree_end = (samples_at - len(b'"samples":')) if samples_at > 0 else strings_at - len(b'"strings":')
    try:
        trace_tree = json.loads(mm[tree_at:tree_end].decode().rstrip().rstrip(","))
        strings = json.loads(mm[strings_at:].decode("utf-8", "replace").rstrip().rstrip("}").rstrip())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _bad(path, f"broken trace tree or strings ({exc}; truncated?)") from exc

    progress("joining allocations to stacks")
    frames = _function_frames(tfi, meta.get("trace_function_info_fields", []), strings, path)
    tree = _trace_tree(trace_tree, meta.get("trace_node_fields", []), frames, traces, sizes, path)
    timeline = Timeline(tree=tree, node_count=len(ids),
                        duration_s=float(samples[-1, 0] - samples[0, 0]) / 1e6 if len(samples) else 0.0)
    survivor = columns.kept
    traced = traces > 0
    timeline.survivors = Survivors(
        count=int(survivor.sum()), bytes=float(sizes[survivor].sum()), traced_count=int(traced.sum()),
        traced_bytes=float(sizes[traced].sum()), placed_by_id=first_id is not None)
    if first_id is None:
        timeline.notes.append("the timeline has no heap-stats samples: only objects with an allocation stack "
                              "are known to be allocated during the recording")
    timeline.live_by_interval = _live_by_interval(samples, ids[survivor], sizes[survivor], traced[survivor])
    if columns.extra:
        node_types = meta.get("node_types", [[]])[0]
        timeline.survivors_by_class = _by_class(
            columns.extra[0], columns.extra[1], sizes[survivor], traced[survivor],
            node_types if isinstance(node_types, list) else [], strings)
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


@dataclass
class _Columns:
    main: list[np.ndarray]  # the wanted columns, every node
    kept: np.ndarray  # per node: a survivor (allocation stack, or id from ``first_id`` on)
    extra: list[np.ndarray]  # the extra columns, survivors only


def _read_columns(mm: mmap.mmap, start: int, end: int, width: int, cols: list[int], path: Path,
                  expected: int = -1, *, extra: list[int] | None = None, first_id: int | None = None) -> _Columns:
    """Columns ``cols`` (``id``, ``self_size``, ``trace_node_id``) of the flat ``nodes`` array
    between byte offsets start and end, and columns ``extra`` of the survivors only.

    The text is parsed straight from the mapped file with vectorised digit arithmetic, and
    only the wanted columns are ever converted: a text-to-number pass over every field
    (``np.fromstring``) costs about three times as long for a seven-field node. Each chunk
    holds whole nodes, so the survivors of a chunk are known from its own columns.
    """
    import numpy as np

    extra = extra or []
    allowed = np.zeros(256, dtype=bool)
    allowed[list(b"0123456789, \n\r\t")] = True
    parts: list[list[np.ndarray]] = [[] for _ in cols]
    kept_parts: list[np.ndarray] = []
    extra_parts: list[list[np.ndarray]] = [[] for _ in extra]
    # Preallocate when the header gives the node count: no second copy at the end.
    filled = 0
    out_cols = [np.empty(expected, dtype=np.int64) for _ in cols] if expected > 0 else None
    pos = start
    while pos < end:
        stop = min(pos + _CHUNK, end)
        if stop < end:  # cut after a comma so no number is split in two
            stop = mm.rfind(b",", pos, stop) + 1 or stop
        raw = np.frombuffer(mm, dtype=np.uint8, count=stop - pos, offset=pos).copy()
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
        partial = len(starts) % width
        if partial and stop == end:
            raise _bad(path, "the 'nodes' array does not divide into whole nodes")
        if partial and len(starts) > partial:  # leave the last, partial node to the next chunk
            stop = pos + int(starts[-partial])
            starts, ends = starts[:-partial], ends[:-partial]
        elif partial:  # not one whole node in this chunk: take a longer one
            raise _bad(path, "a node in 'nodes' is too long")
        pos = stop
        values = [_uints(raw, starts[c::width], ends[c::width], path) for c in cols]
        rows = len(values[0])
        if out_cols is not None and filled + rows > expected:
            raise _bad(path, f"more nodes than the header's node_count {expected}")
        for k, v in enumerate(values):
            if out_cols is not None:
                out_cols[k][filled:filled + rows] = v
            else:
                parts[k].append(v)
        kept = values[2] > 0
        if first_id is not None:
            kept |= values[0] >= first_id
        kept_parts.append(kept)
        for k, c in enumerate(extra):
            # type codes and string indices: int32 halves what survivors cost to keep
            extra_parts[k].append(_uints(raw, starts[c::width][kept], ends[c::width][kept], path).astype(np.int32))
        filled += rows
        _release(mm, pos)
    main = ([col[:filled] for col in out_cols] if out_cols is not None else
            [np.concatenate(p) if p else np.zeros(0, dtype=np.int64) for p in parts])

    def joined(chunks: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=dtype)

    return _Columns(main=main, kept=joined(kept_parts, bool), extra=[joined(p, np.int32) for p in extra_parts])


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
                      traced: np.ndarray) -> list[IntervalSurvivors]:
    """The survivors (``ids``, ``sizes``, ``traced``: one entry each) per interval between samples.

    Heap object ids grow with allocation, and each sample records the next id to be handed
    out at its time, so an object's id places its allocation between two samples.
    """
    import numpy as np

    if len(samples) < 1:
        return []
    next_ids = samples[:, 1]
    # slot 0: allocated after tracking started but before the first sample (only objects
    # with a stack can be told from older ones there); slot k: from sample k-1 to sample k;
    # slot len(next_ids): after the last sample (V8 takes none when tracking stops),
    # reported with t_s None ("by the end").
    slot = np.searchsorted(next_ids, ids, side="right")
    n = len(next_ids) + 1
    counts = np.bincount(slot, minlength=n)
    nbytes = np.bincount(slot, weights=sizes, minlength=n)
    traced_counts = np.bincount(slot[traced], minlength=n)
    traced_bytes = np.bincount(slot[traced], weights=sizes[traced], minlength=n)
    t0 = float(samples[0, 0])
    times: list[float | None] = [(float(t) - t0) / 1e6 for t in samples[:, 0]]
    times.append(None)
    return [IntervalSurvivors(t_s=times[k], bytes=float(nbytes[k]), count=float(counts[k]),
                              traced_bytes=float(traced_bytes[k]), traced_count=float(traced_counts[k]))
            for k in range(n)]


def _by_class(types: np.ndarray, names: np.ndarray, sizes: np.ndarray, traced: np.ndarray,
              node_types: list[str], strings: list[str]) -> list[ClassSurvivors]:
    """The survivors grouped as DevTools' Summary groups them, most objects first."""
    import numpy as np

    if not len(types):
        return []
    nstr = len(strings)
    named = np.zeros(len(node_types) + 1, dtype=bool)
    named[[i for i, t in enumerate(node_types) if t in _NAMED_TYPES]] = True
    types = np.clip(types, 0, len(node_types))
    names_ok = (names >= 0) & (names < nstr)
    key = np.where(named[types] & names_ok, names, nstr + types)
    # Keys are bounded (a string index or a type past them): counted directly, no sort.
    counts_all = np.bincount(key, minlength=nstr + len(node_types) + 1)
    keys = np.flatnonzero(counts_all)
    if len(keys) > _CLASS_ROWS:
        keys = keys[np.argpartition(-counts_all[keys], _CLASS_ROWS - 1)[:_CLASS_ROWS * 4]]
    counts = counts_all[keys]
    slot = np.full(len(counts_all), -1, dtype=np.int64)
    slot[keys] = np.arange(len(keys))
    mine = slot[key]
    chosen = mine >= 0
    nbytes = np.bincount(mine[chosen], weights=sizes[chosen], minlength=len(keys))
    traced_counts = np.bincount(mine[chosen & traced], minlength=len(keys))
    order = np.lexsort((-nbytes, -counts))[:_CLASS_ROWS]

    def label(k: int) -> str:
        if k < nstr:
            return strings[k]
        type_name = node_types[k - nstr] if k - nstr < len(node_types) else "unknown"
        return _TYPE_CLASS.get(type_name, f"({type_name})")

    return [ClassSurvivors(name=label(int(keys[i])), count=int(counts[i]), bytes=float(nbytes[i]),
                           traced_count=int(traced_counts[i])) for i in order]


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
