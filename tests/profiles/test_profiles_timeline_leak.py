"""Allocation timelines of services that know what they leaked during the recording.

V8 leaves ``trace_node_id`` 0 on many objects that survive a recording, so counting only
the objects with an allocation stack misses most of a leak. The timeline places every
survivor by its object id; these tests check its numbers against the truth.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
from nodeproc import run_cli, start_node, wait_output  # type: ignore[attr-defined]

import cdpclient
from cdpclient.captures.timeline import take_allocation_timeline
from cdpclient.profiles import load_profile, top

LEAKED = 3000  # objects the app leaks once the recording runs, 100 every 20 ms
HELD_BEFORE = 300  # objects of the same shape it holds before: not allocated during the recording


@dataclass
class Recording:
    path: Path
    leaked: int  # what the app says it leaked during the recording


async def _record(endpoint: str, pid: int, out: Path) -> None:
    async with cdpclient.connect(endpoint) as target:
        started: list[bool] = []

        def progress(_p: object) -> None:
            if not started:  # tracking runs: now the app leaks
                started.append(True)
                os.kill(pid, signal.SIGUSR2)

        await take_allocation_timeline(target, out, duration=5, progress=progress,
                                       events_path=Path(f"{out}.events.json"))


def _recording(shape: str, out: Path) -> Recording:
    node = start_node("timeline_leak.js", shape, str(LEAKED), "100")
    try:
        wait_output(node, "ready")
        path = out / f"{shape}.heaptimeline"
        asyncio.run(_record(node.endpoint, node.pid, path))
        # The app finished leaking (0.6 s at its rate) well inside the 5 s recording.
        line = next(line for line in node.output if line.startswith("leaked "))
        return Recording(path, int(line.split()[1]))
    finally:
        node.stop()


@pytest.fixture(scope="module")
def leak_recordings(tmp_path_factory) -> dict[str, Recording]:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("timeline-leak")
    return {shape: _recording(shape, out) for shape in ("records", "closures")}


def _check_consistent(profile) -> None:  # type: ignore[no-untyped-def]
    alive = profile.survivors
    # The growth view counts every survivor once, with and without a stack.
    assert sum(p.count for p in profile.live_by_interval) == alive.count
    assert sum(p.traced_count for p in profile.live_by_interval) == alive.traced_count
    assert sum(p.bytes for p in profile.live_by_interval) == pytest.approx(alive.bytes)
    # The per-stack rows hold exactly the survivors with a stack.
    assert profile.tree.totals()[3] == alive.traced_count
    assert alive.placed_by_id and alive.count >= alive.traced_count


@pytest.mark.compat
@pytest.mark.parametrize(("shape", "class_name"), [("records", "LeakRecord"), ("closures", "(closure)")])
def test_timeline_counts_what_was_leaked_during_the_recording(leak_recordings, shape: str,  # type: ignore[no-untyped-def]
                                                              class_name: str) -> None:
    rec = leak_recordings[shape]
    assert rec.leaked == LEAKED
    profile = load_profile(rec.path, events_path=Path(f"{rec.path}.events.json"))
    _check_consistent(profile)
    by_class = {c.name: c for c in profile.survivors_by_class}
    leaked = by_class[class_name]
    # All of the leak, and nothing of what the app held before the recording began.
    assert 0.9 * LEAKED <= leaked.count <= LEAKED + 20, profile.survivors_by_class
    # Without the objects V8 kept no stack for, the leak would look smaller than it is.
    assert profile.survivors.count >= leaked.count
    result = top(profile, limit=5).to_dict()
    assert result["header"]["survivors"]["count"] == profile.survivors.count
    assert result["header"]["survivors"]["untraced_count"] == profile.survivors.untraced_count
    assert sum(p["count"] for p in result["live_by_interval"]) == profile.survivors.count


def test_timeline_views_show_the_objects_without_a_stack(leak_recordings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rec = leak_recordings["records"]
    store = ["--store", str(tmp_path / "store")]
    done = run_cli("top", str(rec.path), "--json", *store)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    alive = data["header"]["survivors"]
    assert alive["count"] == alive["traced_count"] + alive["untraced_count"]
    assert sum(p["count"] for p in data["live_by_interval"]) == alive["count"]
    assert sum(p["traced_count"] for p in data["live_by_interval"]) == alive["traced_count"]
    record = next(c for c in data["survivors_by_class"] if c["name"] == "LeakRecord")
    assert 0.9 * LEAKED <= record["count"] <= LEAKED + 20

    done = run_cli("top", str(rec.path), "--limit", "3", *store)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"Alive at the end, allocated during the recording: {alive['count']:,} objects" in out.splitlines()[1]
    if alive["untraced_count"]:
        assert f"(no allocation stack): {alive['untraced_count']:,} objects" in out
    assert "by class (allocated during the recording)" in out and "LeakRecord" in out
    growth = out.split("by when it was allocated:")[1].split("Tracked heap")[0].splitlines()
    assert growth[1].split() == ["until", "s", "alive", "objects", "with", "stack", "without"]
    assert len(growth) <= 2 + 1 + 21 + 2  # title, header, rule, at most 20 merged intervals and "end"
