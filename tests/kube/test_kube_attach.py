"""attach_pod end to end: the real kubectl, the fake API server, real Node processes in namespaces."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from cdpclient.errors import CDPClientError
from cdpclient.kube import attach_pod
from cdpclient.store import Store


def _port_forwards(pod: str) -> list[int]:
    """Host pids of kubectl port-forward processes for ``pod``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"port-forward" in argv and f"pod/{pod}".encode() in argv:
                pids.append(int(entry.name))
    return pids


@pytest.mark.compat
async def test_sigusr1_opens_inspector_capture_and_close(add_pod, kube_args, tmp_path):
    pod = add_pod("api-1", labels={"app": "api"})
    assert not pod.listening(9229)
    events: list[str] = []
    async with attach_pod("api-1", on_event=events.append, **kube_args) as target:
        assert pod.listening(9229)
        assert await target.evaluate("process.pid") == 1  # PID 1 of the pod's PID namespace
        result = await target.heap_snapshot(tmp_path / "api-1.heapsnapshot")
        assert result.size > 100_000 and (tmp_path / "api-1.heapsnapshot").exists()
        ident = target.identity
        assert ident["pod"] == "api-1" and ident["namespace"] == "prod" and ident["context"] == "fake-ctx"
        assert ident["container"] == "app" and ident["node"] == "worker-1" and ident["pod_uid"] == pod.uid
        assert ident["image"] == pod.image and ident["pid"] == 1 and ident["inspector_opened"] is True
    assert any("SIGUSR1" in e for e in events), events
    # Verified from outside: nothing listens on 9229 in the pod's network namespace any more,
    # and no port-forward is left behind.
    assert not pod.listening(9229)
    assert any("closed the inspector" in e for e in events), events
    assert _port_forwards("api-1") == []
    # SIGUSR1 opens it again next time.
    async with attach_pod("api-1", **kube_args) as target:
        assert await target.evaluate("1 + 1") == 2
    assert not pod.listening(9229)


async def test_inspector_already_open_is_left_open(add_pod, kube_args):
    pod = add_pod("api-open", node_args=("--inspect=127.0.0.1:9229",))
    events: list[str] = []
    async with attach_pod("api-open", on_event=events.append, **kube_args) as target:
        assert target.identity["inspector_opened"] is False
    assert any("already listening" in e for e in events), events
    assert not any("SIGUSR1" in e for e in events), events
    assert pod.listening(9229)


async def test_inspector_on_another_port_is_found(add_pod, kube_args):
    pod = add_pod("api-9230", node_args=("--inspect=127.0.0.1:9230",))
    events: list[str] = []
    async with attach_pod("api-9230", on_event=events.append, **kube_args) as target:
        assert await target.evaluate("process.debugPort") == 9230
    assert any("port 9230" in e for e in events), events
    assert pod.listening(9230)


async def test_keep_inspector_leaves_it_open_and_says_so(add_pod, kube_args):
    pod = add_pod("api-keep")
    events: list[str] = []
    async with attach_pod("api-keep", keep_inspector=True, on_event=events.append, **kube_args):
        pass
    assert pod.listening(9229)
    assert any("(as asked)" in e for e in events), events


async def test_default_container_annotation(add_pod, kube_args):
    add_pod("api-sidecar", containers=["istio-proxy", "app"],
            annotations={"kubectl.kubernetes.io/default-container": "app"})
    async with attach_pod("api-sidecar", **kube_args) as target:
        assert target.identity["container"] == "app"
    add_pod("api-sidecar-2", containers=["istio-proxy", "app"])
    async with attach_pod("api-sidecar-2", **kube_args) as target:
        assert target.identity["container"] == "istio-proxy"  # no annotation: the first container


async def test_port_forward_dying_mid_capture(add_pod, kube_args, tmp_path):
    pod = add_pod("api-dies", script="heap_of_size.js", args=("10",))
    store = Store.open(tmp_path / "recordings")
    events: list[str] = []
    with pytest.raises(CDPClientError):
        async with attach_pod("api-dies", on_event=events.append, **kube_args) as target:
            with store.new_capture("heapsnapshot", target=target.identity) as pending:
                started = asyncio.Event()
                task = asyncio.ensure_future(target.heap_snapshot(pending.path, progress=lambda p: started.set()))
                await asyncio.wait_for(started.wait(), 30)
                for pid in _port_forwards("api-dies"):
                    os.killpg(pid, signal.SIGKILL)
                await task
    assert store.list() == []  # store untouched
    left = [name for _, _, names in os.walk(tmp_path / "recordings") for name in names]
    assert not [n for n in left if "heapsnapshot" in n], left  # the partial capture was discarded
    assert not pod.listening(9229), "\n".join(events)  # closed through a fresh forward
    assert _port_forwards("api-dies") == []


async def test_cancelled_while_attached_cleans_up(add_pod, kube_args):
    pod = add_pod("api-cancel")
    attached = asyncio.Event()

    async def hold() -> None:
        async with attach_pod("api-cancel", **kube_args):
            attached.set()
            await asyncio.sleep(3600)

    task = asyncio.ensure_future(hold())
    await asyncio.wait_for(attached.wait(), 30)
    assert pod.listening(9229) and _port_forwards("api-cancel")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not pod.listening(9229)
    assert _port_forwards("api-cancel") == []


def test_no_port_forward_outlives_a_killed_cdpclient(add_pod, kube_args, tmp_path):
    import subprocess
    import sys
    import time

    add_pod("api-killed")
    script = tmp_path / "hold.py"
    script.write_text(
        "import asyncio, sys\n"
        "from cdpclient.kube import attach_pod\n"
        "async def main():\n"
        f"    async with attach_pod('api-killed', kubeconfig={kube_args['kubeconfig']!r}, "
        f"kubectl={kube_args['kubectl']!r}):\n"
        "        print('attached', flush=True)\n"
        "        await asyncio.sleep(3600)\n"
        "asyncio.run(main())\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "attached"
        assert _port_forwards("api-killed")
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    while _port_forwards("api-killed") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _port_forwards("api-killed") == []
