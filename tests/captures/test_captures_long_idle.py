"""A long capture over a silent session: no websocket traffic for the whole run must not lose it.

(The Node inspector answers no pings, so nothing may rely on keep-alives.)  Kept
within the test budget: 40 s, a CPU profile and a sampling heap profile at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import cdpclient

from .conftest import load_json

IDLE_S = 40.0


@pytest.mark.slow
async def test_long_idle_cpu_and_sampling_profiles(node, tmp_path: Path) -> None:
    # Beside the captures, a session that sends nothing for as long: it survives without websocket
    # pings (the inspector never answers them; see test_inspector_drops_sessions_that_ping). One wait
    # for both, so the suite sleeps 40 s once instead of 40 s and 60 s.
    async with cdpclient.connect(node.endpoint) as idle, cdpclient.connect(node.endpoint) as target:
        cpu, heap = await asyncio.gather(
            target.cpu_profile(tmp_path / "a.cpuprofile", duration=IDLE_S, interval=0.01),
            target.sampling_heap_profile(tmp_path / "a.heapprofile", duration=IDLE_S))
        assert await idle.evaluate("'still here'") == "still here"
    assert cpu.meta["profiled_s"] >= IDLE_S and not cpu.meta["stopped_early"]
    profile = load_json(cpu.path)
    assert (profile["endTime"] - profile["startTime"]) / 1e6 >= IDLE_S - 1
    assert load_json(heap.path)["head"] is not None
