"""A test double of the Kubernetes API server, for the real kubectl.

It serves what ``kubectl get``, ``kubectl exec`` and ``kubectl port-forward``
(1.31+) need, over plain HTTP on 127.0.0.1:

- discovery: ``/version``, ``/api``, ``/apis``, ``/api/v1`` (legacy discovery:
  kubectl asks for the aggregated kind first and falls back when it gets plain JSON);
- pods: get by name, list with a label selector, namespaces;
- ``pods/exec`` over WebSocket subprotocol ``v5.channel.k8s.io``: one byte of
  channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize) before each message,
  ``[255, n]`` half-closes channel n, and a ``metav1.Status`` on the error
  channel ends the command;
- ``pods/portforward`` over WebSocket subprotocol ``SPDY/3.1+portforward.k8s.io``:
  SPDY frames tunnelled in binary messages; each forwarded connection is a pair of
  SPDY streams (``streamType`` error and data, same ``requestID`` and ``port``).

Error paths behave as a cluster's: 404 Status for a missing pod or namespace, 403
for a verb RBAC forbids, exec refused in a pod that is not running, an
"executable file not found" failure in a distroless container, and while
``refusal`` is set, that Status for every request (401 for a token it does not
take, 403 for RBAC on ``get pods``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

import spdy
from pods import FakePod

EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
PORTFORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
USER = "alice@example.com"


def status(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def match_selector(selector: str, labels: dict[str, str]) -> bool:
    """Label selector subset: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``k in (a,b)``, ``k notin (a,b)``."""
    for term in re.findall(r"[^,(]+(?:\([^)]*\))?", selector):
        term = term.strip()
        if not term:
            continue
        if m := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term):
            values = {v.strip() for v in m.group(3).split(",")}
            if (labels.get(m.group(1)) in values) != (m.group(2) == "in"):
                return False
        elif m := re.fullmatch(r"([\w./-]+)\s*(!=|==|=)\s*([\w./-]*)", term):
            key, op, val = m.groups()
            if (labels.get(key) == val) != (op != "!="):
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


class FakeCluster:
    """The API server and its pods.  ``start()`` serves from a thread; ``stop()`` ends everything."""

    def __init__(self, workdir: Path, namespaces: tuple[str, ...] = ("default", "prod")) -> None:
        self.workdir = Path(workdir)
        self.namespaces = set(namespaces)
        self.pods: dict[tuple[str, str], FakePod] = {}
        self.requests: list[str] = []
        # (code, reason, message): answer every pod and namespace request so, as a cluster refusing us would;
        # with refuse_discovery, /api and /apis too (a token that is no good at all).
        self.refusal: tuple[int, str, str] | None = None
        self.refuse_discovery = False
        self.port = 0
        self.kubeconfig = self.workdir / "kubeconfig"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- pods ------------------------------------------------------------------------

    def add_pod(self, pod: FakePod) -> FakePod:
        pod.start()
        self.pods[(pod.namespace, pod.name)] = pod
        return pod

    def remove_pod(self, namespace: str, name: str) -> None:
        pod = self.pods.pop((namespace, name), None)
        if pod:
            pod.stop()

    # --- serving ------------------------------------------------------------------------

    def start(self) -> "FakeCluster":
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True, name="fake-apiserver")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake API server did not start")
        self._write_kubeconfig()
        return self

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def stop(self) -> None:
        for pod in list(self.pods.values()):
            pod.stop()
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    @property
    def server(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_kubeconfig(self) -> None:
        # kubectl reads YAML; JSON is YAML, so no YAML writer is needed.
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "fake", "cluster": {"server": self.server}}],
            "users": [{"name": "alice", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake-ctx", "context": {"cluster": "fake", "user": "alice", "namespace": "prod"}},
                         {"name": "other-ctx", "context": {"cluster": "fake", "user": "alice"}}],
            "current-context": "fake-ctx",
        }
        self.kubeconfig.write_text(json.dumps(config, indent=2))
        os.chmod(self.kubeconfig, 0o600)

    # --- routing ---------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/")
        self.requests.append(f"{request.method} {request.path_qs}")
        if self.refusal and (self.refuse_discovery or path.startswith("/api/v1/")):
            code, reason, message = self.refusal
            return _json(status(code, reason, message), code)
        if path == "/version":
            return web.json_response({"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake",
                                      "platform": "linux/amd64"})
        if path == "/api":
            return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}]})
        if path == "/apis":
            return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        if path == "/api/v1":
            return web.json_response(_API_V1_RESOURCES)
        if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)", path):
            ns = m.group(1)
            if ns not in self.namespaces:
                return _json(status(404, "NotFound", f'namespaces "{ns}" not found',
                                    {"name": ns, "kind": "namespaces"}), 404)
            return web.json_response({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                                      "status": {"phase": "Active"}})
        if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods", path):
            return self._list_pods(m.group(1), request.query.get("labelSelector", ""))
        if path == "/api/v1/pods":
            return self._list_pods(None, request.query.get("labelSelector", ""))
        if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)(?:/(exec|portforward))?", path):
            ns, name, sub = m.groups()
            pod = self.pods.get((ns, name))
            if pod is None:
                return _json(status(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"}), 404)
            if sub is None:
                return web.json_response(pod.to_json())
            if sub in pod.forbidden:
                return _json(status(403, "Forbidden",
                                    f'pods "{name}" is forbidden: User "{USER}" cannot create resource '
                                    f'"pods/{sub}" in API group "" in the namespace "{ns}"',
                                    {"name": name, "kind": f"pods/{sub}"}), 403)
            container = request.query.get("container") or pod.containers[0]
            if sub == "exec" and container not in pod.containers:
                return _json(status(400, "BadRequest", f"container {container} is not valid for pod {pod.name}"), 400)
            if pod.phase != "Running" or not pod.running:
                return _json(status(400, "BadRequest", f'container "{container}" in pod "{pod.name}" is waiting '
                                                       f'to start: ContainerCreating'), 400)
            if not _is_websocket(request):
                # kubectl falls back to SPDY when the WebSocket upgrade fails (any non-101 answer) and then
                # shows the SPDY attempt's error, so every refusal above is made the same for both.
                return _json(status(400, "BadRequest", "this test double speaks WebSockets only, not SPDY"), 400)
            if sub == "exec":
                return await self._exec(request, pod)
            return await self._portforward(request, pod)
        return _json(status(404, "NotFound", "the server could not find the requested resource"), 404)

    def _list_pods(self, ns: str | None, selector: str) -> web.Response:
        items = [p.to_json() for (pns, _), p in sorted(self.pods.items())
                 if (ns is None or pns == ns) and match_selector(selector, p.labels)]
        return web.json_response({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"},
                                  "items": items})

    # --- exec -----------------------------------------------------------------------------------

    async def _exec(self, request: web.Request, pod: FakePod) -> web.StreamResponse:
        q = request.query
        argv = q.getall("command", [])
        ws = web.WebSocketResponse(protocols=EXEC_PROTOCOLS, autoping=True, max_msg_size=0)
        await ws.prepare(request)
        send_lock = asyncio.Lock()

        async def send(channel: int, data: bytes) -> None:
            async with send_lock:
                if not ws.closed:
                    await ws.send_bytes(bytes([channel]) + data)

        if not argv or (pod.binaries is not None and os.path.basename(argv[0]) not in pod.binaries):
            # What containerd reports when the image has no such binary, wrapped by the kubelet.
            await send(ERROR, json.dumps(status(
                500, "InternalError",
                f'Internal error occurred: error executing command in container: failed to exec in container: '
                f'failed to start exec: OCI runtime exec failed: exec failed: unable to start container process: '
                f'exec: "{argv[0] if argv else ""}": executable file not found in $PATH: unknown')).encode())
            await ws.close()
            return ws
        want_stdin = q.get("stdin") in ("true", "1")
        proc = await asyncio.create_subprocess_exec(
            *pod.nsenter(argv), stdin=asyncio.subprocess.PIPE if want_stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

        async def pump(stream: asyncio.StreamReader, channel: int) -> None:
            while chunk := await stream.read(65536):
                await send(channel, chunk)

        async def read_client() -> None:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY or not msg.data:
                    continue
                channel, payload = msg.data[0], msg.data[1:]
                if channel == STDIN and proc.stdin is not None:
                    proc.stdin.write(payload)
                    await proc.stdin.drain()
                elif channel == CLOSE and payload[:1] == bytes([STDIN]) and proc.stdin is not None:
                    proc.stdin.close()
            # The client went away: the command dies with its session, as with a real runtime.
            if proc.returncode is None:
                proc.kill()

        reader = asyncio.ensure_future(read_client())
        assert proc.stdout is not None and proc.stderr is not None
        await asyncio.gather(pump(proc.stdout, STDOUT), pump(proc.stderr, STDERR))
        code = await proc.wait()
        if code == 0:
            result = {"metadata": {}, "status": "Success"}
        else:
            result = status(500, "NonZeroExitCode",
                            f"command terminated with non-zero exit code: error executing command {argv}, "
                            f"exit code {code}", {"causes": [{"reason": "ExitCode", "message": str(code)}]})
            result.pop("code")
        await send(ERROR, json.dumps(result).encode())
        await ws.close()
        reader.cancel()
        return ws

    # --- port-forward ---------------------------------------------------------------------------------

    async def _portforward(self, request: web.Request, pod: FakePod) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=(PORTFORWARD_PROTOCOL,), autoping=True, max_msg_size=0)
        await ws.prepare(request)
        await PortForwardSession(ws, pod).run()
        return ws


class PortForwardSession:
    """One kubectl port-forward connection: SPDY streams in pairs, each pair one TCP connection in the pod."""

    def __init__(self, ws: web.WebSocketResponse, pod: FakePod) -> None:
        self.ws = ws
        self.pod = pod
        self.reader = spdy.FrameReader()
        self.writer = spdy.FrameWriter()
        self.lock = asyncio.Lock()
        self.pairs: dict[str, dict[str, int]] = {}       # requestID -> {"error": sid, "data": sid}
        self.ports: dict[str, int] = {}
        self.sockets: dict[int, asyncio.StreamWriter] = {}  # data stream id -> writer into the pod
        self.pending: dict[int, list[bytes | None]] = {}    # data that came before the pod connection
        self.tasks: set[asyncio.Task[Any]] = set()
        self.last_stream = 0

    async def send(self, frame: bytes) -> None:
        async with self.lock:
            if not self.ws.closed:
                await self.ws.send_bytes(frame)

    async def run(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != WSMsgType.BINARY:
                    continue
                for frame in self.reader.feed(msg.data):
                    await self.handle(frame)
        finally:
            for task in self.tasks:
                task.cancel()
            for w in self.sockets.values():
                w.close()

    async def handle(self, frame: spdy.Frame) -> None:
        if not frame.control:
            await self.on_data(frame.stream_id, frame.data, bool(frame.flags & spdy.FLAG_FIN))
            return
        if frame.type == spdy.SYN_STREAM:
            self.last_stream = frame.stream_id
            # The kubelet replies to every stream at once; client-go waits for the reply.
            await self.send(self.writer.syn_reply(frame.stream_id))
            rid = frame.headers.get("requestid", "")
            kind = frame.headers.get("streamtype", "")
            self.ports[rid] = int(frame.headers.get("port", "0") or 0)
            self.pairs.setdefault(rid, {})[kind] = frame.stream_id
            if kind == "data":
                self.pending[frame.stream_id] = []
            pair = self.pairs[rid]
            if "error" in pair and "data" in pair:
                task = asyncio.ensure_future(self.forward(rid, pair["error"], pair["data"]))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        elif frame.type == spdy.PING:
            await self.send(self.writer.ping(frame.ping_id))
        elif frame.type == spdy.RST_STREAM:
            w = self.sockets.pop(frame.stream_id, None)
            if w:
                w.close()
        elif frame.type == spdy.GOAWAY:
            await self.ws.close()

    async def on_data(self, sid: int, data: bytes, fin: bool) -> None:
        if sid in self.sockets:
            w = self.sockets[sid]
            if data:
                w.write(data)
                await w.drain()
            if fin and w.can_write_eof():
                w.write_eof()
        elif sid in self.pending:
            self.pending[sid].append(data)
            if fin:
                self.pending[sid].append(None)

    async def forward(self, rid: str, error_sid: int, data_sid: int) -> None:
        port = self.ports[rid]
        try:
            sock = await asyncio.to_thread(self.pod.dial, port)
        except OSError as exc:
            msg = (f"error forwarding port {port} to pod {self.pod.uid}, uid : failed to execute portforward in "
                   f"network namespace of pod {self.pod.name}: failed to connect to localhost:{port} inside "
                   f"namespace: dial tcp4 127.0.0.1:{port}: connect: {os.strerror(exc.errno or 111).lower()}")
            await self.send(spdy.FrameWriter.data(error_sid, msg.encode(), fin=True))
            await self.send(spdy.FrameWriter.data(data_sid, b"", fin=True))
            return
        reader, writer = await asyncio.open_connection(sock=sock)
        self.sockets[data_sid] = writer
        for chunk in self.pending.pop(data_sid, []):
            if chunk is None:
                writer.write_eof()
            elif chunk:
                writer.write(chunk)
        try:
            while chunk := await reader.read(256 * 1024):
                await self.send(spdy.FrameWriter.data(data_sid, chunk))
        except (ConnectionError, OSError):
            pass
        finally:
            self.sockets.pop(data_sid, None)
            writer.close()
            await self.send(spdy.FrameWriter.data(data_sid, b"", fin=True))
            await self.send(spdy.FrameWriter.data(error_sid, b"", fin=True))


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _json(body: dict, code: int) -> web.Response:
    return web.json_response(body, status=code)


_API_V1_RESOURCES = {
    "kind": "APIResourceList", "groupVersion": "v1",
    "resources": [
        {"name": "namespaces", "singularName": "namespace", "namespaced": False, "kind": "Namespace",
         "verbs": ["get", "list"], "shortNames": ["ns"]},
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
         "verbs": ["get", "list"], "shortNames": ["po"], "categories": ["all"]},
        {"name": "pods/exec", "singularName": "", "namespaced": True, "kind": "PodExecOptions",
         "verbs": ["create", "get"]},
        {"name": "pods/portforward", "singularName": "", "namespaced": True, "kind": "PodPortForwardOptions",
         "verbs": ["create", "get"]},
    ],
}
