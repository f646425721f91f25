"""attach_pod end to end: the real kubectl, the fake API server, real Node processes in namespaces."""

from __future__ import annotations

import pytest

import cdpclient
from cdpclient.kube import attach_pod


async def test_sigusr1_opens_inspector_capture_and_close(add_pod, kube_args):
    pod = add_pod("api-1", labels={"app": "api"})
    assert not pod.listening(9229)
    events: list[str] = []
    async with attach_pod("api-1", on_event=events.append, **kube_args) as target:
        assert pod.listening(9229)
        assert await target.evaluate("process.pid") == 1  # PID 1 of the pod's PID namespace
        chunks: list[str] = []
        target.connection.on("HeapProfiler.addHeapSnapshotChunk", lambda p: chunks.append(p["chunk"]))
        await target.send("HeapProfiler.takeHeapSnapshot", {"reportProgress": False}, timeout=None)
        assert sum(map(len, chunks)) > 100_000
        ident = target.identity
        assert ident["pod"] == "api-1" and ident["namespace"] == "prod" and ident["context"] == "fake-ctx"
        assert ident["container"] == "app" and ident["node"] == "worker-1" and ident["pod_uid"] == pod.uid
        assert ident["image"] == pod.image and ident["pid"] == 1 and ident["inspector_opened"] is True
    assert any("SIGUSR1" in e for e in events), events
    # Verified from outside: nothing listens on 9229 in the pod's network namespace any more.
    assert not pod.listening(9229)
    assert any("closed the inspector" in e for e in events), events
