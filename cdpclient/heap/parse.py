"""Read a ``.heapsnapshot`` / ``.heaptimeline`` file into columnar numpy arrays.

The file is memory-mapped and scanned at the byte level: the small ``snapshot`` header
(with ``meta``, the field layout) goes through ``json``; the ``nodes`` and ``edges``
number arrays are parsed by a numba kernel straight into one array per kept field; the
``strings`` array is kept as one byte blob plus offsets and decoded on demand.  Pages
already parsed are dropped from memory as the scan moves on, so the file itself never
sits whole in RAM next to the arrays.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdpclient.errors import AnalysisError, InvalidCaptureFile
from cdpclient.heap import parallel

Progress = Callable[[str], None]

_CHUNK = 64 << 20  # bytes parsed between two page releases
_CHECK_CHUNK = 4 << 20  # check_file: bytes parsed into the (reused) row buffers at a time
_WS = b" \t\r\n"
# The analysis's index limits: an edge's target is a node index (ordinal * node fields) in uint32, and
# edges are numbered in int32 (parent_edge, -1 for none).  A 4 GB heap is ~100 M nodes, ~400 M edges.
NODE_INDEX_MAX = (1 << 32) - 1
EDGE_MAX = (1 << 31) - 1


@dataclass
class RawSnapshot:
    """Columns of one snapshot, as read from the file (no derived data)."""

    meta: dict[str, Any]
    node_types: list[str]
    edge_types: list[str]
    node_type: Any          # uint8[N]
    node_name: Any          # uint32[N] string index
    node_id: Any            # uint32[N] (uint64 when ids do not fit)
    self_size: Any          # uint32[N] (uint64 when sizes do not fit)
    first_edge: Any         # uint32[N+1]
    edge_type: Any          # uint8[M]
    edge_name: Any          # uint32[M] string index or element index
    edge_to: Any            # uint32[M] node ordinal
    string_blob: bytes | None  # the raw JSON text of the strings array (None once analyse moved it)
    string_starts: Any      # int64[S] offsets into string_blob (opening quote)
    string_ends: Any        # int64[S] offsets just past the closing quote
    extra: dict[str, Any] = field(default_factory=dict)
    locations: Any = None   # int64[L, 2]: (node ordinal, 0-based line) of each function V8 located, by ordinal
    detachedness: Any = None  # uint8[N] (0 unknown, 1 attached, 2 detached) when the snapshot has the field

    @property
    def node_count(self) -> int:
        return int(self.node_type.shape[0])

    @property
    def edge_count(self) -> int:
        return int(self.edge_type.shape[0])


def parse_file(path: str | os.PathLike[str], progress: Progress | None = None, *, edges: bool = True) -> RawSnapshot:
    """Parse a heap snapshot or timeline file.

    Raises :class:`InvalidCaptureFile` when the file is not a heap snapshot (not JSON of
    that shape, truncated, counts that disagree with the header, an index out of range, an
    edge into the middle of a node).  ``edges=False`` passes over the edges array unread (found at
    memchr speed; the edge columns come back empty, the nodes' edge counts still checked against the
    header): for what reads only the nodes, a Comparison by memlab's classes (:func:`cdpclient.heap.census`).
    """
    result = _read(path, progress, check_only=False, keep_edges=edges)
    assert result is not None
    return result


def check_file(path: str | os.PathLike[str], progress: Progress | None = None) -> None:
    """Check what :func:`parse_file` checks, in constant memory (for ``import``): the arrays are parsed a
    chunk at a time and only their ranges are kept.  Raises :class:`InvalidCaptureFile` with the reason."""
    _read(path, progress, check_only=True)


def _read(path: str | os.PathLike[str], progress: Progress | None, check_only: bool,
          keep_edges: bool = True) -> RawSnapshot | None:
    import numpy as np

    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise InvalidCaptureFile(f"cannot read {path}: {exc.strerror}") from exc
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            raise InvalidCaptureFile(f"{path} is empty")
        mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        keep_fd = os.dup(fd)  # for the strings' own mapping (_Parser.parse_strings)
    finally:
        os.close(fd)
    try:
        buf = np.frombuffer(mm, dtype=np.uint8)
        parser = _Parser(path, mm, buf, progress, check_only, keep_edges)
        parser.fd = keep_fd
        try:
            return parser.run()
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
            # hostile content past the parser's own checks: still one line, never an internal error
            raise parser.bad(f"malformed content ({type(exc).__name__}: {str(exc)[:80]})") from exc
        finally:
            del buf, parser
    finally:
        os.close(keep_fd)
        try:
            mm.close()
        except BufferError:  # pragma: no cover - a view still alive; the GC closes it
            pass


class _Parser:
    def __init__(self, path: Path, mm: mmap.mmap, buf: Any, progress: Progress | None,
                 check_only: bool = False, keep_edges: bool = True) -> None:
        self.path = path
        self.check_only = check_only
        self.keep_edges = keep_edges
        self.fd = -1  # the file, for a mapping of the strings that outlives the parse
        self.ranges: dict[str, Any] = {}  # check_only: what the chunks held (maxima, sums)
        self.mm = mm
        self.buf = buf
        self.size = buf.shape[0]
        self.progress = parallel.one_at_a_time(progress)  # nodes and edges report from their threads
        self.nodes_seen = False  # the 'nodes' key was met (its array may still be parsing in a thread)
        self.header: dict[str, Any] | None = None
        self.nodes: dict[str, Any] | None = None
        self.edges: dict[str, Any] | None = None
        self.strings: tuple[Any, Any, Any] | None = None
        self.locations: Any = None

    # -- helpers ------------------------------------------------------------------
    def bad(self, what: str) -> InvalidCaptureFile:
        return InvalidCaptureFile(f"{self.path}: not a valid heap snapshot: {what}", path=self.path)

    def at(self, pos: int) -> int:
        """The byte at ``pos``, -1 past the end of the file."""
        return self.mm[pos] if pos < self.size else -1

    def ws(self, pos: int) -> int:
        mm = self.mm
        while pos < self.size and mm[pos] in _WS:
            pos += 1
        return pos

    def release(self, since: int, upto: int) -> int:
        """Drop the parsed pages of ``since..upto`` from our resident set (they stay in the page cache);
        returns where the next release of the same region starts.  Regions are parsed in parallel,
        each releasing its own: a page two regions share may be dropped while the other still reads it,
        which costs a fault that maps it back, never its content."""
        since -= since % mmap.PAGESIZE
        upto -= upto % mmap.PAGESIZE
        if upto > since and hasattr(self.mm, "madvise"):
            self.mm.madvise(mmap.MADV_DONTNEED, since, upto - since)
            return upto
        return since

    def find_close(self, pos: int) -> int:
        """Where the first ``]`` from ``pos`` is, or -1; the pages looked through leave our resident set as the
        search goes (the thread parsing them maps them back a chunk at a time)."""
        while pos < self.size:
            upto = min(self.size, pos + _CHUNK)
            end = self.mm.find(b"]", pos, upto)
            if end >= 0:
                return end
            self.release(pos, upto)
            pos = upto
        return -1

    # -- the top-level object -------------------------------------------------------
    def run(self) -> RawSnapshot | None:
        jobs: list[tuple[parallel.Started, int]] = []  # arrays parsing in threads, and where each must end
        try:
            self.walk(jobs)
        except BaseException:
            for job, _end in jobs:  # an error earlier in the file comes first
                failed = job.failed()
                if failed is not None:
                    raise failed from None
            raise
        for job, end in jobs:
            if job.result() != end:  # pragma: no cover - the ']' found is where the parse stops
                raise self.bad(f"an array ends at offset {job.result()}, not at {end}")
        if self.header is None or self.nodes is None or self.edges is None or self.strings is None:
            missing = [k for k, v in (("snapshot", self.header), ("nodes", self.nodes),
                                      ("edges", self.edges), ("strings", self.strings)) if v is None]
            raise self.bad(f"missing {', '.join(missing)}")
        self.release(0, self.size)
        if self.check_only:
            self.finish_check()
            return None
        return self.assemble()

    def walk(self, jobs: list[tuple[parallel.Started, int]]) -> None:
        """The top-level keys, in file order; ``nodes`` and ``edges`` go to ``jobs`` when parsed in threads."""
        from cdpclient.heap import _kernels as K

        mm = self.mm
        pos = self.ws(0)
        if pos >= self.size or mm[pos] != ord("{"):
            raise self.bad("it does not start with '{'")
        pos += 1
        while True:
            pos = self.ws(pos)
            if pos >= self.size:
                raise self.bad("the file ends early (truncated?)")
            if mm[pos] == ord("}"):
                break
            if mm[pos] == ord(","):
                pos += 1
                continue
            if mm[pos] != ord('"'):
                raise self.bad(f"unexpected byte at offset {pos}")
            end = mm.find(b'"', pos + 1)
            if end < 0:
                raise self.bad("the file ends inside a key (truncated?)")
            key = mm[pos + 1:end].decode("utf-8", "replace")
            pos = self.ws(end + 1)
            if pos >= self.size or mm[pos] != ord(":"):
                raise self.bad(f"no ':' after key {key!r}")
            pos = self.ws(pos + 1)
            if key == "snapshot":
                end = int(K.skip_value(self.buf, pos))
                if end < 0:
                    raise self.bad("the snapshot header is not closed")
                try:
                    self.header = json.loads(mm[pos:end])
                except ValueError as exc:
                    raise self.bad(f"the snapshot header is not JSON ({exc})") from exc
                if not isinstance(self.header, dict):
                    raise self.bad("'snapshot' is not an object")
                self.check_limits()
                pos = end
            elif key in ("nodes", "edges"):
                if key == "edges" and not self.nodes_seen:
                    raise self.bad("'edges' come before 'nodes'")
                self.nodes_seen = self.nodes_seen or key == "nodes"
                # nodes and edges hold only digits, commas and blanks up to their ']': found at memchr speed,
                # so each array is parsed in a thread of its own while the walk goes on past it
                skip = key == "edges" and not self.keep_edges and not self.check_only
                end = -1 if self.check_only or (parallel.cores() == 1 and not skip) else self.find_close(pos)
                if skip and end >= 0:
                    self.edges = {"count": -1, "skipped": True}
                    pos = end + 1
                elif end < 0:
                    pos = self.parse_graph_array(key, pos)
                else:
                    self.layout()
                    job = parallel.start(lambda key=key, at=pos: self.parse_graph_array(key, at))  # type: ignore[misc]
                    jobs.append((job, end + 1))
                    pos = end + 1
            elif key == "strings":
                pos = self.parse_strings(pos)
            elif key == "locations":
                pos = self.parse_locations(pos)
            else:
                end = int(K.skip_value(self.buf, pos))
                if end < 0:
                    raise self.bad(f"the {key!r} value is not closed (truncated?)")
                pos = end

    def check_limits(self) -> None:
        """Refuse at once, naming the limit, a snapshot whose counts the analysis's 32-bit indexes cannot hold
        (node indexes ``ordinal * fields`` in uint32, edge indexes in int32: a heap of some 40 GB and more)."""
        assert self.header is not None
        meta = self.header.get("meta")
        nodes, edges = self.header.get("node_count"), self.header.get("edge_count")
        fields = meta.get("node_fields") if isinstance(meta, dict) else None
        if isinstance(nodes, int) and isinstance(fields, list) and fields and nodes * len(fields) > NODE_INDEX_MAX:
            raise AnalysisError(f"{self.path}: {nodes:,} nodes of {len(fields)} fields are more than this analyser "
                                f"indexes in 32 bits (at most {NODE_INDEX_MAX // len(fields):,} nodes)")
        if isinstance(edges, int) and edges > EDGE_MAX:
            raise AnalysisError(f"{self.path}: {edges:,} edges are more than this analyser indexes in 32 bits "
                                f"(at most {EDGE_MAX:,} edges)")

    def layout(self) -> dict[str, Any]:
        if self.header is None:
            raise self.bad("'nodes' or 'edges' come before the 'snapshot' header")
        meta = self.header.get("meta")
        if not isinstance(meta, dict) or "node_fields" not in meta or "edge_fields" not in meta:
            raise self.bad("the header has no meta.node_fields / meta.edge_fields")
        for key in ("node_fields", "edge_fields"):
            fields = meta[key]
            if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
                raise self.bad(f"meta.{key} is not a list of field names")
            if len(set(fields)) != len(fields):
                raise self.bad(f"meta.{key} names a field twice")
        return meta

    def parse_graph_array(self, key: str, pos: int) -> int:
        import numpy as np

        from cdpclient.heap import _kernels as K

        meta = self.layout()
        if self.at(pos) != ord("["):
            raise self.bad(f"'{key}' is not an array")
        if key == "edges" and not self.nodes_seen:
            raise self.bad("'edges' come before 'nodes'")
        pos += 1
        fields: list[str] = list(meta["node_fields" if key == "nodes" else "edge_fields"])
        count_key = "node_count" if key == "nodes" else "edge_count"
        count = self.header.get(count_key) if self.header else None
        if not isinstance(count, int) or count <= 0:
            values, _ = K.count_ints(self.buf, pos)
            count = int(values) // max(1, len(fields))
        if count * len(fields) > (self.size - pos) // 2 + 1:  # each value takes a digit and a comma at least
            raise self.bad(f"{count_key}={count:,} is more than the rest of the file can hold")
        # which fields we keep: 0..3 name uint32 columns, 8 the uint8 type column
        if key == "nodes":
            wanted = {"type": 8, "name": 0, "id": 1, "self_size": 2, "edge_count": 3, "detachedness": 9}
        else:
            wanted = {"type": 8, "name_or_index": 0, "to_node": 1}
        missing = [f for f in wanted if f not in fields and f != "detachedness"]
        if missing:
            raise self.bad(f"meta.{key[:-1]}_fields lacks {', '.join(missing)}")
        fieldmap = np.array([wanted.get(f, -1) for f in fields], dtype=np.int64)
        total = count * len(fields)
        if (key == "nodes" and count * len(fields) > NODE_INDEX_MAX) or (key == "edges" and count > EDGE_MAX):
            raise AnalysisError(f"{self.path}: {count:,} {key} are more than this analyser indexes in 32 bits "
                                f"(at most {(NODE_INDEX_MAX // len(fields)) if key == 'nodes' else EDGE_MAX:,})")
        nf = len(fields)
        # check_only: buffers of one chunk's rows (a value takes two bytes at least), refilled per chunk
        chunk = _CHECK_CHUNK if self.check_only else _CHUNK
        rows_cap = min(count, chunk // (2 * nf) + 2) if self.check_only else count
        out8 = np.empty(rows_cap, np.uint8)
        detached = np.zeros(rows_cap if "detachedness" in fields and key == "nodes" else 0, np.uint8)
        cols = [np.empty(rows_cap, np.uint32) for _ in range(2 if key == "edges" else 3)]
        if key == "nodes":
            # the edge_count column becomes first_edge (N+1 entries) in place
            cols.append(np.empty(rows_cap + 1, np.uint32))
        else:
            cols += [np.empty(0, np.uint32), np.empty(0, np.uint32)]
        index = 0
        released = pos
        base = 0  # check_only: the row buffer position 0 holds
        self.progress(f"parsing {key}: {count:,}")
        while True:
            limit = min(self.size, pos + chunk)
            pos, index, status = K.parse_ints(self.buf, pos, limit, fieldmap, out8, cols[0], cols[1], cols[2],
                                               cols[3], detached, index, total, base)
            pos, index, status = int(pos), int(index), int(status)
            released = self.release(released, pos)
            if self.check_only and status in (K.MORE, K.CLOSED):
                rows = index // nf - base
                self.check_rows(key, out8, cols, rows, base)
                buffers: list[Any] = [out8, detached, *cols]
                for col in buffers:  # a row cut by the chunk's end moves to the front
                    if col.size > rows:
                        col[0] = col[rows]
                base += rows
            if status == K.MORE:
                continue
            if status == K.CLOSED:
                break
            if status == K.TOO_BIG:
                raise AnalysisError(f"{self.path}: a value in '{key}' does not fit in 32 bits "
                                    f"(value #{index}); such snapshots are not supported yet")
            if status == K.TOO_MANY:
                raise self.bad(f"'{key}' holds more values than {count_key}={count} says")
            if status == K.EOF:
                raise self.bad(f"the file ends inside '{key}' (truncated?)")
            raise self.bad(f"unexpected byte in '{key}' at offset {pos}")
        if index != total:
            raise self.bad(f"'{key}' holds {index} values; {count_key}={count} x {len(fields)} fields "
                           f"= {total} expected (truncated?)")
        if self.check_only:
            self.nodes = {"count": count, "nfields": nf} if key == "nodes" else self.nodes
            self.edges = {"count": count} if key == "edges" else self.edges
        elif key == "nodes":
            self.nodes = {"count": count, "type": out8, "name": cols[0], "id": cols[1],
                          "self_size": cols[2], "edge_count": cols[3], "nfields": len(fields),
                          "detachedness": detached if detached.size else None}
        else:
            self.edges = {"count": count, "type": out8, "name": cols[0], "to": cols[1]}
        return pos

    def parse_strings(self, pos: int) -> int:
        import numpy as np

        from cdpclient.heap import _kernels as K

        if self.at(pos) != ord("["):
            raise self.bad("'strings' is not an array")
        start = pos
        empty = np.empty(0, np.int64)
        count, end = K.scan_strings(self.buf, pos + 1, empty, empty, False)
        if end < 0:
            raise self.bad("the file ends inside 'strings' (truncated?)")
        if self.check_only:
            self.strings = (b"", np.empty(count, np.uint8), None)
            self.release(start, end)
            return int(end)
        # The strings stay in the file: a mapping of their part of it (from the page boundary below their
        # '['), not a copy in fresh memory; offsets count from that boundary.
        base = start - start % mmap.ALLOCATIONGRANULARITY
        blob: Any
        try:
            blob = mmap.mmap(self.fd, end - base, offset=base, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            blob, base = self.mm[start:end], start  # bytes: a copy
        starts = np.empty(count, np.int64)
        ends = np.empty(count, np.int64)
        view = np.frombuffer(blob, np.uint8)
        K.scan_strings(view, start - base + 1, starts, ends, True)
        del view
        if isinstance(blob, mmap.mmap) and hasattr(blob, "madvise"):
            blob.madvise(mmap.MADV_DONTNEED)  # scanned: out of our resident set, read back as shown
        self.strings = (blob, starts, ends)
        self.release(start, end)
        return int(end)

    def parse_locations(self, pos: int) -> int:
        """``locations``: flat ints, ``meta.location_fields`` per function (object_index, script_id, line,
        column); kept: the node ordinal and the line, sorted by ordinal.  Parsed after ``nodes`` (V8
        writes it last), so the field count is known."""
        import numpy as np

        from cdpclient.heap import _kernels as K

        end = int(K.skip_value(self.buf, pos))
        if end < 0 or self.at(pos) != ord("["):
            raise self.bad("the 'locations' value is not a closed array (truncated?)")
        fields = self.layout().get("location_fields") or []
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise self.bad("meta.location_fields is not a list of field names")
        text = self.mm[pos + 1:end - 1]
        if not text.strip() or "object_index" not in fields or "line" not in fields:
            return end
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy warns, and stops, at the first non-number
                flat = np.fromstring(text, dtype=np.int64, sep=",")
        except ValueError:
            flat = np.empty(0, np.int64)
        if flat.size != text.count(b",") + 1:
            raise self.bad("'locations' holds something other than integers")
        width = len(fields)
        if flat.size % width:
            raise self.bad(f"'locations' holds {flat.size} values, not a multiple of {width}")
        rows = flat.reshape(-1, width)
        nf = self.nodes["nfields"] if self.nodes else len(self.layout()["node_fields"])
        objects, lines = rows[:, fields.index("object_index")], rows[:, fields.index("line")]
        bad = np.flatnonzero((objects < 0) | (objects % nf != 0) | (lines < 0))
        if bad.size:
            raise self.bad(f"location {int(bad[0])} names object index {int(objects[bad[0]])}, not the start of "
                           f"a node (a multiple of {nf}), or a negative line")
        located = np.stack([objects // nf, lines], axis=1)
        self.locations = located[np.argsort(located[:, 0], kind="stable")]
        self.release(pos, end)
        return end

    def type_names(self) -> tuple[list[str], list[str]]:
        """The node and edge type names, from ``meta``."""
        meta = self.layout()
        try:  # the type names sit at the type field's position of node_types / edge_types
            node_types = meta["node_types"][list(meta["node_fields"]).index("type")]
            edge_types = meta["edge_types"][list(meta["edge_fields"]).index("type")]
        except (KeyError, IndexError, ValueError, TypeError):
            raise self.bad("meta.node_types / meta.edge_types do not name the types") from None
        if not isinstance(node_types, list) or not isinstance(edge_types, list) \
                or not all(isinstance(t, str) for t in node_types + edge_types):
            raise self.bad("meta.node_types / meta.edge_types do not list the type names")
        return node_types, edge_types

    def node_error(self, at: int, why: int, value: int, ntypes: int, nstr: int) -> InvalidCaptureFile:
        what = (f"its type {value} is not one of the {ntypes} node types" if why == 1
                else f"its name {value} is past the last of {nstr:,} strings")
        return self.bad(f"node {at:,}: {what}")

    def edge_error(self, at: int, why: int, value: int, ntypes: int, nstr: int, nf: int) -> InvalidCaptureFile:
        if why == 1:
            what = f"its type {value} is not one of the {ntypes} edge types"
        elif why == 2:
            what = f"its name {value} is past the last of {nstr:,} strings"
        elif why == 3:
            what = "it points past the last node"
        else:
            what = f"it points at {value}, inside a node (not a multiple of {nf})"
        return self.bad(f"edge {at:,}: {what}")

    def check_rows(self, key: str, out8: Any, cols: list[Any], rows: int, base: int) -> None:
        """check_only: the ``rows`` complete rows of this chunk (rows ``base`` on of the array)."""
        import numpy as np

        from cdpclient.heap import _kernels as K

        if not rows:
            return
        node_types, edge_types = self.type_names()
        r = self.ranges
        if key == "nodes":
            at, why = (int(v) for v in K.check_nodes(out8[:rows], cols[0][:rows], len(node_types), 1 << 33))
            if at >= 0:
                raise self.node_error(base + at, why, int(out8[at]), len(node_types), 0)
            names = cols[0][:rows]
            top = int(names.argmax())
            if int(names[top]) >= r.get("node_name", (-1, 0))[0]:
                r["node_name"] = (int(names[top]), base + top) if int(names[top]) > r.get("node_name", (-1, 0))[0] \
                    else r["node_name"]
            r["edge_total"] = r.get("edge_total", 0) + int(cols[3][:rows].sum(dtype=np.int64))
            return
        assert self.nodes is not None
        n, nf = self.nodes["count"], self.nodes["nfields"]
        stringy = np.array([t not in ("element", "hidden") for t in edge_types], dtype=np.bool_)
        types, names, to = out8[:rows], cols[0][:rows], cols[1][:rows]
        at, why = (int(v) for v in K.check_edges(types, names, to, stringy, 1 << 33, n * nf, nf))
        if at >= 0:
            raise self.edge_error(base + at, why, int(types[at] if why == 1 else to[at]), len(edge_types), 0, nf)
        named = np.where(stringy[types], names, 0)
        top = int(named.argmax())
        if int(named[top]) > r.get("edge_name", (-1, 0))[0]:
            r["edge_name"] = (int(named[top]), base + top)

    def finish_check(self) -> None:
        """check_only: what needs the whole file (counts, the strings table's size, the root)."""
        assert self.header is not None and self.nodes is not None and self.edges is not None
        assert self.strings is not None
        node_types, edge_types = self.type_names()
        n, m, nf = self.nodes["count"], self.edges["count"], self.nodes["nfields"]
        if n == 0:
            raise self.bad("it has no nodes")
        nstr = int(self.strings[1].shape[0])
        value, at = self.ranges.get("node_name", (-1, 0))
        if value >= nstr:
            raise self.node_error(at, 2, value, len(node_types), nstr)
        total = self.ranges.get("edge_total", 0)
        if total != m:
            raise self.bad(f"the nodes' edge counts add up to {total}, not edge_count={m}")
        value, at = self.ranges.get("edge_name", (-1, 0))
        if value >= nstr:
            raise self.edge_error(at, 2, value, len(edge_types), nstr, nf)
        self.check_root(n, nf)

    def check_root(self, n: int, nf: int) -> None:
        assert self.header is not None
        root_index = self.header.get("root_index", 0) or 0
        if not isinstance(root_index, int) or not 0 <= root_index < n * nf or root_index % nf:
            raise self.bad(f"root_index {root_index!r} is not the start of a node")
        if self.locations is not None and self.locations.size and int(self.locations[:, 0].max()) >= n:
            raise self.bad("a location names an object past the last node")

    # -- derived columns ----------------------------------------------------------------
    def assemble(self) -> RawSnapshot:
        import numpy as np

        assert self.header is not None and self.nodes is not None and self.edges is not None
        assert self.strings is not None
        meta = self.layout()
        node_types, edge_types = self.type_names()
        nodes, edges = self.nodes, self.edges
        n, m = nodes["count"], edges["count"]
        from cdpclient.heap import _kernels as K

        if n == 0:
            raise self.bad("it has no nodes")
        nstr = int(self.strings[1].shape[0])
        nf = nodes["nfields"]
        # Everything the analysis indexes with is checked here, in one pass over each array.
        at, why = (int(v) for v in K.check_nodes(nodes["type"], nodes["name"], len(node_types), nstr))
        if at >= 0:
            value = int(nodes["type"][at] if why == 1 else nodes["name"][at])
            raise self.node_error(at, why, value, len(node_types), nstr)
        first_edge = nodes.pop("edge_count")
        total = int(K.exclusive_scan(first_edge, n))
        if edges.get("skipped"):  # passed over unread: the header's count is what there is to check against
            declared = self.header.get("edge_count")
            if isinstance(declared, int) and declared != total:
                raise self.bad(f"the nodes' edge counts add up to {total}, not edge_count={declared}")
            edges = {"count": 0, "type": np.empty(0, np.uint8), "name": np.empty(0, np.uint32),
                     "to": np.empty(0, np.uint32)}
            m = total = 0
        if total != m:
            raise self.bad(f"the nodes' edge counts add up to {total}, not edge_count={m}")
        to = edges["to"]
        stringy = np.array([t not in ("element", "hidden") for t in edge_types], dtype=np.bool_)
        at, why = (int(v) for v in K.check_edges(edges["type"], edges["name"], to, stringy, nstr, n * nf, nf))
        if at >= 0:
            value = int(edges["type"][at] if why == 1 else edges["name"][at] if why == 2 else to[at])
            raise self.edge_error(at, why, value, len(edge_types), nstr, nf)
        self.check_root(n, nf)
        np.floor_divide(to, nf, out=to)
        blob, starts, ends = self.strings
        return RawSnapshot(
            meta=meta, node_types=[str(t) for t in node_types], edge_types=[str(t) for t in edge_types],
            node_type=nodes["type"], node_name=nodes["name"], node_id=nodes["id"],
            self_size=nodes["self_size"], first_edge=first_edge, edge_type=edges["type"],
            edge_name=edges["name"], edge_to=to, string_blob=blob, string_starts=starts,
            string_ends=ends,
            extra={k: v for k, v in self.header.items() if k != "meta"},
            locations=self.locations if self.locations is not None else np.empty((0, 2), np.int64),
            detachedness=nodes.get("detachedness"),
        )
