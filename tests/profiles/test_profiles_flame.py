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
    assert "<script" not in svg and "href" not in svg and "cpu &lt;test&gt; &amp; co" in svg
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
