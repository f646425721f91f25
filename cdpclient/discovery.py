"""Endpoints and target discovery through the inspector's HTTP endpoints.

Node serves ``/json/list`` (its targets) and ``/json/version``; it rejects any
request whose Host header is not an IP address or ``localhost`` (DNS-rebinding
protection), so host names are resolved here and requests go to the address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from cdpclient import hostport
from cdpclient.errors import (
    AmbiguousTarget,
    CDPTimeout,
    ConnectError,
    ConnectionRefused,
    NotAnInspector,
    TargetNotFound,
    UsageError,
)
from cdpclient.hostport import is_loopback
from cdpclient.recording.active import active as recording_active

__all__ = ["Endpoint", "TargetInfo", "parse_endpoint", "list_targets", "get_version", "select_target",
           "is_loopback", "remote_warning"]

DEFAULT_PORT = 9229


@dataclass(frozen=True)
class Endpoint:
    """Where an inspector listens; ``ws_url`` is set when the user gave a debugger URL."""

    host: str
    port: int
    ws_url: str | None = None

    @property
    def address(self) -> str:
        return hostport.join(self.host, self.port)

    @property
    def http_url(self) -> str:
        return f"http://{self.address}"

    def __str__(self) -> str:
        return self.ws_url or self.address


@dataclass(frozen=True)
class TargetInfo:
    """One entry of ``/json/list``."""

    id: str
    title: str
    url: str
    type: str
    ws_url: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "url": self.url, "type": self.type,
                "webSocketDebuggerUrl": self.ws_url}


def parse_endpoint(text: str) -> Endpoint:
    """``host:port``, ``host``, ``:port``, ``http://host:port`` or ``ws://host:port/<id>``.

    Raises :class:`UsageError` for anything else.
    """
    raw = text.strip()
    if not raw:
        raise UsageError("empty endpoint: give host:port, http://host:port or a ws:// debugger URL")
    if raw.isdigit():
        raw = f"127.0.0.1:{raw}"
    if raw.startswith(":"):
        raw = "127.0.0.1" + raw
    if "://" not in raw:
        raw = "http://" + raw
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "ws"):
        raise UsageError(f"unsupported endpoint {text!r}: use host:port, http://host:port or ws://host:port/ID "
                         "(the inspector speaks plain http/ws)")
    try:
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"invalid port in endpoint {text!r}") from exc
    host = parts.hostname
    if not host:
        raise UsageError(f"no host in endpoint {text!r}")
    port = port or DEFAULT_PORT
    if scheme == "ws":
        if not parts.path.strip("/"):
            raise UsageError(f"ws:// endpoint {text!r} has no target id path (ws://host:port/<id>)")
        return Endpoint(host, port, ws_url=f"ws://{hostport.join(host, port)}{parts.path}")
    return Endpoint(host, port)


_LOOPBACK_FOR = {False: "127.0.0.1", True: "::1"}  # by "is it IPv6"


def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def remote_warning(endpoint: Endpoint, resolved: Endpoint | None = None) -> str | None:
    """The warning owed for a non-loopback inspector address, or None for loopback.

    ``resolved`` (from :func:`resolve`) decides: a name that resolves to a loopback
    address is loopback.  ``0.0.0.0`` and ``::`` are reached through loopback, with
    a word that an inspector listening there is open to the network.
    """
    if _unspecified(endpoint.host):
        via = hostport.join(_LOOPBACK_FOR[":" in endpoint.host], endpoint.port)
        return (f"{endpoint.address} is this machine's any-address: connecting through {via}; an inspector "
                "listening on it is open to every network this machine is on")
    if is_loopback(endpoint.host) or (resolved is not None and is_loopback(resolved.host)):
        return None
    return (f"{endpoint.address} is not a loopback address: an open inspector grants code execution to "
            "anyone who reaches it; prefer an SSH tunnel or kubectl port-forward")


async def resolve(endpoint: Endpoint) -> Endpoint:
    """Replace a host name by its address: the inspector only accepts IP or ``localhost`` Host headers.

    ``0.0.0.0`` and ``::`` (which the inspector refuses as a Host) become loopback.
    """
    host = endpoint.host
    if host == "localhost":
        host = "127.0.0.1"
    elif _unspecified(host):
        host = _LOOPBACK_FOR[":" in host]
    else:
        try:
            ipaddress.ip_address(host)
            return endpoint
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, endpoint.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ConnectError(f"cannot resolve host {host!r}: {exc.strerror}", endpoint=str(endpoint)) from exc
        host = str(infos[0][4][0])
    ws_url = endpoint.ws_url
    if ws_url:
        ws_url = f"ws://{hostport.join(host, endpoint.port)}{urlsplit(ws_url).path}"
    return replace(endpoint, host=host, ws_url=ws_url)


async def _get_json(endpoint: Endpoint, path: str, timeout: float) -> Any:
    """GET ``path`` and decode JSON; the one place HTTP errors are translated."""
    url = endpoint.http_url + path
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), trust_env=False) as http:
            async with http.get(url, allow_redirects=False) as response:
                body = await response.read()
                status = response.status
        if (recorder := recording_active()) is not None:
            recorder.http("GET", path, status, body)
    except TimeoutError as exc:
        raise CDPTimeout(f"no answer from {endpoint.address} within {timeout:g}s", timeout=timeout) from exc
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, ConnectionRefusedError):
            raise ConnectionRefused(
                f"connection refused at {endpoint.address}: no inspector listens there "
                "(start node with --inspect, or send it SIGUSR1)", endpoint=str(endpoint)) from exc
        raise ConnectionRefused(f"cannot reach {endpoint.address}: {exc.os_error.strerror or exc}",
                                endpoint=str(endpoint)) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
        raise NotAnInspector(f"{endpoint.address} does not speak HTTP like an inspector ({exc})",
                             endpoint=str(endpoint)) from exc
    except aiohttp.ClientError as exc:
        raise NotAnInspector(f"{endpoint.address} is not a Node inspector ({type(exc).__name__}: {exc})",
                             endpoint=str(endpoint)) from exc
    if status != 200:
        raise NotAnInspector(f"{endpoint.address} is not a Node inspector: GET {path} answered HTTP {status}",
                             endpoint=str(endpoint))
    try:
        return json.loads(body)
    except ValueError as exc:
        raise NotAnInspector(f"{endpoint.address} is not a Node inspector: GET {path} did not return JSON",
                             endpoint=str(endpoint)) from exc


async def get_version(endpoint: Endpoint, *, timeout: float = 5.0) -> dict[str, Any]:
    """``/json/version``: ``{"Browser": "node.js/v20.20.2", "Protocol-Version": "1.1"}``."""
    endpoint = await resolve(endpoint)
    data = await _get_json(endpoint, "/json/version", timeout)
    if not isinstance(data, dict) or "Protocol-Version" not in data:
        raise NotAnInspector(f"{endpoint.address} is not a Node inspector: /json/version has no Protocol-Version",
                             endpoint=str(endpoint))
    return data


async def list_targets(endpoint: Endpoint, *, timeout: float = 5.0) -> list[TargetInfo]:
    """``/json/list``, with each debugger URL pointed at the address we reached.

    The inspector builds debugger URLs from the Host header it received, which
    is wrong behind some forwards; the path (the target id) is what counts.
    """
    endpoint = await resolve(endpoint)
    data = await _get_json(endpoint, "/json/list", timeout)
    if not isinstance(data, list) or not all(isinstance(t, dict) and "id" in t for t in data):
        raise NotAnInspector(f"{endpoint.address} is not a Node inspector: /json/list is not a target list",
                             endpoint=str(endpoint))
    targets = []
    for raw in data:
        ws_path = urlsplit(raw.get("webSocketDebuggerUrl") or f"ws://x/{raw['id']}").path
        targets.append(TargetInfo(
            id=str(raw["id"]), title=str(raw.get("title", "")), url=str(raw.get("url", "")),
            type=str(raw.get("type", "")), ws_url=f"ws://{endpoint.address}{ws_path}", raw=raw))
    return targets


def select_target(targets: list[TargetInfo], target_id: str | None, endpoint: Endpoint) -> TargetInfo:
    """The only target, or the one ``target_id`` names (a unique prefix is enough)."""
    if target_id:
        matches = [t for t in targets if t.id == target_id] or [t for t in targets if t.id.startswith(target_id)]
    else:
        matches = list(targets)
    if not matches:
        if target_id:
            known = ", ".join(t.id for t in targets) or "none"
            raise TargetNotFound(f"no target {target_id!r} at {endpoint.address} (targets: {known})",
                                 target_id=target_id, endpoint=str(endpoint))
        raise TargetNotFound(f"the inspector at {endpoint.address} lists no targets", endpoint=str(endpoint))
    if len(matches) > 1:
        listing = "; ".join(f"{t.id} ({t.title or t.url})" for t in matches)
        raise AmbiguousTarget(f"{len(matches)} targets at {endpoint.address}, pick one with {{target_id}}: {listing}",
                              options=("target_id",), candidates=[t.id for t in matches], endpoint=str(endpoint))
    return matches[0]
