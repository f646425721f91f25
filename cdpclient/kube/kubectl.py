"""Running the user's kubectl (its failures become one KubeError each in :mod:`.failures`).

cdpclient never talks to the API server itself: the user's kubectl carries their
kubeconfig, contexts and auth plugins.  Every call goes through :class:`Kubectl`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

from cdpclient.errors import KubeError
from cdpclient.kube.failures import condense, no_answer

DEFAULT_TIMEOUT = 30.0

@dataclass
class Result:
    code: int
    stdout: bytes
    stderr: str


class Kubectl:
    """The kubectl binary and the global flags every call carries (kubeconfig, context, namespace)."""

    def __init__(self, binary: str | None = None, *, kubeconfig: str | None = None, context: str | None = None,
                 namespace: str | None = None) -> None:
        name = binary or os.environ.get("CDPCLIENT_KUBECTL") or "kubectl"
        found = shutil.which(name)
        if not found:
            raise KubeError(f"kubectl not found: {name!r}",
                            hint="install kubectl, or pass {kubectl} PATH to the one you use", options=("kubectl",))
        self.binary = found
        self.kubeconfig = kubeconfig
        self.context = context
        self.namespace = namespace

    def argv(self, *args: str, namespace: str | None = None) -> list[str]:
        cmd = [self.binary]
        if self.kubeconfig:
            cmd += ["--kubeconfig", self.kubeconfig]
        if self.context:
            cmd += ["--context", self.context]
        ns = namespace or self.namespace
        if ns:
            cmd += ["--namespace", ns]
        return cmd + list(args)

    async def run(self, *args: str, namespace: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Result:
        """Run kubectl to completion; a timeout kills it and raises KubeError (with what it said so far)."""
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args, namespace=namespace), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        stdout, stderr = proc.stdout, proc.stderr
        err = bytearray()  # kept across a timeout: what kubectl said while it waited is the reason

        async def collect() -> bytes:
            async def drain_stderr() -> None:
                while chunk := await stderr.read(1 << 16):
                    err.extend(chunk)
            out, _ = await asyncio.gather(stdout.read(), drain_stderr())
            await proc.wait()
            return out

        try:
            out = await asyncio.wait_for(collect(), timeout)
        except (TimeoutError, asyncio.CancelledError) as exc:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise no_answer(args, namespace or self.namespace, timeout, err.decode(errors="replace")) from None
        return Result(proc.returncode or 0, out, err.decode(errors="replace"))

    async def stream(self, *args: str, sink: Callable[[bytes], None], namespace: str | None = None,
                     idle_timeout: float = 120.0) -> Result:
        """Run kubectl, handing its stdout to ``sink`` chunk by chunk (nothing kept in memory).

        ``idle_timeout``: a kubectl that prints nothing for this long is killed (KubeError).
        Cancelling kills kubectl too.  ``Result.stdout`` is empty.
        """
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args, namespace=namespace), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, limit=1 << 20)
        assert proc.stdout is not None and proc.stderr is not None
        errors = asyncio.ensure_future(proc.stderr.read())
        try:
            while chunk := await asyncio.wait_for(proc.stdout.read(1 << 20), idle_timeout):
                sink(chunk)
            await proc.wait()
        except BaseException as exc:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            errors.cancel()
            if isinstance(exc, TimeoutError):
                raise KubeError(f"kubectl {args[0]} sent nothing for {idle_timeout:.0f} s",
                                hint="check that the cluster is reachable (kubectl get pods)") from None
            raise
        return Result(proc.returncode or 0, b"", (await errors).decode(errors="replace"))

    async def current_context(self) -> str | None:
        if self.context:
            return self.context
        res = await self.run("config", "current-context", timeout=10)
        return res.stdout.decode().strip() or None if res.code == 0 else None

    async def context_problem(self) -> str | None:
        """What ``kubectl config current-context`` says is wrong (``error: current-context is not set``),
        or None when a context is set or was given.  kubectl without a context tries localhost:8080
        and reports only that this was refused; this is the reason to show instead."""
        if self.context:
            return None
        res = await self.run("config", "current-context", timeout=10)
        return condense(res.stderr).final or "no current context" if res.code != 0 else None
