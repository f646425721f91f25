"""Flame graphs as self-contained SVG: one rectangle per (merged) stack frame, hover titles, no scripts."""

from __future__ import annotations

import zlib
from html import escape
from typing import Any

from cdpclient.errors import AnalysisError
from cdpclient.profiles.analysis import RANK_METRIC
from cdpclient.profiles.frames import Frame, package_of

_WIDTH = 1200.0
_ROW = 17
_TOP = 44
_PAD = 10
_MIN_PX = 0.3  # narrower frames are dropped: invisible, and they bloat the file
_CHAR_PX = 6.6  # average glyph width of 11px monospace-ish text; decides label truncation


def _fmt_value(value: float, unit: str) -> str:
    if unit == "us":
        return f"{value / 1000:,.1f} ms"
    if unit == "bytes":
        for suffix in ("B", "KB", "MB", "GB"):
            if abs(value) < 1024 or suffix == "GB":
                return f"{value:,.0f} {suffix}" if suffix == "B" else f"{value:,.1f} {suffix}"
            value /= 1024
    return f"{value:,.0f}"


def _color(frame: Frame) -> str:
    """Warm hues for JavaScript, keyed on the function so a frame keeps its colour; grey/blue otherwise."""
    pkg = package_of(frame)
    h = zlib.crc32(frame.display.encode())
    v1, v2 = (h & 0xFF) / 255, ((h >> 8) & 0xFF) / 255
    if frame.is_meta or pkg == "(native)":
        g = int(170 + 40 * v1)
        return f"rgb({g},{g},{g + 15})"
    if pkg == "(node)":
        return f"rgb({int(80 + 50 * v1)},{int(170 + 50 * v2)},{int(200 + 40 * v1)})"
    if pkg == "(app)":
        return f"rgb({int(225 + 30 * v1)},{int(90 + 90 * v2)},{int(40 + 30 * v1)})"
    return f"rgb({int(220 + 35 * v1)},{int(170 + 60 * v2)},{int(40 + 40 * v1)})"  # a dependency: yellow


def flame_svg(profile: Any, *, title: str | None = None, metric: str | None = None) -> str:
    """A flame graph of a CPU profile (self time) or a sampling heap profile (bytes) as SVG text.

    The root sits at the bottom; each frame is as wide as its share of ``metric``
    (default: the kind's ranking metric); children of one parent that share a frame
    are merged. Every rectangle has a ``<title>`` (shown on hover) with the frame,
    its total and self value and share. Raises AnalysisError for an empty profile.
    """
    import numpy as np

    tree = profile.tree
    metric = metric or RANK_METRIC[profile.kind]
    m = tree.metric_index(metric)
    unit = tree.metrics[m].unit
    self_v = tree.values[:, m]
    grand = float(self_v.sum())
    if grand <= 0:
        raise AnalysisError(f"the profile has no {metric} to draw")

    # Merge siblings with the same frame (V8 can split one call site into several nodes).
    merged_of = np.empty(len(tree), dtype=np.int64)
    index: dict[tuple[int, int], int] = {}
    m_parent: list[int] = []
    m_frame: list[int] = []
    parents = tree.parent.tolist()
    frames = tree.frame.tolist()
    for i in range(len(tree)):
        p = merged_of[parents[i]] if parents[i] >= 0 else -1
        key = (int(p), frames[i])
        j = index.get(key)
        if j is None:
            j = index[key] = len(m_parent)
            m_parent.append(int(p))
            m_frame.append(frames[i])
        merged_of[i] = j
    n = len(m_parent)
    m_self = np.bincount(merged_of, weights=self_v, minlength=n)
    m_total = m_self.copy()
    for j in range(n - 1, 0, -1):  # merged nodes are numbered parents-first
        m_total[m_parent[j]] += m_total[j]
    children: list[list[int]] = [[] for _ in range(n)]
    for j in range(1, n):
        children[m_parent[j]].append(j)

    scale = (_WIDTH - 2 * _PAD) / grand
    rects: list[tuple[float, int, int]] = []  # (x, depth, merged node)
    stack: list[tuple[int, float, int]] = [(0, _PAD, 0)]  # (merged node, x, depth)
    max_depth = 0
    while stack:
        j, x, depth = stack.pop()
        rects.append((x, depth, j))
        max_depth = max(max_depth, depth)
        cx = x
        for c in sorted(children[j], key=lambda c: -m_total[c]):
            w = m_total[c] * scale
            if w >= _MIN_PX:
                stack.append((c, cx, depth + 1))
            cx += w

    height = _TOP + (max_depth + 1) * _ROW + _PAD + 16
    what = {"us": "CPU time", "bytes": "bytes"}.get(unit, metric)
    heading = title or "Flame graph"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH:.0f}" height="{height}" '
        f'viewBox="0 0 {_WIDTH:.0f} {height}" font-family="Verdana, DejaVu Sans, sans-serif" font-size="11">',
        "<style>rect.f{stroke:#fff;stroke-width:0.5} g.n:hover rect{stroke:#000;stroke-width:1}"
        " text.l{pointer-events:none;fill:#000}</style>",
        '<rect x="0" y="0" width="100%" height="100%" fill="#fdfdf6"/>',
        f'<text x="{_WIDTH / 2:.0f}" y="20" font-size="16" text-anchor="middle">{escape(heading)}</text>',
        f'<text x="{_WIDTH / 2:.0f}" y="36" text-anchor="middle" fill="#555">'
        f'{escape(what)}: {escape(_fmt_value(grand, unit))} in all. Width = share of {escape(what)}; '
        f"hover a frame for details; the root is at the bottom.</text>",
    ]
    base = height - _PAD - 16
    for x, depth, j in rects:
        frame = tree.frames[m_frame[j]] if j else Frame("all", "")
        w = m_total[j] * scale
        y = base - (depth + 1) * _ROW
        pct = 100 * m_total[j] / grand
        tip = (f"{frame.display}&#10;{_fmt_value(m_total[j], unit)} ({pct:.2f}%), "
               f"self {_fmt_value(m_self[j], unit)}&#10;package: {package_of(frame) if j else '-'}")
        tip = escape(tip, quote=False).replace("&amp;#10;", "&#10;")
        out.append(f'<g class="n"><title>{tip}</title>'
                   f'<rect class="f" x="{x:.2f}" y="{y}" width="{w:.2f}" height="{_ROW - 1}" rx="2" '
                   f'fill="{_color(frame) if j else "rgb(230,230,220)"}"/>')
        chars = int((w - 6) / _CHAR_PX)
        if chars >= 3:
            label = frame.label if j else "all"
            if len(label) > chars:
                label = label[: chars - 2] + ".."
            out.append(f'<text class="l" x="{x + 3:.2f}" y="{y + _ROW - 5}">{escape(label)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
