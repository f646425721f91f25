"""A replay inspector: an aiohttp server that plays a recording to whoever attaches.

It serves ``/json/list`` (and ``/json``), ``/json/version`` and the websocket paths as
recorded.  The N-th websocket session opened on a path plays the N-th session recorded
on it (:class:`~cdpclient.recording.script.Script`).  Debugger URLs in the served
lists name the replay's own address, so any CDP client can follow them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from cdpclient import hostport
from cdpclient.errors import UsageError
from cdpclient.recording import format as fmt
from cdpclient.recording.reader import Recording
from cdpclient.recording.script import Script

__all__ = ["ReplayServer"]

_LISTS = ("/json/list", "/json")


class ReplayServer:
    """Serve ``recording`` on ``host:port`` (0: a free port).  ``speed``: 1.0 (recorded timing) or None (max).

    ``on_note`` receives lines for the operator (a command the recording lacks).  Use
    ``async with``; :attr:`address` is where it listens.  A host other than loopback
    raises :class:`UsageError` unless ``allow_remote``.
    """

    def __init__(self, recording: Recording, *, host: str = "127.0.0.1", port: int = 0, speed: float | None = 1.0,
                 on_note: Callable[[str], None] | None = None, allow_remote: bool = False) -> None:
        if not hostport.is_loopback(host) and not allow_remote:
            raise UsageError(f"{host} is not a loopback address: a replay grants what an inspector grants to whoever "
                             "reaches it; give {allow_remote} to listen there anyway", options=("allow_remote",))
        self.recording = recording
        self.host, self.port, self.speed = host, port, speed
        self.on_note = on_note or (lambda line: None)
        self.notes: list[str] = []
        self._http: dict[str, dict[str, Any]] = {}
        for rec in recording.records:
            if rec.get("t") == fmt.HTTP:
                self._http[str(rec["path"])] = rec  # the last answer to each path
        self._sessions: dict[str, list[int]] = {}
        for rec in recording.records:
            if rec.get("t") == fmt.OPEN:
                self._sessions.setdefault(str(rec["path"]), []).append(int(rec["c"]))
        self._played: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._done = 0
        self._all_done = asyncio.Event()

    @property
    def session_paths(self) -> list[str]:
        """The websocket paths the recording has sessions on."""
        return list(self._sessions)

    async def wait_played(self) -> None:
        """Return once every recorded session has been opened by a client and closed again."""
        await self._all_done.wait()

    @property
    def address(self) -> str:
        return hostport.join(self.host, self.port)

    def _note(self, line: str) -> None:
        self.notes.append(line)
        self.on_note(line)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/json/version", self._version)
        for path in _LISTS:
            app.router.add_get(path, self._list)
        app.router.add_get("/{path:.*}", self._websocket)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if self.port == 0 and sockets:
            self.port = int(sockets[0].getsockname()[1])
        if not self.recording.chunks_kept:
            self._note("this recording left heap snapshot chunks out (only their count, size and sha256): "
                       "a snapshot replayed from it has no contents")
        if self.recording.truncated:
            self._note(f"the recording is cut short ({self.recording.problem}): it plays up to its last "
                       "complete record")

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ReplayServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- HTTP ------------------------------------------------------------------------------

    async def _version(self, request: web.Request) -> web.Response:
        rec = self._http.get("/json/version")
        if rec is None:
            return web.json_response({"Browser": "node.js/unknown (replay)", "Protocol-Version": "1.1"})
        return web.Response(body=rec["body"], status=int(rec["status"]), content_type="application/json")

    async def _list(self, request: web.Request) -> web.Response:
        rec = self._http.get(request.path) or self._http.get("/json/list") or self._http.get("/json")
        if rec is None:  # recorded through a ws:// URL: no discovery was recorded
            targets: Any = [{"id": path.strip("/").rsplit("/", 1)[-1], "type": "node", "title": "replay",
                             "url": "", "webSocketDebuggerUrl": f"ws://{self.address}{path}"}
                            for path in self._sessions]
            return web.json_response(targets)
        try:
            targets = json.loads(rec["body"])
        except ValueError:
            return web.Response(body=rec["body"], status=int(rec["status"]), content_type="application/json")
        for target in targets if isinstance(targets, list) else []:
            if isinstance(target, dict):
                self._point_here(target)
        return web.Response(text=json.dumps(targets, indent=2), status=int(rec["status"]),
                            content_type="application/json")

    def _point_here(self, target: dict[str, Any]) -> None:
        ws = target.get("webSocketDebuggerUrl")
        if isinstance(ws, str):
            path = urlsplit(ws).path
            target["webSocketDebuggerUrl"] = f"ws://{self.address}{path}"
            front = target.get("devtoolsFrontendUrl")
            if isinstance(front, str) and "ws=" in front:
                head, _, _ = front.partition("ws=")
                target["devtoolsFrontendUrl"] = f"{head}ws={self.address}{path}"

    # --- the websocket --------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        sessions = self._sessions.get(path)
        if not sessions:
            self._note(f"a client asked for {path}, which the recording does not have")
            return web.Response(status=404, text=f"no session {path} in the recording\n")
        n = self._played.get(path, 0)
        if n >= len(sessions):
            self._note(f"a client opened session {n + 1} on {path}; the recording has {len(sessions)}")
            return web.Response(status=400, text="the recording has no more sessions on this path\n")
        ws = web.WebSocketResponse(max_msg_size=0, autoping=False)
        if not ws.can_prepare(request).ok:  # a plain GET of the path: no session is used up by it
            return web.Response(status=400, text="a websocket path: connect with a websocket client\n")
        self._played[path] = n + 1
        await ws.prepare(request)
        script = Script(self.recording.records, sessions[n], opened=time.monotonic())
        progress = asyncio.Event()
        writer = asyncio.create_task(self._play(ws, script, progress))
        self._tasks.add(writer)
        writer.add_done_callback(self._tasks.discard)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                seen = len(script.notes)
                error = script.receive(msg.data, time.monotonic())
                for line in script.notes[seen:]:
                    self._note(line)
                if error is not None:
                    await ws.send_str(error)
                progress.set()
        finally:
            writer.cancel()
            self._done += 1
            if self._done >= sum(len(s) for s in self._sessions.values()):
                self._all_done.set()
        return ws

    async def _play(self, ws: web.WebSocketResponse, script: Script, progress: asyncio.Event) -> None:
        while not ws.closed:
            due = script.next_due()
            if due is None:
                if script.finished:
                    return
                progress.clear()
                await progress.wait()
                continue
            if self.speed:
                wait = due.after + due.delay / self.speed - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            await ws.send_str(due.text)
            script.sent(time.monotonic())
