"""Heap snapshots streamed from the target straight to disk, alone or as a series.

The chunks V8 sends (``HeapProfiler.addHeapSnapshotChunk``) are written to the
file from the connection's reader as they arrive, so the client holds at most
one chunk whatever the heap size.  HeapProfiler is never disabled here:
disabling it clears V8's object-id map, and a series relies on those ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from cdpclient.captures import guard
from cdpclient.captures._output import StreamFile, stream_file
from cdpclient.captures._session import process_identity, utc_now
from cdpclient.captures.result import CaptureResult, Progress, ProgressCallback
from cdpclient.captures.state import CaptureTarget
from cdpclient.errors import CaptureError, CDPClientError, UsageError

__all__ = ["take_heap_snapshot", "heap_snapshot_series", "run_series", "series_schedule", "new_series_id",
           "stream_snapshot", "snapshot_header_counts"]

R = TypeVar("R")

_HEAD = 16384  # the snapshot's meta and counts come in the first few KB
_COUNTS = re.compile(r'"(node_count|edge_count|trace_function_count)":(\d+)')
_GC_TIMEOUT = 300.0


def new_series_id() -> str:
    return uuid.uuid4().hex[:12]


def snapshot_header_counts(head: str) -> dict[str, int]:
    """``node_count``, ``edge_count``, ``trace_function_count`` from the first KB of a snapshot."""
    return {key: int(value) for key, value in _COUNTS.findall(head)}


SILENCE_PER_GB = 60.0
"""Extra seconds of silence allowed per GB of used heap while V8 starts a snapshot.

Before its first progress report V8 runs its full GCs and counts the heap: the
longest silence measured was 8.6 s for a 400 MB heap of strings (about 21 s per
GB), so a 4 GB heap may be silent for a minute and a half without anything wrong.
"""


def snapshot_stall_timeout(base: float | None, heap_used: int) -> float | None:
    """The silence a snapshot of a ``heap_used`` heap may keep before it is given up on."""
    return None if base is None else base + SILENCE_PER_GB * heap_used / 1e9


async def stream_snapshot(target: CaptureTarget, out: StreamFile, method: str, params: dict[str, Any],
                          progress: ProgressCallback | None = None, *, early: bool = False,
                          heap_used: int = 0) -> dict[str, int]:
    """Run ``method`` (takeHeapSnapshot / stopTrackingHeapObjects) with its chunks streamed into ``out``.

    Returns the counts from the snapshot's header.  Raises :class:`CaptureError`
    if a write failed or no data came.  V8 is always asked to report progress:
    those events are how a busy target is told from a frozen one, and a target
    silent for longer than :func:`snapshot_stall_timeout` of ``heap_used`` is
    given up on (:class:`TargetUnresponsive`).

    With ``early``, it returns as soon as the last chunk is in, without waiting
    for the command's reply: V8 sends the reply only after freeing the snapshot
    (1.5 s for a 300 MB heap), which the caller need not wait for.  The last
    chunk is recognisable: V8's serializer sends every chunk at the stream's
    fixed chunk size except the final one.  The reply is then awaited by the
    next capture on this target (:func:`settle`).
    """
    conn = target.connection
    head: list[str] = []
    head_len = 0
    chunk_size = 0
    failure: list[BaseException] = []
    last_chunk = asyncio.Event()

    def on_chunk(p: dict[str, Any]) -> None:
        nonlocal head_len, chunk_size
        if failure:
            return
        chunk = p.get("chunk", "")
        try:
            out.write(chunk)
        except CaptureError as exc:  # disk full: remember it, stop writing, fail after the command
            failure.append(exc)
            return
        if head_len < _HEAD:
            head.append(chunk[: _HEAD - head_len])
            head_len += len(head[-1])
        if not chunk_size:
            chunk_size = len(chunk)
        elif len(chunk) < chunk_size and chunk.rstrip().endswith("}"):
            last_chunk.set()
        if progress:
            progress(Progress("write", out.written))

    def on_progress(p: dict[str, Any]) -> None:
        if progress:
            progress(Progress("heap", p.get("done", 0), p.get("total")))

    off_chunk = conn.on("HeapProfiler.addHeapSnapshotChunk", on_chunk)
    off_progress = conn.on("HeapProfiler.reportHeapSnapshotProgress", on_progress)
    # No timeout: V8 needs about 35 s for a 300 MB heap and far more for 4 GB; a dead
    # target still fails the call at once (ConnectionLost).
    patience = snapshot_stall_timeout(conn.stall_timeout, heap_used)
    reply = asyncio.ensure_future(target.send(method, {**params, "reportProgress": True}, timeout=None,
                                              stall_timeout=patience))
    handed_over = False
    try:
        if early:
            last = asyncio.ensure_future(last_chunk.wait())
            try:
                await asyncio.wait({reply, last}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                last.cancel()
            if not reply.done() and not failure:
                _defer_reply(target, reply)
                handed_over = True
        if not handed_over:
            await reply
    finally:
        off_chunk()
        off_progress()
        if not handed_over and not reply.done():
            reply.cancel()
    if failure:
        raise failure[0]
    if out.written == 0:
        raise CaptureError(f"{method} returned without sending any snapshot data")
    return snapshot_header_counts("".join(head))


def _defer_reply(target: CaptureTarget, reply: asyncio.Future[Any]) -> None:
    reply.add_done_callback(lambda f: f.cancelled() or f.exception())  # a closed session: nothing to report
    target.capture_state.pending_reply = reply


async def _after_snapshot(target: CaptureTarget, reply: asyncio.Future[Any] | None, rss_before: int) -> None:
    """Once V8 is done with a snapshot: remember the object-id witness and the memory it kept."""
    try:
        if reply is not None:
            await reply
        target.capture_state.id_witness = await _object_id(target)
        rss_after = int(await target.evaluate("process.memoryUsage().rss", timeout=10))
        guard.note_snapshot(target, rss_before, rss_after)
    except CDPClientError:
        pass  # the session ended or the target is busy: these facts only refine later checks


def _follow_up(target: CaptureTarget, rss_before: int) -> tuple[asyncio.Future[None], bool]:
    """Start :func:`_after_snapshot` for the snapshot just streamed; awaited by :func:`settle`.

    When the snapshot returned before its reply, this runs in the background, so
    the caller has its file while V8 still frees the snapshot; ``(task, deferred)``.
    """
    state = target.capture_state
    reply, state.pending_reply = state.pending_reply, None
    task = asyncio.ensure_future(_after_snapshot(target, reply, rss_before))
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    state.follow_up = task
    return task, reply is not None


async def settle(target: CaptureTarget) -> None:
    """Wait until the previous snapshot on this target is completely done (see :func:`stream_snapshot`)."""
    state = target.capture_state
    task, state.follow_up = state.follow_up, None
    if task is not None:
        await task


async def _object_id(target: CaptureTarget, expression: str = "globalThis") -> int:
    """V8's heap snapshot id of an object (0: none assigned since the ids were last cleared)."""
    reply = await target.send("Runtime.evaluate", {"expression": expression, "objectGroup": "cdpclient-ids"},
                              timeout=10)
    try:
        object_id = reply["result"]["objectId"]
        found = await target.send("HeapProfiler.getHeapObjectId", {"objectId": object_id}, timeout=10)
        return int(found.get("heapSnapshotObjectId") or 0)
    finally:
        await target.send("Runtime.releaseObjectGroup", {"objectGroup": "cdpclient-ids"}, timeout=10)


async def _id_epoch(target: CaptureTarget) -> tuple[int, bool]:
    """Which generation of V8 object ids this session is in; and whether it changed since the last snapshot.

    Any inspector session closing (ours or another client's, even ``cdpclient
    info``) clears V8's object-id map for the whole isolate.  The id of
    ``globalThis`` after our last snapshot is the witness: if it is gone, ids
    were handed out anew and earlier snapshots' ids no longer match.
    This round trip also orders us after any earlier command still streaming.
    """
    await settle(target)
    state = target.capture_state
    if state.id_witness is None:
        return state.id_epoch, False
    current = await _object_id(target)
    if not state.id_witness or current != state.id_witness:
        state.id_epoch += 1
        return state.id_epoch, True
    return state.id_epoch, False


def session_label(target: CaptureTarget, epoch: int) -> str:
    """The ``session`` recorded with a snapshot: object ids compare only when it is equal."""
    return target.session_id if epoch == 0 else f"{target.session_id}.{epoch}"


async def take_heap_snapshot(target: CaptureTarget, path: str | os.PathLike[str], *, gc: bool = False,
                             progress: ProgressCallback | None = None, force: bool = False,
                             compress: bool = False, series: str | None = None, series_index: int | None = None,
                             overhead_factor: float = guard.OVERHEAD_FACTOR) -> CaptureResult:
    """Take a heap snapshot and stream it to ``path`` (0600; complete or absent).

    ``gc`` forces a full garbage collection first, so only live objects remain.
    Before it starts, the memory guard compares the expected cost with the
    target's memory limits and raises :class:`SnapshotRefused` when it does not
    fit, unless ``force``.  ``progress`` receives :class:`Progress` reports
    (``heap`` objects done/total, then ``write`` bytes).  Cancelling the task
    abandons the file; V8 finishes its snapshot anyway (it cannot be aborted).

    Raises :class:`CaptureError` (write failure, no data),
    :class:`ConnectionLost` (target died), :class:`ProtocolError`.
    """
    started, t0 = utc_now(), time.monotonic()
    pid, node_version = await process_identity(target)
    epoch, reset = await _id_epoch(target)
    budget = await guard.check_snapshot_budget(target, force=force, overhead_factor=overhead_factor)
    if gc:
        await target.send("HeapProfiler.collectGarbage", timeout=_GC_TIMEOUT)
    with stream_file(path, compress=compress) as out:
        counts = await stream_snapshot(target, out, "HeapProfiler.takeHeapSnapshot", {}, progress, early=True,
                                       heap_used=budget.heap_used)
        size = out.commit()
    follow_up, deferred = _follow_up(target, budget.rss)
    if not deferred:  # V8 already answered: take the facts now
        await settle(target)
    duration = time.monotonic() - t0
    meta: dict[str, Any] = {**counts, "bytes": out.written, "compressed": compress,
                            "memory_before": budget.to_dict(), "id_epoch": epoch, "ids_reset_before": reset}
    return CaptureResult(
        kind="heapsnapshot", path=Path(path), size=size, duration_s=duration, started=started,
        session=session_label(target, epoch), pid=pid, node_version=node_version, series=series,
        series_index=series_index, options={"gc": gc, "force": force}, meta=meta)


async def series_schedule(count: int, every: float, *, progress: ProgressCallback | None = None,
                          sleep: Callable[[float], Any] = asyncio.sleep) -> AsyncIterator[int]:
    """Yield 0..count-1, starting each ``every`` seconds after the previous start.

    A capture that takes longer than ``every`` is followed by the next at once.
    """
    if count < 1:
        raise UsageError(f"{{count}} must be at least 1, not {count}", options=("count",))
    if count > 1 and every <= 0:
        raise UsageError("a series of snapshots needs {every} (the seconds between them)", options=("every",))
    next_start = time.monotonic()
    for index in range(count):
        delay = next_start - time.monotonic()
        while delay > 0:
            if progress:
                progress(Progress("series", every - delay, every))
            await sleep(min(delay, 1.0))
            delay = next_start - time.monotonic()
        next_start = time.monotonic() + every
        yield index


async def run_series(count: int, every: float, take: Callable[[int, str], Awaitable[R]], *,
                     progress: ProgressCallback | None = None,
                     on_capture: Callable[[R], Any] | None = None, stop: asyncio.Event | None = None) -> list[R]:
    """The one series loop: ``take(index, series_id)`` ``count`` times, ``every`` seconds apart.

    Every capture shares a new ``series`` id (:func:`new_series_id`); the
    schedule is :func:`series_schedule`.  ``on_capture`` is called after each
    one.  A failure stops the series and raises; what was taken stays.  Once
    ``stop`` is set the series ends after the capture in progress (fewer results).
    """
    series = new_series_id()
    results: list[R] = []

    async def sleep(seconds: float) -> None:
        if stop is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    async for index in series_schedule(count, every, progress=progress, sleep=sleep):
        if stop is not None and stop.is_set():
            break
        result = await take(index, series)
        results.append(result)
        if on_capture:
            on_capture(result)
    return results


async def heap_snapshot_series(target: CaptureTarget, paths: str | Callable[[int], str | os.PathLike[str]], *,
                               count: int, every: float, gc: bool = False, force: bool = False,
                               compress: bool = False, progress: ProgressCallback | None = None,
                               on_capture: Callable[[CaptureResult], Any] | None = None) -> list[CaptureResult]:
    """Take ``count`` snapshots ``every`` seconds apart in this one session.

    ``paths`` is a format string with ``{index}`` (``"snap-{index}.heapsnapshot"``)
    or a function of the index.  Each result carries the same ``series`` id and
    its ``series_index``; the guard runs before each snapshot.  ``on_capture``
    is called after each one.  A failure stops the series and raises; the
    snapshots already written stay.  :func:`cdpclient.heap_snapshot_series_to_store`
    is the same series into the store.
    """
    def take(index: int, series: str) -> Awaitable[CaptureResult]:
        path = paths(index) if callable(paths) else paths.format(index=index)
        return take_heap_snapshot(target, path, gc=gc, force=force, compress=compress, progress=progress,
                                  series=series, series_index=index)

    return await run_series(count, every, take, progress=progress, on_capture=on_capture)
