"""Fixtures for the Kubernetes tests: the real kubectl against a fake API server with namespaced Node pods."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the double's modules (importlib mode adds nothing to sys.path)

from apiserver import FakeCluster  # noqa: E402
from pods import FakePod, namespaces_available  # noqa: E402

KUBECTL = os.environ.get("CDPCLIENT_TEST_KUBECTL", "kubectl")


def _skip_reason() -> str | None:
    if not shutil.which(KUBECTL):
        return f"kubectl not found ({KUBECTL})"
    minor = _kubectl_minor()
    if minor is not None and minor < 31:
        # Older kubectl port-forwards over SPDY only; the double speaks the WebSocket protocols of 1.31+.
        return f"{KUBECTL} is 1.{minor}: the API server double needs kubectl 1.31+ (WebSocket port-forward)"
    if os.geteuid() != 0:
        return "PID and network namespaces for fake pods need root"
    return namespaces_available()


def _kubectl_minor() -> int | None:
    try:
        out = subprocess.run([KUBECTL, "version", "--client", "-o", "json"], capture_output=True, text=True,
                             timeout=20)
        return int(json.loads(out.stdout)["clientVersion"]["minor"].rstrip("+"))
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return None


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCluster]:
    """The fake API server (one per session) with a kubeconfig whose current context is ``fake-ctx`` (ns prod)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("kube")
    old = os.environ.get("KUBECACHEDIR")
    os.environ["KUBECACHEDIR"] = str(workdir / "cache")  # kubectl's discovery cache stays out of $HOME
    fake = FakeCluster(workdir).start()
    yield fake
    fake.stop()
    if old is None:
        os.environ.pop("KUBECACHEDIR", None)
    else:
        os.environ["KUBECACHEDIR"] = old


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[FakeCluster]:
    """A fresh API server double of its own, with no pods (needs only kubectl: no root, no namespaces).

    Set ``refusal`` / ``refuse_discovery`` on it to have it refuse as a cluster would."""
    if not shutil.which(KUBECTL):
        pytest.skip(f"kubectl not found ({KUBECTL})")
    workdir = tmp_path / "apiserver"
    workdir.mkdir()
    fake = FakeCluster(workdir).start()
    yield fake
    fake.stop()


@pytest.fixture
def add_pod(cluster: FakeCluster) -> Iterator[Callable[..., FakePod]]:
    """Factory: ``add_pod("api-1", labels={...}, ...)`` starts a pod (namespace prod by default); removed after."""
    added: list[FakePod] = []

    def factory(name: str, **kwargs: object) -> FakePod:
        kwargs.setdefault("namespace", "prod")
        pod = cluster.add_pod(FakePod(name, **kwargs))  # type: ignore[arg-type]
        added.append(pod)
        return pod

    yield factory
    for pod in added:
        cluster.remove_pod(pod.namespace, pod.name)


@pytest.fixture
def kube_args(cluster: FakeCluster) -> dict[str, str]:
    """Keyword arguments that point attach_pod / resolve_pods at the fake cluster."""
    return {"kubeconfig": str(cluster.kubeconfig), "kubectl": KUBECTL}
