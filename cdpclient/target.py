"""The object a runbook holds: a connected Node target.

``async with cdpclient.connect("127.0.0.1:9229") as target:`` discovers the
target, opens a CDP session, and closes it on the way out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

from cdpclient.captures import CaptureMethods, CaptureState
from cdpclient.connection import DEFAULT_TIMEOUT, Connection
from cdpclient.discovery import (
    Endpoint,
    TargetInfo,
    get_version,
    list_targets,
    parse_endpoint,
    remote_warning,
    resolve,
    select_target,
)
from cdpclient.errors import CDPClientError, ProtocolError, TargetNotFound
from cdpclient.memory import read_memory

__all__ = ["Target", "ProcessInfo", "connect"]

log = logging.getLogger("cdpclient")

@dataclasses.dataclass
class ProcessInfo:
    """What ``cdpclient info`` shows about the process behind a target."""

    pid: int
    node_version: str
    v8_version: str
    platform: str
    arch: str
    uptime_s: float
    title: str
    argv: list[str]
    exec_argv: list[str]
    heap_used: int
    heap_total: int
    heap_size_limit: int
    rss: int
    external: int
    array_buffers: int
    cgroup_memory_limit: int | None
    constrained_memory: int | None
    memory_limit: int | None
    """The tightest known limit on the process's memory (cgroup, constrainedMemory), or None."""
    process_limits: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """Its own soft limits that are set: ``{"name", "source", "limit", "used"}`` (``ulimit -v``: VmSize)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Evaluated in the target; the memory and its limits come from cdpclient.memory's probe.
_PROCESS_JS = r"""
(() => {
  const mu = process.memoryUsage();
  return {
    pid: process.pid, node_version: process.version, v8_version: process.versions.v8,
    platform: process.platform, arch: process.arch, uptime_s: process.uptime(), title: process.title,
    argv: process.argv, exec_argv: process.execArgv, external: mu.external, array_buffers: mu.arrayBuffers || 0,
  };
})()
"""


class Target(CaptureMethods):
    """A connected inspector target: one CDP session with a Node process.

    Get one from :func:`connect`.  ``send`` runs raw CDP commands; the capture
    methods (``heap_snapshot``, ``cpu_profile``, ...) come from
    :class:`~cdpclient.captures.CaptureMethods`.
    """

    def __init__(self, connection: Connection, endpoint: Endpoint, info: TargetInfo,
                 version: dict[str, Any] | None) -> None:
        self.connection = connection
        self.endpoint = endpoint
        self.info = info
        self.version = version
        self.session_id = uuid.uuid4().hex[:16]
        """Identifies this websocket session: V8 heap object ids are comparable only within one."""
        self.identity: dict[str, Any] = {"endpoint": endpoint.address, "target_id": info.id, "url": info.url}
        """What a capture records as its target; a pod attach adds Kubernetes fields."""
        self.capture_state = CaptureState()
        """What the captures remember about this session between captures (object-id epoch, memory kept)."""

    async def send(self, method: str, params: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """Run a CDP command; see :meth:`Connection.send`."""
        return await self.connection.send(method, params, **kwargs)

    async def evaluate(self, expression: str, *, await_promise: bool = False, timeout: float | None = DEFAULT_TIMEOUT,
                       include_command_line_api: bool = True) -> Any:
        """Evaluate JavaScript in the target and return the value (by value).

        A thrown JavaScript exception raises :class:`ProtocolError` with its text.
        """
        reply = await self.connection.send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": await_promise,
            "includeCommandLineAPI": include_command_line_api, "silent": True,
        }, timeout=timeout)
        details = reply.get("exceptionDetails")
        if details:
            exc = details.get("exception") or {}
            text = exc.get("description") or details.get("text") or "exception"
            raise ProtocolError("Runtime.evaluate", None, f"JavaScript threw: {text.splitlines()[0]}")
        return reply.get("result", {}).get("value")

    async def process_info(self) -> ProcessInfo:
        """Pid, versions, uptime, heap and RSS, and the memory limit when it can be known.

        The limits are those the heap snapshot guard reads (:func:`cdpclient.memory.read_memory`).
        """
        data = await self.evaluate(_PROCESS_JS)
        memory = await read_memory(self)
        heap_used, heap_total = memory.heap_used, memory.heap_total
        with contextlib.suppress(CDPClientError):
            usage = await self.connection.send("Runtime.getHeapUsage", timeout=10)
            heap_used = int(usage.get("usedSize", heap_used))
            heap_total = int(usage.get("totalSize", heap_total))
        return ProcessInfo(
            pid=int(data["pid"]), node_version=data["node_version"], v8_version=data["v8_version"],
            platform=data["platform"], arch=data["arch"], uptime_s=float(data["uptime_s"]), title=data["title"],
            argv=list(data["argv"]), exec_argv=list(data["exec_argv"]), heap_used=heap_used, heap_total=heap_total,
            heap_size_limit=memory.heap_limit or 0, rss=memory.rss, external=int(data["external"]),
            array_buffers=int(data["array_buffers"]),
            cgroup_memory_limit=memory.cgroup.limit if memory.cgroup else None,
            constrained_memory=memory.constrained, memory_limit=memory.memory_limit,
            process_limits=[{"name": r.name, "source": r.source, "limit": r.limit, "used": r.used}
                            for r in memory.rlimits])

    async def close(self) -> None:
        """End the session (the inspector disables our agents; profilers we started stop)."""
        await self.connection.close()

    async def __aenter__(self) -> Target:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@contextlib.asynccontextmanager
async def connect(endpoint: str | Endpoint = "127.0.0.1:9229", *, target_id: str | None = None,
                  timeout: float = 10.0, command_timeout: float | None = DEFAULT_TIMEOUT,
                  on_warning: Callable[[str], None] | None = None) -> AsyncIterator[Target]:
    """Connect to a Node inspector and yield a :class:`Target`; the session closes on exit.

    ``endpoint`` is ``host:port``, ``http://host:port`` or a ``ws://`` debugger
    URL (used directly, without discovery).  ``target_id`` picks one of several
    targets.  ``timeout`` bounds discovery and the handshake;
    ``command_timeout`` is the default for each command.  ``on_warning``
    receives warnings (a non-loopback address); they go to the ``cdpclient``
    logger otherwise.

    Raises :class:`ConnectionRefused`, :class:`NotAnInspector`,
    :class:`TargetNotFound`, :class:`AmbiguousTarget`,
    :class:`HandshakeRejected` or :class:`CDPTimeout`.
    """
    target = await open_target(endpoint, target_id=target_id, timeout=timeout, command_timeout=command_timeout,
                               on_warning=on_warning)
    try:
        yield target
    finally:
        await target.close()


async def _ws_target(resolved: Endpoint, timeout: float) -> TargetInfo:
    """The target a ``ws://`` URL names, as the inspector lists it (title, url) when it lists it.

    An id the inspector does not list fails at once naming the ids it does list
    (the websocket handshake alone says only "did not receive a valid HTTP
    response").  Behind a forward that serves only the websocket, the URL is used as given.
    """
    assert resolved.ws_url is not None
    target_id = urlsplit(resolved.ws_url).path.strip("/").rsplit("/", 1)[-1]
    bare = TargetInfo(id=target_id, title="", url="", type="node", ws_url=resolved.ws_url)
    try:
        listed = await list_targets(dataclasses.replace(resolved, ws_url=None), timeout=min(timeout, 5.0))
    except CDPClientError:
        return bare
    for info in listed:
        if info.id == target_id:
            return dataclasses.replace(info, ws_url=resolved.ws_url)
    known = ", ".join(f"{t.id} ({t.title or t.url})" for t in listed) or "none"
    raise TargetNotFound(f"no target {target_id!r} at {resolved.address} (targets: {known})",
                         target_id=target_id, endpoint=str(resolved))


async def open_target(endpoint: str | Endpoint, *, target_id: str | None = None, timeout: float = 10.0,
                      command_timeout: float | None = DEFAULT_TIMEOUT,
                      on_warning: Callable[[str], None] | None = None) -> Target:
    """Like :func:`connect`, but the caller closes the returned target (``await target.close()``)."""
    ep = parse_endpoint(endpoint) if isinstance(endpoint, str) else endpoint
    resolved = await resolve(ep)
    warning = remote_warning(ep, resolved)
    if warning:
        (on_warning or log.warning)(warning)
    version: dict[str, Any] | None = None
    if resolved.ws_url:
        info = await _ws_target(resolved, timeout)
    else:
        version = await get_version(resolved, timeout=timeout)
        info = select_target(await list_targets(resolved, timeout=timeout), target_id, resolved)
    connection = await Connection.open(info.ws_url, open_timeout=timeout, default_timeout=command_timeout)
    return Target(connection, ep, info, version)
