"""Heap snapshots against real Node: streamed, complete or absent, 0600, ids and series."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest
from nodeproc import run_cli, wait_output  # type: ignore[attr-defined]

import cdpclient
from cdpclient.captures.result import Progress

from .conftest import leftovers, load_json


@pytest.mark.compat
async def test_snapshot_is_complete_private_and_described(node, tmp_path: Path) -> None:
    reports: list[Progress] = []
    async with cdpclient.connect(node.endpoint) as target:
        result = await target.heap_snapshot(tmp_path / "a.heapsnapshot", gc=True, progress=reports.append)
        session = target.session_id
    data = load_json(result.path)
    assert stat.S_IMODE(os.stat(result.path).st_mode) == 0o600
    assert leftovers(tmp_path) == ["a.heapsnapshot"]
    assert result.size == os.path.getsize(result.path)
    fields = len(data["snapshot"]["meta"]["node_fields"])
    assert data["snapshot"]["node_count"] == len(data["nodes"]) // fields == result.meta["node_count"]
    assert (result.kind, result.session, result.pid) == ("heapsnapshot", session, node.pid)
    assert result.node_version.startswith("v")
    heap = [r for r in reports if r.phase == "heap"]
    writes = [r for r in reports if r.phase == "write"]
    assert heap and heap[-1].done == heap[-1].total
    assert writes and writes[-1].done == result.size
    assert reports.index(heap[-1]) < reports.index(writes[0])  # V8 walks the heap, then streams


async def test_target_dying_mid_snapshot_leaves_no_file(node_app, tmp_path: Path) -> None:
    app = node_app("heap_of_size.js", "10")
    wait_output(app, "ready")
    async with cdpclient.connect(app.endpoint) as target:
        def kill_on_first_chunk(report: Progress) -> None:
            if report.phase == "write":
                app.kill()

        with pytest.raises(cdpclient.ConnectionLost):
            await target.heap_snapshot(tmp_path / "a.heapsnapshot", progress=kill_on_first_chunk)
    assert leftovers(tmp_path) == []


async def test_cancelled_snapshot_leaves_no_file_and_the_session_stays_usable(node_app, tmp_path: Path) -> None:
    app = node_app("heap_of_size.js", "10")
    wait_output(app, "ready")
    async with cdpclient.connect(app.endpoint) as target:
        started = asyncio.Event()
        task = asyncio.create_task(target.heap_snapshot(
            tmp_path / "a.heapsnapshot", progress=lambda r: started.set() if r.phase == "write" else None))
        await asyncio.wait_for(started.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert leftovers(tmp_path) == []
        # V8 still streams the abandoned snapshot; the next one must not pick up its chunks
        result = await target.heap_snapshot(tmp_path / "b.heapsnapshot")
    assert load_json(result.path)["snapshot"]["node_count"] == result.meta["node_count"]
    assert leftovers(tmp_path) == ["b.heapsnapshot"]


async def test_disk_full_fails_cleanly(node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cdpclient.captures import _output

    real_write = _output.StreamFile.write

    def write_until_full(self: _output.StreamFile, data: str | bytes) -> None:
        if self.written > 200_000:
            raise cdpclient.CaptureError(f"cannot write {self.path}: No space left on device")
        real_write(self, data)

    monkeypatch.setattr(_output.StreamFile, "write", write_until_full)
    async with cdpclient.connect(node.endpoint) as target:
        with pytest.raises(cdpclient.CaptureError, match="No space left"):
            await target.heap_snapshot(tmp_path / "a.heapsnapshot")
        assert await target.evaluate("1 + 1") == 2
    assert leftovers(tmp_path) == []


async def _object_id(target: cdpclient.Target) -> int:
    obj = await target.send("Runtime.evaluate", {"expression": "globalThis.state"})
    reply = await target.send("HeapProfiler.getHeapObjectId", {"objectId": obj["result"]["objectId"]})
    return int(reply["heapSnapshotObjectId"])


async def _snapshot_and_id(target: cdpclient.Target) -> int:
    """Take a snapshot and return the id it gave ``globalThis.state``.

    Retried when the id is already gone: on a shared machine another client may
    attach to any inspector it finds and leave again, which clears the ids.
    """
    for _ in range(3):
        await target.send("HeapProfiler.takeHeapSnapshot", {"reportProgress": False}, timeout=60)
        assigned = await _object_id(target)
        if assigned:
            return assigned
    return 0


async def _node_major(target: cdpclient.Target) -> int:
    return int(str(await target.evaluate("process.versions.node")).split(".")[0])


async def _client_comes_and_goes(endpoint: str, *, uses_heap_profiler: bool) -> None:
    async with cdpclient.connect(endpoint) as other:
        if uses_heap_profiler:
            await _object_id(other)
    await asyncio.sleep(0.3)  # the target tears the session down after our close returns


@pytest.mark.compat
async def test_v8_forgets_object_ids_when_a_session_closes(node) -> None:
    """The fact behind series: V8's object ids do not outlive the inspector session that used them.

    Node 20 clears them whenever any session closes; Node 22 only when a session
    that used the HeapProfiler closes.  Either way, ours are gone.
    """
    wait_output(node, "ready")  # globalThis.state exists
    async with cdpclient.connect(node.endpoint) as first:
        assigned = await _snapshot_and_id(first)
        assert assigned > 0
        assert await _object_id(first) == assigned  # stable within the session
    await asyncio.sleep(0.3)
    async with cdpclient.connect(node.endpoint) as second:
        assert await _object_id(second) == 0  # the map was cleared when the first session closed
        assert await _snapshot_and_id(second) > 0
        await _client_comes_and_goes(node.endpoint, uses_heap_profiler=True)
        assert await _object_id(second) == 0  # another client's session reset ours too
        kept = await _snapshot_and_id(second)
        await _client_comes_and_goes(node.endpoint, uses_heap_profiler=False)
        expected = 0 if await _node_major(second) <= 20 else kept
        assert await _object_id(second) == expected


@pytest.mark.compat
async def test_series_in_one_session_records_comparable_ids(node, tmp_path: Path) -> None:
    wait_output(node, "ready")
    async with cdpclient.connect(node.endpoint) as target:
        results = await target.heap_snapshot_series(str(tmp_path / "s{index}.heapsnapshot"), count=2, every=0.2,
                                                    gc=True)
        await _client_comes_and_goes(node.endpoint, uses_heap_profiler=True)  # resets V8's ids under us
        after = await target.heap_snapshot(tmp_path / "after.heapsnapshot")
    first, second = results
    assert first.series == second.series and first.series
    assert [r.series_index for r in results] == [0, 1]
    assert first.session == second.session == target.session_id
    assert not second.meta["ids_reset_before"]
    assert after.meta["ids_reset_before"] and after.session == f"{target.session_id}.1"


def test_cli_series_json(node, tmp_path: Path) -> None:
    out = tmp_path / "snap.heapsnapshot"
    proc = run_cli("snapshot", node.endpoint, "--count", "2", "--every", "300ms", "--gc", "--out", str(out),
                   "--label", "incident=42", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [Path(r["path"]).name for r in rows] == ["snap.0.heapsnapshot", "snap.1.heapsnapshot"]
    assert rows[0]["series"] == rows[1]["series"] and rows[0]["session"] == rows[1]["session"]
    assert [r["series_index"] for r in rows] == [0, 1]
    assert all(r["meta"]["node_count"] > 0 for r in rows)
    assert sorted(leftovers(tmp_path)) == ["snap.0.heapsnapshot", "snap.1.heapsnapshot"]


def test_cli_snapshot_into_store_compressed(node, tmp_path: Path) -> None:
    store = tmp_path / "store"
    proc = run_cli("snapshot", node.endpoint, "--store", str(store), "--compress", "--label", "env=test")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("saved heapsnapshot ")
    from cdpclient.store import Store

    record = Store.open(store).resolve(proc.stdout.split()[2])
    assert record.kind == "heapsnapshot" and record.labels == {"env": "test"}
    assert record.session and record.pid == node.pid and record.target["endpoint"] == node.endpoint
    assert load_json(Store.open(store).materialize(record))["snapshot"]["node_count"] > 0


def test_cli_series_needs_every(node) -> None:
    proc = run_cli("snapshot", node.endpoint, "--count", "3")
    assert proc.returncode == 2
    assert "--every" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
