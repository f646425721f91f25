"""``top`` and ``diff`` tables for CPU profiles, sampling heap profiles and allocation timelines."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from cdpclient.errors import AnalysisError, UsageError
from cdpclient.profiles.cpuprofile import CpuProfile, load_cpu_profile
from cdpclient.profiles.frames import ROOT, Frame, file_of, package_of
from cdpclient.profiles.heapprofile import HeapProfile, load_heap_profile
from cdpclient.profiles.timeline import Timeline, load_timeline
from cdpclient.store import kinds
from cdpclient.store.kinds import title

Profile: TypeAlias = CpuProfile | HeapProfile | Timeline

GROUPINGS = ("function", "file", "package")
_ALIASES = {"site": "function", "func": "function", "fn": "function", "pkg": "package", "url": "file"}
# The value each kind is ranked by in top and diff.
RANK_METRIC = {"cpuprofile": "time", "heapprofile": "bytes", "heaptimeline": "alloc_bytes"}


def load_profile(path: Path, kind: str | None = None, *, events_path: Path | None = None,
                 progress: Callable[[str], None] | None = None, sampling_interval: int | None = None) -> Profile:
    """Read a profile of ``kind`` (cpuprofile, heapprofile, heaptimeline; guessed from the
    file name or contents when None). ``sampling_interval``: the interval a sampling heap
    profile was taken with, when known (its object estimates use it; else it is read off the
    samples). Raises InvalidCaptureFile / AnalysisError."""
    path = Path(path)
    if kind is None:
        suffix = path.suffix.lstrip(".")
        kind = suffix if suffix in RANK_METRIC else kinds.guess_profile_kind(path)
    if kind == "cpuprofile":
        return load_cpu_profile(path)
    if kind == "heapprofile":
        return load_heap_profile(path, interval=sampling_interval)
    if kind == "heaptimeline":
        return load_timeline(path, events_path=events_path, progress=progress)
    what = f"a {kind} capture" if kind else "not a profile this tool recognises"
    raise AnalysisError(f"{path}: {what}; expected a CPU profile, sampling heap profile or allocation timeline",
                        path=str(path), kind=kind)


def groupings(kind: str) -> tuple[str, ...]:
    """What ``--by`` can be for a profile of ``kind``: a CPU profile also by line (V8's positionTicks)."""
    return (*GROUPINGS, "line") if kind == "cpuprofile" else GROUPINGS


def grouping_words(kind: str) -> str:
    """``function, file or package`` (a CPU profile: ``function, file, package or line``)."""
    names = groupings(kind)
    return f"{', '.join(names[:-1])} or {names[-1]}"


def normalize_by(by: str | None, kind: str) -> str:
    """The grouping for ``--by``: function (default), file or package, and line for a CPU profile;
    UsageError otherwise."""
    if by is None:
        return "function"
    value = _ALIASES.get(by.lower(), by.lower())
    if value not in groupings(kind):
        raise UsageError(f"{{by}} {by}: a {title(kind)} groups by {grouping_words(kind)}", options=("by",))
    return value


def _grouping(by: str) -> Callable[[Frame], Hashable]:
    if by == "package":
        return package_of
    if by == "file":
        return file_of
    return lambda f: f


@dataclass(frozen=True)
class Row:
    """One function, file or package: ``self`` and ``total`` values per metric name."""

    key: str
    self: dict[str, float]
    total: dict[str, float]
    name: str | None = None
    location: str | None = None
    package: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key}
        if self.name is not None:
            out.update(name=self.name, location=self.location, package=self.package)
        out.update(self=self.self, total=self.total)
        return out


@dataclass(frozen=True)
class TopResult:
    """The ``top`` table: ``rows`` ranked by self value of ``rank`` (the first ``limit``),
    ``totals`` per metric for percentages, ``header`` facts about the capture."""

    kind: str
    by: str
    rank: str
    metrics: list[dict[str, str]]
    totals: dict[str, float]
    header: dict[str, Any]
    rows: list[Row]
    omitted: int = 0
    growth: list[dict[str, float]] = field(default_factory=list)
    heap_over_time: list[dict[str, float]] = field(default_factory=list)
    survivors_by_class: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        whole = self.totals.get(self.rank) or 0.0
        rows = []
        for r in self.rows:
            row = r.to_dict()
            # Shares of the ranking metric, so automation need not redo the division.
            row["self_pct"] = round(100 * r.self[self.rank] / whole, 3) if whole else 0.0
            row["total_pct"] = round(100 * r.total[self.rank] / whole, 3) if whole else 0.0
            rows.append(row)
        return {"kind": self.kind, "by": self.by, "rank": self.rank, "metrics": self.metrics,
                "header": self.header, "totals": self.totals, "rows": rows,
                "omitted": self.omitted, "live_by_interval": self.growth,
                "survivors_by_class": self.survivors_by_class,
                "heap_over_time": self.heap_over_time, "notes": self.notes}


def _line_rows(profile: CpuProfile) -> list[Row]:
    """Rows per function and line: each node's own time shared out over the lines V8 saw it on
    (``positionTicks``; a node without them stays on its function's line). A line calls nothing:
    its total is its self."""
    tree = profile.tree
    names = [m.name for m in tree.metrics]
    frames = tree.frame.tolist()
    sums: dict[tuple[int, int], list[float]] = {}
    for node, _stack, values in tree.node_stacks():
        frame = tree.frames[frames[node]]
        if frame.name == ROOT and not frame.url:
            continue
        lines = profile.line_ticks.get(node)
        ticks = sum(t for _, t in lines) if lines else 0
        for line, weight in (lines if lines and ticks else ((frame.line, 1),)):
            share = weight / ticks if ticks else 1.0
            acc = sums.setdefault((frames[node], line), [0.0] * len(names))
            for m, value in enumerate(values.tolist()):
                acc[m] += value * share
    rows = []
    for (f, line), acc in sums.items():
        frame = tree.frames[f]
        at = f"{frame.url}:{line}" if frame.url and line > 0 else frame.url
        own = dict(zip(names, acc, strict=True))
        rows.append(Row(key=f"{frame.label} {at}" if at else frame.label, name=frame.label, location=at,
                        package=package_of(frame), self=own, total=dict(own)))
    return rows


def _rows(profile: Profile, by: str) -> list[Row]:
    if by == "line":
        assert isinstance(profile, CpuProfile)  # normalize_by lets only a CPU profile group by line
        return _line_rows(profile)
    tree = profile.tree
    keys, self_v, total_v = tree.group(_grouping(by))
    names = [m.name for m in tree.metrics]
    rows = []
    for k, s, t in zip(keys, self_v.tolist(), total_v.tolist(), strict=True):
        if isinstance(k, Frame):
            if k.name == ROOT and not k.url:
                continue  # the root holds the whole profile; it is the 100% line, not a row
            row = Row(key=k.display, name=k.label, location=k.location, package=package_of(k),
                      self=dict(zip(names, s, strict=True)), total=dict(zip(names, t, strict=True)))
        else:
            if k == ROOT:
                continue
            row = Row(key=str(k), self=dict(zip(names, s, strict=True)), total=dict(zip(names, t, strict=True)))
        rows.append(row)
    return rows


IDLE_FRAMES = ("(idle)", "(program)")
"""What ``hide_idle`` leaves out of a CPU profile: time the process spent waiting or outside JavaScript."""

SORTS = ("self", "total")


@dataclass(frozen=True)
class Selection:
    """pprof's sample filters: keep samples whose stack has a frame matching ``focus``, drop
    those with one matching ``ignore``; ``hide_idle`` drops :data:`IDLE_FRAMES`.

    A pattern is a regular expression searched in the frame's function name, its
    location (``file:line:col``) and its package.
    """

    focus: str | None = None
    ignore: str | None = None
    hide_idle: bool = False

    def __bool__(self) -> bool:
        return bool(self.focus or self.ignore or self.hide_idle)

    def to_dict(self) -> dict[str, Any]:
        return {"focus": self.focus, "ignore": self.ignore, "hide_idle": self.hide_idle}


def _matcher(pattern: str, option: str) -> Callable[[Frame], bool]:
    import re

    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"{{{option}}} {pattern!r} is not a regular expression: {exc}", options=(option,)) from None
    return lambda f: bool(regex.search(f.label) or regex.search(f.location) or regex.search(package_of(f)))


def select(profile: Profile, selection: Selection) -> Profile:
    """``profile`` with only the samples ``selection`` keeps (its header facts unchanged)."""
    import dataclasses

    import numpy as np

    if not selection:
        return profile
    tree = profile.tree
    keep = np.ones(len(tree), dtype=bool)
    if selection.focus:
        keep &= tree.on_path(_matcher(selection.focus, "focus"))
    if selection.ignore:
        keep &= ~tree.on_path(_matcher(selection.ignore, "ignore"))
    if selection.hide_idle:
        keep &= ~tree.on_path(lambda f: f.name in IDLE_FRAMES and not f.url)
    return dataclasses.replace(profile, tree=tree.keep(keep))


def header_of(profile: Profile) -> dict[str, Any]:
    """Facts that head the table: sample count, interval, duration..."""
    if isinstance(profile, CpuProfile):
        return {"samples": profile.sample_count, "interval_us": round(profile.interval_us, 1),
                "duration_ms": round(profile.duration_us / 1000, 3)}
    if isinstance(profile, HeapProfile):
        head: dict[str, Any] = {"samples": profile.sample_count, "sampling_interval": profile.interval,
                                "interval_source": profile.interval_source}
        if profile.unattributed_samples:
            head["unattributed_samples"] = profile.unattributed_samples
        return head
    return {"heap_nodes": profile.node_count, "duration_s": round(profile.duration_s, 3),
            "allocation_stacks": len(profile.tree), "survivors": profile.survivors.to_dict()}


def top(profile: Profile, by: str | None = None, limit: int | None = 30, *, sort: str = "self",
        selection: Selection | None = None) -> TopResult:
    """Rank functions (or files, or packages) by self value (``sort="total"``: by total):
    CPU time, sampled bytes or bytes allocated. Totals count a recursive frame once per
    sample. ``selection`` keeps only some samples (:class:`Selection`); percentages stay
    of the whole profile, as in pprof, and the header gives the selected total."""
    by = normalize_by(by, profile.kind)
    if sort not in SORTS:
        raise UsageError(f"{{sort}} {sort}: sort by self or total", options=("sort",))
    rank = RANK_METRIC[profile.kind]
    names = [m.name for m in profile.tree.metrics]
    totals = dict(zip(names, profile.tree.totals().tolist(), strict=True))
    selection = selection or Selection()
    whole = profile
    profile = select(profile, selection)
    rows = [r for r in _rows(profile, by) if not selection or r.total[rank]]
    if sort == "total":
        rows.sort(key=lambda r: (-r.total[rank], -r.self[rank], r.key))
    else:
        rows.sort(key=lambda r: (-r.self[rank], -r.total[rank], r.key))
    header = header_of(whole)
    if selection:
        header["selection"] = selection.to_dict()
        header["selected"] = dict(zip(names, profile.tree.totals().tolist(), strict=True))
    omitted = max(0, len(rows) - limit) if limit else 0
    timeline = profile if isinstance(profile, Timeline) else None
    return TopResult(kind=profile.kind, by=by, rank=rank,
                     metrics=[{"name": m.name, "unit": m.unit} for m in profile.tree.metrics],
                     totals=totals, header=header, rows=rows[:limit] if limit else rows,
                     omitted=omitted,
                     growth=[vars(p) for p in timeline.live_by_interval] if timeline else [],
                     heap_over_time=[vars(p) for p in timeline.heap_over_time] if timeline else [],
                     survivors_by_class=[vars(c) for c in timeline.survivors_by_class] if timeline else [],
                     notes=list(profile.notes) if isinstance(profile, (Timeline, HeapProfile)) else [])


@dataclass(frozen=True)
class DiffRow:
    """A function/file/package in two profiles: self value of the ranked metric in A and B,
    its share of each profile's total (%), and the changes."""

    key: str
    a: float
    b: float
    share_a: float
    share_b: float
    status: str  # "new", "gone" or ""

    @property
    def delta(self) -> float:
        return self.b - self.a

    @property
    def delta_share(self) -> float:
        return self.share_b - self.share_a

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "a": self.a, "b": self.b, "delta": self.delta, "share_a": self.share_a,
                "share_b": self.share_b, "delta_share": self.delta_share, "status": self.status}


@dataclass(frozen=True)
class DiffResult:
    """``diff A B``: rows sorted by growth (``order``: ``share`` for CPU time, whose
    profiles differ in length; ``value`` for bytes)."""

    kind: str
    by: str
    metric: str
    unit: str
    order: str
    header_a: dict[str, Any]
    header_b: dict[str, Any]
    total_a: float
    total_b: float
    rows: list[DiffRow]
    omitted: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "by": self.by, "metric": self.metric, "unit": self.unit, "order": self.order,
                "a": {**self.header_a, "total": self.total_a}, "b": {**self.header_b, "total": self.total_b},
                "rows": [r.to_dict() for r in self.rows], "omitted": self.omitted}


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def diff(a: Profile, b: Profile, by: str | None = None, limit: int | None = 30, *,
         selection: Selection | None = None) -> DiffResult:
    """Compare two profiles of one kind, per function / file / package, biggest growth first.

    CPU profiles compare each row's share of its profile's time (percentage points);
    heap profiles and timelines compare bytes.  ``selection`` keeps the same samples
    of both (shares stay of each whole profile).
    """
    if a.kind != b.kind:
        raise AnalysisError(f"cannot diff {_a(title(a.kind))} with {_a(title(b.kind))}")
    by = normalize_by(by, a.kind)
    metric = RANK_METRIC[a.kind]
    unit = a.tree.metrics[a.tree.metric_index(metric)].unit
    total_a = float(a.tree.totals()[a.tree.metric_index(metric)])
    total_b = float(b.tree.totals()[b.tree.metric_index(metric)])
    if selection:
        a, b = select(a, selection), select(b, selection)
    in_a = {r.key: r.self[metric] for r in _rows(a, by)}
    in_b = {r.key: r.self[metric] for r in _rows(b, by)}
    rows = []
    for key in in_a.keys() | in_b.keys():
        va, vb = in_a.get(key, 0.0), in_b.get(key, 0.0)
        if va == 0 and vb == 0:
            continue
        status = "new" if va == 0 else "gone" if vb == 0 else ""
        rows.append(DiffRow(key=key, a=va, b=vb, share_a=100 * va / total_a if total_a else 0.0,
                            share_b=100 * vb / total_b if total_b else 0.0, status=status))
    order = "share" if a.kind == "cpuprofile" else "value"
    if order == "share":
        rows.sort(key=lambda r: (-r.delta_share, -r.delta, r.key))
    else:
        rows.sort(key=lambda r: (-r.delta, -r.delta_share, r.key))
    omitted = max(0, len(rows) - limit) if limit else 0
    return DiffResult(kind=a.kind, by=by, metric=metric, unit=unit, order=order, header_a=header_of(a),
                      header_b=header_of(b), total_a=total_a, total_b=total_b,
                      rows=rows[:limit] if limit else rows, omitted=omitted)
