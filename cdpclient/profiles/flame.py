"""Flame graphs as self-contained SVG: one rectangle per (merged) stack frame, hover titles; a small inline
script (no network, nothing loaded) adds zoom by click, search, and a width that follows the window."""

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
        " text.l{pointer-events:none;fill:#000} text.b{cursor:pointer;fill:#0645ad}"
        " text.b:hover{text-decoration:underline}</style>",
        '<rect x="0" y="0" width="100%" height="100%" fill="#fdfdf6"/>',
        f'<text id="heading" x="{_WIDTH / 2:.0f}" y="20" font-size="16" text-anchor="middle">{escape(heading)}</text>',
        f'<text id="subtitle" x="{_WIDTH / 2:.0f}" y="36" text-anchor="middle" fill="#555">'
        f'{escape(what)}: {escape(_fmt_value(grand, unit))} in all. Width = share of {escape(what)}; '
        f"hover a frame for details, click to zoom; the root is at the bottom.</text>",
        f'<text id="search" class="b" x="{_WIDTH - _PAD:.0f}" y="20" text-anchor="end">Search</text>',
        f'<text id="reset" class="b" x="{_PAD}" y="20" style="display:none">Reset zoom</text>',
        f'<text id="matched" x="{_WIDTH - _PAD:.0f}" y="{height - 6}" text-anchor="end" fill="#555"></text>',
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
        full = frame.label if j else "all"
        # data-*: the frame's place as fractions of the whole, for the script's zoom and resize
        out.append(f'<g class="n" data-x="{(x - _PAD) / (_WIDTH - 2 * _PAD):.9f}" '
                   f'data-w="{m_total[j] / grand:.9f}" data-d="{depth}" data-l="{escape(full)}" '
                   f'data-s="{escape(frame.display if j else "all")}"><title>{tip}</title>'
                   f'<rect class="f" x="{x:.2f}" y="{y}" width="{w:.2f}" height="{_ROW - 1}" rx="2" '
                   f'fill="{_color(frame) if j else "rgb(230,230,220)"}"/>')
        chars = int((w - 6) / _CHAR_PX)
        label = full if chars >= 3 else ""
        if len(label) > chars:
            label = label[: chars - 2] + ".."
        out.append(f'<text class="l" x="{x + 3:.2f}" y="{y + _ROW - 5}">{escape(label)}</text>')
        out.append("</g>")
    out.append(f"<script><![CDATA[{_SCRIPT}]]></script>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


# Zoom (click a frame: it takes the width, its ancestors span it faded; click the root or Reset zoom to go
# back), search (a regular expression over function, location and package: matches in magenta, the share
# they cover at the bottom right; Escape clears), and the width of the window. Nothing is loaded.
_SCRIPT = """
(function () {
  var svg = document.querySelector("svg"), PAD = @PAD@, CH = @CH@, MIN = @MIN@;
  var H = +svg.getAttribute("height"), nodes = [].slice.call(svg.querySelectorAll("g.n"));
  var reset = document.getElementById("reset"), matched = document.getElementById("matched");
  var zoom = null, pattern = "";
  function layout() {
    var W = Math.max(300, window.innerWidth || @WIDTH@), span = W - 2 * PAD;
    svg.setAttribute("width", W); svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    ["heading", "subtitle"].forEach(function (id) { document.getElementById(id).setAttribute("x", W / 2); });
    document.getElementById("search").setAttribute("x", W - PAD); matched.setAttribute("x", W - PAD);
    var zx = zoom ? zoom.x : 0, zw = zoom ? zoom.w : 1, zd = zoom ? zoom.d : -1;
    nodes.forEach(function (g) {
      var x = +g.dataset.x, w = +g.dataset.w, d = +g.dataset.d, r = g.querySelector("rect");
      var t = g.querySelector("text"), eps = 1e-9;
      var inside = x >= zx - eps && x + w <= zx + zw + eps;
      var above = zoom !== null && d < zd && x <= zx + eps && x + w >= zx + zw - eps;
      var px = above ? PAD : PAD + (x - zx) / zw * span, pw = above ? span : w / zw * span;
      var show = (zoom === null || inside || above) && pw >= MIN;
      g.style.display = show ? "" : "none";
      if (!show) return;
      r.setAttribute("x", px); r.setAttribute("width", pw); r.style.opacity = above ? "0.55" : "";
      var n = Math.floor((pw - 6) / CH), label = g.dataset.l;
      t.textContent = n >= 3 ? (label.length > n ? label.slice(0, n - 2) + ".." : label) : "";
      t.setAttribute("x", px + 3);
    });
    reset.style.display = zoom ? "" : "none";
  }
  function search(text) {
    pattern = text; var re = null, spans = [];
    if (text) {
      try { re = new RegExp(text); } catch (e) { alert("not a regular expression: " + e.message); return; }
    }
    nodes.forEach(function (g) {
      var r = g.querySelector("rect"), hit = re !== null && +g.dataset.d > 0 && re.test(g.dataset.s);
      if (!r.dataset.fill) r.dataset.fill = r.getAttribute("fill");
      r.setAttribute("fill", hit ? "rgb(230,0,230)" : r.dataset.fill);
      if (hit) spans.push([+g.dataset.x, +g.dataset.x + +g.dataset.w]);
    });
    spans.sort(function (a, b) { return a[0] - b[0]; });
    var covered = 0, end = -1;
    spans.forEach(function (s) { if (s[1] > end) { covered += s[1] - Math.max(s[0], end); end = s[1]; } });
    matched.textContent = re ? "Matched: " + (100 * covered).toFixed(1) + "% (" + text + ")" : "";
  }
  nodes.forEach(function (g) {
    g.style.cursor = "pointer";
    g.addEventListener("click", function () {
      zoom = +g.dataset.d === 0 ? null : {x: +g.dataset.x, w: +g.dataset.w, d: +g.dataset.d}; layout();
    });
  });
  reset.addEventListener("click", function () { zoom = null; layout(); });
  document.getElementById("search").addEventListener("click", function () {
    var text = prompt("Search frames (a regular expression over function, location, package)", pattern);
    if (text !== null) search(text);
  });
  window.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { search(""); zoom = null; layout(); }
    if ((e.ctrlKey || e.metaKey) && e.key === "f") {
      e.preventDefault(); document.getElementById("search").dispatchEvent(new Event("click"));
    }
  });
  window.addEventListener("resize", layout);
  layout();
  window.cdpclientFlame = {zoom: function (i) { nodes[i].dispatchEvent(new Event("click")); }, search: search};
})();
""".replace("@PAD@", str(_PAD)).replace("@CH@", str(_CHAR_PX)).replace("@MIN@", str(_MIN_PX)).replace(
    "@WIDTH@", str(int(_WIDTH)))
