"""The SVG chart of a watch recording: valid XML, the figures, limits and markers a recording holds,
small however long the watch, and no crash on what a real recording can hold (no samples, one,
None figures, a cut tail, several pods)."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from cdpclient.store import Store
from cdpclient.watch import read_recording
from cdpclient.watch.export import recording_document
from cdpclient.watch.plot import downsample, human_bytes, render_svg, write_svg
from cdpclient.watch.recording import Recording, WatchRecording

NS = {"svg": "http://www.w3.org/2000/svg"}
MIB = 1 << 20
T0 = 1764680400.0  # 2025-12-02 13:00:00 UTC
TARGET = {"endpoint": "127.0.0.1:9229", "target_id": "t1", "url": "file:///srv/app.js"}


def sample(i: float, **kw: Any) -> dict[str, Any]:
    """A leaking sample, i seconds in; the limit within the scale (256 MiB against about 200)."""
    out = {"ts": T0 + i, "pod": None, "heap_used": 40 * MIB + i * MIB // 10, "heap_total": 60 * MIB + i * MIB // 10,
           "heap_limit": 2 << 30, "external": 3 * MIB, "array_buffers": MIB, "rss": 120 * MIB + i * MIB // 10,
           "cgroup_current": None, "cgroup_limit": None, "memory_limit": 256 * MIB, "fds": 20, "fd_limit": 1024,
           "handles": 5, "loop_delay_ms": 1.5, "cost_ms": 0.8}
    out.update(kw)
    return out


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "rec")


def record(store: Store, samples: list[dict[str, Any]], *, firings: tuple[tuple[float, str], ...] = (),
           captures: tuple[tuple[float, str], ...] = (), events: tuple[dict[str, Any], ...] = (),
           target: dict[str, Any] | None = None) -> Recording:
    w = WatchRecording.create(store, target=target or TARGET, every_s=1.0, conditions=["heap>85%"],
                              actions=["snapshot"], labels={}, compress=False)
    for s in samples:
        w.sample(s)
    for ts, cond in firings:
        w.firing(condition=cond, value=0.9, threshold=0.85, action="snapshot", ts=T0 + ts)
    for ts, cid in captures:
        w.capture(id=cid, kind="heapsnapshot", condition="heap>85%", ts=T0 + ts)
    for e in events:
        w.event(e)
    rec = w.close("for elapsed")
    return read_recording(store.materialize(rec))


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg.encode())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]


def paths(root: ET.Element, cls: str) -> list[ET.Element]:
    return [p for p in root.iterfind(".//svg:path", NS) if p.get("class") == cls]


def points(path: ET.Element) -> list[tuple[float, float]]:
    nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
    return list(zip(nums[::2], nums[1::2], strict=True))


def test_the_figures_limits_and_markers_are_drawn(store: Store) -> None:
    rec = record(store, [sample(i) for i in range(600)], firings=((100, "heap>85%"), (400, "growth>5MiB/min")),
                 captures=((250, "01ABCDEFGHJK"),),
                 events=({"t": "reconnect", "ts": T0 + 300, "pod": None, "reason": "connection lost"},
                         {"t": "connected", "ts": T0 + 330, "pod": None}))
    root = parse(render_svg(rec))
    for key in ("heap_used", "heap_total", "external", "rss", "memory_limit"):
        assert len(paths(root, key)) == 1, key
    heap_tip = paths(root, "heap_used")[0].findtext("svg:title", namespaces=NS, default="")
    assert heap_tip == "heap used: last 99.9 MiB, peak 99.9 MiB at 13:09:59"
    assert paths(root, "memory_limit")[0].findtext("svg:title", namespaces=NS) == "memory limit: 256 MiB"
    assert not paths(root, "cgroup_current")  # None in every sample: no line, no legend entry
    assert not paths(root, "heap_limit")  # 2 GiB is far above the figures: named, not drawn
    words = texts(root)
    assert "above the scale: heap limit 2 GiB" in words
    assert "memory limit 256 MiB" in words and "cgroup memory" not in words
    lines = list(root.iterfind(".//svg:line", NS))
    firings = [ln for ln in lines if ln.get("class") == "firing"]
    captures = [ln for ln in lines if ln.get("class") == "capture"]
    assert len(firings) == 2 and len(captures) == 1
    assert firings[0].findtext("svg:title", namespaces=NS, default="").startswith("firing heap>85% at 13:01:40")
    assert float(firings[0].get("x1", 0)) < float(captures[0].get("x1", 0)) < float(firings[1].get("x1", 0))
    labels = [t.text for t in root.iterfind(".//svg:text", NS) if t.get("class") == "marker-label"]
    assert labels == ["heap>85%", "heapsnapshot 01ABCDEFGHJK", "growth>5MiB/min"]
    [gap] = [r for r in root.iterfind(".//svg:rect", NS) if r.get("class") == "gap"]
    assert "reconnecting: connection lost" in gap.findtext("svg:title", namespaces=NS, default="")
    title = root.findtext("svg:title", namespaces=NS)
    assert title == "Memory of 127.0.0.1:9229"
    assert any(w.startswith("2025-12-02 13:00:00 – 13:09:59 UTC") and "600 samples" in w for w in words)
    assert any(w.startswith("13:00") and w.endswith("UTC") for w in words)  # the first time tick says UTC
    assert not [t for t in root.iterfind(".//svg:text", NS) if t.get("class") == "warning"]


def test_a_firing_and_its_capture_share_one_label(store: Store) -> None:
    rec = record(store, [sample(i) for i in range(3600)], firings=((1000, "heap>85%"), (2000, "rss>1GiB"),
                                                                 (2001, "rss>1GiB"), (2002, "rss>1GiB")),
                 captures=((1001, "01ABCDEFGHJK"),))
    root = parse(render_svg(rec))
    labels = [t.text for t in root.iterfind(".//svg:text", NS) if t.get("class") == "marker-label"]
    assert labels == ["heap>85% → heapsnapshot 01ABCDEFGHJK", "rss>1GiB + 2 more"]
    assert len([ln for ln in root.iterfind(".//svg:line", NS) if ln.get("class") == "firing"]) == 4


def test_no_samples_is_a_chart_that_says_so(store: Store) -> None:
    rec = record(store, [])
    root = parse(render_svg(rec))
    assert "no samples" in texts(root) and not paths(root, "heap_used")


def test_one_sample_is_a_dot_per_figure(store: Store) -> None:
    rec = record(store, [sample(0)])
    root = parse(render_svg(rec))
    dots = {c.get("class") for c in root.iterfind(".//svg:circle", NS)}
    assert {"heap_used", "rss", "heap_total", "external"} <= dots
    assert paths(root, "memory_limit")  # a constant limit is a line across the chart, even for one sample


def test_none_figures_and_gaps_break_the_lines(store: Store) -> None:
    samples = [sample(i, rss=None if i == 50 else 120 * MIB) for i in range(100)]
    samples += [sample(i) for i in range(200, 300)]  # 100 s without samples
    root = parse(render_svg(record(store, samples)))
    [rss] = paths(root, "rss")
    assert rss.get("d", "").count("M") == 3  # broken at the None and at the gap
    [heap] = paths(root, "heap_used")
    assert heap.get("d", "").count("M") == 2
    [gap] = [r for r in root.iterfind(".//svg:rect", NS) if r.get("class") == "gap"]
    assert gap.findtext("svg:title", namespaces=NS, default="").startswith("no samples for 1m41s")
    assert "no samples" in texts(root)  # in the legend


def test_a_restart_drops_the_line_and_keeps_drawing(store: Store) -> None:
    samples = [sample(i) for i in range(100)] + [sample(i, heap_used=30 * MIB) for i in range(100, 200)]
    [heap] = paths(parse(render_svg(record(store, samples))), "heap_used")
    ys = [y for _, y in points(heap)]
    assert max(ys) - min(ys) > 20  # the drop is there, in one line


def test_six_hours_at_one_second_stays_small_and_keeps_its_spikes(store: Store) -> None:
    n = 6 * 3600
    samples = [sample(i, heap_used=(400 if i == 12345 else 40) * MIB, rss=120 * MIB, heap_total=60 * MIB)
               for i in range(n)]
    rec = record(store, samples)
    assert len(rec.samples) == n
    svg = render_svg(rec, width=1000)
    assert len(svg.encode()) < 60_000
    root = parse(svg)
    [heap] = paths(root, "heap_used")
    pts = points(heap)
    assert len(pts) <= 2 * 1000
    top = min(y for _, y in pts)  # the one-second spike survives the thinning
    mem = [r for r in root.iterfind(".//svg:rect", NS) if r.get("class") is None and r.get("stroke") == "#d0d7de"]
    assert top < min(float(r.get("y", 0)) + float(r.get("height", 0)) for r in mem) - 100


def test_downsample_keeps_the_extremes_of_each_pixel_in_order() -> None:
    pts = [(10 + i / 100, float(v)) for i, v in enumerate([5, 9, 1, 5, 5] * 40)]  # pixel columns 10 and 11
    assert [(round(x, 2), y) for x, y in downsample(pts)] == [(10.01, 9.0), (10.02, 1.0), (11.01, 9.0), (11.02, 1.0)]
    assert downsample([(0.5, 1.0), (0.6, 3.0), (0.7, 2.0)]) == [(0.6, 3.0), (0.5, 1.0)][::-1]
    assert downsample([(1.0, 2.0)]) == [(1.0, 2.0)]
    assert downsample([]) == []


def test_a_cut_recording_is_drawn_with_a_note(store: Store, tmp_path: Path) -> None:
    rec = record(store, [sample(i) for i in range(50)])
    cut = tmp_path / "cut.watch"
    cut.write_bytes(rec.path.read_bytes()[:-9])
    short = read_recording(cut)
    assert short.truncated
    root = parse(render_svg(short))
    [note] = [t for t in root.iterfind(".//svg:text", NS) if t.get("class") == "warning"]
    assert (note.text or "").startswith("truncated: the last") and paths(root, "heap_used")


def test_pods_get_a_panel_each_on_one_scale(store: Store) -> None:
    samples = [sample(i, pod=pod, heap_used=(40 + 40 * p) * MIB) for i in range(60)
               for p, pod in enumerate(("web-1", "web-2"))]
    rec = record(store, samples, firings=((30, "heap>85%"),), target={"selector": "app=web", "namespace": "shop"})
    root = parse(render_svg(rec))
    words = texts(root)
    assert "pod web-1" in words and "pod web-2" in words
    assert root.findtext("svg:title", namespaces=NS) == "Memory of shop pods app=web"
    assert len(paths(root, "heap_used")) == 2


def test_fds_get_a_panel_when_they_move(store: Store) -> None:
    flat = parse(render_svg(record(store, [sample(i) for i in range(60)])))
    assert not paths(flat, "fds")
    leaking = parse(render_svg(record(store, [sample(i, fds=20 + i) for i in range(60)])))
    assert paths(leaking, "fds") and "open file descriptors" in texts(leaking)


def test_tick_labels() -> None:
    assert [human_bytes(v) for v in (0, 512, 1536, 768 * MIB, 1 << 30, 5 << 29, 1152 * MIB)] == [
        "0", "512 B", "1.5 KiB", "768 MiB", "1 GiB", "2.5 GiB", "1152 MiB"]


def test_write_svg_is_private_and_atomic(store: Store, tmp_path: Path) -> None:
    rec = record(store, [sample(i) for i in range(10)])
    out = write_svg(rec, tmp_path / "m.svg", title="checkout leak")
    assert out == tmp_path / "m.svg" and os.stat(out).st_mode & 0o777 == 0o600
    assert parse(out.read_text()).findtext("svg:title", namespaces=NS) == "checkout leak"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.svg", "rec"]  # no temporary left


def test_the_json_document_holds_everything(store: Store) -> None:
    rec = record(store, [sample(i, loop_delay_ms=float("nan") if i == 1 else 1.5) for i in range(3)],
                 firings=((1, "heap>85%"),), captures=((2, "01ABCDEFGHJK"),))
    doc = recording_document(rec, capture_id="01ABC")
    assert doc["format"] == "cdpclient.watch+json" and doc["version"] == 1 and doc["id"] == "01ABC"
    assert doc["samples"][0] == sample(0) and doc["samples"][1]["loop_delay_ms"] is None
    assert doc["firings"][0]["condition"] == "heap>85%" and "t" not in doc["firings"][0]
    assert doc["captures"][0]["id"] == "01ABCDEFGHJK"
    assert [e["t"] for e in doc["events"]] == ["end"] and doc["truncated"] is False
    assert doc["header"]["target"] == TARGET


def test_odd_values_never_break_the_chart(store: Store) -> None:
    """What a reader may meet in a recording written by another version: strings, booleans, NaN,
    infinities, negative and missing figures, a missing ts, records out of order, unknown pods."""
    odd: list[Any] = [None, "12", True, float("nan"), float("inf"), -5, 0, 1e30]
    samples = [sample(i, heap_used=odd[i % len(odd)], rss=odd[(i + 3) % len(odd)], pod=("a", "b", None)[i % 3])
               for i in range(40)]
    samples.append({"heap_used": 5})  # no ts: written now, which is far right of the rest
    samples.reverse()
    rec = record(store, samples, firings=((5, ""), (-100, "before the samples")))
    for width in (320, 1000, 3000):
        root = parse(render_svg(rec, width=width, height=240))
        assert root.get("width") == str(width)
    nothing = record(store, [{"ts": T0 + i, "pod": None} for i in range(5)])
    assert "0" in texts(parse(render_svg(nothing)))


def test_a_watch_that_ended_reconnecting_shades_until_its_end(store: Store) -> None:
    w = WatchRecording.create(store, target=TARGET, every_s=1.0, conditions=[], actions=[], labels={})
    for i in range(60):
        w.sample(sample(i))
    w.event({"t": "reconnect", "ts": T0 + 60, "pod": None, "reason": "target gone"})
    w.event({"t": "end", "ts": T0 + 660, "reason": "target gone"})
    w.close("target gone")  # a second end, now: skipped by the chart's time span
    root = parse(render_svg(read_recording(store.materialize(store.get(w.id)))))
    [gap] = [r for r in root.iterfind(".//svg:rect", NS) if r.get("class") == "gap"]
    assert gap.findtext("svg:title", namespaces=NS) == "reconnecting: target gone (10m00s)"
    [frame] = [r for r in root.iterfind(".//svg:rect", NS) if r.get("stroke") == "#d0d7de"]
    right = float(frame.get("x", 0)) + float(frame.get("width", 0))
    assert float(gap.get("x", 0)) + float(gap.get("width", 0)) <= right
    assert float(gap.get("width", 0)) > 0.8 * float(frame.get("width", 0))  # 10 of the 11 minutes
