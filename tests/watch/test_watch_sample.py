"""One watch sample against real Node processes: the figures are right, and nothing stays in the target."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from nodeproc import APPS, wait_output  # type: ignore[attr-defined]

import cdpclient
from cdpclient.watch import SAMPLE_KEYS, Sampler, sampling

MB = 1024 * 1024


def _open_fds(node: object, want: int) -> None:
    wait_output(node, f"open {want}")  # type: ignore[arg-type]


async def test_sample_has_every_figure_and_the_right_values(node_app) -> None:  # type: ignore[no-untyped-def]
    base = node_app("leak_fds.js", "0", "0")
    many = node_app("leak_fds.js", "0", "40")
    _open_fds(many, 40)
    counts = []
    for proc in (base, many):
        async with cdpclient.connect(proc.endpoint) as target, sampling(target) as sampler:
            sample = await sampler.sample()
            assert set(sample) == {"ts", *SAMPLE_KEYS}
            counts.append(sample["fds"])
            assert sampler.pid == proc.pid
            truth = await target.evaluate("process.memoryUsage()")
            heap = await target.evaluate("require('v8').getHeapStatistics()")
            assert sample["heap_limit"] == heap["heap_size_limit"]
            assert abs(sample["rss"] - truth["rss"]) < 16 * MB
            assert 0 < sample["heap_used"] <= sample["heap_total"] < sample["heap_limit"]
            limits = Path(f"/proc/{proc.pid}/limits").read_text()
            soft = next(line.split()[3] for line in limits.splitlines() if line.startswith("Max open files"))
            assert sample["fd_limit"] == (None if soft == "unlimited" else int(soft))
            assert sample["handles"] is not None and sample["handles"] >= 1  # the app's setInterval
            assert sample["cost_ms"] > 0
            # The process's own view of its descriptors, less the one readdir holds.
            assert abs(sample["fds"] - len(list(Path(f"/proc/{proc.pid}/fd").iterdir()))) <= 1
    assert counts[1] - counts[0] == 40


async def test_loop_delay_is_p99_since_the_previous_sample(node_app) -> None:  # type: ignore[no-untyped-def]
    proc = node_app("idle.js")
    async with cdpclient.connect(proc.endpoint) as target, sampling(target) as sampler:
        await asyncio.sleep(0.3)
        quiet = await sampler.sample()
        # Block the loop for 300 ms (a timer, so it runs outside our evaluate).
        await target.evaluate("setTimeout(() => { const t = Date.now(); while (Date.now() - t < 300); }, 10), 0")
        await asyncio.sleep(0.6)
        busy = await sampler.sample()
        await asyncio.sleep(0.3)
        after = await sampler.sample()
    assert quiet["loop_delay_ms"] is not None and quiet["loop_delay_ms"] < 100
    assert busy["loop_delay_ms"] >= 250
    assert after["loop_delay_ms"] < 100  # reset at each sample


async def test_external_buffers_show_in_external_not_heap(node_app) -> None:  # type: ignore[no-untyped-def]
    proc = node_app("leak_external.js", str(20 * MB), "100")
    async with cdpclient.connect(proc.endpoint) as target, sampling(target) as sampler:
        first = await sampler.sample()
        await asyncio.sleep(1.5)
        second = await sampler.sample()
    assert second["external"] - first["external"] > 15 * MB
    assert second["array_buffers"] - first["array_buffers"] > 15 * MB
    assert second["heap_used"] - first["heap_used"] < 10 * MB


async def test_memory_limit_is_the_tightest_known(node_app) -> None:  # type: ignore[no-untyped-def]
    proc = node_app("idle.js", node_args=("--require", str(APPS / "fake_memory_limit.js")),
                    env={"CDPCLIENT_FAKE_MEMORY_LIMIT": str(300 * MB)})
    wait_output(proc, "ready")  # the inspector listens before the preload has run
    async with cdpclient.connect(proc.endpoint) as target, sampling(target) as sampler:
        sample = await sampler.sample()
    assert sample["memory_limit"] is not None and sample["memory_limit"] <= 300 * MB


async def _present(endpoint: str, key: str) -> bool:
    async with cdpclient.connect(endpoint) as target:
        return bool(await target.evaluate(f"Symbol.for({json.dumps('cdpclient.watch.' + key)}) in globalThis"))


async def test_histogram_is_removed_after_the_watch(node) -> None:  # type: ignore[no-untyped-def]
    async with cdpclient.connect(node.endpoint) as target:
        async with sampling(target) as sampler:
            await sampler.sample()
            assert await sampler.present()
        assert not await sampler.present()
    assert not await _present(node.endpoint, sampler.key)


async def test_histogram_is_removed_after_an_error(node) -> None:  # type: ignore[no-untyped-def]
    async with cdpclient.connect(node.endpoint) as target:
        with pytest.raises(RuntimeError):
            async with sampling(target) as sampler:
                await sampler.sample()
                raise RuntimeError("boom")
        assert not await sampler.present()


async def test_histogram_is_removed_after_cancellation(node) -> None:  # type: ignore[no-untyped-def]
    keys: list[str] = []

    async def watch_forever() -> None:
        async with cdpclient.connect(node.endpoint) as target, sampling(target) as sampler:
            keys.append(sampler.key)
            while True:
                await sampler.sample()
                await asyncio.sleep(0.05)

    task = asyncio.create_task(watch_forever())
    while not keys:
        await asyncio.sleep(0.05)
    assert await _present(node.endpoint, keys[0])
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not await _present(node.endpoint, keys[0])


async def test_orphaned_state_removes_itself(node) -> None:  # type: ignore[no-untyped-def]
    """A watcher killed without cleaning up: the target drops the histogram after orphan_after."""
    async with cdpclient.connect(node.endpoint) as target:
        sampler = Sampler(target, orphan_after=0.5)
        await sampler.sample()
        assert await sampler.present()
        await asyncio.sleep(1.0)
        assert not await sampler.present()
        again = await sampler.sample()  # installs afresh
        assert again["heap_used"] > 0
        await sampler.remove()


async def test_a_sample_costs_little(node) -> None:  # type: ignore[no-untyped-def]
    async with cdpclient.connect(node.endpoint) as target, sampling(target) as sampler:
        costs = [(await sampler.sample())["cost_ms"] for _ in range(20)]
    assert sorted(costs)[10] < 20  # median round trip on loopback
