"""``kubectl port-forward`` in its own process group, bound to 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import signal
import sys
from typing import Any

from cdpclient.errors import KubeError
from cdpclient.kube.failures import explain
from cdpclient.kube.kubectl import Kubectl

_FORWARDING = re.compile(rb"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when cdpclient dies, even by SIGKILL (Linux), so no forward outlives us."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass


class PortForward:
    """A running ``kubectl port-forward pod/NAME :PORT --address 127.0.0.1``.

    kubectl picks the free local port itself (``:PORT``), so there is no race
    between choosing a port and binding it.  :meth:`stop` ends kubectl's whole
    process group; call it on every path out.
    """

    def __init__(self, kubectl: Kubectl, pod: str, remote_port: int) -> None:
        self.kubectl = kubectl
        self.pod = pod
        self.remote_port = remote_port
        self.local_port = 0
        self.proc: asyncio.subprocess.Process | None = None
        self._stderr = bytearray()
        self._tasks: list[asyncio.Task[Any]] = []

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def stderr(self) -> str:
        return self._stderr.decode(errors="replace")

    async def start(self, timeout: float = 20.0) -> int:
        """Start kubectl and wait for its "Forwarding from" line; returns the local port."""
        self.proc = await asyncio.create_subprocess_exec(
            *self.kubectl.argv("port-forward", "--address", "127.0.0.1", f"pod/{self.pod}", f":{self.remote_port}"),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            # Its own process group: stop() ends kubectl and anything it started, and a Ctrl-C meant for us
            # does not kill it before we have closed the inspector through it.
            start_new_session=True, preexec_fn=_die_with_parent)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._tasks.append(asyncio.ensure_future(self._drain_stderr(self.proc.stderr)))
        try:
            self.local_port = await asyncio.wait_for(self._wait_forwarding(self.proc.stdout), timeout)
        except TimeoutError:
            await self.stop()
            raise KubeError(f"kubectl port-forward to pod {self.pod} did not start within {timeout:.0f} s",
                            hint="check that the cluster is reachable (kubectl get pods)", pod=self.pod) from None
        except BaseException:
            await self.stop()
            raise
        # Keep reading stdout ("Handling connection for ...") so kubectl never blocks on a full pipe.
        self._tasks.append(asyncio.ensure_future(self._drain(self.proc.stdout)))
        return self.local_port

    async def _wait_forwarding(self, stdout: asyncio.StreamReader) -> int:
        while True:
            line = await stdout.readline()
            if not line:
                assert self.proc is not None
                await self.proc.wait()
                await asyncio.sleep(0)  # let the stderr reader finish
                for task in self._tasks:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(asyncio.shield(task), 1)
                raise explain(self.stderr, verb="port-forward", pod=self.pod, namespace=self.kubectl.namespace)
            if m := _FORWARDING.search(line):
                return int(m.group(1))

    async def _drain_stderr(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(4096):
            self._stderr += chunk[-8192:]
            del self._stderr[:-16384]

    @staticmethod
    async def _drain(stream: asyncio.StreamReader) -> None:
        while await stream.read(4096):
            pass

    async def stop(self) -> None:
        """End kubectl's process group (TERM, then KILL after 3 s). Safe to call twice."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    await asyncio.wait_for(proc.wait(), wait)
                    break
                except TimeoutError:
                    continue
        elif proc is not None:
            # kubectl is gone; make sure nothing it started outlives it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
