"""cdpclient.sync.attach_pod: the real kubectl against the API server double of tests/kube, blocking."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import cdpclient.sync

# The Kubernetes fixtures live in tests/kube/conftest.py; loaded under a name of their own so that
# pytest's own import of that conftest is not disturbed (its session cluster is not shared).
_spec = importlib.util.spec_from_file_location("sync_kube_fixtures", Path(__file__).parents[1] / "kube" / "conftest.py")
assert _spec and _spec.loader
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
cluster, add_pod, kube_args = _fixtures.cluster, _fixtures.add_pod, _fixtures.kube_args


def _port_forwards(pod: str) -> list[int]:
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


def test_attach_pod_blocking_opens_captures_and_cleans_up(add_pod, kube_args, tmp_path: Path) -> None:
    pod = add_pod("sync-1")
    assert not pod.listening(9229)
    events: list[str] = []
    with cdpclient.sync.attach_pod("sync-1", on_event=events.append, **kube_args) as target:
        assert pod.listening(9229)
        assert target.evaluate("process.pid") == 1  # PID 1 of the pod's PID namespace
        result = target.heap_snapshot(tmp_path / "sync-1.heapsnapshot")
        assert result.size > 100_000
        assert target.identity["pod"] == "sync-1" and target.identity["inspector_opened"] is True
    # Closing the facade ran attach_pod's own exit: inspector closed, port-forward gone.
    assert not pod.listening(9229)
    # (Under load attach_pod may look a moment too early and say it "still listens ... after closing it";
    # the listening check above is the truth.)
    assert any("closed the inspector" in e or "after closing it" in e for e in events), events
    assert _port_forwards("sync-1") == []


def test_attach_pod_errors_are_kube_errors(kube_args) -> None:
    with pytest.raises(cdpclient.KubeError):
        cdpclient.sync.attach_pod("no-such-pod", **kube_args)
