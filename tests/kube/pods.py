"""Fake pods: real local Node processes, each in its own PID, mount and network namespace.

``unshare --pid --fork --mount-proc --net`` makes the Node process PID 1 of its
own PID namespace with a private /proc and its own loopback, so several pods can
all listen on 9229 and ``kill -USR1 1`` means what it means in a container.
Exec'd commands run inside those namespaces through ``nsenter``; port-forward
dials 127.0.0.1 inside the pod's network namespace from a thread that joined it
with setns(2), as the kubelet does.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

APPS = Path(__file__).parent.parent / "apps"
NODE = os.environ.get("CDPCLIENT_TEST_NODE", "node")
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def namespaces_available() -> str | None:
    """None when unshare/nsenter work here; else the reason they do not."""
    for tool in ("unshare", "nsenter"):
        if not shutil.which(tool):
            return f"{tool} not found"
    try:
        out = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "--net", "sh", "-c", "echo $$"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare failed: {exc}"
    if out.returncode != 0 or out.stdout.strip() != "1":
        return f"unshare cannot create PID/network namespaces here: {out.stderr.strip()}"
    return None


@dataclass
class FakePod:
    """One pod of the fake cluster and, when Running, the process behind it.

    ``script`` is a file under tests/apps (or a shell command with ``shell=True``
    semantics via ``command``).  ``binaries`` limits what exec can run
    (``frozenset()`` is a distroless image: nothing but the app); ``forbidden``
    holds the verbs RBAC denies on it ("exec", "portforward").
    """

    name: str
    namespace: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    containers: list[str] = field(default_factory=lambda: ["app"])
    image: str = "registry.example/node-app:1.0"
    node_name: str = "worker-1"
    phase: str = "Running"
    script: str = "idle.js"
    node_args: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    command: str | None = None
    binaries: frozenset[str] | None = None
    tools: tuple[str, ...] | None = None
    workdir: str | None = None
    forbidden: set[str] = field(default_factory=set)
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    proc: subprocess.Popen[bytes] | None = None
    host_pid: int = 0
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    # --- lifecycle -------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> None:
        if self.phase != "Running":
            return
        # `exec` makes the app itself PID 1; a custom command runs under sh as PID 1.
        inner = self.command or "exec " + " ".join([NODE, *self.node_args, str(APPS / self.script), *self.args])
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--net", "sh", "-c",
             f"ip link set lo up 2>/dev/null || true; {inner}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=self.workdir)
        self.output: list[str] = []
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            children = _children(self.proc.pid)
            if children and any("ready" in line for line in self.output):
                self.host_pid = children[0]
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"pod {self.name} did not start: {' | '.join(self.output)}")

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line.decode(errors="replace").rstrip("\n"))

    def stop(self) -> None:
        if self.proc is None:
            return
        # SIGKILL to the pod's init ends the whole PID namespace, as when a container stops.
        for pid in [self.host_pid, self.proc.pid]:
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._pump_thread.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None
        shutil.rmtree(f"/tmp/fakepod-{self.uid}-bin", ignore_errors=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # --- what the kubelet does for the API server -------------------------------

    def nsenter(self, argv: list[str]) -> list[str]:
        """The host command line that runs ``argv`` inside this pod's namespaces (in its working
        directory, with only ``tools`` on $PATH when the pod names them)."""
        prefix = ["nsenter", "-t", str(self.host_pid), "-p", "-n", "-m"]
        if self.workdir:
            prefix.append(f"--wdns={self.workdir}")
        if self.tools is not None:
            return [*prefix, "--", "env", "-i", f"PATH={self.image_path()}", *argv]
        return [*prefix, "--", *argv]

    def image_path(self) -> str:
        """A directory of links to the pod's ``tools``: its $PATH, as an image with only those would have."""
        bin_dir = Path(f"/tmp/fakepod-{self.uid}-bin")
        if not bin_dir.exists():
            bin_dir.mkdir(mode=0o700)
            for tool in self.tools or ():
                found = shutil.which(tool)
                if found:
                    (bin_dir / tool).symlink_to(found)
        return str(bin_dir)

    def dial(self, port: int, timeout: float = 5.0) -> socket.socket:
        """Connect to 127.0.0.1:``port`` inside the pod's network namespace (blocking)."""
        result: list[socket.socket | BaseException] = []

        def run() -> None:
            # setns(2) with CLONE_NEWNET switches only this thread; a socket made here stays in the pod's netns.
            try:
                fd = os.open(f"/proc/{self.host_pid}/ns/net", os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns failed")
                finally:
                    os.close(fd)
                result.append(socket.create_connection(("127.0.0.1", port), timeout=timeout))
            except BaseException as exc:  # handed to the caller's thread
                result.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(timeout + 1)
        if not result:
            raise TimeoutError(f"dial 127.0.0.1:{port} in pod {self.name} timed out")
        if isinstance(result[0], BaseException):
            raise result[0]
        sock = result[0]
        sock.settimeout(None)
        return sock

    def listening(self, port: int) -> bool:
        """Whether something accepts connections on 127.0.0.1:``port`` inside the pod."""
        try:
            self.dial(port, timeout=1.0).close()
            return True
        except OSError:
            return False

    # --- the API object -------------------------------------------------------------

    def to_json(self) -> dict:
        running = self.phase == "Running"
        statuses = [{
            "name": c, "image": self.image, "imageID": f"{self.image}@sha256:{'0' * 64}",
            "containerID": f"containerd://{uuid.uuid5(uuid.NAMESPACE_DNS, self.uid + c).hex}",
            "ready": running, "restartCount": 0, "started": running,
            "state": {"running": {"startedAt": self.started_at}} if running
            else {"waiting": {"reason": "ContainerCreating"}},
        } for c in self.containers]
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid,
                         "labels": dict(self.labels), "annotations": dict(self.annotations),
                         "creationTimestamp": self.started_at, "resourceVersion": "1"},
            "spec": {"nodeName": self.node_name,
                     "containers": [{"name": c, "image": self.image,
                                     "ports": [{"containerPort": 8080, "protocol": "TCP"}]}
                                    for c in self.containers]},
            "status": {"phase": self.phase, "podIP": "10.0.0.%d" % (hash(self.name) % 200 + 10),
                       "startTime": self.started_at, "containerStatuses": statuses},
        }


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]
