"""Reading V8 sampling heap profiles (``.heapprofile``: ``HeapProfiler.getSamplingProfile``, ``node --heap-prof``).

V8 samples allocations as a Poisson process over the bytes allocated, one sample every
``samplingInterval`` bytes on average (I), so an allocation of ``s`` bytes is sampled with
probability ``1 - exp(-s/I)`` and each sample of it stands for ``1/(1 - exp(-s/I))`` such
allocations (V8's ``SamplingHeapProfiler::ScaleSample``, rounded to a whole number). The
file keeps only the scaled figures: a node's ``selfSize`` is the sum over its sampled sizes
of ``s * round(n_s / (1 - exp(-s/I)))``, and a sample's ``size`` is ``s * round(1 / (1 -
exp(-s/I)))``, whatever its ``s``. The object count is recovered by solving for ``s``
(:func:`_sizes_from_scaled`); see :func:`_estimate_objects` for how exact that is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdpclient.profiles._read import DATA_ERRORS, invalid, malformed, read_json
from cdpclient.profiles.calltree import CallTree, Metric, build
from cdpclient.profiles.frames import Frame

if TYPE_CHECKING:
    import numpy as np

DEFAULT_INTERVAL = 32768
"""V8's default mean sampling interval in bytes (``HeapProfiler.startSampling``)."""

HEAP_METRICS = [Metric("bytes", "bytes"), Metric("objects", "count"), Metric("samples", "count")]


@dataclass
class HeapProfile:
    """A sampling heap profile as a call tree: ``bytes`` (V8's scaled estimate of the bytes
    allocated at each site and still live when the profile was taken, unless the
    sampler was told to keep collected objects), ``objects`` (estimated object count,
    from the sampled sizes and ``interval``) and ``samples`` (the raw number of samples).

    ``interval_source``: ``capture`` (the interval the capture asked V8 for), ``file``
    (read off the samples: V8 writes none into the file) or ``default`` (no samples to
    read it from).
    """

    tree: CallTree
    sample_count: int
    unattributed_samples: int = 0
    interval: int = DEFAULT_INTERVAL
    interval_source: str = "default"
    notes: list[str] = field(default_factory=list)

    kind = "heapprofile"


def load_heap_profile(path: Path, *, interval: int | None = None) -> HeapProfile:
    """Read a ``.heapprofile`` file; ``interval``: the sampling interval it was taken with,
    when known (a capture records it), else read off the samples.
    Raises InvalidCaptureFile if it is malformed or truncated."""
    data = read_json(path, "heapprofile")
    try:
        return parse_heap_profile(data, path, interval=interval)
    except DATA_ERRORS as exc:
        raise malformed(path, "heapprofile", exc) from exc


def parse_heap_profile(data: Any, path: Path | str = "<profile>", *, interval: int | None = None) -> HeapProfile:
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
    sample_nodes: list[int] = []
    sample_sizes: list[float] = []
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
            sample_nodes.append(i)
            sample_sizes.append(float(s["size"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise invalid(path, "heapprofile", f"malformed sample ({type(exc).__name__}: {exc})") from exc
    values[:, 2] = sampled
    notes: list[str] = []
    source = "capture"
    if interval is None or interval < 1:
        interval, source = _interval_of(sample_sizes, notes)
    values[:, 1] = _estimate_objects(values[:, 0], np.asarray(sample_nodes, dtype=np.int64),
                                     np.asarray(sample_sizes, dtype=np.float64), n, float(interval))
    if not samples and n > 1:
        notes.append("the profile has no samples, so no object counts (~objects is 0)")
    try:
        tree = build(frames, parent, node_frame, values, HEAP_METRICS)
    except ValueError as exc:
        raise invalid(path, "heapprofile", str(exc)) from exc
    return HeapProfile(tree=tree, sample_count=len(samples), unattributed_samples=unattributed,
                       interval=int(interval), interval_source=source, notes=notes)


def _interval_of(sample_sizes: list[float], notes: list[str]) -> tuple[int, str]:
    """The sampling interval of a file that does not say: V8 scales every sample to at least
    the interval (``s * round(1/(1-exp(-s/I))) >= I`` for every ``s``), and small objects,
    always among the samples, land just above it; intervals are powers of two in practice
    (V8's default 32768, ``node --heap-prof``'s 524288), so the largest one at or below the
    smallest sample."""
    if not sample_sizes:
        return DEFAULT_INTERVAL, "default"
    smallest = int(min(sample_sizes))
    if smallest < 1:
        notes.append(f"sampling interval not recorded; assumed V8's default {DEFAULT_INTERVAL} bytes")
        return DEFAULT_INTERVAL, "default"
    interval = 1 << (smallest.bit_length() - 1)
    notes.append(f"sampling interval not recorded in the file; read off its samples as {interval} bytes "
                 "(object estimates assume it)")
    return interval, "file"


def _g(s: np.ndarray, interval: float) -> np.ndarray:
    """What V8 scales one sample of an ``s``-byte allocation to, before rounding: ``s / (1 - exp(-s/I))``."""
    import numpy as np

    return s / -np.expm1(-s / interval)


def _sizes_from_scaled(scaled: np.ndarray, interval: float) -> np.ndarray:
    """The allocation size ``s`` whose unrounded scaled sample is ``scaled`` (``_g`` is increasing
    and above both ``s`` and ``I``, so ``s`` lies in (0, scaled)): vectorised bisection."""
    import numpy as np

    lo = np.zeros_like(scaled)
    hi = np.maximum(scaled, 1.0)
    for _ in range(64):
        mid = (lo + hi) / 2
        below = _g(np.maximum(mid, 1e-9), interval) < scaled
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    size: np.ndarray = np.maximum((lo + hi) / 2, 8.0)  # no heap object is smaller than a word
    return size


_STATES = 4096  # (sum, object total) pairs followed per node before giving up on an exact fit
_ALIGN = 4  # heap object sizes are multiples of the tagged size: 8 bytes, or 4 with pointer compression
_MAX_PER_SAMPLE = 1 << 18  # objects one sample may stand for that are tried (an interval up to 1 MiB)


def _scaled_count(size: float, count: float, interval: float) -> int:
    """V8's ``ScaleSample(size, count).count``: ``count / (1 - exp(-size/I))``, rounded."""
    import math

    return int(count / (1.0 - math.exp(-size / interval)) + 0.5)


def _candidates(scaled: int, interval: float) -> list[int]:
    """Every allocation size V8 writes as this scaled sample size: ``s * round(1/(1-exp(-s/I)))``."""
    import numpy as np

    most = min(scaled // _ALIGN, int(interval) // _ALIGN + 2)
    if scaled < _ALIGN or most > _MAX_PER_SAMPLE:  # an absurd interval: the rough estimate only
        return []
    per_sample = np.arange(1, most + 1, dtype=np.int64)
    per_sample = per_sample[scaled % per_sample == 0]
    sizes = scaled // per_sample
    keep = sizes % _ALIGN == 0
    sizes, per_sample = sizes[keep], per_sample[keep]
    exact = (1.0 / -np.expm1(-sizes / interval) + 0.5).astype(np.int64) == per_sample
    return [int(x) for x in sizes[exact]]


def _estimate_objects(self_bytes: np.ndarray, sample_nodes: np.ndarray, sample_sizes: np.ndarray, n: int,
                      interval: float) -> np.ndarray:
    """Estimated number of allocations behind each node's samples.

    V8 keeps, per node, how many samples it took of each allocation size; the file has each
    sample scaled (``s * round(1/(1-exp(-s/I)))``) and the node's ``selfSize`` (the sum of
    ``s * round(n_s/(1-exp(-s/I)))``). Several sizes scale to the same sample value, but the
    node's ``selfSize`` tells them apart: of the sizes each group of equal samples can be,
    the assignment that adds up to ``selfSize`` exactly gives V8's own estimate,
    ``sum(round(n_s/(1-exp(-s/I))))``. When no assignment or several fit (a node of one
    sample: any of its sizes fits), the size is solved from the node's mean scaled sample
    as if it were unrounded, which for small objects (``s`` far below ``I``) can be off by
    up to a factor of two; such a node stands on one or a few samples anyway.
    """
    import numpy as np

    objects = np.zeros(n)
    if not len(sample_nodes):
        return objects
    pairs, counts = np.unique(np.stack([sample_nodes, sample_sizes.astype(np.int64)]), axis=1,
                              return_counts=True)
    node_of, scaled = pairs[0], pairs[1]
    # The continuous estimate: the group's mean scaled sample (the node's selfSize shared out
    # when it is the node's only group) solved for s.
    groups_per_node = np.bincount(node_of, minlength=n)
    single = (groups_per_node[node_of] == 1) & (self_bytes[node_of] > 0)
    mean = np.where(single, self_bytes[node_of] / counts, scaled.astype(np.float64))
    rough = counts * mean / _sizes_from_scaled(mean, interval)
    rough_per_node = np.bincount(node_of, weights=rough, minlength=n)

    candidates: dict[int, list[int]] = {}
    bounds = np.flatnonzero(np.diff(node_of)) + 1
    for first, last in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(node_of)]]), strict=True):
        node = int(node_of[first])
        # sum of selfSize contributions -> the object totals that reach it
        states: dict[int, set[int]] = {0: {0}}
        for g in range(int(first), int(last)):
            value, k = int(scaled[g]), int(counts[g])
            if value not in candidates:
                candidates[value] = _candidates(value, interval)
            options = [(size * c, c) for size in candidates[value] for c in [_scaled_count(size, k, interval)]]
            reached: dict[int, set[int]] = {}
            for total, objs in states.items():
                for add, c in options:
                    reached.setdefault(total + add, set()).update(o + c for o in objs)
            states = reached
            if not states or sum(len(objs) for objs in states.values()) > _STATES:
                states = {}
                break
        fits = states.get(int(round(self_bytes[node])), set())
        estimate = float(rough_per_node[node])
        if len(fits) == 1:
            estimate = float(next(iter(fits)))
        elif fits:  # several sizes fit: keep the rough estimate within what they allow
            estimate = min(max(estimate, float(min(fits))), float(max(fits)))
        objects[node] = estimate
    # Never fewer objects than samples.
    return np.maximum(objects, np.bincount(node_of, weights=counts, minlength=n))
