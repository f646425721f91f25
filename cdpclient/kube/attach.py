"""``attach_pod``: from a pod name to a connected Target, and back to how the pod was."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

from cdpclient.errors import CDPClientError, KubeError, NoShellInContainer
from cdpclient.kube import procscan
from cdpclient.kube.failures import explain
from cdpclient.kube.forward import PortForward
from cdpclient.kube.kubectl import Kubectl
from cdpclient.kube.pods import PodInfo, get_pod
from cdpclient.local import SIGUSR1_TIMEOUT, close_inspector_through
from cdpclient.target import connect

ANSWER_TIMEOUT = 15.0      # how long the inspector may take to answer through the forward
DISTROLESS_PROBE = 2.0     # how long to look for an inspector in a container we cannot look into


@contextlib.asynccontextmanager
async def attach_pod(pod: str, *, namespace: str | None = None, context: str | None = None,
                     container: str | None = None, kubeconfig: str | None = None, inspect_port: int = 9229,
                     pid: int | None = None, kubectl: str | None = None, keep_inspector: bool = False,
                     on_event: Callable[[str], None] | None = None,
                     sigusr1_timeout: float = SIGUSR1_TIMEOUT, **connect_kwargs: Any) -> AsyncIterator[Any]:
    """Reach the Node process in a pod and yield a connected :class:`cdpclient.Target`.

    Uses the user's kubectl (``kubectl``: another binary; ``kubeconfig``,
    ``context``, ``namespace`` as kubectl takes them).  The flow: check the pod
    and its container run; find the Node process (``pid``, else by scanning /proc
    through ``kubectl exec``); if its inspector is not listening, send SIGUSR1
    (reported through ``on_event``); ``kubectl port-forward`` to a free local
    port on 127.0.0.1; wait until the inspector answers; connect
    (``connect_kwargs`` go to :func:`cdpclient.connect`).

    ``target.identity`` gains ``context``, ``namespace``, ``pod``, ``container``,
    ``node``, ``image``, ``pod_uid``, ``pid`` and ``inspector_opened``.

    On every way out the port-forward's process group is stopped and, when this
    call opened the inspector, it is closed again in the target unless
    ``keep_inspector`` (an inspector left open is a remote code execution hole).

    Raises :class:`~cdpclient.errors.KubeError` with a ``hint`` for everything
    that goes wrong on the Kubernetes side.
    """
    emit = on_event or (lambda message: None)
    kc = Kubectl(kubectl, kubeconfig=kubeconfig, context=context, namespace=namespace)
    info = await get_pod(kc, pod)
    kc.namespace = info.namespace  # every later call names the namespace the pod was found in
    cname = info.pick_container(container)
    info.check_running(cname)
    ctx_name = await kc.current_context()
    attach = _Attachment(kc, info, cname, emit)

    port, must_signal = await attach.plan(pid, inspect_port)
    # The forward starts before any signal: kubectl opens its stream to the API server at once, so an
    # RBAC refusal of port-forward shows up here, before this run has opened anything in the pod.
    forward = PortForward(kc, info.name, port)
    opened = False
    target = None
    try:
        local = await forward.start()
        if must_signal:
            opened = True  # from here on, a failure still closes what SIGUSR1 may have opened
            await attach.send_sigusr1(sigusr1_timeout)
        await attach.wait_answering(forward, local)
        async with connect(f"127.0.0.1:{local}", **connect_kwargs) as target:
            target.identity.update({
                "context": ctx_name, "namespace": info.namespace, "pod": info.name, "container": cname,
                "node": info.node, "image": info.images.get(cname), "pod_uid": info.uid,
                "pid": attach.proc.pid if attach.proc else None, "inspector_opened": opened,
            })
            try:
                yield target
            finally:
                if opened and not keep_inspector:
                    await attach.close_inspector(target)
                elif opened:
                    emit(f"leaving the inspector of pid {attach.pid} in pod {info.name} open on port {port} "
                         f"(as asked): anyone who can reach it can run code in the process")
    except BaseException:
        if opened and not keep_inspector and target is None:
            # Opened but never connected: close it through a fresh session.
            await attach.close_inspector(None)
        raise
    finally:
        await forward.stop()


class _Attachment:
    """The steps of one attach, sharing the kubectl, pod and container."""

    def __init__(self, kc: Kubectl, pod: PodInfo, container: str, emit: Callable[[str], None]) -> None:
        self.kc = kc
        self.pod = pod
        self.container = container
        self.emit = emit
        self.proc: procscan.Proc | None = None
        self.port = 0
        self.distroless: KubeError | None = None

    @property
    def pid(self) -> int | str:
        return self.proc.pid if self.proc else "?"

    async def exec(self, script: str, *, timeout: float = 30.0) -> bytes:
        res = await self.kc.run("exec", self.pod.name, "-c", self.container, "--", "sh", "-c", script,
                                timeout=timeout)
        if res.code != 0:
            raise explain(res.stderr, verb="exec", pod=self.pod.name, namespace=self.pod.namespace,
                          container=self.container)
        return res.stdout

    async def listening_ports(self) -> set[int]:
        return procscan.parse_listening(await self.exec(procscan.LISTEN_SCRIPT))

    async def plan(self, pid: int | None, inspect_port: int) -> tuple[int, bool]:
        """Find the process and its inspector port; returns (port in the pod, whether SIGUSR1 is needed)."""
        try:
            scan = procscan.parse_scan(await self.exec(procscan.SCAN_SCRIPT))
        except NoShellInContainer as exc:
            # Distroless: nothing to scan or signal with.  An inspector opened another way (--inspect,
            # a debug container) can still be used; wait_answering says what to do otherwise.
            self.distroless = exc
            self.port = inspect_port
            return inspect_port, False
        proc = procscan.pick_node_process(scan, pid, pod=self.pod.name, container=self.container,
                                          inspect_port=inspect_port)
        self.proc = proc
        flags = proc.inspect_flags()
        port = flags.port or inspect_port
        if flags.port and flags.port != inspect_port:
            self.emit(f"pid {proc.pid} in pod {self.pod.name} has its inspector on port {flags.port} "
                      f"(from its command line), using that port")
        if port in scan.listening:
            why = "" if flags.open_at_start else (
                " (the process was not started with --inspect: an earlier SIGUSR1 left it open; it stays open)")
            self.emit(f"inspector of pid {proc.pid} in pod {self.pod.name} already listening on port {port}{why}")
            self.port = port
            return port, False
        # SIGUSR1 opens the inspector on the port of --inspect-port / --inspect, else on Node's 9229.
        self.port = flags.port or procscan.NODE_DEFAULT_INSPECT_PORT
        return self.port, True

    async def send_sigusr1(self, timeout: float) -> None:
        """Signal the process and wait until its inspector listens."""
        assert self.proc is not None
        pid = self.proc.pid
        self.emit(f"inspector of pid {pid} in pod {self.pod.name} is closed: sending SIGUSR1 to open it on "
                  f"port {self.port} (it is closed again afterwards)")
        await self.exec(f"kill -USR1 {pid}")
        deadline = time.monotonic() + timeout
        while self.port not in await self.listening_ports():
            if time.monotonic() > deadline:
                raise KubeError(
                    f"pid {pid} in pod {self.pod.name} did not open its inspector within {timeout:.0f} s of "
                    f"SIGUSR1 (it runs with --disable-sigusr1, or handles SIGUSR1 itself)",
                    hint="restart it with NODE_OPTIONS=--inspect=127.0.0.1:9229, then run again", pod=self.pod.name)
            await asyncio.sleep(0.2)

    async def wait_answering(self, forward: PortForward, local: int) -> None:
        """Wait until the inspector answers /json/version through the forward."""
        # Without a shell nothing was checked in the pod: a short probe, then the distroless advice.
        deadline = time.monotonic() + (DISTROLESS_PROBE if self.distroless else ANSWER_TIMEOUT)
        url = f"http://127.0.0.1:{local}/json/version"
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(url, timeout=aiohttp.ClientTimeout(total=3)) as resp:
                        if resp.status == 200:
                            return
                except (TimeoutError, aiohttp.ClientError):
                    pass
                if not forward.alive:
                    if self.distroless:  # kubectl ends a forward whose pod port refused a connection
                        raise self.distroless
                    raise KubeError(f"kubectl port-forward to pod {self.pod.name} exited: "
                                    f"{' '.join(forward.stderr.split()) or 'no message'}",
                                    hint="run kubectl port-forward yourself to see why", pod=self.pod.name)
                if time.monotonic() > deadline:
                    if self.distroless:
                        raise self.distroless
                    raise KubeError(
                        f"no inspector answers on port {self.port} in pod {self.pod.name}"
                        + (f" ({' '.join(forward.stderr.split())[-200:]})" if forward.stderr else ""),
                        hint="something else may listen on that port: pass {inspect_port} or {pid}",
                        options=("inspect_port", "pid"),
                        pod=self.pod.name)
                await asyncio.sleep(0.1)

    async def close_inspector(self, target: Any) -> None:
        """Close the inspector this run opened; report through ``emit`` when that is not certain."""
        fresh_forward: PortForward | None = None
        try:
            if target is not None and not target.connection.closed:
                await close_inspector_through(target)
            else:
                if self.port not in await self.listening_ports():
                    return  # it never opened (SIGUSR1 did nothing) or is closed already
                # The session is gone, so the forward is suspect (it may be the reason): a new one, just to close.
                self.emit(f"closing the inspector of pid {self.pid} in pod {self.pod.name} through a new "
                          f"port-forward (waits for the target to finish any running work)")
                fresh_forward = PortForward(self.kc, self.pod.name, self.port)
                local = await fresh_forward.start()
                async with connect(f"127.0.0.1:{local}", timeout=10) as fresh:
                    await close_inspector_through(fresh)
            still = self.port in await self.listening_ports()
        except (CDPClientError, OSError) as exc:
            self.emit(f"warning: could not close the inspector of pid {self.pid} in pod {self.pod.name} "
                      f"({exc}); it is still open on port {self.port}: restart the pod when you can")
            return
        finally:
            if fresh_forward is not None:
                await fresh_forward.stop()
        if still:
            self.emit(f"warning: the inspector of pid {self.pid} in pod {self.pod.name} still listens on port "
                      f"{self.port} after closing it: restart the pod when you can")
        else:
            self.emit(f"closed the inspector of pid {self.pid} in pod {self.pod.name}")
