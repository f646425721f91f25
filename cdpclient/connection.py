"""One CDP session over a websocket: send commands, await replies, receive events.

The bookkeeping lives in :mod:`cdpclient.protocol`; this module is the asyncio
plumbing around it and the one boundary where websocket errors become
cdpclient errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from cdpclient.errors import (
    CDPTimeout,
    ConnectionLost,
    ConnectionRefused,
    HandshakeRejected,
    NotAnInspector,
    TargetUnresponsive,
)
from cdpclient.protocol import Event, MalformedMessage, Protocol, Reply
from cdpclient.recording.active import active as recording_active

__all__ = ["Connection", "Subscription", "Stall", "DEFAULT_TIMEOUT", "DEFAULT_STALL_TIMEOUT", "STALL_NOTICE"]

log = logging.getLogger("cdpclient")

DEFAULT_TIMEOUT = 30.0
"""Seconds a command or event wait may take unless the caller says otherwise."""

DEFAULT_STALL_TIMEOUT = 60.0
"""Seconds of total silence from the target, while a command waits, before that command gives up.

A live target is never silent that long while it works for us: a heap snapshot
reports progress and streams chunks, and the largest single reply (a long CPU
profile) takes a few seconds.  Silence means the process is stopped (SIGSTOP, a
debugger pause), in a very long GC, or in a busy loop that never yields.
"""

STALL_NOTICE = 3.0
"""Seconds of silence after which stall listeners hear about it (then about once a second)."""


@dataclasses.dataclass(frozen=True)
class Stall:
    """The target has sent nothing for ``silent_s`` seconds while ``method`` waits for its reply.

    ``limit_s`` is when the command gives up (None: never).  A report with
    ``silent_s == 0`` says the target answered again.
    """

    method: str
    silent_s: float
    limit_s: float | None


StallCallback = Callable[[Stall], None]

_USE_DEFAULT: Any = object()


class _StampedConnection(ClientConnection):
    """A websocket that notes when bytes last arrived: a reply of tens of MB is not silence."""

    last_bytes = 0.0

    def data_received(self, data: bytes) -> None:
        self.last_bytes = time.monotonic()
        super().data_received(data)
EventCallback = Callable[[dict[str, Any]], Any]


class Connection:
    """A CDP session.  Create with :meth:`open`; use as an async context manager.

    * :meth:`send` runs a command and returns its ``result``; many may be in flight.
    * :meth:`on` registers a callback for an event method; :meth:`wait_for`
      awaits the next matching event; :meth:`subscribe` iterates them.
    * When the socket closes, every pending call and waiter fails at once with
      :class:`ConnectionLost`; nothing waits forever.
    * When the target sends nothing at all while a command waits, listeners
      registered with :meth:`on_stall` hear about it after :data:`STALL_NOTICE`
      seconds, and the command raises :class:`TargetUnresponsive` after
      :attr:`stall_timeout` seconds, whatever its own timeout.

    No websocket pings are sent: the Node inspector does not answer a ping, it
    drops the session (measured on Node 20 and 22; see
    ``tests/foundation/test_foundation_connection.py``), so long idle captures
    rely on TCP alone.
    """

    def __init__(self, ws: ClientConnection, url: str, *, default_timeout: float | None = DEFAULT_TIMEOUT,
                 stall_timeout: float | None = DEFAULT_STALL_TIMEOUT) -> None:
        self.url = url
        self.default_timeout = default_timeout
        self.stall_timeout = stall_timeout
        """Seconds of silence after which a waiting command raises :class:`TargetUnresponsive` (None: never)."""
        self._last_message = time.monotonic()
        self._asked_at = 0.0  # when the first command since the target last sent anything went out
        self._gave_up_at: float | None = None  # when a command last raised TargetUnresponsive
        self._stall_listeners: list[StallCallback] = []
        self._ws = ws
        self._protocol = Protocol()
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: dict[str, list[EventCallback]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = asyncio.Event()
        self._close_reason: str | None = None
        self.callback_errors: list[BaseException] = []
        self._subscriptions: set[Subscription] = set()
        # A recorder (cdpclient.recording) sees every message both ways; None, the default, costs one test.
        self._recorder = recording_active()
        self._session = self._recorder.ws_open(urlsplit(url).path) if self._recorder is not None else 0
        self._reader = asyncio.create_task(self._read_loop(), name=f"cdp-reader {url}")

    # --- opening and closing ---------------------------------------------------

    @classmethod
    async def open(cls, url: str, *, open_timeout: float = 10.0, retry_for: float = 3.0,
                   default_timeout: float | None = DEFAULT_TIMEOUT,
                   stall_timeout: float | None = DEFAULT_STALL_TIMEOUT) -> Connection:
        """Open a session to a ``ws://`` debugger URL.

        The Node inspector briefly answers ``400`` to a handshake right after
        another session on the same target closed, so a rejected handshake is
        retried with backoff for up to ``retry_for`` seconds before
        :class:`HandshakeRejected` is raised.
        """
        deadline = time.monotonic() + retry_for
        delay = 0.05
        while True:
            try:
                ws = await ws_connect(
                    url, ping_interval=None, ping_timeout=None, max_size=None, max_queue=64,
                    open_timeout=open_timeout, close_timeout=2, compression=None,
                    proxy=None,  # an inspector is reached directly, never through $HTTP_PROXY
                    create_connection=_StampedConnection,
                )
                return cls(ws, url, default_timeout=default_timeout, stall_timeout=stall_timeout)
            except websockets.InvalidStatus as exc:
                status = exc.response.status_code
                if time.monotonic() >= deadline:
                    raise HandshakeRejected(
                        f"the inspector at {url} refused the session (HTTP {status}); "
                        "another debugger may hold it, or the target id is stale", endpoint=url) from exc
            except (websockets.InvalidHandshake, websockets.InvalidMessage) as exc:
                raise NotAnInspector(f"{url} did not answer as a websocket inspector: {exc}", endpoint=url) from exc
            except ConnectionRefusedError as exc:
                raise ConnectionRefused(f"connection refused at {url}: is the inspector open?", endpoint=url) from exc
            except TimeoutError as exc:
                raise CDPTimeout(f"no websocket handshake from {url} within {open_timeout:g}s",
                                 timeout=open_timeout) from exc
            except OSError as exc:
                raise ConnectionRefused(f"cannot reach {url}: {exc.strerror or exc}", endpoint=url) from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def close(self) -> None:
        """Close the session; pending calls fail with :class:`ConnectionLost`."""
        try:
            if not self._closed.is_set():
                self._close_reason = self._close_reason or "closed by the client"
                if self.stalled_for() >= STALL_NOTICE:  # a stopped target would not answer the close either
                    self._ws.transport.abort()
                with contextlib.suppress(Exception):
                    await self._ws.close()
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), 3)
            except asyncio.CancelledError:
                # The reader's own cancellation is ours to swallow; the caller's (Ctrl-C, SIGTERM
                # arriving while we close) must go on, or the command would exit as if it succeeded.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
            except Exception:
                pass
        finally:
            self._shutdown(self._close_reason or "closed by the client")
            for task in list(self._tasks):
                task.cancel()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def close_reason(self) -> str | None:
        return self._close_reason

    async def wait_closed(self) -> None:
        await self._closed.wait()

    # --- commands ------------------------------------------------------------------

    async def send(self, method: str, params: dict[str, Any] | None = None, *,
                   timeout: float | None = _USE_DEFAULT,
                   stall_timeout: float | None = _USE_DEFAULT) -> dict[str, Any]:
        """Run ``method`` and return its ``result``.

        Raises :class:`ProtocolError` for an error reply, :class:`CDPTimeout`
        after ``timeout`` seconds (``None``: no limit; default
        :attr:`default_timeout`), :class:`TargetUnresponsive` after
        ``stall_timeout`` seconds of total silence from the target (``None``:
        never; default :attr:`stall_timeout`; a command known to keep the target
        silent for long, a huge heap snapshot's GCs, asks for more),
        :class:`ConnectionLost` if the session ends first.
        """
        self._check_open(method)
        timeout = self.default_timeout if timeout is _USE_DEFAULT else timeout
        limit = self.stall_timeout if stall_timeout is _USE_DEFAULT else stall_timeout
        msg_id, text = self._protocol.request(method, params)
        sent_at = time.monotonic()
        if self._asked_at <= self.last_received or self.unresponsive:  # after a give-up: a new window
            self._asked_at = sent_at
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[msg_id] = future
        try:
            if self._recorder is not None:
                self._recorder.ws_send(self._session, text)
            try:
                await self._ws.send(text)
            except websockets.ConnectionClosed as exc:
                raise ConnectionLost(f"{method}: the connection closed ({self._describe_close(exc)})",
                                     method=method) from exc
            return await self._await_reply(method, future, timeout, sent_at, limit)
        except TimeoutError as exc:
            raise CDPTimeout(f"{method} got no reply within {timeout:g}s", method=method, timeout=timeout) from exc
        finally:
            self._replies.pop(msg_id, None)
            self._protocol.forget(msg_id)
            # The session may have ended while the command was still being written: _shutdown then
            # failed this future although nobody awaits it any more.  Mark that failure seen, or
            # asyncio prints "Future exception was never retrieved" when the future is collected.
            if future.done() and not future.cancelled():
                future.exception()

    async def _await_reply(self, method: str, future: asyncio.Future[dict[str, Any]], timeout: float | None,
                           sent_at: float, limit: float | None) -> dict[str, Any]:
        """Wait for ``future`` at most ``timeout``; give up after ``limit`` s of silence (see :class:`Stall`)."""
        if limit is None and not self._stall_listeners:
            return await asyncio.wait_for(future, timeout)
        deadline = None if timeout is None else sent_at + timeout
        reported = False
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise TimeoutError
            silent = self.stalled_for()  # since the first of the commands not answered yet
            if limit is not None and silent >= limit:
                self._gave_up_at = now
                raise TargetUnresponsive(
                    f"the target sent nothing for {silent:.0f}s while {method} waited for its reply: it is "
                    "stopped (SIGSTOP, a debugger pause), in a very long GC, or in a busy loop; giving up",
                    method=method, timeout=limit, silent_s=silent)
            if silent >= STALL_NOTICE:
                self._report_stall(Stall(method, silent, limit))
                reported = True
            elif reported:
                self._report_stall(Stall(method, 0.0, limit))
                reported = False
            step = 1.0 if silent >= STALL_NOTICE else STALL_NOTICE - silent
            if limit is not None:
                step = min(step, max(limit - silent, 0.01))
            if deadline is not None:
                step = min(step, deadline - now)
            await asyncio.wait((future,), timeout=step)
            if future.done():
                if reported:
                    self._report_stall(Stall(method, 0.0, limit))
                return future.result()

    def on_stall(self, callback: StallCallback) -> Callable[[], None]:
        """Call ``callback(Stall)`` while a command waits on a silent target; returns a function that unregisters it."""
        self._stall_listeners.append(callback)

        def off() -> None:
            with contextlib.suppress(ValueError):
                self._stall_listeners.remove(callback)

        return off

    @property
    def last_received(self) -> float:
        """When the target last sent anything, bytes of a message still arriving included (``time.monotonic()``)."""
        return max(self._last_message, getattr(self._ws, "last_bytes", 0.0))

    @property
    def unresponsive(self) -> bool:
        """Whether a command gave up on the target (:class:`TargetUnresponsive`) and it has sent nothing since."""
        return self._gave_up_at is not None and self._gave_up_at > self.last_received

    def stalled_for(self) -> float:
        """Seconds the target has sent nothing since we last asked it something (0: it answered since)."""
        last = self.last_received
        return max(0.0, time.monotonic() - self._asked_at) if self._asked_at > last else 0.0

    def _report_stall(self, stall: Stall) -> None:
        for callback in list(self._stall_listeners):
            try:
                callback(stall)
            except Exception as exc:
                self.callback_errors.append(exc)

    # --- events --------------------------------------------------------------------

    def on(self, method: str, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(params)`` for each ``method`` event; returns a function that unregisters it.

        The callback runs in the reader task, so events are handled in order
        and the next message is read only after it returns: keep it quick (a
        file write is fine).  If it returns an awaitable, that runs as a task.
        Exceptions it raises are kept in :attr:`callback_errors`.
        """
        self._listeners.setdefault(method, []).append(callback)

        def off() -> None:
            with contextlib.suppress(ValueError, KeyError):
                self._listeners[method].remove(callback)

        return off

    async def wait_for(self, method: str, predicate: Callable[[dict[str, Any]], bool] | None = None, *,
                       timeout: float | None = _USE_DEFAULT) -> dict[str, Any]:
        """Wait for the next ``method`` event whose params satisfy ``predicate``; return its params."""
        self._check_open(method)
        timeout = self.default_timeout if timeout is _USE_DEFAULT else timeout
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def deliver(params: dict[str, Any]) -> None:
            if not future.done() and (predicate is None or predicate(params)):
                future.set_result(params)

        off = self.on(method, deliver)
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            waiters: set[asyncio.Future[Any]] = {future, closed}
            done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if future in done:
                return future.result()
            if closed in done:
                raise ConnectionLost(f"the connection closed while waiting for {method} ({self._close_reason})",
                                     method=method)
            raise CDPTimeout(f"no {method} event within {timeout:g}s", method=method, timeout=timeout)
        finally:
            off()
            closed.cancel()
            future.cancel()

    @contextlib.asynccontextmanager
    async def subscribe(self, method: str, *, maxsize: int = 0) -> AsyncIterator[Subscription]:
        """Iterate over ``method`` events: ``async with conn.subscribe(m) as events: async for p in events``."""
        sub = Subscription(self, method, maxsize)
        self._subscriptions.add(sub)
        off = self.on(method, sub._put)
        try:
            yield sub
        finally:
            off()
            self._subscriptions.discard(sub)

    # --- internals -----------------------------------------------------------------

    def _check_open(self, method: str) -> None:
        if self._closed.is_set():
            raise ConnectionLost(f"{method}: the connection is closed ({self._close_reason})", method=method)

    async def _read_loop(self) -> None:
        reason = "the target closed the connection"
        try:
            async for data in self._ws:
                self._last_message = time.monotonic()
                if self._recorder is not None:
                    self._recorder.ws_recv(self._session, data)
                try:
                    message = self._protocol.receive(data)
                except MalformedMessage as exc:
                    log.debug("ignoring malformed message: %s", exc)
                    continue
                if isinstance(message, Reply):
                    self._resolve(message)
                elif isinstance(message, Event):
                    self._dispatch(message)
            reason = self._describe_close(None)
        except websockets.ConnectionClosed as exc:
            reason = self._describe_close(exc)
        except Exception as exc:  # a transport fault: the session is over either way
            reason = f"transport error: {exc}"
        finally:
            self._shutdown(self._close_reason or reason)

    def _resolve(self, reply: Reply) -> None:
        future = self._replies.get(reply.id)
        if future is None or future.done():
            return
        if reply.error is not None:
            future.set_exception(reply.error)
        else:
            future.set_result(reply.result or {})

    def _dispatch(self, event: Event) -> None:
        for callback in list(self._listeners.get(event.method, ())):
            try:
                result = callback(event.params)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._task_done)
            except Exception as exc:
                self.callback_errors.append(exc)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.callback_errors.append(task.exception())  # type: ignore[arg-type]

    def _shutdown(self, reason: str) -> None:
        if self._closed.is_set():
            return
        self._close_reason = reason
        self._closed.set()
        if self._recorder is not None:
            self._recorder.ws_close(self._session, reason)
        self._protocol.fail_all()
        for future in list(self._replies.values()):
            if not future.done():
                future.set_exception(ConnectionLost(f"the connection closed: {reason}"))
        for sub in list(self._subscriptions):
            sub._close(reason)

    def _describe_close(self, exc: websockets.ConnectionClosed | None) -> str:
        rcvd = exc.rcvd if exc is not None else self._ws.protocol.close_rcvd
        if rcvd is None:
            return "the connection dropped (target exited or network lost)"
        return f"closed by the target (code {rcvd.code}{': ' + rcvd.reason if rcvd.reason else ''})"


class Subscription:
    """An async iterator over one event method's params; ends with :class:`ConnectionLost`."""

    def __init__(self, connection: Connection, method: str, maxsize: int = 0) -> None:
        self.method = method
        self._connection = connection
        self._queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue(maxsize)
        if connection.closed:
            self._close(connection.close_reason or "closed")

    def _put(self, params: dict[str, Any]) -> None:
        self._queue.put_nowait((True, params))

    def _close(self, reason: str) -> None:
        self._queue.put_nowait((False, reason))

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        ok, value = await self._queue.get()
        if not ok:
            self._queue.put_nowait((False, value))  # later calls see the end too
            raise ConnectionLost(f"the connection closed while iterating {self.method} events ({value})",
                                 method=self.method)
        return value  # type: ignore[no-any-return]

    async def get(self, timeout: float | None = None) -> dict[str, Any]:
        """The next event's params, waiting at most ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except TimeoutError as exc:
            raise CDPTimeout(f"no {self.method} event within {timeout:g}s", method=self.method,
                             timeout=timeout) from exc

