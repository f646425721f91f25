"""``attach_pid``: a local Node process by its pid, with or without an open inspector, and back to how it was.

The steps of the pod flow (:func:`cdpclient.kube.attach_pod`), on this machine: check the process is
Node; find an inspector it already listens on (its own sockets, from ``/proc/PID/fd`` and
``/proc/PID/net/tcp{,6}``, that answer ``/json/version``); else send SIGUSR1 and wait for the port it
opens; connect; and close the inspector again on every way out unless asked to keep it.
:func:`local_node_processes` lists the Node processes here and the inspector each listens on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from cdpclient.errors import CDPClientError, ConnectionLost, TargetError

SIGUSR1_TIMEOUT = 8.0      # how long an inspector may take to open after SIGUSR1
CLOSE_TIMEOUT = 120.0      # how long closing the inspector may wait for a busy main thread

# `require` is reachable only with includeCommandLineAPI.  inspector.close() drops every session at
# once (ours too, so no reply comes back); process._debugEnd() is the same on Nodes without it.
CLOSE_INSPECTOR_JS = ("(() => { const i = require('inspector');"
                      " if (typeof i.close === 'function') i.close(); else process._debugEnd(); })()")


class ProcessError(TargetError):
    """A local process cannot be reached: gone, not Node, not ours to signal, or its inspector never opened."""

    def __init__(self, message: str, *, pid: int, hint: str | None = None) -> None:
        super().__init__(f"{message}; {hint}" if hint else message)
        self.pid = pid
        self.hint = hint


@dataclass(frozen=True)
class LocalProcess:
    """A Node process on this machine and the inspector it listens on (``port`` None: closed)."""

    pid: int
    command: str
    port: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "command": self.command, "inspector": self.port is not None, "port": self.port}


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _argv(pid: int) -> list[str]:
    return [a.decode(errors="replace") for a in _read(f"/proc/{pid}/cmdline").split(b"\0") if a]


def _is_node(pid: int) -> bool:
    try:
        comm = _read(f"/proc/{pid}/comm").decode(errors="replace").strip()
        argv = _argv(pid)
    except OSError:
        return False
    base = argv[0].rsplit("/", 1)[-1] if argv else ""
    return comm.startswith(("node", "nodejs")) or base in ("node", "nodejs")


def listening_ports(pid: int) -> set[int]:
    """The TCP ports the process's own sockets listen on (empty when its /proc cannot be read)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            text = _read(f"/proc/{pid}/net/{table}").decode(errors="replace")
        except OSError:
            continue
        for line in text.splitlines()[1:]:
            cols = line.split()
            if len(cols) > 9 and cols[3] == "0A" and cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


async def _inspector_port(pid: int, ports: set[int]) -> int | None:
    """The one of ``ports`` where an inspector answers ``/json/version`` (loopback), or None."""
    from cdpclient.discovery import get_version, parse_endpoint

    for port in sorted(ports):
        try:
            await get_version(parse_endpoint(f"127.0.0.1:{port}"), timeout=2.0)
            return port
        except CDPClientError:
            continue
    return None


async def local_node_processes() -> list[LocalProcess]:
    """The Node processes on this machine that this user can see, and the inspector each listens on."""
    found = []
    for entry in sorted(os.listdir("/proc"), key=lambda e: (len(e), e)):
        if not entry.isdigit() or int(entry) == os.getpid() or not _is_node(int(entry)):
            continue
        pid = int(entry)
        try:
            command = " ".join(_argv(pid))
        except OSError:
            continue
        found.append(LocalProcess(pid, command, await _inspector_port(pid, listening_ports(pid))))
    return found


@contextlib.asynccontextmanager
async def attach_pid(pid: int, *, keep_inspector: bool = False, on_event: Callable[[str], None] | None = None,
                     sigusr1_timeout: float = SIGUSR1_TIMEOUT, **connect_kwargs: Any) -> AsyncIterator[Any]:
    """Reach the local Node process ``pid`` and yield a connected :class:`cdpclient.Target`.

    An inspector the process already listens on is used as it is (and left open); a closed one is
    opened with SIGUSR1 (reported through ``on_event``) and closed again on every way out unless
    ``keep_inspector`` (an inspector left open is a remote code execution hole).  ``target.identity``
    gains ``pid`` and ``inspector_opened``.  Raises :class:`ProcessError` for a process that is gone,
    is not Node, may not be signalled, or does not open its inspector.
    """
    from cdpclient.target import connect

    emit = on_event or (lambda message: None)
    if not os.path.isdir(f"/proc/{pid}"):
        raise ProcessError(f"no process {pid} on this machine", pid=pid)
    if not _is_node(pid):
        raise ProcessError(f"process {pid} is not a Node.js process", pid=pid,
                           hint="give the pid of a node process (cdpclient targets --local lists them)")
    before = listening_ports(pid)
    port = await _inspector_port(pid, before)
    opened = False
    if port is not None:
        emit(f"inspector of pid {pid} already listening on port {port}")
    else:
        try:
            os.kill(pid, signal.SIGUSR1)
        except PermissionError:
            raise ProcessError(f"not allowed to signal process {pid} (another user's)", pid=pid,
                               hint="run as its user, or start it with --inspect") from None
        except ProcessLookupError:
            raise ProcessError(f"process {pid} is gone", pid=pid) from None
        opened = True
        emit(f"inspector of pid {pid} is closed: sent SIGUSR1 to open it (it is closed again afterwards)")
        deadline = time.monotonic() + sigusr1_timeout
        while port is None:
            port = await _inspector_port(pid, listening_ports(pid) - before)
            if port is None:
                if not os.path.isdir(f"/proc/{pid}"):
                    raise ProcessError(f"process {pid} exited after SIGUSR1 (it does not handle it as Node does)",
                                       pid=pid)
                if time.monotonic() > deadline:
                    raise ProcessError(
                        f"pid {pid} did not open its inspector within {sigusr1_timeout:.0f} s of SIGUSR1 (it runs "
                        "with --disable-sigusr1, handles SIGUSR1 itself, or port 9229 is taken)", pid=pid,
                        hint="start it with --inspect=127.0.0.1:0, then give its port as ENDPOINT")
                await asyncio.sleep(0.1)
    target = None
    try:
        async with connect(f"127.0.0.1:{port}", **connect_kwargs) as target:
            target.identity.update({"pid": pid, "inspector_opened": opened})
            try:
                yield target
            finally:
                if opened and not keep_inspector:
                    await _close(target, pid, port, emit)
                elif opened:
                    emit(f"leaving the inspector of pid {pid} open on port {port} (as asked): anyone who can "
                         "reach it can run code in the process")
    except BaseException:
        if opened and not keep_inspector and target is None:
            await _close(None, pid, port, emit)  # opened but never connected: a session just to close it
        raise


async def close_inspector_through(target: Any) -> None:
    """Close the target's inspector through its own session (shared with :mod:`cdpclient.kube.attach`).

    The main thread may still be busy (a heap snapshot goes on in the target after its client is gone):
    the evaluation runs when it is done, so it may wait up to :data:`CLOSE_TIMEOUT`.
    """
    try:
        await target.send("Runtime.evaluate", {"expression": CLOSE_INSPECTOR_JS, "includeCommandLineAPI": True},
                          timeout=CLOSE_TIMEOUT)
    except ConnectionLost:
        pass  # expected: closing the inspector ends our own session too


async def _close(target: Any, pid: int, port: int, emit: Callable[[str], None]) -> None:
    """Close the inspector this run opened; say so, or say when that is not certain."""
    from cdpclient.target import connect

    try:
        if target is not None and not target.connection.closed:
            await close_inspector_through(target)
        elif port in listening_ports(pid):
            async with connect(f"127.0.0.1:{port}", timeout=10) as fresh:
                await close_inspector_through(fresh)
        for _ in range(50):
            if port not in listening_ports(pid):
                break
            await asyncio.sleep(0.1)
        still = port in listening_ports(pid)
    except (CDPClientError, OSError) as exc:
        emit(f"warning: could not close the inspector of pid {pid} ({exc}); it is still open on port {port}")
        return
    if still:
        emit(f"warning: the inspector of pid {pid} still listens on port {port} after closing it")
    else:
        emit(f"closed the inspector of pid {pid}")
