"""A watch recording drawn as one self-contained SVG chart (no scripts, fonts or other files).

    from cdpclient.watch import read_recording
    from cdpclient.watch.plot import render_svg, write_svg
    write_svg(read_recording(path), "memory.svg")

What it shows: the memory figures of the samples over wall-clock time (UTC) against the
limits (dashed), a vertical marker at each firing and each capture, shaded spans where the
watch was reconnecting or had no samples, and a small panel of open file descriptors
against their limit when the recording has them.  A recording of several pods gets one
panel per pod on a shared time axis.

Hand-written SVG rather than a plotting library: the chart is a few lines, ticks and labels,
the file must open anywhere (a ticket, a browser, an image viewer) without fonts or scripts
beside it, and a 6 h watch at 1 s must stay small.  Every line is thinned to at most two
points (the minimum and the maximum) per pixel column, so spikes survive and the file size
depends on the width, not on the number of samples.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from cdpclient import fileio
from cdpclient.units import format_duration
from cdpclient.watch.recording import Recording

__all__ = ["render_svg", "write_svg"]

DEFAULT_WIDTH = 1000
# Automatic height: the memory panel of one pod, the fds panel, and each further pod.
_MEMORY_H = 360
_FDS_H = 110
_POD_H = 230
_MAX_PODS = 12
# A limit more than this many times above the highest figure would flatten the lines to the
# bottom: it is named in the panel's header ("off the scale") instead of drawn.
_OFF_SCALE = 3.0

_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif"
_TEXT = "#24292f"
_MUTED = "#57606a"
_GRID = "#e6e8eb"
_FIRING = "#cf222e"
_CAPTURE = "#8250df"
_GAP = "#d0d7de"


@dataclasses.dataclass(frozen=True)
class _Line:
    key: str
    label: str
    color: str
    width: float = 1.6
    dash: str | None = None


# The memory figures, drawn in this order (the first drawn is below the others).
_MEMORY = (
    _Line("heap_total", "heap total", "#80b3e6", 1.2),
    _Line("external", "external", "#1a7f37"),
    _Line("cgroup_current", "cgroup memory", "#8c564b"),
    _Line("rss", "RSS", "#e16f24"),
    _Line("heap_used", "heap used", "#0550ae", 2.0),
)
_MEMORY_LIMITS = (
    _Line("heap_limit", "heap limit", "#0550ae", 1.2, "6 4"),
    _Line("memory_limit", "memory limit", _FIRING, 1.4, "6 4"),
)
_FDS = (_Line("fds", "open fds", "#6e7781", 1.6),)
_FDS_LIMITS = (_Line("fd_limit", "fd limit", _FIRING, 1.2, "6 4"),)


@dataclasses.dataclass(frozen=True)
class _Box:
    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclasses.dataclass(frozen=True)
class _Marker:
    ts: float
    kind: str  # firing | capture
    label: str
    tip: str
    pod: str | None


@dataclasses.dataclass(frozen=True)
class _Gap:
    start: float
    end: float
    tip: str


class _Time:
    """Maps unix seconds to x pixels over ``[t0, t1]``."""

    def __init__(self, t0: float, t1: float, box: _Box) -> None:
        self.t0, self.t1, self.box = t0, t1, box

    def x(self, ts: float) -> float:
        return self.box.left + (ts - self.t0) / (self.t1 - self.t0) * self.box.width


# --- public ---------------------------------------------------------------------------------


def render_svg(recording: Recording, *, title: str | None = None, width: int = DEFAULT_WIDTH,
               height: int | None = None) -> str:
    """The recording as an SVG document (a string; UTF-8 when written).

    ``title`` replaces the default title (the target); ``width`` and ``height`` are in
    pixels (``height`` None: chosen from the panels drawn).  Never raises on the contents
    of a recording: no samples gives a chart that says so, ``None`` figures and gaps break
    the lines, a cut tail is noted under the title.
    """
    width = max(int(width), 320)
    samples = [s for s in recording.samples if _num(s.get("ts")) is not None]
    samples.sort(key=lambda s: float(s["ts"]))
    pods = _pods(samples)
    one = len(pods) == 1
    panels: list[tuple[str, list[dict[str, Any]], _Scale, str | None, bool]] = []
    shared = _scale(samples, _MEMORY, _MEMORY_LIMITS, _bytes_ticks)  # pods side by side share the scale
    for pod in pods[:_MAX_PODS]:
        pod_samples = samples if one else [s for s in samples if _pod(s) == pod]
        name = "memory" if one or pod is None else f"pod {pod}"
        mine = tuple(ln for ln in shared.lines if _values(pod_samples, ln.key))
        limits = tuple(lim for lim in shared.limits if _values(pod_samples, lim[1]))
        panels.append((name, pod_samples, dataclasses.replace(shared, lines=mine, limits=limits), pod, True))
    if _has_fds(samples):  # one pod's descriptors: several would be a tangle
        fd_samples = samples if one else [s for s in samples if _pod(s) == pods[0]]
        name = "open file descriptors" + ("" if one else f" (pod {pods[0]})")
        panels.append((name, fd_samples, _scale(fd_samples, _FDS, _FDS_LIMITS, _count_ticks), pods[0], False))
    n_mem = sum(1 for p in panels if p[4])
    with_fds = len(panels) > n_mem
    if height is None:
        height = 150 + _MEMORY_H + (n_mem - 1) * _POD_H + (_FDS_H + 34 if with_fds else 0)
    height = max(int(height), 240)

    every = _interval(recording, samples)
    gap_s = max(3 * every, every + 2.0)
    gaps = _gaps(recording, samples, gap_s)
    out: list[str] = []
    drawn = {ln.key for p in panels for ln in (*p[2].lines, *(lim for lim, _ in p[2].limits))}
    top = _draw_header(out, _header_lines(recording, samples, pods, title),
                       _legend_items(recording, drawn, gaps), width)
    left, right, bottom = 72.0, 24.0, 46.0
    plot_w = width - left - right
    doc_title = _title_text(recording, pods, title)
    if not samples:
        box = _Box(left, top + 10, plot_w, max(height - top - 10 - bottom, 60))
        out.append(_rect(box, fill="#f6f8fa", stroke=_GRID))
        out.append(_text(box.left + box.width / 2, box.top + box.height / 2, "no samples", size=18,
                         fill=_MUTED, anchor="middle"))
        return _document(width, height, doc_title, out)

    span = _time_span(recording, samples, gaps)
    markers = _markers(recording)

    # Vertical space: the panels share what the header and the time axis leave; fds get a strip.
    header_h, between = 20.0, 14.0
    avail = height - top - bottom - len(panels) * header_h - (len(panels) - 1) * between
    fds_h = min(_FDS_H, avail * 0.25) if with_fds else 0.0
    mem_h = max((avail - fds_h) / n_mem, 40.0)
    time = _Time(span[0], span[1], _Box(left, 0, plot_w, 0))
    y = top
    box = _Box(left, y, plot_w, 0)
    for name, pod_samples, scale, pod, is_memory in panels:
        box = _Box(left, y + header_h, plot_w, mem_h if is_memory else fds_h)
        every_gap = one or not is_memory and pod == pods[0]
        _panel(out, box, name, _Time(span[0], span[1], box), pod_samples, scale, gap_s,
               [m for m in markers if one or m.pod in (None, pod)],
               [g for p, g in gaps if every_gap or p in (None, pod)], labels=is_memory)
        y = box.bottom + between
    _time_axis(out, time, top + header_h, box.bottom)
    return _document(width, height, doc_title, out)


def write_svg(recording: Recording, path: str | os.PathLike[str], *, title: str | None = None,
              width: int = DEFAULT_WIDTH, height: int | None = None) -> Path:
    """Render the recording (see :func:`render_svg`) and write it to ``path`` atomically as a 0600 file.

    Returns the path written.  Raises ``OSError`` if it cannot be written (no partial file is left).
    """
    out = Path(os.fspath(path)).expanduser()
    fileio.write_atomic(out, render_svg(recording, title=title, width=width, height=height).encode())
    return out


# --- what is drawn --------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _pods(samples: Sequence[dict[str, Any]]) -> list[str | None]:
    seen: dict[str | None, None] = {}
    for s in samples:
        pod = s.get("pod")
        seen.setdefault(None if pod is None else str(pod), None)
    return list(seen) or [None]


def _has_fds(samples: Sequence[dict[str, Any]]) -> bool:
    """Worth a panel: descriptors that moved (by 5 or more) or came near their limit."""
    fds = [v for v in (_num(s.get("fds")) for s in samples) if v is not None]
    limits = [v for v in (_num(s.get("fd_limit")) for s in samples) if v is not None]
    if len(fds) < 2:
        return False
    return max(fds) - min(fds) >= 5 or bool(limits) and max(fds) >= 0.5 * min(limits)


def _time_span(recording: Recording, samples: Sequence[dict[str, Any]],
               gaps: Sequence[tuple[str | None, _Gap]]) -> tuple[float, float]:
    t0, t1 = _drawn_span(recording, samples)
    t1 = max([t1, *(g.end for _, g in gaps)])  # reconnecting until the watch gave up
    if t1 - t0 < 1.0:  # one sample, or all at one instant: a minute around it
        t0, t1 = t0 - 30.0, t1 + 30.0
    else:
        pad = (t1 - t0) * 0.01
        t0, t1 = t0 - pad, t1 + pad
    return t0, t1


def _drawn_span(recording: Recording, samples: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """First and last time of what is drawn: samples, firings, captures, reconnects.  Not the
    ``end`` record: a recording closed long after its last sample would squeeze the lines."""
    stamps = [float(s["ts"]) for s in samples]
    for r in (*recording.firings, *recording.captures,
              *(e for e in recording.events if e.get("t") != "end")):
        ts = _num(r.get("ts"))
        if ts is not None:
            stamps.append(ts)
    return min(stamps), max(stamps)


def _interval(recording: Recording, samples: Sequence[dict[str, Any]]) -> float:
    every = _num(recording.header.get("every_s"))
    if every is not None and every > 0:
        return every
    stamps = [float(s["ts"]) for s in samples]
    diffs = [b - a for a, b in zip(stamps, stamps[1:], strict=False) if b > a]
    return statistics.median(diffs) if diffs else 1.0


def _markers(recording: Recording) -> list[_Marker]:
    out: list[_Marker] = []
    for f in recording.firings:
        ts = _num(f.get("ts"))
        if ts is None:
            continue
        cond = str(f.get("condition") or "firing")
        tip = f"firing {cond} at {_clock(ts, seconds=True)}"
        value, threshold = _num(f.get("value")), _num(f.get("threshold"))
        if value is not None and threshold is not None:
            tip += f": {value:g} crossed {threshold:g}"
        if f.get("action"):
            tip += f"; action {f['action']}"
        if f.get("skipped"):
            tip += f" (skipped: {f['skipped']})"
        label = cond + (" (skipped)" if f.get("skipped") else "")
        out.append(_Marker(ts, "firing", label, tip, _pod(f)))
    for c in recording.captures:
        ts = _num(c.get("ts"))
        if ts is None:
            continue
        label = f"{c.get('kind') or 'capture'} {c.get('id') or ''}".strip()
        tip = f"capture {label} at {_clock(ts, seconds=True)}"
        if c.get("condition"):
            tip += f" (on {c['condition']})"
        out.append(_Marker(ts, "capture", label, tip, _pod(c)))
    out.sort(key=lambda m: m.ts)
    return out


def _pod(record: dict[str, Any]) -> str | None:
    pod = record.get("pod")
    return None if pod is None else str(pod)


def _gaps(recording: Recording, samples: Sequence[dict[str, Any]],
          gap_s: float) -> list[tuple[str | None, _Gap]]:
    """Shaded spans, by pod (None: every panel): reconnecting (a ``reconnect`` until the next
    ``connected``, else the next sample) and stretches without samples."""
    out: list[tuple[str | None, _Gap]] = []
    events = sorted((e for e in recording.events if _num(e.get("ts")) is not None), key=lambda e: float(e["ts"]))
    for i, e in enumerate(events):
        if e.get("t") != "reconnect":
            continue
        start, pod = float(e["ts"]), _pod(e)
        end = next((float(o["ts"]) for o in events[i + 1:] if o.get("t") in ("connected", "end")
                    and _pod(o) in (pod, None)), None)
        if end is None:
            end = next((float(s["ts"]) for s in samples if float(s["ts"]) > start
                        and (pod is None or _pod(s) == pod)), start)
        reason = f": {e['reason']}" if e.get("reason") else ""
        out.append((pod, _Gap(start, max(end, start), f"reconnecting{reason} "
                                                      f"({format_duration(max(end - start, 0.0))})")))
    by_pod: dict[str | None, list[float]] = {}
    for s in samples:
        by_pod.setdefault(_pod(s), []).append(float(s["ts"]))
    for pod, stamps in by_pod.items():
        for a, b in zip(stamps, stamps[1:], strict=False):
            if b - a > gap_s and not any(g.start <= b and g.end >= a and p in (pod, None) for p, g in out):
                out.append((pod, _Gap(a, b, f"no samples for {format_duration(b - a)}")))
    return out


def _legend_items(recording: Recording, drawn: set[str],
                  gaps: Sequence[tuple[str | None, _Gap]]) -> list[tuple[str, str]]:
    """``(kind, label)`` pairs of what the chart draws; kind is a line key, ``firing``, ``capture`` or ``gap``."""
    items = [(ln.key, ln.label) for ln in (*_MEMORY[::-1], *_MEMORY_LIMITS, *_FDS, *_FDS_LIMITS) if ln.key in drawn]
    if recording.firings:
        items.append(("firing", f"firing ({len(recording.firings)})"))
    if recording.captures:
        items.append(("capture", f"capture ({len(recording.captures)})"))
    if gaps:
        reconnects = any(g.tip.startswith("reconnecting") for _, g in gaps)
        items.append(("gap", "reconnecting / no samples" if reconnects else "no samples"))
    return items


def _target_name(target: Any) -> str:
    if not isinstance(target, dict):
        return str(target or "")
    if target.get("pod"):
        return f"{target.get('namespace') or 'default'}/{target['pod']}"
    if target.get("selector"):
        return f"{target.get('namespace') or 'default'} pods {target['selector']}"
    return str(target.get("endpoint") or target.get("url") or target.get("target_id") or "")


def _title_text(recording: Recording, pods: Sequence[str | None], title: str | None) -> str:
    if title is not None:
        return title
    name = _target_name(recording.header.get("target"))
    if not name and len(pods) == 1 and pods[0] is not None:
        name = str(pods[0])
    return f"Memory of {name}" if name else "Memory"


def _header_lines(recording: Recording, samples: Sequence[dict[str, Any]], pods: Sequence[str | None],
                  title: str | None) -> list[tuple[str, str]]:
    """``(style, text)`` lines under the title: the span, the end, a note of a cut tail."""
    lines = [("title", _title_text(recording, pods, title))]
    facts: list[str] = []
    if samples:
        a, b = _drawn_span(recording, samples)
        same_day = _date(a) == _date(b)
        text = f"{_date(a)} {_clock(a, seconds=True)}"
        if b > a:
            text += (f" – {'' if same_day else _date(b) + ' '}{_clock(b, seconds=True)} UTC "
                     f"({format_duration(b - a)})")
        facts.append(text + ("" if b > a else " UTC"))
    elif recording.header.get("created"):
        facts.append(f"started {recording.header['created']}")
    every = _num(recording.header.get("every_s"))
    count = f"{len(samples):,} sample{'s' if len(samples) != 1 else ''}"
    facts.append(count + (f" every {format_duration(every)}" if every else ""))
    if len(pods) > 1 or pods[0] is not None:
        facts.append(f"pod {pods[0]}" if len(pods) == 1 else f"{len(pods)} pods" +
                     (f" (the first {_MAX_PODS} drawn)" if len(pods) > _MAX_PODS else ""))
    facts.append(f"{len(recording.firings)} firing{'s' if len(recording.firings) != 1 else ''}")
    facts.append(f"{len(recording.captures)} capture{'s' if len(recording.captures) != 1 else ''}")
    end = recording.end
    if end is not None:
        facts.append(f"ended: {end.get('reason') or 'done'}")
    lines.append(("facts", "  ·  ".join(facts)))
    conds = recording.header.get("conditions")
    if isinstance(conds, list) and conds:
        lines.append(("facts", "when " + ", ".join(str(c) for c in conds)))
    if recording.truncated:
        lines.append(("warn", f"truncated: the last {recording.truncated_bytes:,} bytes are a cut record "
                              "(a watcher killed mid-write, or one still writing); drawn up to the last complete one"))
    elif end is None:
        lines.append(("warn", "no end record: still recording, or the watcher was killed"))
    return lines


# --- drawing ----------------------------------------------------------------------------------


def _document(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family={quoteattr(_FONT)} font-size="12" fill="{_TEXT}">\n'
            f"<title>{escape(title)}</title>\n"
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>\n'
            + "\n".join(body) + "\n</svg>\n")


def _f(v: float) -> str:
    """A coordinate, one decimal at most."""
    r = round(v, 1)
    return str(int(r)) if r == int(r) else f"{r:.1f}"


def _text(x: float, y: float, text: str, *, size: float | None = None, fill: str | None = None,
          anchor: str | None = None, weight: str | None = None, extra: str = "") -> str:
    attrs = f'x="{_f(x)}" y="{_f(y)}"'
    if size is not None:
        attrs += f' font-size="{size:g}"'
    if fill is not None:
        attrs += f' fill="{fill}"'
    if anchor is not None:
        attrs += f' text-anchor="{anchor}"'
    if weight is not None:
        attrs += f' font-weight="{weight}"'
    return f"<text {attrs}{extra}>{escape(text)}</text>"


def _rect(box: _Box, *, fill: str, stroke: str | None = None, extra: str = "") -> str:
    s = f' stroke="{stroke}"' if stroke else ""
    return (f'<rect x="{_f(box.left)}" y="{_f(box.top)}" width="{_f(box.width)}" height="{_f(box.height)}" '
            f'fill="{fill}"{s}{extra}/>')


def _draw_header(out: list[str], lines: list[tuple[str, str]], legend: list[tuple[str, str]], width: int) -> float:
    """Title, facts, warnings and the legend; returns the y where the panels start."""
    y = 26.0
    for style, text in lines:
        if style == "title":
            out.append(_text(16, y, _clip(text, width // 10), size=17, weight="600"))
            y += 20
        elif style == "warn":
            out.append(_text(16, y, _clip(text, width // 6), size=12, fill=_FIRING, weight="600",
                             extra=' class="warning"'))
            y += 17
        else:
            out.append(_text(16, y, _clip(text, width // 6), size=12, fill=_MUTED))
            y += 17
    y += 6
    x = 16.0
    for kind, label in legend:
        w = 40 + len(label) * 6.3
        if x + w > width - 16 and x > 16:
            x, y = 16.0, y + 18
        out.append(_swatch(kind, x, y - 4))
        out.append(_text(x + 24, y, label, size=12))
        x += w
    return y + 10


def _swatch(kind: str, x: float, y: float) -> str:
    if kind == "firing":
        return (f'<line x1="{_f(x + 9)}" y1="{_f(y - 7)}" x2="{_f(x + 9)}" y2="{_f(y + 7)}" stroke="{_FIRING}" '
                'stroke-width="2"/>')
    if kind == "capture":
        return (f'<line x1="{_f(x + 9)}" y1="{_f(y - 7)}" x2="{_f(x + 9)}" y2="{_f(y + 7)}" stroke="{_CAPTURE}" '
                f'stroke-width="2" stroke-dasharray="3 2"/>')
    if kind == "gap":
        return f'<rect x="{_f(x)}" y="{_f(y - 6)}" width="18" height="12" fill="{_GAP}" fill-opacity="0.6"/>'
    line = next(ln for ln in (*_MEMORY, *_MEMORY_LIMITS, *_FDS, *_FDS_LIMITS) if ln.key == kind)
    dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
    return (f'<line x1="{_f(x)}" y1="{_f(y)}" x2="{_f(x + 18)}" y2="{_f(y)}" stroke="{line.color}" '
            f'stroke-width="{max(line.width, 1.6):g}"{dash}/>')


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"


@dataclasses.dataclass(frozen=True)
class _Scale:
    """What one panel draws and its y scale."""

    lines: tuple[_Line, ...]         # figures with at least one value
    limits: tuple[tuple[_Line, str], ...]  # limit lines on the scale, with the sample key they read
    off_scale: tuple[str, ...]       # limits too far above to draw, as "heap limit 4 GiB"
    ticks: tuple[float, ...]
    fmt: Any

    @property
    def top(self) -> float:
        return self.ticks[-1] if self.ticks[-1] > 0 else 1.0


def _values(samples: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [v for v in (_num(s.get(key)) for s in samples) if v is not None]


def _scale(samples: Sequence[dict[str, Any]], lines: Sequence[_Line], limits: Sequence[_Line], ticks: Any) -> _Scale:
    drawn = tuple(ln for ln in lines if _values(samples, ln.key))
    data_max = max((max(_values(samples, ln.key)) for ln in drawn), default=0.0)
    on_scale: list[tuple[_Line, str]] = []
    off_scale: list[str] = []
    top = data_max
    for ln in limits:
        key = ln.key
        if key == "memory_limit" and not _values(samples, key):  # the sampler gave the cgroup's only
            key = "cgroup_limit"
        vals = _values(samples, key)
        if not vals:
            continue
        if data_max > 0 and max(vals) > _OFF_SCALE * data_max:
            off_scale.append(f"{ln.label} {ticks(max(vals))[1](max(vals))}")
        else:
            on_scale.append((ln, key))
            top = max(top, max(vals))
    values, fmt = ticks(top * 1.06)
    return _Scale(drawn, tuple(on_scale), tuple(off_scale), tuple(values), fmt)


def _panel(out: list[str], box: _Box, name: str, time: _Time, samples: Sequence[dict[str, Any]], scale: _Scale,
           gap_s: float, markers: Sequence[_Marker], gaps: Sequence[_Gap], *, labels: bool = True) -> None:
    """One chart in ``box``: y ticks, gaps, limit lines, figures, markers."""

    def y_of(v: float) -> float:
        return box.bottom - v / scale.top * box.height

    out.append(_text(box.left, box.top - 6, name, size=12, weight="600", fill=_MUTED))
    if scale.off_scale:
        out.append(_text(box.right, box.top - 6, "above the scale: " + ", ".join(scale.off_scale), size=11,
                         fill=_MUTED, anchor="end"))
    out.append(_rect(box, fill="#ffffff", stroke="#d0d7de"))
    for v in scale.ticks:
        yy = y_of(v)
        if v > 0:
            out.append(f'<line x1="{_f(box.left)}" y1="{_f(yy)}" x2="{_f(box.right)}" y2="{_f(yy)}" stroke="{_GRID}"/>')
        out.append(_text(box.left - 6, yy + 4, scale.fmt(v), size=11, fill=_MUTED, anchor="end"))
    for g in gaps:
        x0, x1 = max(time.x(g.start), box.left), min(time.x(g.end), box.right)
        if x1 - x0 < 2:
            x0, x1 = x0 - 1, x0 + 1
        out.append(f'<rect class="gap" x="{_f(x0)}" y="{_f(box.top)}" width="{_f(x1 - x0)}" '
                   f'height="{_f(box.height)}" fill="{_GAP}" fill-opacity="0.5"><title>{escape(g.tip)}</title></rect>')
    clip = f"clip{int(box.top)}"
    out.append(f'<clipPath id="{clip}">{_rect(box, fill="#000")}</clipPath>')
    out.append(f'<g clip-path="url(#{clip})" fill="none" stroke-linejoin="round" stroke-linecap="round">')
    for ln, key in (*scale.limits, *((ln, ln.key) for ln in scale.lines)):
        limit = _values(samples, key) if (ln, key) in scale.limits else []
        dots: list[tuple[float, float]] = []
        if limit and min(limit) == max(limit):  # a constant limit: edge to edge
            path = f"M{_f(box.left)} {_f(y_of(limit[0]))}H{_f(box.right)}"
        else:
            path, dots = _path(samples, key, time, y_of, gap_s)
        dash = f' stroke-dasharray="{ln.dash}"' if ln.dash else ""
        if path:
            out.append(f'<path class="{ln.key}" d="{path}" stroke="{ln.color}" stroke-width="{ln.width:g}"{dash}>'
                       f"<title>{escape(_line_tip(ln, key, samples, scale))}</title></path>")
        for x, yy in dots[:200]:
            out.append(f'<circle class="{ln.key}" cx="{_f(x)}" cy="{_f(yy)}" r="3.5" fill="{ln.color}" stroke="none"/>')
    out.append("</g>")
    _draw_markers(out, box, time, markers, labels)
    _limit_labels(out, box, samples, scale, y_of)  # last: on top of the markers


def _line_tip(ln: _Line, key: str, samples: Sequence[dict[str, Any]], scale: _Scale) -> str:
    """What hovering a line says: its last value, and its peak with the time of it."""
    known = [(float(s["ts"]), v) for s in samples if (v := _num(s.get(key))) is not None]
    if not known:
        return ln.label
    label = ln.label if key == ln.key else f"{ln.label} ({key})"
    peak_ts, peak = max(known, key=lambda tv: tv[1])
    if peak == min(v for _, v in known):
        return f"{label}: {scale.fmt(peak)}"
    return f"{label}: last {scale.fmt(known[-1][1])}, peak {scale.fmt(peak)} at {_clock(peak_ts, seconds=True)}"


def _limit_labels(out: list[str], box: _Box, samples: Sequence[dict[str, Any]], scale: _Scale, y_of: Any) -> None:
    """Each drawn limit named at the right end of its line, above it (below when another name is there)."""
    taken: list[float] = []
    for ln, key in scale.limits:
        last = _values(samples, key)[-1]
        yy = y_of(last) - 5
        if any(abs(yy - t) < 14 for t in taken) or yy < box.top + 12:
            yy = y_of(last) + 14
        taken.append(yy)
        out.append(_text(box.right - 6, yy, f"{ln.label} {scale.fmt(last)}", size=11, fill=ln.color, anchor="end",
                         extra=' class="limit-label"' + _HALO))


_LABEL_ROOM = 16  # px between marker labels (an 11 px line of rotated text and some air)
_HALO = ' stroke="#ffffff" stroke-width="3" paint-order="stroke" stroke-linejoin="round"'


def _draw_markers(out: list[str], box: _Box, time: _Time, markers: Sequence[_Marker], labels: bool) -> None:
    """A vertical line per marker; labels read upwards from the bottom of the panel, one per cluster of
    markers closer than a label's height (the cluster says how many it holds)."""
    placed: list[tuple[float, float, list[_Marker]]] = []  # (first x, last x, markers) per label
    for m in markers:
        x = time.x(m.ts)
        color = _FIRING if m.kind == "firing" else _CAPTURE
        dash = ' stroke-dasharray="4 3"' if m.kind == "capture" else ""
        out.append(f'<line class="{m.kind}" x1="{_f(x)}" y1="{_f(box.top)}" x2="{_f(x)}" y2="{_f(box.bottom)}" '
                   f'stroke="{color}" stroke-width="1.5" stroke-opacity="0.75"{dash}>'
                   f"<title>{escape(m.tip)}</title></line>")
        if placed and x - placed[-1][1] < _LABEL_ROOM:  # chained: a burst of markers is one label
            placed[-1] = (placed[-1][0], x, [*placed[-1][2], m])
        else:
            placed.append((x, x, [m]))
    if not labels:
        return
    room = max(int((box.height - 12) / 6.4), 4)
    for x, _last, group in placed:
        if len(group) == 1:
            text = group[0].label
        elif len(group) == 2 and group[0].kind != group[1].kind:  # a firing and its capture: both names
            text = " → ".join(m.label for m in group)
        else:
            text = f"{group[0].label} + {len(group) - 1} more"
        color = _FIRING if group[0].kind == "firing" else _CAPTURE
        # Rotated -90 about its start: the text runs upwards and its glyphs lie left of the
        # baseline, so a baseline 12 px right of the line puts them just after the marker.
        tx, ty = x + 12, box.bottom - 6
        out.append(_text(tx, ty, _clip(text, room), size=11, fill=color,
                         extra=f' class="marker-label" transform="rotate(-90 {_f(tx)} {_f(ty)})"' + _HALO))


def _path(samples: Sequence[dict[str, Any]], key: str, time: _Time, y_of: Any,
          gap_s: float) -> tuple[str, list[tuple[float, float]]]:
    """The SVG path of one figure (lines broken at ``None`` and at gaps), thinned to the pixel; and
    the points that stand alone (drawn as dots)."""
    parts: list[str] = []
    dots: list[tuple[float, float]] = []
    for seg in _segments(samples, key, gap_s):
        pts = downsample([(time.x(ts), y_of(v)) for ts, v in seg])
        if len(pts) == 1:
            dots.append(pts[0])
            continue
        parts.append("M" + _f(pts[0][0]) + " " + _f(pts[0][1]) + "L"
                     + " ".join(f"{_f(x)} {_f(y)}" for x, y in pts[1:]))
    return "".join(parts), dots


def _segments(samples: Sequence[dict[str, Any]], key: str, gap_s: float) -> Iterable[list[tuple[float, float]]]:
    seg: list[tuple[float, float]] = []
    last_ts: float | None = None
    for s in samples:
        ts, v = float(s["ts"]), _num(s.get(key))
        if v is None or (last_ts is not None and ts - last_ts > gap_s):
            if seg:
                yield seg
            seg = []
        if v is not None:
            seg.append((ts, v))
        last_ts = ts
    if seg:
        yield seg


def downsample(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Thin ``(x, y)`` pixel points (x ascending) to at most two per pixel column: the lowest and the
    highest, in the order they came, so every spike and dip stays visible."""
    out: list[tuple[float, float]] = []
    i, n = 0, len(points)
    while i < n:
        col = math.floor(points[i][0])
        lo = hi = i
        j = i + 1
        while j < n and math.floor(points[j][0]) == col:
            if points[j][1] < points[lo][1]:
                lo = j
            if points[j][1] > points[hi][1]:
                hi = j
            j += 1
        out.extend(points[k] for k in sorted({lo, hi}))
        i = j
    return out


def _time_axis(out: list[str], time: _Time, top: float, bottom: float) -> None:
    """Ticks and wall-clock labels (UTC) under the last panel, with the date at the first tick and
    wherever the day changes; faint verticals through every panel."""
    span = time.t1 - time.t0
    max_ticks = max(int(time.box.width / 95), 2)
    step = next((s for s in _TIME_STEPS if span / s <= max_ticks), _TIME_STEPS[-1])
    if span / step > max_ticks:  # longer than the steps know: whole weeks
        step = math.ceil(span / max_ticks / 604800) * 604800
    first = math.ceil(time.t0 / step) * step
    last_date = None
    t = first
    while t <= time.t1:
        x = time.x(t)
        out.append(f'<line x1="{_f(x)}" y1="{_f(top)}" x2="{_f(x)}" y2="{_f(bottom)}" stroke="{_GRID}" '
                   f'stroke-opacity="0.7"/>')
        out.append(f'<line x1="{_f(x)}" y1="{_f(bottom)}" x2="{_f(x)}" y2="{_f(bottom + 4)}" stroke="{_MUTED}"/>')
        label = _clock(t, seconds=step < 60) + ("" if last_date else " UTC")
        at_edge = x > time.box.right - 30  # a centred label would run off the chart
        out.append(_text(x, bottom + 16, label, size=11, fill=_MUTED, anchor="end" if at_edge else "middle"))
        date = _date(t)
        if date != last_date:
            out.append(_text(x, bottom + 29, _date(t, short=True), size=10, fill=_MUTED, anchor="middle"))
            last_date = date
        t += step


_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
               2 * 86400, 7 * 86400)


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _clock(ts: float, *, seconds: bool = False) -> str:
    return _utc(ts).strftime("%H:%M:%S" if seconds else "%H:%M")


def _date(ts: float, *, short: bool = False) -> str:
    return _utc(ts).strftime("%b %d" if short else "%Y-%m-%d")


# --- y scales -------------------------------------------------------------------------------

_KIB, _MIB, _GIB, _TIB = 1 << 10, 1 << 20, 1 << 30, 1 << 40
# Steps in bytes.  Past 100 MiB they are binary (128, 256, 512 MiB, 1 GiB), like the limits people
# set (768Mi, 1Gi, 2Gi), so a limit lands on a grid line and the labels read 256 MiB, 512 MiB, 1 GiB.
_BYTE_STEPS: tuple[float, ...] = (
    1, 2, 5, 10, 20, 50, 100, 200, 500,
    *(m * _KIB for m in (1, 2, 5, 10, 20, 50, 100, 200, 500)),
    *(m * _MIB for m in (1, 2, 5, 10, 20, 50, 100, 128, 256, 512)),
    *(m * _GIB for m in (1, 2, 4, 5, 10, 20, 50, 100, 200, 500)),
    *(m * _TIB for m in (1, 2, 5, 10, 20, 50, 100)),
)


def human_bytes(v: float) -> str:
    """``512 MiB``, ``1.25 GiB``, ``0``: the largest binary unit that keeps the number at least 1
    (a quarter-GiB multiple reads in GiB), two decimals at most."""
    if v == 0:
        return "0"
    for size, name in ((_TIB, "TiB"), (_GIB, "GiB"), (_MIB, "MiB"), (_KIB, "KiB")):
        if abs(v) >= size and (size != _GIB or (v * 4 / _GIB).is_integer() or abs(v) >= 10 * _GIB
                              or not (v / _MIB).is_integer()):
            return _trim(v / size) + " " + name
    return _trim(v) + " B"


def _trim(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _bytes_ticks(hi: float, max_ticks: int = 6) -> tuple[list[float], Any]:
    """Tick values from 0 over ``hi`` bytes, and their label function."""
    hi = max(hi, _MIB)  # no figures at all still gets a readable axis
    step = next((s for s in _BYTE_STEPS if hi / s <= max_ticks), None)
    if step is None:  # beyond any memory: powers of ten of the largest step
        step = _BYTE_STEPS[-1] * 10.0 ** math.ceil(math.log10(hi / _BYTE_STEPS[-1] / max_ticks))
    return _tick_values(hi, step), human_bytes


def _count_ticks(hi: float, max_ticks: int = 3) -> tuple[list[float], Any]:
    """Integer ticks (1, 2, 5 x 10^k) from 0 over ``hi``."""
    hi = max(hi, 3.0)
    step, k = 1.0, 0
    while hi / step > max_ticks:
        k += 1
        step = (1, 2, 5)[k % 3] * 10.0 ** (k // 3)

    def fmt(v: float) -> str:
        return f"{v:,.0f}"

    return _tick_values(hi, step), fmt


def _tick_values(hi: float, step: float) -> list[float]:
    n = max(math.ceil(hi / step - 1e-9), 1)
    return [i * step for i in range(n + 1)]
