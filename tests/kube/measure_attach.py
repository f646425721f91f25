"""Measure what reaching a pod costs: attach phases, and a heap snapshot through the forward vs direct.

Not a test (no ``test_`` prefix).  Run as root:  .venv/bin/python tests/kube/measure_attach.py [HEAP_MB]
Both sides in one run: a host Node process (direct 127.0.0.1 inspector) and the
same app in a fake pod reached through the real kubectl and the API server double.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

import cdpclient  # noqa: E402
from apiserver import FakeCluster  # noqa: E402
from cdpclient.kube import attach_pod  # noqa: E402
from nodeproc import start_node  # noqa: E402  (tests/conftest.py: a host node with --inspect)
from pods import FakePod  # noqa: E402


async def main(heap_mb: str) -> None:
    work = Path(tempfile.mkdtemp())
    os.environ["KUBECACHEDIR"] = str(work / "cache")
    cluster = FakeCluster(work).start()
    host = start_node("heap_of_size.js", heap_mb)
    try:
        cluster.add_pod(FakePod("bench-1", namespace="prod", script="heap_of_size.js", args=(heap_mb,)))
        kube = {"kubeconfig": str(cluster.kubeconfig)}
        stamps: list[tuple[float, str]] = []
        t0 = time.monotonic()
        async with attach_pod("bench-1", on_event=lambda m: stamps.append((time.monotonic() - t0, m)), **kube) as t:
            attached = time.monotonic() - t0
            s0 = time.monotonic()
            pod_snap = await t.heap_snapshot(work / "pod.heapsnapshot")
            pod_s = time.monotonic() - s0
            c0 = time.monotonic()
        closed = time.monotonic() - c0
        async with cdpclient.connect(host.endpoint) as t:
            s0 = time.monotonic()
            host_snap = await t.heap_snapshot(work / "host.heapsnapshot")
            host_s = time.monotonic() - s0
        t0 = time.monotonic()
        async with attach_pod("bench-1", **kube):
            reattach = time.monotonic() - t0
        for at, message in stamps:
            print(f"  {at:6.2f}s  {message}")
        print(f"attach (get, scan, forward, SIGUSR1, wait, connect): {attached:.2f} s; re-attach {reattach:.2f} s; "
              f"close inspector + stop forward: {closed:.2f} s")
        print(f"heap snapshot {heap_mb} MB heap: pod via kubectl port-forward {pod_s:.2f} s "
              f"({pod_snap.size / 1e6:.0f} MB file), host direct {host_s:.2f} s ({host_snap.size / 1e6:.0f} MB); "
              f"ratio forward/direct {pod_s / host_s:.2f}")
    finally:
        host.stop()
        cluster.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "50"))
