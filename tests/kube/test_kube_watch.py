"""``watch -l``: every matching pod watched at once through the real kubectl, a pod that appears picked up,
one that goes away noted, firings per pod; and ``watch --pod`` through the command."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nodeproc import run_cli  # type: ignore[attr-defined]

from cdpclient.store import Store
from cdpclient.watch import WatchPlan, parse_actions, parse_conditions, pod_lister, read_recording, watch_fleet

MiB = 1 << 20


async def test_fleet_watch_fires_per_pod_and_follows_pods_that_come_and_go(add_pod, cluster, kube_args, tmp_path):  # type: ignore[no-untyped-def]
    # The truth: "leaky" leaks 16 MiB/s of heap, "steady" does not leak at all.
    add_pod("leaky-1", labels={"app": "api"}, script="leak_heap.js", args=(str(16 * MiB), "100"))
    add_pod("steady-1", labels={"app": "api"}, script="idle.js")
    add_pod("other-1", labels={"app": "db"}, script="leak_heap.js", args=(str(16 * MiB), "100"))
    seen: list[dict[str, Any]] = []
    stop = asyncio.Event()

    async def script() -> None:
        # A new pod that matches appears, an old one goes away.
        while sum(r["t"] == "connected" for r in seen) < 2:
            await asyncio.sleep(0.1)
        add_pod("steady-2", labels={"app": "api"}, script="idle.js")
        while not any(r["t"] == "connected" and r.get("pod") == "steady-2" for r in seen):
            await asyncio.sleep(0.1)
        cluster.remove_pod("prod", "steady-1")
        while not any(r["t"] == "gone" and r.get("pod") == "steady-1" for r in seen):
            await asyncio.sleep(0.1)
        while not any(r["t"] == "capture" for r in seen):
            await asyncio.sleep(0.1)
        stop.set()

    plan = WatchPlan(every=0.3, duration=90, conditions=tuple(parse_conditions(["heap>48MiB"])),
                     actions=tuple(parse_actions(["report"])), compress=False)
    with Store.open(tmp_path / "store") as store:
        helper = asyncio.ensure_future(script())
        result = await watch_fleet(pod_lister("app=api", namespace="prod", **kube_args), store, plan,
                                   target={"selector": "app=api"}, relist_every=1.0, stop=stop,
                                   on_record=seen.append)
        await asyncio.wait_for(helper, 5)
        rec = read_recording(store.materialize(store.resolve(result.recording.id)))
        reports = store.list(kind="report")
    assert result.reason == "stopped"
    pods = {s["pod"] for s in rec.samples}
    assert pods == {"leaky-1", "steady-1", "steady-2"}  # other-1 does not match the selector
    assert [(f["pod"], f["condition"]) for f in rec.firings] == [("leaky-1", "heap>48MiB")]
    assert [r.labels["pod"] for r in reports] == ["leaky-1"]
    assert reports[0].target["pod"] == "leaky-1"
    gone = [e for e in rec.events if e["t"] == "gone"]
    assert [e["pod"] for e in gone] == ["steady-1"]


def test_watch_a_pod_through_the_command(add_pod, cluster, kube_args, tmp_path):  # type: ignore[no-untyped-def]
    add_pod("api-1", labels={"app": "api"}, script="leak_fds.js", args=("30", "0"))
    r = run_cli("watch", "--pod", "api-1", "-n", "prod", "--kubeconfig", kube_args["kubeconfig"],
                "--kubectl", kube_args["kubectl"], "--every", "0.3s", "--when", "fds>40", "--then", "report",
                "--json", "--store", str(tmp_path), timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    (firing,) = [line for line in lines if line["t"] == "firing"]
    assert firing["pod"] == "api-1" and firing["value"] > 40
    result = lines[-1]
    assert result["reason"] == "fired" and [c["kind"] for c in result["captures"]] == ["report"]
    assert "inspector" in r.stderr  # attach said it opened the inspector (SIGUSR1), and closed it after
