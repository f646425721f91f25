"""Pods as kubectl describes them: resolving a name or a selector, checking they run, picking the container."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cdpclient.errors import KubeError
from cdpclient.kube.failures import explain
from cdpclient.kube.kubectl import Kubectl

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


@dataclass
class PodInfo:
    """What cdpclient needs of a pod (from ``kubectl get pod -o json``)."""

    name: str
    namespace: str
    uid: str
    phase: str
    node: str | None
    containers: list[str]
    images: dict[str, str]
    running: dict[str, bool]
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PodInfo:
        meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status", {})
        containers = [c["name"] for c in spec.get("containers", [])]
        images = {c["name"]: c.get("image", "") for c in spec.get("containers", [])}
        running = {}
        for cs in status.get("containerStatuses") or []:
            running[cs["name"]] = "running" in (cs.get("state") or {})
            if cs.get("image"):
                images.setdefault(cs["name"], cs["image"])
        return cls(name=meta.get("name", ""), namespace=meta.get("namespace", "default"), uid=meta.get("uid", ""),
                   phase=status.get("phase", "Unknown"), node=spec.get("nodeName"), containers=containers,
                   images=images, running=running, annotations=meta.get("annotations") or {},
                   labels=meta.get("labels") or {})

    def pick_container(self, wanted: str | None = None) -> str:
        """``wanted``, else the default-container annotation, else the first container."""
        if wanted:
            if wanted not in self.containers:
                raise KubeError(f"pod {self.name} has no container {wanted!r}",
                                hint=f"its containers: {', '.join(self.containers) or 'none'}", pod=self.name)
            return wanted
        annotated = self.annotations.get(DEFAULT_CONTAINER_ANNOTATION)
        if annotated in self.containers:
            return annotated
        if not self.containers:
            raise KubeError(f"pod {self.name} has no containers", pod=self.name)
        return self.containers[0]

    def check_running(self, container: str) -> None:
        """Raise KubeError unless the pod and ``container`` run."""
        if self.phase != "Running":
            raise KubeError(f"pod {self.name} is {self.phase}, not Running",
                            hint=f"see why with: kubectl describe pod {self.name} -n {self.namespace}", pod=self.name)
        if not self.running.get(container, False):
            raise KubeError(f"container {container} of pod {self.name} is not running",
                            hint=f"see why with: kubectl describe pod {self.name} -n {self.namespace}", pod=self.name)


async def get_pod(kubectl: Kubectl, name: str) -> PodInfo:
    """The pod named ``name`` in the kubectl's namespace; KubeError when missing or unreachable."""
    res = await kubectl.run("get", "pod", name, "-o", "json")
    if res.code != 0:
        raise await _failed(kubectl, res.stderr, pod=name)
    return PodInfo.from_json(json.loads(res.stdout))


async def list_pods(kubectl: Kubectl, selector: str) -> list[PodInfo]:
    """Every pod matching the label ``selector`` (in any phase), sorted by name."""
    res = await kubectl.run("get", "pods", "-l", selector, "-o", "json")
    if res.code != 0:
        raise await _failed(kubectl, res.stderr, pod=f"-l {selector}")
    items = json.loads(res.stdout).get("items", [])
    return sorted((PodInfo.from_json(i) for i in items), key=lambda p: p.name)


async def _failed(kubectl: Kubectl, stderr: str, *, pod: str) -> KubeError:
    """The KubeError for a failed ``kubectl get``: the first call of every run, so the one that meets a
    kubeconfig without a current context (kubectl then tries localhost:8080 and says only that)."""
    context_error = await kubectl.context_problem() if "localhost:8080" in stderr else None
    namespace = kubectl.namespace or await context_namespace(kubectl)
    return explain(stderr, verb="get", pod=pod, namespace=namespace, context=kubectl.context,
                   context_error=context_error)


async def context_namespace(kubectl: Kubectl) -> str:
    """The namespace kubectl uses when none is given: the context's, else "default"."""
    res = await kubectl.run("config", "view", "--minify", "-o", "jsonpath={..namespace}", timeout=10)
    return (res.stdout.decode().strip() if res.code == 0 else "") or "default"
