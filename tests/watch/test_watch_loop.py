"""The watch loop against real Node processes that leak at a known rate (heap, external Buffers, fds):
fires at the threshold and not before, re-arms only after the figure falls back, follows a restart on the
same endpoint, gives up on a target that stays gone, and falls back when the memory guard refuses."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from pathlib import Path
from typing import Any

from nodeproc import APPS, start_node, wait_listening, wait_output  # type: ignore[attr-defined]

import cdpclient
from cdpclient.store import Store
from cdpclient.watch import WatchPlan, endpoint_source, parse_actions, parse_conditions, read_recording, watch

MiB = 1 << 20


def plan(when: list[str], then: list[str] | None = None, **kw: Any) -> WatchPlan:
    kw.setdefault("every", 0.2)
    kw.setdefault("duration", 40.0)
    kw.setdefault("compress", False)
    return WatchPlan(conditions=tuple(parse_conditions(when)), actions=tuple(parse_actions(then or ["report"])),
                     **kw)


async def leftovers(endpoint: str) -> list[str]:
    """The watch's own symbols still on the target's globalThis."""
    async with cdpclient.connect(endpoint) as other:
        return list(await other.evaluate(
            "Object.getOwnPropertySymbols(globalThis).map(String).filter(s => s.includes('cdpclient.watch'))"))


def records(store: Store, rid: str) -> Any:
    return read_recording(store.materialize(store.resolve(rid)))


async def test_heap_leak_fires_at_the_threshold_and_not_before(node_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = node_app("leak_heap.js", str(16 * MiB), "100")
    wait_output(proc, "ready")
    with Store.open(tmp_path / "store") as store:
        result = await watch(endpoint_source(proc.endpoint), store, plan(["heap>48MiB"]))
        assert result.reason == "fired"
        rec = records(store, result.recording.id)
    assert len(rec.firings) == 1
    firing = rec.firings[0]
    assert firing["condition"] == "heap>48MiB" and firing["threshold"] == 48 * MiB
    before = [s for s in rec.samples if s["ts"] < firing["ts"]]
    at = next(s for s in rec.samples if s["ts"] == firing["ts"])
    assert before and all(s["heap_used"] <= 48 * MiB for s in before)  # not before
    assert at["heap_used"] > 48 * MiB and firing["value"] == at["heap_used"]  # at the first sample past it
    # The leak's truth: 16 MiB/s, so the crossing is a few seconds in (not an artefact of the first sample).
    assert 1.0 < firing["ts"] - rec.samples[0]["ts"] < 15.0
    assert [c["kind"] for c in rec.captures] == ["report"]
    assert rec.end is not None and rec.end["reason"] == "fired"
    assert await leftovers(proc.endpoint) == []


async def test_external_leak_fires_on_external_while_the_heap_stays_small(node_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = node_app("leak_external.js", str(32 * MiB), "100")
    wait_output(proc, "ready")
    with Store.open(tmp_path / "store") as store:
        result = await watch(endpoint_source(proc.endpoint), store, plan(["heap>100MiB", "external>96MiB"]))
        rec = records(store, result.recording.id)
    assert [f["condition"] for f in rec.firings] == ["external>96MiB"]
    at = next(s for s in rec.samples if s["ts"] == rec.firings[0]["ts"])
    assert at["external"] > 96 * MiB and at["heap_used"] < 64 * MiB
    assert all(s["external"] <= 96 * MiB for s in rec.samples if s["ts"] < rec.firings[0]["ts"])


async def test_fd_leak_fires_on_the_descriptor_count(node_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = node_app("leak_fds.js", "20", "0")
    wait_output(proc, "ready")
    with Store.open(tmp_path / "store") as store:
        result = await watch(endpoint_source(proc.endpoint), store, plan(["fds>60"]))
        rec = records(store, result.recording.id)
    firing = rec.firings[0]
    assert firing["value"] > 60
    assert all(s["fds"] <= 60 for s in rec.samples if s["ts"] < firing["ts"])


async def test_rearms_only_after_the_figure_falls_back(node_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = node_app("leak_heap.js", str(16 * MiB), "100")
    wait_output(proc, "ready")
    threshold = 40 * MiB
    stop = asyncio.Event()
    seen: list[dict[str, Any]] = []
    state = {"freed_at": None}

    async def free_later() -> None:
        # After the first firing the heap stays above the threshold for 2 s: no second firing then.
        while not any(r["t"] == "firing" for r in seen):
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)
        assert sum(r["t"] == "firing" for r in seen) == 1
        proc.proc.send_signal(signal.SIGUSR2)  # the app drops what it leaked
        async with cdpclient.connect(proc.endpoint) as other:
            await asyncio.sleep(0.3)
            await other.send("HeapProfiler.collectGarbage")
        state["freed_at"] = len(seen)

    with Store.open(tmp_path / "store") as store:
        helper = asyncio.ensure_future(free_later())
        result = await watch(endpoint_source(proc.endpoint), store,
                             plan(["heap>40MiB"], cooldown=0.0, max_firings=2), on_record=seen.append, stop=stop)
        await helper
        rec = records(store, result.recording.id)
    assert result.reason == "fired" and len(rec.firings) == 2
    first, second = rec.firings
    between = [s["heap_used"] for s in rec.samples if first["ts"] < s["ts"] < second["ts"]]
    assert min(between) < threshold * 0.95  # it fell back below the threshold by the margin before re-arming
    assert second["value"] > threshold


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_on(port: int) -> Any:
    proc = start_node(APPS / "idle.js", inspect=False, node_args=(f"--inspect=127.0.0.1:{port}",))
    wait_listening(proc)
    return proc


async def test_a_restarted_target_is_reconnected_and_noted(tmp_path: Path) -> None:
    port = _free_port()
    procs = [_start_on(port)]
    seen: list[dict[str, Any]] = []
    try:
        async def restart() -> None:
            while sum(r["t"] == "sample" for r in seen) < 5:
                await asyncio.sleep(0.05)
            procs[0].kill()
            await asyncio.sleep(1.5)
            procs.append(_start_on(port))
            while not sum(r["t"] == "connected" for r in seen) >= 2:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            stop.set()

        stop = asyncio.Event()
        with Store.open(tmp_path / "store") as store:
            helper = asyncio.ensure_future(restart())
            result = await watch(endpoint_source(f"127.0.0.1:{port}"), store, plan([], every=0.2), stop=stop,
                                 on_record=seen.append)
            await helper
            rec = records(store, result.recording.id)
        assert result.reason == "stopped" and result.reconnects >= 1
        connected = [e for e in rec.events if e["t"] == "connected"]
        assert [c["pid"] for c in connected] == [procs[0].pid, procs[1].pid]
        assert [c["restarted"] for c in connected] == [False, True]
        assert any(e["t"] == "reconnect" for e in rec.events)
        after = [s for s in rec.samples if s["ts"] > connected[1]["ts"]]
        assert len(after) >= 3  # sampling went on in the new process
        assert await leftovers(f"127.0.0.1:{port}") == []
    finally:
        for p in procs:
            p.kill()


async def test_a_target_that_stays_gone_ends_the_watch_as_lost(node_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = node_app("idle.js")
    seen: list[dict[str, Any]] = []

    async def kill() -> None:
        while sum(r["t"] == "sample" for r in seen) < 3:
            await asyncio.sleep(0.05)
        proc.kill()

    with Store.open(tmp_path / "store") as store:
        helper = asyncio.ensure_future(kill())
        result = await watch(endpoint_source(proc.endpoint), store, plan([], give_up_after=2.0, backoff_max=0.5),
                             on_record=seen.append)
        await helper
        rec = records(store, result.recording.id)
    assert result.reason == "lost"
    assert rec.end is not None and rec.end["reason"] == "lost"
    assert any(e["t"] == "gone" for e in rec.events) and any(e["t"] == "reconnect" for e in rec.events)


async def test_a_refused_snapshot_is_replaced_by_a_sampling_profile_and_a_report(node_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = node_app("idle.js", node_args=("--require", str(APPS / "fake_memory_limit.js")),
                    env={"CDPCLIENT_FAKE_MEMORY_LIMIT": str(100 * MiB)})
    wait_output(proc, "ready")
    stop = asyncio.Event()

    def on_record(record: dict[str, Any]) -> None:
        if record["t"] == "firing":
            stop.set()  # ends the fallback's sampling profile early (it is still saved), then the report

    with Store.open(tmp_path / "store") as store:
        result = await watch(endpoint_source(proc.endpoint), store, plan(["heap>1MiB"], ["snapshot --gc"]),
                             on_record=on_record, stop=stop)
        rec = records(store, result.recording.id)
        kinds = sorted(r.kind for r in store.list())
    (firing,) = rec.firings
    assert firing["skipped"] and "refusing the heap snapshot" in firing["skipped"]
    assert sorted(c["kind"] for c in rec.captures) == ["heapprofile", "report"]
    assert "heapsnapshot" not in kinds
    for capture in result.captures:
        assert capture.labels["watch"] == result.recording.id and capture.labels["condition"] == "heap>1MiB"


async def test_without_conditions_it_only_records_until_the_duration(node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with Store.open(tmp_path / "store") as store:
        result = await watch(endpoint_source(node.endpoint), store, plan([], duration=1.5, every=0.25))
        rec = records(store, result.recording.id)
        listed = [r for r in store.list() if r.kind == "watch"]
    assert result.reason == "done" and 4 <= len(rec.samples) <= 8
    assert rec.firings == [] and rec.captures == []
    assert [r.id for r in listed] == [result.recording.id]
    assert json.loads(json.dumps(result.to_dict()))["reason"] == "done"


async def test_a_snapshot_on_firing_is_taken_and_sampling_goes_on_after_it(node_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = node_app("heap_of_size.js", "40")
    wait_output(proc, "ready")
    seen: list[dict[str, Any]] = []
    stop = asyncio.Event()

    def on_record(record: dict[str, Any]) -> None:
        seen.append(record)
        if record["t"] == "capture":
            asyncio.get_running_loop().call_later(1.0, stop.set)

    with Store.open(tmp_path / "store") as store:
        result = await watch(endpoint_source(proc.endpoint), store,
                             plan(["heap>20MiB"], ["snapshot"], max_firings=None), on_record=on_record, stop=stop)
        rec = records(store, result.recording.id)
        (snap,) = store.list(kind="heapsnapshot")
        assert snap.pid == proc.pid
    (firing,) = rec.firings
    assert firing["skipped"] is None
    assert [c["id"] for c in rec.captures] == [snap.id]
    assert snap.labels == {"watch": result.recording.id, "condition": "heap>20MiB"}
    after = [s for s in rec.samples if s["ts"] > rec.captures[0]["ts"]]
    assert len(after) >= 2  # the watch kept sampling after the snapshot
    assert await leftovers(proc.endpoint) == []
