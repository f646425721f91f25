"""Each way a pod can refuse us, as one KubeError with what to do (real kubectl, fake API server)."""

from __future__ import annotations

import re
import subprocess

import pytest

from cdpclient.errors import KubeError, NoShellInContainer
from cdpclient.kube import attach_pod
from pods import APPS, NODE
from cdpclient_cli.common import flag


async def _attach_error(name: str, kube_args: dict, **kwargs: object) -> KubeError:
    with pytest.raises(KubeError) as info:
        async with attach_pod(name, **kube_args, **kwargs):
            pass
    return info.value


async def test_missing_pod(cluster, kube_args):
    err = await _attach_error("nope", kube_args)
    assert str(err) == "no pod 'nope' in namespace prod (list them with: kubectl get pods -n prod)"


async def test_missing_namespace(cluster, kube_args):
    err = await _attach_error("api-1", kube_args, namespace="staging")
    assert str(err).startswith("no namespace 'staging'")


async def test_missing_context(cluster, kube_args):
    err = await _attach_error("api-1", kube_args, context="prod-eu")
    assert "no context 'prod-eu'" in str(err) and "kubectl config get-contexts" in err.hint


async def test_kubectl_not_found(cluster, kube_args):
    err = await _attach_error("api-1", {**kube_args, "kubectl": "/nonexistent/kubectl"})
    assert "kubectl not found" in str(err) and "--kubectl" in err.render(flag)


async def test_pod_not_running(add_pod, kube_args):
    add_pod("api-pending", phase="Pending")
    err = await _attach_error("api-pending", kube_args)
    assert str(err).startswith("pod api-pending is Pending, not Running")
    assert "kubectl describe pod api-pending" in err.hint


async def test_rbac_forbids_exec(add_pod, kube_args):
    add_pod("api-noexec", forbidden={"exec"})
    err = await _attach_error("api-noexec", kube_args)
    assert str(err).startswith("RBAC forbids exec on pod api-noexec in namespace prod")
    assert "pods/exec" in err.hint


async def test_rbac_forbids_port_forward_before_anything_is_opened(add_pod, kube_args):
    pod = add_pod("api-nopf", forbidden={"portforward"})
    err = await _attach_error("api-nopf", kube_args)
    assert str(err).startswith("RBAC forbids port-forward on pod api-nopf")
    assert "pods/portforward" in err.hint
    assert not pod.listening(9229)  # refused before SIGUSR1: nothing left open


async def test_distroless_without_inspector(add_pod, kube_args):
    add_pod("api-distroless", binaries=frozenset())
    err = await _attach_error("api-distroless", kube_args)
    assert "has no shell or kill" in str(err)
    assert isinstance(err, NoShellInContainer)
    assert "kubectl debug" in err.hint


async def test_distroless_with_inspector_open(add_pod, kube_args):
    add_pod("api-distroless-insp", binaries=frozenset(), node_args=("--inspect=127.0.0.1:9229",))
    async with attach_pod("api-distroless-insp", **kube_args) as target:
        assert await target.evaluate("1 + 1") == 2
        assert target.identity["inspector_opened"] is False


async def test_sigusr1_that_does_nothing_times_out(add_pod, kube_args):
    add_pod("api-nosig", script="ignores_sigusr1.js")
    events: list[str] = []
    err = await _attach_error("api-nosig", kube_args, sigusr1_timeout=1.0, on_event=events.append)
    assert not any("warning" in e for e in events), events  # nothing opened, so nothing to warn about
    assert "did not open its inspector" in str(err) and "--disable-sigusr1" in str(err)
    assert "NODE_OPTIONS=--inspect" in err.hint


def _node_has_disable_sigusr1() -> bool:
    return subprocess.run([NODE, "--disable-sigusr1", "-e", "0"], capture_output=True).returncode == 0


@pytest.mark.compat
@pytest.mark.skipif(not _node_has_disable_sigusr1(), reason="this Node has no --disable-sigusr1 (22.14+, 23.7+)")
async def test_disable_sigusr1_times_out(add_pod, kube_args):
    add_pod("api-disabled", node_args=("--disable-sigusr1",))
    err = await _attach_error("api-disabled", kube_args, sigusr1_timeout=1.0)
    assert "did not open its inspector within 1 s of SIGUSR1" in str(err)


async def test_several_node_processes_ask_for_pid(add_pod, kube_args):
    node = f"{NODE} {APPS / 'idle.js'}"
    add_pod("api-two", command=f"{node} & {node} & wait")
    err = await _attach_error("api-two", kube_args)
    assert "several Node.js processes" in str(err) and "--pid" in err.render(flag) and "pid" in str(err)
    pids = [int(p) for p in re.findall(r"(\d+): \S*node", str(err))]
    assert len(pids) == 2
    async with attach_pod("api-two", pid=pids[1], **kube_args) as target:
        assert await target.evaluate("process.pid") == pids[1]


async def test_unknown_container(add_pod, kube_args):
    add_pod("api-c", containers=["app", "istio-proxy"])
    err = await _attach_error("api-c", kube_args, container="web")
    assert str(err) == "pod api-c has no container 'web' (its containers: app, istio-proxy)"
