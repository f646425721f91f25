"""Fleets: every pod a selector matches, one capture each, a bounded number at a time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from cdpclient.errors import KubeError
from cdpclient.kube.kubectl import Kubectl
from cdpclient.kube.pods import PodInfo, list_pods

T = TypeVar("T")


@dataclass
class PodResult(Generic[T]):
    """How one pod of a fleet run went: ``value`` when ``ok``, else ``error``."""

    pod: str
    namespace: str | None
    ok: bool
    value: T | None = None
    error: BaseException | None = None
    duration_s: float = 0.0


async def resolve_pods(selector: str, *, namespace: str | None = None, context: str | None = None,
                       kubeconfig: str | None = None, kubectl: str | None = None) -> list[PodInfo]:
    """Every pod matching ``selector`` (in any phase: a pod that is not running fails on its own in a run).

    Raises KubeError when kubectl fails or nothing matches.
    """
    kc = Kubectl(kubectl, kubeconfig=kubeconfig, context=context, namespace=namespace)
    pods = await list_pods(kc, selector)
    if not pods:
        where = f" in namespace {namespace}" if namespace else ""
        raise KubeError(f"no pod matches selector {selector!r}{where}",
                        hint=f"check with: kubectl get pods -l '{selector}'")
    return pods


async def for_each_pod(pods: Sequence[PodInfo | str], fn: Callable[[str], Awaitable[T]], *, parallel: int = 4,
                       on_event: Callable[[str, str], None] | None = None) -> list[PodResult[T]]:
    """Run ``fn(pod_name)`` for every pod, at most ``parallel`` at once; results in the order of ``pods``.

    One pod failing does not stop the others: its exception is kept in its
    :class:`PodResult`.  ``on_event(pod, message)`` reports start and end per pod.
    Cancellation (Ctrl-C) cancels every running ``fn`` so each cleans up.
    """
    emit = on_event or (lambda pod, message: None)
    limit = asyncio.Semaphore(max(1, parallel))

    async def one(item: PodInfo | str) -> PodResult[T]:
        name = item if isinstance(item, str) else item.name
        ns = None if isinstance(item, str) else item.namespace
        async with limit:
            emit(name, "started")
            start = time.monotonic()
            try:
                value = await fn(name)
            except Exception as exc:  # noqa: BLE001 - kept per pod, reported in the summary
                result: PodResult[T] = PodResult(name, ns, False, error=exc, duration_s=time.monotonic() - start)
                emit(name, f"failed: {exc}")
                return result
            result = PodResult(name, ns, True, value=value, duration_s=time.monotonic() - start)
            emit(name, f"done in {result.duration_s:.1f} s")
            return result

    return list(await asyncio.gather(*(one(p) for p in pods)))
