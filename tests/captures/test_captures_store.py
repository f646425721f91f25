"""Captures straight into the store: what the CLI does without ``--out``, as a runbook writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nodeproc import APPS, run_cli, wait_output

import cdpclient
from cdpclient.store import Store

from .conftest import load_json


async def test_a_runbook_snapshots_into_the_store_in_a_few_lines(node, tmp_path: Path) -> None:
    store = Store.open(tmp_path / "recordings")
    async with cdpclient.connect(node.endpoint) as target:
        record = await cdpclient.capture_to_store(target, store, "heapsnapshot", gc=True, labels={"incident": "7"})
    assert store.get(record.id).path == record.path
    assert record.kind == "heapsnapshot" and record.labels == {"incident": "7"}
    assert record.options == {"gc": True, "force": False}
    assert record.pid == node.pid and record.target["endpoint"] == node.endpoint
    assert record.session == target.session_id and record.series is None
    assert record.meta["node_count"] == load_json(record.path)["snapshot"]["node_count"] > 0
    assert record.path.stat().st_mode & 0o777 == 0o600


async def test_every_kind_goes_into_the_store(node, tmp_path: Path) -> None:
    store = Store.open(tmp_path / "recordings")
    async with cdpclient.connect(node.endpoint) as target:
        cpu = await cdpclient.capture_to_store(target, store, "cpuprofile", duration=0.3, compress=True)
        sample = await cdpclient.capture_to_store(target, store, "heapprofile", duration=0.3, interval=1024)
        timeline = await cdpclient.capture_to_store(target, store, "heaptimeline", duration=0.3)
        report = await cdpclient.capture_to_store(target, store, "report")
    assert cpu.compressed and cpu.options["duration_s"] == 0.3
    assert load_json(store.materialize(cpu))["samples"]
    assert sample.options["interval_bytes"] == 1024 and sample.meta["samples"] >= 0
    events = Store.events_file(timeline)
    assert events is not None and "events" in load_json(events)
    assert report.meta["summary"]["pid"] == node.pid
    assert {r.id for r in store.list()} == {cpu.id, sample.id, timeline.id, report.id}


async def test_a_series_into_the_store_is_the_library_series(node, tmp_path: Path) -> None:
    store = Store.open(tmp_path / "recordings")
    seen: list[str] = []
    async with cdpclient.connect(node.endpoint) as target:
        records = await cdpclient.heap_snapshot_series_to_store(
            target, store, count=2, every=0.2, labels={"run": "a"}, on_capture=lambda r: seen.append(r.id))
    assert [r.id for r in records] == seen and len(seen) == 2
    assert records[0].series == records[1].series and records[0].series is not None
    assert [r.series_index for r in records] == [0, 1]
    assert records[0].session == records[1].session
    assert all(r.options == {"gc": False, "force": False, "count": 2, "every_s": 0.2} for r in records)


async def test_unknown_kind_and_refused_snapshot_store_nothing(node_app, tmp_path: Path) -> None:
    app = node_app("idle.js", node_args=("--require", str(APPS / "fake_memory_limit.js")),
                   env={"CDPCLIENT_FAKE_MEMORY_LIMIT": str(60 * 1024 * 1024)})
    wait_output(app, "ready")  # the inspector listens before the preload has run
    store = Store.open(tmp_path / "recordings")
    async with cdpclient.connect(app.endpoint) as target:
        with pytest.raises(cdpclient.UsageError, match="unknown capture kind 'core'"):
            await cdpclient.capture_to_store(target, store, "core")
        with pytest.raises(cdpclient.SnapshotRefused):
            await cdpclient.capture_to_store(target, store, "heapsnapshot")
    assert store.list() == []


def test_cli_series_into_the_store(node, tmp_path: Path) -> None:
    store = tmp_path / "recordings"
    proc = run_cli("snapshot", node.endpoint, "--count", "2", "--every", "200ms", "--store", str(store), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    records = {r.id: r for r in Store.open(store).list()}
    assert sorted(records) == sorted(row["id"] for row in rows)
    assert [row["path"] for row in rows] == [str(records[row["id"]].path) for row in rows]
    assert rows[0]["series"] == rows[1]["series"] and [row["series_index"] for row in rows] == [0, 1]
