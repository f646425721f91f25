"""Running the user's kubectl, and turning its failures into one clear KubeError each.

cdpclient never talks to the API server itself: the user's kubectl carries their
kubeconfig, contexts and auth plugins.  Every call goes through :class:`Kubectl`.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass

from cdpclient.errors import KubeError, NoShellInContainer

DEFAULT_TIMEOUT = 30.0

# What to do after RBAC refuses a verb, per verb.
_RBAC_HINT = {
    "exec": "ask for a Role that grants 'create' on pods/exec in this namespace",
    "port-forward": "ask for a Role that grants 'create' on pods/portforward in this namespace",
    "get": "ask for a Role that grants 'get' and 'list' on pods in this namespace",
}


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
        """Run kubectl to completion; a timeout kills it and raises KubeError."""
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args, namespace=namespace), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except (TimeoutError, asyncio.CancelledError) as exc:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise KubeError(f"kubectl {args[0]} did not finish within {timeout:.0f} s",
                            hint="check that the cluster is reachable (kubectl get pods)") from None
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


def explain(stderr: str, *, verb: str, pod: str | None = None, namespace: str | None = None,
            container: str | None = None) -> KubeError:
    """The one-line KubeError for a failed kubectl call, from what kubectl printed."""
    text = " ".join(stderr.split())
    where = f" in namespace {namespace}" if namespace else ""
    if m := re.search(r'context was not found for specified context: (\S+)'
                      r'|no context exists with the name: "?([^"\s]+)', text):
        name = m.group(1) or m.group(2)
        return KubeError(f"no context {name!r} in the kubeconfig", hint="list them with: kubectl config get-contexts",
                         pod=pod)
    if m := re.search(r'namespaces "([^"]+)" not found', text):
        return KubeError(f"no namespace {m.group(1)!r}", hint="list them with: kubectl get namespaces", pod=pod)
    if m := re.search(r'pods "([^"]+)" not found', text):
        return KubeError(f"no pod {m.group(1)!r}{where}",
                         hint=f"list them with: kubectl get pods{' -n ' + namespace if namespace else ''}", pod=pod)
    if "forbidden" in text.lower():
        detail = re.sub(r"^(error: )?(error upgrading connection: )?(Error from server \(Forbidden\): )?", "", text)
        return KubeError(f"RBAC forbids {verb} on pod {pod}{where}: {detail}",
                         hint=_RBAC_HINT.get(verb, "ask your cluster admin for access"), pod=pod)
    if "executable file not found" in text or "no such file or directory" in text and "exec" in text:
        target = f" --target={container}" if container else ""
        return NoShellInContainer(
            f"container {container or ''} of pod {pod} has no shell or kill (distroless image?)",
            hint=f"attach an ephemeral debug container: kubectl debug -it {pod}{target} --image=busybox "
                 f"-- kill -USR1 <pid>, then run again", pod=pod)
    if "not permitted" in text:
        return KubeError(f"not allowed to signal the process in pod {pod}: {text}",
                         hint="it runs as another user than kubectl exec; pass {container}, or use "
                              "kubectl debug with --target", pod=pod, options=("container",))
    if "Unable to connect to the server" in text or "connection refused" in text and "dial tcp" in text:
        return KubeError(f"cannot reach the Kubernetes API server: {text}",
                         hint="check the kubeconfig, context and VPN (kubectl get pods)", pod=pod)
    if "Unauthorized" in text or "must be logged in" in text:
        return KubeError(f"the API server refused our credentials: {text}",
                         hint="log in again (your kubeconfig's auth plugin), then retry", pod=pod)
    return KubeError(f"kubectl {verb} failed for pod {pod}{where}: {text or 'no error message'}", pod=pod)
