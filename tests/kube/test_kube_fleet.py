"""Fleet runs: a selector over three pods, one of them failing, through the real kubectl."""

from __future__ import annotations

import asyncio
import json

from cdpclient.kube import for_each_pod, resolve_pods
from cdpclient.store import Store
from cdpclient_cli import common, fleet


async def test_resolve_pods_by_selector(add_pod, kube_args):
    for name in ("web-a", "web-b"):
        add_pod(name, labels={"app": "web", "tier": "front"})
    add_pod("db-a", labels={"app": "db"})
    pods = await resolve_pods("app=web", **kube_args)
    assert [p.name for p in pods] == ["web-a", "web-b"]
    assert all(p.namespace == "prod" and p.phase == "Running" for p in pods)
    assert [p.name for p in await resolve_pods("app in (web,db),tier!=front", **kube_args)] == ["db-a"]


async def test_for_each_pod_bounds_concurrency_and_keeps_failures():
    running, peak = 0, 0

    async def fn(name: str) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        if name == "b":
            raise ValueError("boom")
        return name.upper()

    results = await for_each_pod(["a", "b", "c", "d", "e"], fn, parallel=2)
    assert peak == 2
    assert [(r.pod, r.ok, r.value) for r in results] == [("a", True, "A"), ("b", False, None), ("c", True, "C"),
                                                         ("d", True, "D"), ("e", True, "E")]
    assert str(results[1].error) == "boom"


def test_fleet_snapshot_three_pods_one_failing(add_pod, cluster, kube_args, tmp_path, capsys):
    """Three pods match; RBAC forbids exec in one.  Two store entries, a summary, exit code 1."""
    pods = {name: add_pod(name, labels={"app": "api"}, forbidden={"exec"} if name == "api-2" else set())
            for name in ("api-1", "api-2", "api-3")}
    store = Store.open(tmp_path / "recordings")

    async def capture_one(spec: common.TargetSpec):
        async with common.open_target(spec) as target:
            with store.new_capture("heapsnapshot", target=target.identity) as pending:
                await target.heap_snapshot(pending.path)
            return pending.record

    spec = common.TargetSpec(selector="app=api", kubeconfig=str(cluster.kubeconfig), kubectl=kube_args["kubectl"], parallel=2)
    code = fleet.run(spec, capture_one, as_json=True)
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert code == 1
    assert [(r["pod"], r["ok"]) for r in rows] == [("api-1", True), ("api-2", False), ("api-3", True)]
    assert "RBAC forbids exec on pod api-2" in rows[1]["error"]
    assert all(r["id"] and r["size"] > 100_000 for r in rows if r["ok"])
    for row in rows:
        if row["ok"]:
            record = store.resolve(row["id"])
            assert record.target["pod"] == row["pod"] and record.target["pod_uid"] == pods[row["pod"]].uid
            assert record.target["namespace"] == "prod" and record.target["context"] == "fake-ctx"
    assert "[api-2] failed: RBAC forbids exec" in out.err
    assert not any(p.listening(9229) for p in pods.values())  # every inspector opened was closed


def test_fleet_table_and_success_exit_code(add_pod, cluster, kube_args, capsys):
    add_pod("solo-1", labels={"app": "solo"})

    async def capture_one(spec: common.TargetSpec):
        async with common.open_target(spec) as target:
            return {"pid": await target.evaluate("process.pid")}

    spec = common.TargetSpec(selector="app=solo", kubeconfig=str(cluster.kubeconfig), kubectl=kube_args["kubectl"])
    assert fleet.run(spec, capture_one) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["POD", "STATUS", "ID", "SIZE", "DURATION"]
    assert out[2].split()[:2] == ["solo-1", "ok"]


def test_run_capture_with_the_snapshot_command_work(add_pod, cluster, kube_args, tmp_path, capsys):
    """The capture command's own per-target work, run once per pod: one store entry each, pod metadata kept."""
    import pytest
    import typer

    from cdpclient_cli import capture

    pods = [add_pod(name, labels={"app": "cap"}) for name in ("cap-1", "cap-2")]
    store_dir = tmp_path / "recordings"
    opts = capture.SnapshotOptions(store=str(store_dir), labels={"incident": "4711"})
    spec = common.TargetSpec(selector="app=cap", kubeconfig=str(cluster.kubeconfig), kubectl=kube_args["kubectl"])
    fleet.run_capture(spec, capture.take_snapshots, opts, as_json=True)
    rows = json.loads(capsys.readouterr().out)
    assert [(r["pod"], r["ok"]) for r in rows] == [("cap-1", True), ("cap-2", True)]
    store = Store.open(store_dir)
    records = sorted(store.list(), key=lambda r: r.target["pod"])
    assert [r.target["pod"] for r in records] == ["cap-1", "cap-2"]
    assert [r.target["pod_uid"] for r in records] == [p.uid for p in pods]
    assert all(r.labels == {"incident": "4711"} and r.kind == "heapsnapshot" for r in records)
    assert {r.id for r in records} == {row["id"] for row in rows}
    with pytest.raises(typer.BadParameter, match="--out names one file"):
        fleet.run_capture(spec, capture.take_snapshots, capture.SnapshotOptions(out=tmp_path / "x"), as_json=True)
