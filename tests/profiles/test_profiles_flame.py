"""Flame graphs: self-contained SVG with hover titles; the `flame` command as a user runs it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from nodeproc import run_cli  # type: ignore[attr-defined]

from cdpclient.errors import AnalysisError
from cdpclient.profiles import flame_svg, load_profile, top

SVG = "{http://www.w3.org/2000/svg}"


def _frames(svg: str) -> list[tuple[str, float]]:
    """(title, width) of every frame rectangle."""
    root = ET.fromstring(svg)
    out = []
    for g in root.iter(f"{SVG}g"):
        title, rect = g.find(f"{SVG}title"), g.find(f"{SVG}rect")
        assert title is not None and rect is not None
        out.append((title.text or "", float(rect.get("width", "0"))))
    return out


def test_cpu_flame_graph_widths_match_the_table(cpu_profiles) -> None:  # type: ignore[no-untyped-def]
    profile = load_profile(cpu_profiles.base)
    svg = flame_svg(profile, title="cpu <test> & co")
    # one inline script (zoom, search, width), nothing it could load from anywhere
    assert svg.count("<script>") == 1 and "href" not in svg and "cpu &lt;test&gt; &amp; co" in svg
    assert not re.search(r"fetch\(|XMLHttpRequest|import\(|WebSocket|https?://(?!www\.w3\.org/2000/svg)", svg)
    frames = _frames(svg)
    root_w = next(w for t, w in frames if t.startswith("all\n"))
    crunch_w = sum(w for t, w in frames if t.startswith("crunch "))
    share = top(profile, limit=None).rows[0].total["time"] / profile.tree.totals()[0]
    assert crunch_w / root_w == pytest.approx(share, abs=0.01)
    tip = next(t for t, _ in frames if t.startswith("crunch "))
    assert re.search(r"\n[\d,.]+ ms \([\d.]+%\), self [\d,.]+ ms\npackage: @acme/hog", tip)


def test_heap_flame_graph(heap_profiles) -> None:  # type: ignore[no-untyped-def]
    frames = _frames(flame_svg(load_profile(heap_profiles.small)))
    assert any(t.startswith("allocationHotSpot ") and " MB (" in t for t, _ in frames)


def test_empty_profile_has_nothing_to_draw(tmp_path: Path) -> None:
    path = tmp_path / "empty.cpuprofile"
    path.write_text('{"nodes":[{"id":1,"callFrame":{"functionName":"(root)","url":""}}],"startTime":0,"endTime":0}')
    with pytest.raises(AnalysisError, match="no time to draw"):
        flame_svg(load_profile(path))


def test_flame_command(cpu_profiles, tmp_path: Path, truncate) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "cpu.svg"
    done = run_cli("flame", str(cpu_profiles.base), "-o", str(out), "--store", str(tmp_path / "store"))
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stderr and out.stat().st_size > 1000
    ET.fromstring(out.read_text())

    bad = run_cli("flame", str(truncate(cpu_profiles.base, 0.7)), "-o", str(tmp_path / "bad.svg"),
                  "--store", str(tmp_path / "store"))
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("cdpclient: error:")
    assert "not a valid CPU profile" in bad.stderr and not (tmp_path / "bad.svg").exists()
    assert not (tmp_path / "store").exists()  # naming a file never creates a store


def _shares(svg: str) -> dict[str, float]:
    """Each frame's data-w (its share of the whole, for the script), summed by label."""
    out: dict[str, float] = {}
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        out[g.get("data-l", "")] = out.get(g.get("data-l", ""), 0.0) + float(g.get("data-w", "0"))
    return out


def test_the_frames_carry_their_place_for_the_script(cpu_profiles) -> None:  # type: ignore[no-untyped-def]
    profile = load_profile(cpu_profiles.base)
    shares = _shares(flame_svg(profile))
    share = top(profile, limit=None).rows[0].total["time"] / profile.tree.totals()[0]
    assert shares["all"] == pytest.approx(1.0) and shares["crunch"] == pytest.approx(share, abs=0.01)


def _chromium() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (apt-get install chromium)")
def test_zoom_search_and_width_in_a_real_browser(cpu_profiles, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Headless Chromium runs the graph's own script: a click zooms a frame to the full width (its ancestors
    span it, others hide), a search gives the share it covers, and the width follows the window."""
    import asyncio
    import json
    import socket
    import subprocess
    import time
    import urllib.request

    import websockets

    svg_path = tmp_path / "cpu.svg"
    svg_path.write_text(flame_svg(load_profile(cpu_profiles.base)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chromium = subprocess.Popen(
        [str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--remote-debugging-port={port}", "--window-size=900,500",
         svg_path.as_uri()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as reply:
                    pages = [p for p in json.load(reply) if p["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "Chromium did not open its debugging port"
            time.sleep(0.2)

        async def drive() -> list[object]:
            async with websockets.connect(pages[0]["webSocketDebuggerUrl"], max_size=None) as ws:
                results: list[object] = []
                for n, expr in enumerate([
                    "document.readyState === 'complete' && !!window.cdpclientFlame",
                    "document.querySelector('svg').getAttribute('width')",
                    "(() => { const gs = [...document.querySelectorAll('g.n')];"
                    " const i = gs.findIndex(g => g.dataset.l === 'fib'); cdpclientFlame.zoom(i);"
                    " const w = +gs[i].querySelector('rect').getAttribute('width');"
                    " const crunch = gs.filter(g => g.dataset.l === 'crunch' && g.style.display !== 'none');"
                    " const root = +gs[0].querySelector('rect').getAttribute('width');"
                    " return [w, root, crunch.length]; })()",
                    "cdpclientFlame.search('crunch'); document.getElementById('matched').textContent",
                ], start=1):
                    for _ in range(50):
                        await ws.send(json.dumps({"id": n, "method": "Runtime.evaluate",
                                                  "params": {"expression": expr, "returnByValue": True}}))
                        while True:
                            msg = json.loads(await ws.recv())
                            if msg.get("id") == n:
                                break
                        value = msg["result"]["result"].get("value")
                        if n > 1 or value:
                            break
                        await asyncio.sleep(0.1)
                    results.append(value)
                return results

        ready, width, zoomed, matched = asyncio.run(asyncio.wait_for(drive(), 60))
    finally:
        chromium.kill()
        chromium.wait()
    assert ready is True and width == "900"  # the window's width, not the file's 1200
    fib_w, root_w, crunch_shown = zoomed  # type: ignore[misc]
    assert fib_w == pytest.approx(root_w, rel=1e-6) and crunch_shown == 0  # fib takes the width; crunch is off
    profile = load_profile(cpu_profiles.base)
    share = 100 * top(profile, limit=None).rows[0].total["time"] / profile.tree.totals()[0]
    found = re.match(r"Matched: ([\d.]+)% \(crunch\)", str(matched))
    assert found and float(found.group(1)) == pytest.approx(share, abs=0.2)
