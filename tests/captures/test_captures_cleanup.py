"""Whatever a capture starts in the target, it stops: checked through a second, independent session.

Observers (``conftest.py``): the CPU profiler's V8 thread, the per-isolate
sampling heap profiler, and the trace data that allocation tracking adds to
any session's snapshot.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from nodeproc import wait_output  # type: ignore[attr-defined]

import cdpclient
from cdpclient.captures.result import Progress

from .conftest import allocation_tracking, cpu_profiler_running, heap_sampler_running, leftovers, load_json

ROOT = Path(__file__).resolve().parents[2]


async def _when_recording(reports: asyncio.Event) -> None:
    await asyncio.wait_for(reports.wait(), 20)


async def _cut_short(capture: Any, how: str, recording: asyncio.Event) -> None:
    """End a running capture the way ``how`` says: a caller's timeout, or cancelling its task."""
    if how == "timeout":
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(capture, 1.0)
        return
    task = asyncio.create_task(capture)
    await _when_recording(recording)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def _recording_flag() -> tuple[asyncio.Event, object]:
    flag = asyncio.Event()
    return flag, lambda r: flag.set() if r.phase == "wait" else None


@pytest.mark.compat
async def test_cpu_profile_saved_and_profiler_stopped(node, tmp_path: Path) -> None:
    flag, progress = _recording_flag()
    async with cdpclient.connect(node.endpoint) as target:
        task = asyncio.create_task(target.cpu_profile(tmp_path / "a.cpuprofile", duration=1.0, interval=0.0005,
                                                      progress=progress))
        await _when_recording(flag)
        assert await cpu_profiler_running(node.endpoint)
        result = await task
        assert not await cpu_profiler_running(node.endpoint)
    profile = load_json(result.path)
    assert profile["nodes"] and profile["samples"] and profile["endTime"] > profile["startTime"]
    assert result.meta["samples"] == len(profile["samples"]) and not result.meta["stopped_early"]


@pytest.mark.compat
@pytest.mark.parametrize("how", ["cancel", "timeout", "connection-lost"])
async def test_cpu_profiler_stopped_on_every_way_out(node, tmp_path: Path, how: str) -> None:
    flag, progress = _recording_flag()
    async with cdpclient.connect(node.endpoint) as target:
        capture = target.cpu_profile(tmp_path / "a.cpuprofile", duration=30, progress=progress)
        if how == "timeout":
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(capture, 1.0)
        else:
            task = asyncio.create_task(capture)
            await _when_recording(flag)
            assert await cpu_profiler_running(node.endpoint)
            if how == "cancel":
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            else:
                await target.connection.close()
                with pytest.raises(cdpclient.ConnectionLost):
                    await task
    assert not await cpu_profiler_running(node.endpoint)
    assert leftovers(tmp_path) == []


async def test_cpu_profiler_stopped_when_the_capture_fails(node, tmp_path: Path) -> None:
    def failing_progress(report: Progress) -> None:
        if report.phase == "wait" and report.done > 0.2:
            raise RuntimeError("progress display broke")

    async with cdpclient.connect(node.endpoint) as target:
        with pytest.raises(RuntimeError, match="display broke"):
            await target.cpu_profile(tmp_path / "a.cpuprofile", duration=30, progress=failing_progress)
        assert not await cpu_profiler_running(node.endpoint)
    assert leftovers(tmp_path) == []


async def test_unwritable_destination_fails_before_profiling(node, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    async with cdpclient.connect(node.endpoint) as target:
        with pytest.raises(cdpclient.CaptureError, match="cannot write"):
            await target.cpu_profile(tmp_path / "file" / "a.cpuprofile", duration=30)
        with pytest.raises(cdpclient.CaptureError, match="cannot write"):
            await target.sampling_heap_profile(tmp_path / "file" / "a.heapprofile", duration=30)
    assert not await cpu_profiler_running(node.endpoint)
    assert not await heap_sampler_running(node.endpoint)


async def test_cpu_profile_stop_event_saves_early(node, tmp_path: Path) -> None:
    stop = asyncio.Event()
    async with cdpclient.connect(node.endpoint) as target:
        asyncio.get_running_loop().call_later(0.5, stop.set)
        started = time.monotonic()
        result = await target.cpu_profile(tmp_path / "a.cpuprofile", duration=60, stop=stop)
    assert time.monotonic() - started < 10
    assert result.meta["stopped_early"] and load_json(result.path)["samples"]


@pytest.mark.compat
async def test_sampling_profile_saved_and_sampler_stopped(node_app, tmp_path: Path) -> None:
    app = node_app("busy_allocator.js")
    flag, progress = _recording_flag()
    async with cdpclient.connect(app.endpoint) as target:
        task = asyncio.create_task(target.sampling_heap_profile(
            tmp_path / "a.heapprofile", duration=1.0, interval=4096, include_collected=True, progress=progress))
        await _when_recording(flag)
        assert await heap_sampler_running(app.endpoint)
        result = await task
    assert not await heap_sampler_running(app.endpoint)
    profile = load_json(result.path)
    assert profile["head"]["children"] and profile["samples"]
    assert result.options["include_collected"]


@pytest.mark.parametrize("how", ["cancel", "timeout"])
async def test_sampler_stopped_on_cancel_and_timeout(node, tmp_path: Path, how: str) -> None:
    flag, progress = _recording_flag()
    async with cdpclient.connect(node.endpoint) as target:
        capture = target.sampling_heap_profile(tmp_path / "a.heapprofile", duration=30, progress=progress)
        await _cut_short(capture, how, flag)
        # still in our session: the sampler is per isolate, so only our stop can have ended it
        assert not await heap_sampler_running(node.endpoint)
    assert leftovers(tmp_path) == []


async def test_sampling_refuses_to_hijack_another_sessions_sampler(node, tmp_path: Path) -> None:
    async with cdpclient.connect(node.endpoint) as other, cdpclient.connect(node.endpoint) as target:
        await other.send("HeapProfiler.startSampling")
        with pytest.raises(cdpclient.CaptureError, match="already running"):
            await target.sampling_heap_profile(tmp_path / "a.heapprofile", duration=1)
        assert await heap_sampler_running(node.endpoint)  # the other client's run goes on
        await other.send("HeapProfiler.stopSampling")
    assert leftovers(tmp_path) == []


@pytest.mark.compat
async def test_timeline_saved_with_stacks_and_events(node_app, tmp_path: Path) -> None:
    app = node_app("busy_allocator.js")
    async with cdpclient.connect(app.endpoint) as target:
        result = await target.allocation_timeline(tmp_path / "a.heaptimeline", duration=1.0,
                                                  events_path=tmp_path / "a.events.json")
    assert not await allocation_tracking(app.endpoint)
    data = load_json(result.path)
    assert data["snapshot"]["trace_function_count"] > 0 and data["trace_tree"] and data["samples"]
    events = load_json(tmp_path / "a.events.json")["events"]
    methods = {e["method"] for e in events}
    assert methods == {"HeapProfiler.heapStatsUpdate", "HeapProfiler.lastSeenObjectId"}
    assert result.meta["events"] == len(events) and result.meta["last_seen_object_id"] > 0
    assert sorted(leftovers(tmp_path)) == ["a.events.json", "a.heaptimeline"]


async def test_timeline_tracker_running_while_recording(node, tmp_path: Path) -> None:
    flag, progress = _recording_flag()
    async with cdpclient.connect(node.endpoint) as target:
        task = asyncio.create_task(target.allocation_timeline(tmp_path / "a.heaptimeline", duration=30,
                                                              progress=progress))
        await _when_recording(flag)
        # (this observer's session closing stops V8's tracker as a side effect: observe once, at the end)
        assert await allocation_tracking(node.endpoint)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("how", ["cancel", "timeout"])
async def test_timeline_tracker_stopped_on_cancel_and_timeout(node, tmp_path: Path, how: str) -> None:
    flag, progress = _recording_flag()
    async with cdpclient.connect(node.endpoint) as target:
        capture = target.allocation_timeline(tmp_path / "a.heaptimeline", duration=30,
                                             events_path=tmp_path / "a.events.json", progress=progress)
        await _cut_short(capture, how, flag)
        assert not await allocation_tracking(node.endpoint)
    assert leftovers(tmp_path) == []


def test_cli_cpu_first_ctrl_c_ends_early_and_saves(node, tmp_path: Path) -> None:
    out = tmp_path / "a.cpuprofile"
    proc = subprocess.Popen([sys.executable, "-m", "cdpclient_cli.app", "cpu", node.endpoint, "--duration", "60s",
                             "--out", str(out), "--json"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not asyncio.run(cpu_profiler_running(node.endpoint)):
            assert time.monotonic() < deadline, "the profiler never started"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    row = json.loads(stdout)
    assert row["meta"]["stopped_early"] and row["meta"]["profiled_s"] < 30
    assert load_json(out)["samples"]
    assert "stopping early" in stderr
    assert not asyncio.run(cpu_profiler_running(node.endpoint))


def test_cli_snapshot_ctrl_c_leaves_nothing(node_app, tmp_path: Path) -> None:
    app = node_app("heap_of_size.js", "10")
    wait_output(app, "ready")
    proc = subprocess.Popen([sys.executable, "-m", "cdpclient_cli.app", "snapshot", app.endpoint, "--out",
                             str(tmp_path / "a.heapsnapshot")], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not [p for p in list(tmp_path.iterdir()) if p.name.endswith(".partial")]:
            assert time.monotonic() < deadline and proc.poll() is None, "the snapshot never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert stderr.strip().splitlines()[-1] == "cdpclient: error: interrupted"
    assert leftovers(tmp_path) == []
