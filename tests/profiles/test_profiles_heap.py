"""Sampling heap profiles (node --heap-prof) and allocation timelines (recorded over the inspector)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdpclient.errors import AnalysisError
from cdpclient.profiles import diff, load_profile, top
from cdpclient_cli import profile_views


@pytest.mark.compat
def test_allocation_hot_spot_leads_the_sampling_profile(heap_profiles) -> None:  # type: ignore[no-untyped-def]
    profile = load_profile(heap_profiles.small)
    assert profile.kind == "heapprofile"
    result = top(profile, limit=5)
    first = result.rows[0]
    assert first.name == "allocationHotSpot" and first.location.endswith("heap_workload.js:8:27")
    assert first.total["bytes"] > 0.5 * result.totals["bytes"]
    assert first.self["objects"] > first.self["samples"] > 0  # objects are scaled up from samples
    assert top(profile, by="package").rows[0].key in ("(app)", "(native)")
    by_file = top(profile, by="file", limit=None)
    assert by_file.rows[0].key.endswith("heap_workload.js")


def test_heap_profile_diff_shows_growth(heap_profiles) -> None:  # type: ignore[no-untyped-def]
    result = diff(load_profile(heap_profiles.small), load_profile(heap_profiles.large), limit=3)
    assert result.order == "value" and result.unit == "bytes"
    assert result.rows[0].key.startswith(("allocationHotSpot ", "repeat"))
    assert result.rows[0].delta > 0 and result.total_b > 2 * result.total_a


def test_heap_views(heap_profiles, capsys) -> None:  # type: ignore[no-untyped-def]
    profile_views.top(None, heap_profiles.small, None, 5, False)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Sampling heap profile") and "samples" in out[0]
    assert out[1].split()[:4] == ["self", "size", "self", "%"]
    assert "allocationHotSpot" in out[3]
    profile_views.diff(None, heap_profiles.small, None, heap_profiles.large, "package", 5, True)
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "heapprofile" and data["rows"][0]["delta"] > 0


@pytest.mark.compat
def test_allocation_hot_spot_leads_the_timeline(timeline_files) -> None:  # type: ignore[no-untyped-def]
    profile = load_profile(timeline_files.timeline, events_path=timeline_files.events)
    assert profile.kind == "heaptimeline"
    result = top(profile, limit=10)
    first = result.rows[0]
    assert first.name == "allocationHotSpot"
    assert first.self["alloc_count"] >= 100_000 and first.self["alloc_bytes"] > 0.3 * result.totals["alloc_bytes"]
    # The hot spot keeps what it allocates; churn() allocates garbage that dies.
    assert first.self["live_bytes"] > 0.5 * first.self["alloc_bytes"]
    churn = next(r for r in top(profile, limit=None).rows if r.name == "churn")
    assert churn.self["alloc_count"] >= 20_000 and churn.self["live_bytes"] < 0.05 * churn.self["alloc_bytes"]
    assert result.header["heap_nodes"] > 100_000
    # Growth: what is alive at the end was allocated during the two workload bursts.
    assert sum(p["bytes"] for p in result.growth) > 0.5 * result.totals["live_bytes"]
    over_time = result.heap_over_time
    assert len(over_time) >= 2 and over_time[-1]["bytes"] > over_time[0]["bytes"] + 5_000_000


def test_timeline_views_find_the_side_file(timeline_files, capsys) -> None:  # type: ignore[no-untyped-def]
    profile_views.top(None, timeline_files.timeline, None, 5, False)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("Allocation timeline") and "alive at the end" in lines[0]
    assert lines[1].startswith("Alive at the end, allocated during the recording: ")
    assert "allocationHotSpot" in lines[4]
    assert "Tracked heap over time" in out and "by when it was allocated" in out
    profile_views.top(None, timeline_files.timeline, "package", 3, True)
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "heaptimeline" and data["heap_over_time"] and data["live_by_interval"]


def test_timeline_without_side_file_still_works(timeline_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bare = tmp_path / "bare.heaptimeline"
    bare.write_bytes(timeline_files.timeline.read_bytes())
    result = top(load_profile(bare), limit=3)
    assert result.rows[0].name == "allocationHotSpot" and result.heap_over_time == []


def test_unreadable_side_file_is_a_note(timeline_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    events = tmp_path / "x.events.json"
    events.write_text('{"events": [')
    profile = load_profile(timeline_files.timeline, events_path=events)
    assert profile.heap_over_time == [] and "unreadable events file" in profile.notes[0]


def test_plain_heap_snapshot_is_not_a_timeline(timeline_files) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AnalysisError, match="without allocation traces"):
        load_profile(timeline_files.snapshot, "heaptimeline")


def test_timeline_diff(timeline_files) -> None:  # type: ignore[no-untyped-def]
    tl = load_profile(timeline_files.timeline)
    result = diff(tl, tl, limit=None)
    assert all(r.delta == 0 for r in result.rows)


def test_kinds_do_not_mix(timeline_files, heap_profiles) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AnalysisError, match="cannot diff an allocation timeline with a sampling heap profile"):
        diff(load_profile(timeline_files.timeline), load_profile(heap_profiles.small))


def test_timeline_columns_match_a_plain_json_reading(timeline_files, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The chunked column reader agrees with json.load, also when chunks cut rows in odd places."""
    from cdpclient.profiles import timeline as timeline_mod

    doc = json.loads(timeline_files.timeline.read_text())
    fields = doc["snapshot"]["meta"]["node_fields"]
    width, size_i, trace_i = len(fields), fields.index("self_size"), fields.index("trace_node_id")
    import numpy as np

    rows = np.array(doc["nodes"], dtype=np.int64).reshape(-1, width)
    traced = rows[rows[:, trace_i] > 0]
    by_stack = np.bincount(traced[:, trace_i], weights=traced[:, size_i])

    whole = load_profile(timeline_files.timeline)
    monkeypatch.setattr(timeline_mod, "_CHUNK", 65521)  # a prime: rows straddle chunk ends everywhere
    chunked = load_profile(timeline_files.timeline)
    assert whole.node_count == chunked.node_count == len(rows)
    assert (whole.tree.values == chunked.tree.values).all()
    assert whole.tree.totals()[2] == traced[:, size_i].sum() and whole.tree.totals()[3] == len(traced)
    assert by_stack.max() == whole.tree.values[:, 2].max()
