"""Rendering of ``top`` and ``diff`` for CPU profiles, sampling heap profiles and allocation timelines.

``cli/analyze.py`` resolves the capture and calls :func:`top` / :func:`diff`; this module
reads the file through :mod:`cdpclient.profiles` and prints the table (or ``--json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .common import human_bytes, named, note, print_json, table

if TYPE_CHECKING:  # imported inside the commands, so `cdpclient --help` stays fast
    from cdpclient.profiles import DiffResult, Profile, Row, Selection, TopResult
    from cdpclient.store import CaptureRecord


def _kind(record: CaptureRecord | None) -> str | None:
    return record.kind if record is not None else None


def events_path_for(record: CaptureRecord | None, path: Path) -> Path | None:
    """The ``.events.json`` side file a timeline capture may have kept, if there is one.

    Without a record (a file read as it is) the side file is looked for beside ``path``,
    where a capture written to a file keeps it.
    """
    from cdpclient.store import Store
    from cdpclient.store.layout import EVENTS_SUFFIX, Layout

    if record is not None:
        return Store.events_file(record)
    return next((p for p in Layout.beside(Path(path), EVENTS_SUFFIX) if p.is_file()), None)


def _load(record: CaptureRecord | None, path: Path) -> Profile:
    from cdpclient.profiles.analysis import load_profile

    path = Path(path)
    kind = _kind(record)
    events = events_path_for(record, path) if kind in (None, "heaptimeline") else None
    interval = record.options.get("interval_bytes") if record is not None and kind == "heapprofile" else None
    with named(path, record.path if record is not None else path):
        return load_profile(path, kind, events_path=events, progress=note,
                            sampling_interval=interval if isinstance(interval, int) else None)


def _name(record: CaptureRecord | None, path: Path) -> str:
    return record.id if record is not None else str(path)


def _ms(us: float) -> str:
    return f"{us / 1000:.1f}"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _count(n: float) -> str:
    return f"{n:,.0f}"


def top(record: CaptureRecord | None, path: Path, by: str | None, limit: int | None, as_json: bool, *,
        sort: str = "self", selection: Selection | None = None) -> None:
    """Print the ``top`` table of a cpuprofile / heapprofile / heaptimeline capture."""
    from cdpclient.profiles.analysis import top as top_of

    profile = _load(record, path)
    result = top_of(profile, by, limit, sort=sort, selection=selection)
    if as_json:
        print_json({"capture": _name(record, path), **result.to_dict()})
        return
    typer.echo(_render_top(result, _name(record, path)))
    for text in result.notes:
        note(f"note: {text}")


def _selection_line(result: TopResult) -> str | None:
    """``only samples through 'pattern', without (idle)/(program): 1,234.5 ms of 2,000.0 ms (61.7%)``."""
    chosen = result.header.get("selected")
    if not chosen:
        return None
    sel = result.header["selection"]
    parts = []
    if sel.get("focus"):
        parts.append(f"only samples through {sel['focus']!r}")
    if sel.get("ignore"):
        parts.append(f"without samples through {sel['ignore']!r}")
    if sel.get("hide_idle"):
        parts.append("without (idle) and (program)")
    part, whole = chosen[result.rank], result.totals[result.rank]
    fmt = _ms if result.rank == "time" else human_bytes
    unit = " ms" if result.rank == "time" else ""
    return f"{', '.join(parts)}: {fmt(part)}{unit} of {fmt(whole)}{unit} ({_pct(part, whole)}); % of the whole profile"


def _label_cols(result: TopResult, row: Row) -> list[str]:
    if result.by == "function":
        return [row.name or "", row.location or ""]
    return [row.key]


def _label_heads(by: str, kind: str) -> list[str]:
    if by == "function":
        return ["site" if kind == "heapprofile" else "function", "location"]
    return [by]


def _render_top(result: TopResult, name: str) -> str:
    h, t, rows = result.header, result.totals, result.rows
    lines: list[str] = []
    selected = _selection_line(result)
    labels = _label_heads(result.by, result.kind)
    if result.kind == "cpuprofile":
        lines.append(f"CPU profile {name}: {h['samples']:,} samples, interval {h['interval_us']:.0f} us, "
                     f"duration {h['duration_ms']:.1f} ms (sampled time {_ms(t['time'])} ms)")
        body = [[_ms(r.self["time"]), _pct(r.self["time"], t["time"]), _ms(r.total["time"]),
                 _pct(r.total["time"], t["time"]), *_label_cols(result, r)] for r in rows]
        if selected:
            lines.append(selected)
        lines.append(table(body, ["self ms", "self %", "total ms", "total %", *labels],
                           align="rrrr" + "l" * len(labels)))
        _more(lines, result)
    elif result.kind == "heapprofile":
        extra = f", {h['unattributed_samples']} without a stack" if h.get("unattributed_samples") else ""
        source = {"capture": "", "file": ", read off the samples", "default": ", V8's default"}[h["interval_source"]]
        lines.append(f"Sampling heap profile {name}: {h['samples']:,} samples{extra} (one per "
                     f"~{h['sampling_interval']:,} bytes allocated{source}), "
                     f"{human_bytes(t['bytes'])} in sampled objects (~{_count(t['objects'])} objects)")
        body = [[human_bytes(r.self["bytes"]), _pct(r.self["bytes"], t["bytes"]), _count(r.self["objects"]),
                 _count(r.self["samples"]), human_bytes(r.total["bytes"]), _pct(r.total["bytes"], t["bytes"]),
                 *_label_cols(result, r)] for r in rows]
        if selected:
            lines.append(selected)
        lines.append(table(body, ["self size", "self %", "~objects", "samples", "total size", "total %", *labels],
                           align="rrrrrr" + "l" * len(labels)))
        _more(lines, result)
    else:
        alive = h["survivors"]
        lines.append(f"Allocation timeline {name}: {h['duration_s']:.1f} s recorded, "
                     f"{human_bytes(t['alloc_bytes'])} in {_count(t['alloc_count'])} allocations with a stack, "
                     f"{human_bytes(t['live_bytes'])} of them alive at the end")
        lines.append(f"Alive at the end, allocated during the recording: {_count(alive['count'])} objects, "
                     f"{human_bytes(alive['bytes'])} ({_count(alive['traced_count'])} with an allocation stack, "
                     f"{_count(alive['untraced_count'])} without)")
        body = [[human_bytes(r.self["alloc_bytes"]), _pct(r.self["alloc_bytes"], t["alloc_bytes"]),
                 _count(r.self["alloc_count"]), human_bytes(r.self["live_bytes"]), _count(r.self["live_count"]),
                 human_bytes(r.total["alloc_bytes"]), *_label_cols(result, r)] for r in rows]
        if selected:
            lines.append(selected)
        lines.append(table(body, ["allocated", "%", "count", "alive at end", "alive count", "total allocated",
                                  *labels], align="rrrrrr" + "l" * len(labels)))
        _more(lines, result)
        if alive["untraced_count"]:
            lines.append(f"(no allocation stack): {_count(alive['untraced_count'])} objects, "
                         f"{human_bytes(alive['untraced_bytes'])} alive at the end, allocated during the recording")
        if result.survivors_by_class:
            lines.append("")
            lines.append("Still alive at the end, by class (allocated during the recording):")
            lines.append(table([[_count(c["count"]), human_bytes(c["bytes"]), _count(c["traced_count"]),
                                 _count(c["count"] - c["traced_count"]), c["name"]]
                                for c in result.survivors_by_class],
                               ["objects", "alive", "with stack", "without", "class"], align="rrrrl"))
        if result.growth:
            lines.append("")
            lines.append("Still alive at the end, by when it was allocated:")
            lines.append(table([["end" if g["t_s"] is None else f"{g['t_s']:.2f}", human_bytes(g["bytes"]),
                                 _count(g["count"]), _count(g["traced_count"]), _count(g["count"] - g["traced_count"])]
                                for g in _merge(result.growth, 20)],
                               ["until s", "alive", "objects", "with stack", "without"], align="rrrrr"))
        if result.heap_over_time:
            lines.append("")
            lines.append("Tracked heap over time (heapStatsUpdate):")
            lines.append(table([[f"{g['t_s']:.2f}", human_bytes(g["bytes"]), _count(g["count"])]
                                for g in _thin(result.heap_over_time, 20)], ["at s", "heap", "objects"],
                               align="rrr"))
    return "\n".join(lines)


def _more(lines: list[str], result: TopResult | DiffResult) -> None:
    if result.omitted:
        lines.append(f"... {result.omitted} more (--limit)")


def _merge(points: list[dict[str, float]], n: int) -> list[dict[str, float]]:
    """At most ``n`` intervals (plus "end"), consecutive ones added up: sums stay whole."""
    timed = [p for p in points if p["t_s"] is not None]
    if len(timed) <= n:
        return points
    out: list[dict[str, float]] = []
    for i in range(n):
        group = timed[len(timed) * i // n:len(timed) * (i + 1) // n]
        out.append({"t_s": group[-1]["t_s"], **{k: sum(g[k] for g in group)
                                                 for k in ("bytes", "count", "traced_bytes", "traced_count")}})
    return out + [p for p in points if p["t_s"] is None]


def _thin(points: list[dict[str, float]], n: int) -> list[dict[str, float]]:
    if len(points) <= n:
        return points
    step = (len(points) - 1) / (n - 1)
    return [points[round(i * step)] for i in range(n)]


def diff(rec_a: CaptureRecord | None, path_a: Path, rec_b: CaptureRecord | None, path_b: Path, by: str | None,
         limit: int | None, as_json: bool, *, selection: Selection | None = None) -> None:
    """Print ``diff A B`` for two captures of one profile kind: biggest growth first."""
    from cdpclient.profiles.analysis import diff as diff_of

    a, b = _load(rec_a, path_a), _load(rec_b, path_b)
    result = diff_of(a, b, by, limit, selection=selection)
    if as_json:
        print_json({"a_capture": _name(rec_a, path_a), "b_capture": _name(rec_b, path_b), **result.to_dict()})
        return
    typer.echo(_render_diff(result, _name(rec_a, path_a), _name(rec_b, path_b)))


def _render_diff(result: DiffResult, name_a: str, name_b: str) -> str:
    fmt = (lambda v: _ms(v)) if result.unit == "us" else human_bytes
    unit = "ms" if result.unit == "us" else "size"
    what = {"cpuprofile": "self time", "heapprofile": "sampled bytes", "heaptimeline": "bytes allocated"}[result.kind]
    lines = [f"{what} by {result.by}: A={name_a} ({fmt(result.total_a)}{' ms' if unit == 'ms' else ''}) "
             f"B={name_b} ({fmt(result.total_b)}{' ms' if unit == 'ms' else ''}), biggest growth first"]
    body = []
    for r in result.rows:
        sign = "+" if r.delta >= 0 else "-"
        change = f"{sign}{fmt(abs(r.delta))}"
        body.append([f"{r.delta_share:+.1f}", f"{r.share_a:.1f}%", f"{r.share_b:.1f}%", fmt(r.a), fmt(r.b), change,
                     r.status, r.key])
    lines.append(table(body, ["share pp", "A %", "B %", f"A {unit}", f"B {unit}", "change", "", result.by],
                       align="rrrrrrll"))
    _more(lines, result)
    return "\n".join(lines)
