"""Reaching Node processes in Kubernetes pods through the user's own kubectl.

    async with cdpclient.kube.attach_pod("api-7f9", namespace="prod") as target:
        await target.send("HeapProfiler.takeHeapSnapshot")

    pods = await cdpclient.kube.resolve_pods("app=api", namespace="prod")
    results = await cdpclient.kube.for_each_pod(pods, capture_one, parallel=4)

    result = await cdpclient.kube.pull_files("api-7f9", store=Store.open(), namespace="prod", wait=True)
"""

from __future__ import annotations

from cdpclient.kube.attach import attach_pod
from cdpclient.kube.fleet import PodResult, for_each_pod, resolve_pods
from cdpclient.kube.kubectl import Kubectl
from cdpclient.kube.pods import PodInfo
from cdpclient.kube.pull import PulledFile, PullResult, pull_files

__all__ = [
    "attach_pod",
    "resolve_pods",
    "for_each_pod",
    "PodResult",
    "PodInfo",
    "Kubectl",
    "pull_files",
    "PullResult",
    "PulledFile",
]
