"""Reading V8 sampling heap profiles (``.heapprofile``: ``HeapProfiler.getSamplingProfile``, ``node --heap-prof``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdpclient.profiles._read import DATA_ERRORS, invalid, malformed, read_json
from cdpclient.profiles.calltree import CallTree, Metric, build
from cdpclient.profiles.frames import Frame

HEAP_METRICS = [Metric("bytes", "bytes"), Metric("objects", "count"), Metric("samples", "count")]


@dataclass
class HeapProfile:
    """A sampling heap profile as a call tree: ``bytes`` (V8's scaled estimate of the bytes
    allocated at each site and still live when the profile was taken, unless the
    sampler was told to keep collected objects), ``objects`` (estimated object count)
    and ``samples`` (the raw number of sampled objects)."""

    tree: CallTree
    sample_count: int
    unattributed_samples: int = 0

    kind = "heapprofile"


def load_heap_profile(path: Path) -> HeapProfile:
    """Read a ``.heapprofile`` file. Raises InvalidCaptureFile if it is malformed or truncated."""
    data = read_json(path, "heapprofile")
    try:
        return parse_heap_profile(data, path)
    except DATA_ERRORS as exc:
        raise malformed(path, "heapprofile", exc) from exc


def parse_heap_profile(data: Any, path: Path | str = "<profile>") -> HeapProfile:
    import numpy as np

    path = Path(path)
    if isinstance(data, dict) and "head" not in data and isinstance(data.get("profile"), dict):
        data = data["profile"]  # a saved HeapProfiler.stopSampling reply
    if not isinstance(data, dict) or not isinstance(data.get("head"), dict):
        raise invalid(path, "heapprofile", "no 'head' node")
    frames: list[Frame] = []
    frame_ids: dict[Frame, int] = {}
    parent: list[int] = []
    node_frame: list[int] = []
    self_bytes: list[float] = []
    index_of: dict[int, int] = {}
    try:
        stack: list[tuple[dict[str, Any], int]] = [(data["head"], -1)]
        while stack:
            node, up = stack.pop()
            cf = node["callFrame"]
            f = Frame(str(cf.get("functionName", "")), str(cf.get("url", "")),
                      int(cf.get("lineNumber", -1)) + 1, int(cf.get("columnNumber", -1)) + 1)
            fid = frame_ids.setdefault(f, len(frame_ids))
            if fid == len(frames):
                frames.append(f)
            i = len(parent)
            parent.append(up)
            node_frame.append(fid)
            self_bytes.append(float(node.get("selfSize", 0)))
            if "id" in node:
                index_of[int(node["id"])] = i
            stack.extend((child, i) for child in reversed(node.get("children") or ()))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise invalid(path, "heapprofile", f"malformed node ({type(exc).__name__}: {exc})") from exc

    n = len(parent)
    values = np.zeros((n, 3))
    values[:, 0] = self_bytes
    samples = data.get("samples") or []
    sampled = np.zeros(n)
    sampled_bytes = np.zeros(n)
    unattributed = 0
    try:
        for s in samples:
            i = index_of.get(int(s["nodeId"]), -1)
            if i < 0:
                # V8 can record samples for a node it did not serialize (allocated
                # while the profile was being built): they have no stack to go to.
                unattributed += 1
                continue
            sampled[i] += 1
            sampled_bytes[i] += float(s["size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise invalid(path, "heapprofile", f"malformed sample ({type(exc).__name__}: {exc})") from exc
    values[:, 2] = sampled
    # selfSize is V8's scaled-up estimate of the bytes behind the sampled objects;
    # scale the sample count by the same factor to estimate the object count.
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(sampled_bytes > 0, values[:, 0] / sampled_bytes, 0.0)
    # V8 rounds its per-size counts, so the factor can dip just under 1; there are never
    # fewer objects than were sampled.
    values[:, 1] = np.where(sampled > 0, np.maximum(sampled * scale, sampled), 0.0)
    try:
        tree = build(frames, parent, node_frame, values, HEAP_METRICS)
    except ValueError as exc:
        raise invalid(path, "heapprofile", str(exc)) from exc
    return HeapProfile(tree=tree, sample_count=len(samples), unattributed_samples=unattributed)
