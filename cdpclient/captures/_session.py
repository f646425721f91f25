"""What every capture does with its session: learn the process, wait, and stop what it started."""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import time
from typing import Any

from cdpclient.captures.result import Progress, ProgressCallback
from cdpclient.captures.state import CaptureTarget
from cdpclient.connection import STALL_NOTICE, Connection
from cdpclient.errors import CDPClientError, ConnectionLost, TargetUnresponsive

log = logging.getLogger("cdpclient")

STOP_TIMEOUT = 10.0
"""Seconds a stop command may take on the way out (a profile of minutes is tens of MB)."""

HEARTBEAT = 2.0
"""Seconds between the trivial questions a timed capture asks its target to see that it still answers."""

ABORT_PATIENCE = 1.5
"""Seconds of silence from the target a cleanup waits for on the way out of a cancelled command."""


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def process_identity(target: CaptureTarget) -> tuple[int | None, str | None]:
    """``(pid, node_version)`` of the target, asked once per session."""
    state = target.capture_state
    if state.identity is not None:
        return state.identity
    try:
        pid, version = await target.evaluate("[process.pid, process.version]", timeout=10)
        identity: tuple[int | None, str | None] = (int(pid), str(version))
    except (CDPClientError, TypeError, ValueError):
        identity = (None, None)
    state.identity = identity
    return identity


async def stop_quietly(target: CaptureTarget, method: str, params: dict[str, Any] | None = None,
                       *, timeout: float = STOP_TIMEOUT) -> dict[str, Any] | None:
    """Send a stop command on the way out of a capture, whatever the way out.

    It runs even while the calling task is being cancelled (the command is
    shielded), and a dead connection or an error reply is logged, not raised:
    the original outcome of the capture is what the caller must see.

    On the way out of a cancelled command (Ctrl-C, SIGTERM) it waits for the reply
    only while the target answers: after :data:`ABORT_PATIENCE` seconds of silence
    it gives up, and a further cancellation (another Ctrl-C) ends the wait at once.
    A target that has already stopped answering (:meth:`Connection.stalled_for`)
    is not asked at all: closing the session is then the cleanup (V8 stops what a
    session started when it closes).
    """
    conn = target.connection
    current = asyncio.current_task()
    aborting = current is not None and current.cancelling() > 0
    if conn.closed or conn.unresponsive or conn.stalled_for() >= (ABORT_PATIENCE if aborting else STALL_NOTICE):
        return None
    task = asyncio.ensure_future(target.send(method, params, timeout=timeout))
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    try:
        if not aborting:
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                await _while_answering(conn, task, timeout)
                raise
        await _while_answering(conn, task, timeout)
        return task.result() if task.done() and not task.cancelled() else None
    except CDPClientError as exc:
        log.debug("%s on the way out failed: %s", method, exc)
        return None


async def _while_answering(conn: Connection, task: asyncio.Future[Any], timeout: float) -> None:
    """Wait for ``task`` at most ``timeout``, and no longer than the target stays silent for ABORT_PATIENCE."""
    deadline = time.monotonic() + timeout
    try:
        while not task.done() and not conn.closed and time.monotonic() < deadline:
            if conn.stalled_for() >= ABORT_PATIENCE:
                log.debug("the target does not answer; leaving the cleanup to the session's close")
                break
            await asyncio.wait((task,), timeout=0.1)
    finally:
        if not task.done():
            task.cancel()


async def wait_duration(duration: float, *, stop: asyncio.Event | None = None,
                        progress: ProgressCallback | None = None, target: CaptureTarget | None = None,
                        tick: float = 0.5) -> tuple[float, bool]:
    """Wait ``duration`` seconds or until ``stop`` is set; return ``(elapsed, stopped_early)``.

    Reports ``Progress("wait", elapsed, duration)`` every ``tick`` seconds.
    With ``target``, a session that ends meanwhile raises :class:`ConnectionLost`
    at once instead of after the full duration, and the target is asked a trivial
    question every :data:`HEARTBEAT` seconds, so a target that stops answering is
    noticed while the capture runs (the connection's stall listeners hear of it)
    and ends the wait with :class:`TargetUnresponsive` after the connection's
    ``stall_timeout``.
    """
    start = time.monotonic()
    stop = stop or asyncio.Event()
    beat: asyncio.Future[Any] | None = None
    beat_at = start
    try:
        while True:
            now = time.monotonic()
            elapsed = now - start
            if progress:
                progress(Progress("wait", min(elapsed, duration), duration))
            if target is not None and target.connection.closed:
                raise ConnectionLost(f"the session ended {elapsed:.1f}s into the capture "
                                     f"({target.connection.close_reason})")
            if elapsed >= duration:
                return elapsed, False
            if stop.is_set():
                return elapsed, True
            if beat is not None and beat.done():
                error = None if beat.cancelled() else beat.exception()
                if isinstance(error, TargetUnresponsive):
                    raise error
                beat = None
            if target is not None and beat is None and now - beat_at >= HEARTBEAT:
                beat_at = now
                beat = asyncio.ensure_future(target.send("Runtime.evaluate", {"expression": "0"}, timeout=None))
                beat.add_done_callback(lambda f: f.cancelled() or f.exception())
            waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
            if target is not None:
                waiters.append(asyncio.ensure_future(target.connection.wait_closed()))
            if beat is not None:
                waiters.append(beat)
            try:
                await asyncio.wait(waiters, timeout=min(tick, duration - elapsed),
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    if waiter is not beat:
                        waiter.cancel()
    finally:
        if beat is not None and not beat.done():
            beat.cancel()


Command = tuple[str, "dict[str, Any] | None"]


async def timed_run(target: CaptureTarget, *, start: list[Command], stop_command: Command, cleanup: list[Command],
                    duration: float, stop: asyncio.Event | None, progress: ProgressCallback | None,
                    stop_timeout: float = 300.0) -> tuple[dict[str, Any], float, bool]:
    """Send ``start``, wait ``duration`` (or until ``stop``), send ``stop_command``; return its reply.

    On any way out before ``stop_command`` answered (error, timeout,
    cancellation, lost connection) it is sent again quietly; the ``cleanup``
    commands (e.g. disabling a domain) are always sent quietly at the end.
    Returns ``(reply, elapsed_s, stopped_early)``.
    """
    running = False
    try:
        for index, (method, params) in enumerate(start):
            running = running or index == len(start) - 1  # a cancelled start may still have reached V8
            await target.send(method, params)
        elapsed, early = await wait_duration(duration, stop=stop, progress=progress, target=target)
        reply = await target.send(stop_command[0], stop_command[1], timeout=stop_timeout)
        running = False
    finally:
        if running:
            await stop_quietly(target, *stop_command)
        for method, params in cleanup:
            await stop_quietly(target, method, params)
    return reply, elapsed, early
