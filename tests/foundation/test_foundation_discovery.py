"""Endpoints, discovery and the errors for addresses that are not inspectors."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import AsyncIterator

import pytest
from aiohttp import web

import cdpclient
from cdpclient import AmbiguousTarget, ConnectionRefused, NotAnInspector, TargetNotFound, UsageError
from cdpclient.discovery import is_loopback, parse_endpoint
from cdpclient_cli.common import flag

pytestmark = pytest.mark.compat


@pytest.mark.parametrize(("text", "host", "port", "ws"), [
    ("127.0.0.1:9229", "127.0.0.1", 9229, None),
    ("localhost", "localhost", 9229, None),
    ("9230", "127.0.0.1", 9230, None),
    (":9231", "127.0.0.1", 9231, None),
    ("http://10.1.2.3:9229/", "10.1.2.3", 9229, None),
    ("[::1]:9229", "::1", 9229, None),
    ("ws://127.0.0.1:9229/abc-def", "127.0.0.1", 9229, "ws://127.0.0.1:9229/abc-def"),
])
def test_parse_endpoint(text: str, host: str, port: int, ws: str | None) -> None:
    ep = parse_endpoint(text)
    assert (ep.host, ep.port, ep.ws_url) == (host, port, ws)


@pytest.mark.parametrize("text", ["", "https://x:1", "ws://127.0.0.1:9229", "host:notaport"])
def test_parse_endpoint_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_endpoint(text)


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.8.0.1") and is_loopback("::1")
    assert is_loopback("localhost") and not is_loopback("10.0.0.5") and not is_loopback("api.internal")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_closed_port() -> None:
    with pytest.raises(ConnectionRefused, match="connection refused"):
        async with cdpclient.connect(f"127.0.0.1:{free_port()}"):
            pass


@pytest.fixture
async def http_server() -> AsyncIterator[web.AppRunner]:
    runner: web.AppRunner | None = None

    async def start(routes: dict[str, object]) -> int:
        nonlocal runner
        app = web.Application()
        for path, body in routes.items():
            async def handler(_: web.Request, body: object = body) -> web.Response:
                if isinstance(body, str):
                    return web.Response(text=body, content_type="text/html")
                return web.json_response(body)
            app.router.add_get(path, handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    yield start  # type: ignore[misc]
    if runner is not None:
        await runner.cleanup()


async def test_http_server_that_is_not_an_inspector(http_server) -> None:  # type: ignore[no-untyped-def]
    port = await http_server({"/": "<html>hello</html>"})
    with pytest.raises(NotAnInspector, match="not a Node inspector"):
        async with cdpclient.connect(f"127.0.0.1:{port}"):
            pass


async def test_raw_tcp_service_that_is_not_http() -> None:
    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(banner, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(NotAnInspector):
            async with cdpclient.connect(f"127.0.0.1:{port}", timeout=5):
                pass
    finally:
        server.close()


def _target(i: int, port: int) -> dict[str, str]:
    return {"id": f"id-{i}", "title": f"worker {i}", "url": "file:///app.js", "type": "node",
            "webSocketDebuggerUrl": f"ws://127.0.0.1:{port}/id-{i}"}


async def test_several_targets_need_an_id(http_server) -> None:  # type: ignore[no-untyped-def]
    # A Node process lists one target; gateways and Chrome list several, so selection is tested on a double.
    port = free_port()
    routes = {"/json/version": {"Browser": "node.js/v20", "Protocol-Version": "1.1"},
              "/json/list": [_target(1, port), _target(2, port)]}
    port = await http_server(routes)
    with pytest.raises(AmbiguousTarget) as info:
        async with cdpclient.connect(f"127.0.0.1:{port}"):
            pass
    assert info.value.candidates == ["id-1", "id-2"] and "--target" in info.value.render(flag)
    with pytest.raises(TargetNotFound, match="no target 'id-9'"):
        async with cdpclient.connect(f"127.0.0.1:{port}", target_id="id-9"):
            pass


async def test_target_id_selects(node) -> None:  # type: ignore[no-untyped-def]
    targets = await cdpclient.list_targets(parse_endpoint(node.endpoint))
    assert len(targets) == 1 and targets[0].type == "node"
    async with cdpclient.connect(node.endpoint, target_id=targets[0].id[:8]) as target:
        assert target.info.id == targets[0].id


async def test_localhost_host_header(node) -> None:  # type: ignore[no-untyped-def]
    async with cdpclient.connect(f"localhost:{node.port}") as target:
        assert await target.evaluate("2") == 2


def test_json_of_version(node) -> None:  # type: ignore[no-untyped-def]
    version = asyncio.run(cdpclient.get_version(parse_endpoint(node.endpoint)))
    assert "webSocketDebuggerUrl" not in version and json.dumps(version)


def test_remote_warning_only_for_non_loopback() -> None:
    from cdpclient.discovery import remote_warning

    assert remote_warning(parse_endpoint("127.0.0.1:9229")) is None
    assert remote_warning(parse_endpoint("localhost")) is None
    assert "not a loopback address" in (remote_warning(parse_endpoint("10.0.0.5:9229")) or "")


def test_any_address_connects_through_loopback(node) -> None:  # type: ignore[no-untyped-def]
    from nodeproc import run_cli  # type: ignore[attr-defined]

    # The inspector answers HTTP 400 to a Host of 0.0.0.0; it used to fail as "not a Node inspector".
    done = run_cli("info", f"0.0.0.0:{node.port}", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pid"] == node.proc.pid
    assert "any-address: connecting through 127.0.0.1" in done.stderr and "not a loopback" not in done.stderr


def test_a_name_that_resolves_to_loopback_gets_no_warning(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import subprocess
    import sys

    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.1 inspector.internal\n10.255.255.1 far.internal\n")
    if shutil.which("unshare") is None:
        pytest.skip("no unshare here: cannot give the command its own /etc/hosts")
    cmd = (f"mount --bind {hosts} /etc/hosts && exec {sys.executable} -m cdpclient_cli.app "
           f"info inspector.internal:{node.port} --json")
    done = subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True, timeout=60)
    if "mount" in done.stderr and done.returncode != 0 and "pid" not in done.stdout:
        pytest.skip(f"cannot bind-mount /etc/hosts here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pid"] == node.proc.pid and "warning" not in done.stderr
    from cdpclient.discovery import Endpoint, remote_warning

    assert "not a loopback address" in (remote_warning(parse_endpoint("far.internal:1"), Endpoint("10.255.255.1", 1)) or "")
