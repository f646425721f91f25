"""What every capture does with its session: learn the process, wait, and stop what it started."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
import time
from typing import Any

from cdpclient.captures.result import Progress, ProgressCallback
from cdpclient.captures.state import CaptureTarget
from cdpclient.errors import CDPClientError, ConnectionLost

log = logging.getLogger("cdpclient")

STOP_TIMEOUT = 10.0
"""Seconds a stop command may take on the way out (a profile of minutes is tens of MB)."""


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
    shielded; a second cancellation waits for it at most ``timeout``), and a dead
    connection or an error reply is logged, not raised: the original outcome
    of the capture is what the caller must see.
    """
    if target.connection.closed:
        return None
    task = asyncio.ensure_future(target.send(method, params, timeout=timeout))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, timeout)
        raise
    except CDPClientError as exc:
        log.debug("%s on the way out failed: %s", method, exc)
        return None


async def wait_duration(duration: float, *, stop: asyncio.Event | None = None,
                        progress: ProgressCallback | None = None, target: CaptureTarget | None = None,
                        tick: float = 0.5) -> tuple[float, bool]:
    """Wait ``duration`` seconds or until ``stop`` is set; return ``(elapsed, stopped_early)``.

    Reports ``Progress("wait", elapsed, duration)`` every ``tick`` seconds.
    With ``target``, a session that ends meanwhile raises :class:`ConnectionLost`
    at once instead of after the full duration.
    """
    start = time.monotonic()
    stop = stop or asyncio.Event()
    while True:
        elapsed = time.monotonic() - start
        if progress:
            progress(Progress("wait", min(elapsed, duration), duration))
        if target is not None and target.connection.closed:
            raise ConnectionLost(f"the session ended {elapsed:.1f}s into the capture "
                                 f"({target.connection.close_reason})")
        if elapsed >= duration:
            return elapsed, False
        if stop.is_set():
            return elapsed, True
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        if target is not None:
            waiters.append(asyncio.ensure_future(target.connection.wait_closed()))
        try:
            await asyncio.wait(waiters, timeout=min(tick, duration - elapsed), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()


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
