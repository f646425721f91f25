"""Exporting profiles to the formats other tools read: collapsed stacks, speedscope JSON, pprof."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from cdpclient.errors import AnalysisError, UsageError
from cdpclient.fileio import write_atomic
from cdpclient.profiles.analysis import RANK_METRIC, Profile, load_profile
from cdpclient.profiles.cpuprofile import CpuProfile
from cdpclient.profiles.frames import Frame
from cdpclient.profiles.heapprofile import HeapProfile
from cdpclient.profiles.pprof import PprofBuilder
from cdpclient.store.kinds import EXPORT_FORMATS, PROFILE_KINDS

FORMATS = EXPORT_FORMATS  # collapsed, speedscope, pprof (the kinds table's list)
SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"


def export_profile(src: Path, kind: str | None, fmt: str, dest: Path) -> Path:
    """Write the profile in ``src`` (a cpuprofile, heapprofile or heaptimeline) to ``dest`` as ``fmt``.

    ``collapsed``: one ``frame;frame;...;leaf value`` line per distinct stack, root first
    (flamegraph.pl, speedscope, Pyroscope); values are microseconds of CPU time or bytes.
    ``speedscope``: speedscope's JSON file format (sampled profiles). ``pprof``: a gzipped
    ``profile.proto`` (CPU: samples/count, cpu/nanoseconds; heap: objects/count, space/bytes)
    for ``go tool pprof``, Pyroscope or Grafana.

    The file is written under a temporary name and renamed, mode 0600. Raises UsageError for
    an unknown format, AnalysisError for a capture kind that is not a profile, and
    InvalidCaptureFile for a malformed source.
    """
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}: choose {', '.join(FORMATS)}")
    if kind is not None and kind not in PROFILE_KINDS:
        raise AnalysisError(f"a {kind} capture cannot be exported as {fmt}: only CPU profiles, sampling heap "
                            "profiles and allocation timelines can")
    profile = load_profile(Path(src), kind)
    name = Path(src).name
    if fmt == "collapsed":
        data = collapsed(profile).encode()
    elif fmt == "speedscope":
        data = json.dumps(speedscope(profile, name), separators=(",", ":")).encode()
    else:
        data = gzip.compress(pprof(profile), mtime=0)
    write_atomic(Path(dest), data)
    return Path(dest)


def _collapsed_name(frame: Frame) -> str:
    loc = frame.location
    text = f"{frame.label} ({loc})" if loc else frame.label
    # ';' separates frames and the last space separates the value: keep both out of names.
    return text.replace(";", ":").replace("\n", " ")


def collapsed(profile: Profile) -> str:
    """Collapsed stacks of the profile's ranking metric (CPU µs, or bytes), one line per stack."""
    tree = profile.tree
    m = tree.metric_index(RANK_METRIC[profile.kind])
    names = [_collapsed_name(f) for f in tree.frames]
    lines: dict[str, float] = {}
    for stack, values in tree.stacks():
        if not stack or values[m] <= 0:
            continue
        key = ";".join(names[f] for f in stack)
        lines[key] = lines.get(key, 0.0) + float(values[m])
    return "".join(f"{k} {round(v)}\n" for k, v in lines.items() if round(v) > 0)


def speedscope(profile: Profile, name: str = "profile") -> dict[str, Any]:
    """The profile as a speedscope file (``$schema`` file-format-schema.json), sampled profiles only."""
    tree = profile.tree
    frames = [_ss_frame(f) for f in tree.frames]
    profiles: list[dict[str, Any]] = []
    if isinstance(profile, CpuProfile) and profile.sample_count:
        # Samples in time order so speedscope's "time order" view shows the recording as it ran.
        paths = _paths(tree)
        samples = [paths[i] for i in profile.sample_nodes.tolist()]
        weights = [round(float(w), 3) for w in profile.sample_us.tolist()]
        profiles.append(_ss_profile(name, "microseconds", samples, weights))
    else:
        metrics = [(RANK_METRIC[profile.kind], "bytes")]
        if profile.kind == "cpuprofile":
            metrics = [("time", "microseconds")]
        elif profile.kind == "heaptimeline":
            metrics.append(("live_bytes", "bytes"))
        for metric, unit in metrics:
            m = tree.metric_index(metric)
            samples, weights = [], []
            for stack, values in tree.stacks():
                if stack and values[m] > 0:
                    samples.append(list(stack))
                    weights.append(float(values[m]))
            label = name if len(metrics) == 1 else f"{name} ({metric.replace('_', ' ')})"
            profiles.append(_ss_profile(label, unit, samples, weights))
    return {"$schema": SPEEDSCOPE_SCHEMA, "shared": {"frames": frames}, "profiles": profiles, "name": name,
            "activeProfileIndex": 0, "exporter": "cdpclient"}


def _ss_frame(frame: Frame) -> dict[str, Any]:
    out: dict[str, Any] = {"name": frame.label}
    if frame.url:
        out["file"] = frame.url
        if frame.line > 0:
            out["line"] = frame.line
            if frame.column > 0:
                out["col"] = frame.column
    return out


def _ss_profile(name: str, unit: str, samples: list[list[int]], weights: list[float]) -> dict[str, Any]:
    return {"type": "sampled", "name": name, "unit": unit, "startValue": 0, "endValue": sum(weights),
            "samples": samples, "weights": weights}


def _paths(tree: Any) -> list[list[int]]:
    """Each node's stack as frame indexes, root first; the root frame only on the root's own stack."""
    paths: list[list[int]] = [[] for _ in range(len(tree))]
    parents = tree.parent.tolist()
    frames = tree.frame.tolist()
    paths[0] = [frames[0]]
    for i in range(1, len(parents)):  # preorder: a parent's path is ready before its children
        paths[i] = (paths[parents[i]] if parents[i] else []) + [frames[i]]
    return paths


def _split(values: list[int], weights: list[int]) -> list[list[int]]:
    """``values`` shared out in the proportions of ``weights``, each column summing to its value exactly
    (largest remainders first)."""
    total = sum(weights)
    parts = [[0] * len(values) for _ in weights]
    for c, value in enumerate(values):
        shares = [value * w / total for w in weights]
        floors = [int(x) for x in shares]
        for i, f in enumerate(floors):
            parts[i][c] = f
        left = value - sum(floors)
        for i in sorted(range(len(weights)), key=lambda i: floors[i] - shares[i])[:left]:
            parts[i][c] += 1
    return parts


def pprof(profile: Profile) -> bytes:
    """The profile as an uncompressed ``perftools.profiles.Profile`` message."""
    tree = profile.tree
    if isinstance(profile, CpuProfile):
        types = [("samples", "count"), ("cpu", "nanoseconds")]
        cols = [(tree.metric_index("samples"), 1.0), (tree.metric_index("time"), 1000.0)]
        opts: dict[str, Any] = dict(period_type=("cpu", "nanoseconds"), period=round(profile.interval_us * 1000),
                                    duration_nanos=round(profile.duration_us * 1000), default_sample_type="cpu")
    elif isinstance(profile, HeapProfile):
        types = [("objects", "count"), ("space", "bytes")]
        cols = [(tree.metric_index("objects"), 1.0), (tree.metric_index("bytes"), 1.0)]
        opts = dict(period_type=("space", "bytes"), period=0, default_sample_type="space",
                    comments=["V8 sampling heap profile: sizes are V8's estimates scaled from samples"])
    else:
        types = [("alloc_objects", "count"), ("alloc_space", "bytes"), ("inuse_objects", "count"),
                 ("inuse_space", "bytes")]
        cols = [(tree.metric_index(n), 1.0) for n in ("alloc_count", "alloc_bytes", "live_count", "live_bytes")]
        opts = dict(period_type=("space", "bytes"), period=1, default_sample_type="alloc_space",
                    duration_nanos=round(profile.duration_s * 1e9))
    builder = PprofBuilder(types)
    loc_of_frame: dict[int, int] = {}
    for i, f in enumerate(tree.frames):
        # pprof lines are 1-based; the function's own line stands in for the call line.
        loc_of_frame[i] = builder.location(f.label, f.url, max(f.line, 0), max(f.line, 0))
    line_ticks = profile.line_ticks if isinstance(profile, CpuProfile) else {}
    for node, stack, values in tree.node_stacks():
        ints = [round(float(values[c]) * k) for c, k in cols]
        if not stack or not any(ints):
            continue
        callers = [loc_of_frame[f] for f in reversed(stack[:-1])]
        lines = line_ticks.get(node)
        if not lines or not sum(t for _, t in lines):
            builder.sample([loc_of_frame[stack[-1]], *callers], ints)
            continue
        # A CPU profile's own samples by line (V8's positionTicks): one leaf location per line, so that
        # `pprof -list FUNC` puts the time on the hot line; the values split in the ticks' proportions.
        leaf = tree.frames[stack[-1]]
        for (line, _), part in zip(lines, _split(ints, [t for _, t in lines]), strict=True):
            if any(part):
                builder.sample([builder.location(leaf.label, leaf.url, max(leaf.line, 0), line), *callers], part)
    if not builder.samples:
        raise AnalysisError("the profile holds no samples to export")
    return builder.serialize(**opts)
