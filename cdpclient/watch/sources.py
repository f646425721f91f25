"""What a watch follows: an inspector endpoint, a pod, or every pod a selector matches.

A :class:`~cdpclient.watch.loop.Source` opens a new session each time it is
asked (the watch reconnects through it); a lister (for
:func:`~cdpclient.watch.loop.watch_fleet`) returns the sources to follow now.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from cdpclient.watch.loop import Source

__all__ = ["endpoint_source", "pod_source", "pod_lister"]


def endpoint_source(endpoint: str, *, target_id: str | None = None, **connect_kwargs: Any) -> Source:
    """A source for an inspector endpoint (``host:port``, ``http://host:port``, ``ws://...``)."""
    import cdpclient

    def open_() -> AbstractAsyncContextManager[Any]:
        return cdpclient.connect(endpoint, target_id=target_id, **connect_kwargs)

    return Source(open=open_, identity={"endpoint": endpoint, "target_id": target_id})


def pod_source(pod: str, *, namespace: str | None = None, **attach_kwargs: Any) -> Source:
    """A source for the Node process in a pod (:func:`cdpclient.kube.attach_pod` each session:
    a port-forward of its own, the inspector opened by SIGUSR1 if need be and closed again after)."""
    from cdpclient import kube

    def open_() -> AbstractAsyncContextManager[Any]:
        return kube.attach_pod(pod, namespace=namespace, **attach_kwargs)

    identity = {"pod": pod, "namespace": namespace, "container": attach_kwargs.get("container")}
    return Source(open=open_, identity=identity, pod=pod)


def pod_lister(selector: str, *, namespace: str | None = None, context: str | None = None,
               kubeconfig: str | None = None, kubectl: str | None = None,
               **attach_kwargs: Any) -> Callable[[], Awaitable[Sequence[Source]]]:
    """A lister of the running pods that ``selector`` matches, one :func:`pod_source` each.

    No running pod is not an error here (pods come and go under a fleet watch):
    the list is empty; kubectl failing raises :class:`~cdpclient.errors.KubeError`.
    """
    from cdpclient.kube import Kubectl
    from cdpclient.kube.pods import list_pods

    kube_kwargs = {"context": context, "kubeconfig": kubeconfig, "kubectl": kubectl}

    async def list_() -> Sequence[Source]:
        kc = Kubectl(kubectl, kubeconfig=kubeconfig, context=context, namespace=namespace)
        pods = await list_pods(kc, selector)
        return [pod_source(p.name, namespace=p.namespace, **kube_kwargs, **attach_kwargs)
                for p in pods if p.phase == "Running"]

    return list_
