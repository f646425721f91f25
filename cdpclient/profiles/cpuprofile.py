"""Reading V8 CPU profiles (``.cpuprofile``, the ``Profiler.stop`` result and ``node --cpu-prof`` file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdpclient.profiles._read import DATA_ERRORS, invalid, malformed, read_json
from cdpclient.profiles.calltree import CallTree, Metric, build
from cdpclient.profiles.frames import Frame

if TYPE_CHECKING:
    import numpy as np

CPU_METRICS = [Metric("time", "us"), Metric("samples", "count")]


@dataclass
class CpuProfile:
    """A CPU profile as a call tree (metrics ``time`` in µs and ``samples``) plus its timeline.

    ``sample_nodes[i]`` is the tree node index of sample i and ``sample_us[i]`` the
    time it stands for (the gap to the next sample: V8 records a stack, then sleeps).
    """

    tree: CallTree
    start_us: float
    end_us: float
    sample_nodes: np.ndarray
    sample_us: np.ndarray
    # tree node -> ((line, ticks), ...): V8's positionTicks, how a node's own samples fall on the lines of
    # its function (1-based lines; nodes V8 gave none are absent)
    line_ticks: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)

    kind = "cpuprofile"

    @property
    def sample_count(self) -> int:
        return int(len(self.sample_nodes))

    @property
    def duration_us(self) -> float:
        return max(0.0, self.end_us - self.start_us)

    @property
    def interval_us(self) -> float:
        """The typical sampling interval: the median gap between samples."""
        import numpy as np

        gaps = self.sample_us[self.sample_us > 0]
        return float(np.median(gaps)) if len(gaps) else 0.0


def load_cpu_profile(path: Path) -> CpuProfile:
    """Read a ``.cpuprofile`` file. Raises InvalidCaptureFile if it is malformed or truncated."""
    data = read_json(path, "cpuprofile")
    try:
        return parse_cpu_profile(data, path)
    except DATA_ERRORS as exc:
        raise malformed(path, "cpuprofile", exc) from exc


def parse_cpu_profile(data: Any, path: Path | str = "<profile>") -> CpuProfile:
    import numpy as np

    path = Path(path)
    if isinstance(data, dict) and "nodes" not in data and isinstance(data.get("profile"), dict):
        data = data["profile"]  # a saved Profiler.stop reply
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not data["nodes"]:
        raise invalid(path, "cpuprofile", "no 'nodes' list")
    nodes = data["nodes"]
    frames: list[Frame] = []
    frame_ids: dict[Frame, int] = {}
    index_of: dict[int, int] = {}
    node_frame: list[int] = []
    try:
        for i, node in enumerate(nodes):
            if not isinstance(node, dict) or not isinstance(node.get("callFrame"), dict):
                raise invalid(path, "cpuprofile", f"node {i} is not an object with a callFrame")
            cf = node["callFrame"]
            f = Frame(str(cf.get("functionName", "")), str(cf.get("url", "")),
                      int(cf.get("lineNumber", -1)) + 1, int(cf.get("columnNumber", -1)) + 1)
            node_frame.append(frame_ids.setdefault(f, len(frame_ids)))
            if len(frame_ids) > len(frames):
                frames.append(f)
            node_id = int(node["id"])
            if node_id in index_of:
                raise invalid(path, "cpuprofile", f"node id {node_id} is used twice")
            index_of[node_id] = i
        parent = [-1] * len(nodes)
        for i, node in enumerate(nodes):
            for child in node.get("children") or ():
                c = index_of.get(int(child), -1)
                if c < 0:
                    raise invalid(path, "cpuprofile", f"node {node['id']} names child {child}, which is no node")
                if parent[c] >= 0:
                    raise invalid(path, "cpuprofile", f"node {child} is the child of two nodes")
                parent[c] = i
            if "parent" in node:  # the older format names the parent instead of the children
                up = index_of.get(int(node["parent"]), -1)
                if up < 0:
                    raise invalid(path, "cpuprofile", f"node {node['id']} names parent {node['parent']}, "
                                                      f"which is no node")
                parent[i] = up
    except (KeyError, TypeError, ValueError) as exc:
        raise invalid(path, "cpuprofile", f"malformed node ({type(exc).__name__}: {exc})") from exc

    start = float(data.get("startTime", 0))
    end = float(data.get("endTime", start))
    samples = data.get("samples")
    deltas = data.get("timeDeltas")
    values = np.zeros((len(nodes), 2))
    if samples:
        if not isinstance(deltas, list) or len(deltas) != len(samples):
            raise invalid(path, "cpuprofile", "'timeDeltas' does not match 'samples'")
        try:
            ids = np.asarray(samples, dtype=np.int64)
            stamps = start + np.cumsum(np.asarray(deltas, dtype=np.float64))
            sample_nodes_old = np.array([index_of.get(i, -1) for i in ids.tolist()], dtype=np.int64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise invalid(path, "cpuprofile", f"'samples' or 'timeDeltas' hold something other than numbers "
                                              f"({exc})") from exc
        missing = np.flatnonzero(sample_nodes_old < 0)
        if missing.size:
            raise invalid(path, "cpuprofile", f"sample {int(missing[0])} names node {int(ids[missing[0]])}, "
                                              f"which is no node")
        # Sample i stands for the time until sample i+1 (the last one until endTime).
        # Deltas can be slightly negative when V8 reorders ticks: never count negative time.
        nxt = np.append(stamps[1:], max(end, stamps[-1]))
        sample_us = np.maximum(nxt - stamps, 0.0)
        np.add.at(values[:, 0], sample_nodes_old, sample_us)
        np.add.at(values[:, 1], sample_nodes_old, 1.0)
    else:
        # No samples array: fall back to hitCount spread evenly over the duration.
        hits = np.array([float(n.get("hitCount", 0) or 0) for n in nodes])
        total = hits.sum()
        values[:, 1] = hits
        values[:, 0] = hits * ((end - start) / total if total else 0.0)
        sample_nodes_old = np.zeros(0, dtype=np.int64)
        sample_us = np.zeros(0)
    try:
        tree = build(frames, parent, node_frame, values, CPU_METRICS)
    except ValueError as exc:
        raise invalid(path, "cpuprofile", str(exc)) from exc
    # build() renumbers nodes into preorder; carry the sample -> node map along.
    assert tree.new_index is not None
    return CpuProfile(tree=tree, start_us=start, end_us=end,
                      sample_nodes=tree.new_index[sample_nodes_old], sample_us=sample_us,
                      line_ticks=_line_ticks(nodes, tree.new_index.tolist(), path))


def _line_ticks(nodes: list[Any], new_index: list[int], path: Path) -> dict[int, tuple[tuple[int, int], ...]]:
    """Each node's ``positionTicks`` (``[{"line": 12, "ticks": 3}, ...]``), by tree node index."""
    out: dict[int, tuple[tuple[int, int], ...]] = {}
    for i, node in enumerate(nodes):
        ticks = node.get("positionTicks")
        if not ticks:
            continue
        try:
            pairs = tuple((int(t["line"]), int(t["ticks"])) for t in ticks)
        except (KeyError, TypeError, ValueError) as exc:
            raise invalid(path, "cpuprofile", f"node {node.get('id')} has malformed positionTicks ({exc})") from exc
        if any(line < 1 or count < 0 for line, count in pairs):
            raise invalid(path, "cpuprofile", f"node {node.get('id')} has a positionTick below line 1 or 0 ticks")
        out[new_index[i]] = pairs
    return out
