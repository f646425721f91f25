"""Allocation timelines: allocation tracking with stacks, ending in a snapshot that carries them.

The result is what Chrome DevTools saves as "Allocation instrumentation on
timeline": a heap snapshot with ``trace_function_infos``, ``trace_tree``,
``samples`` and ``locations``.  The ``heapStatsUpdate`` / ``lastSeenObjectId``
events V8 sends while tracking go to a side file, as
``{"events": [{"method": ..., "params": ...}, ...]}``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time
from pathlib import Path
from typing import Any

from cdpclient.captures import guard
from cdpclient.captures._output import StreamFile, stream_file
from cdpclient.captures._session import process_identity, stop_quietly, utc_now, wait_duration
from cdpclient.captures.heap_snapshot import _id_epoch, session_label, stream_snapshot
from cdpclient.captures.result import CaptureResult, ProgressCallback
from cdpclient.captures.state import CaptureTarget
from cdpclient.errors import UsageError

__all__ = ["take_allocation_timeline"]

_EVENTS = ("HeapProfiler.heapStatsUpdate", "HeapProfiler.lastSeenObjectId")


class _EventLog:
    """Streams events into a JSON side file as they come (client memory stays flat)."""

    def __init__(self, out: StreamFile | None) -> None:
        self.out = out
        self.count = 0
        self.last_seen_object_id: int | None = None
        if out:
            out.write('{"events":[\n')

    def add(self, method: str, params: dict[str, Any]) -> None:
        self.count += 1
        if method == "HeapProfiler.lastSeenObjectId":
            self.last_seen_object_id = params.get("lastSeenObjectId")
        if self.out:
            sep = ",\n" if self.count > 1 else ""
            self.out.write(sep + json.dumps({"method": method, "params": params}, separators=(",", ":")))

    def close(self) -> None:
        if self.out:
            self.out.write("\n]}\n")


async def take_allocation_timeline(target: CaptureTarget, path: str | os.PathLike[str], *, duration: float,
                                   events_path: str | os.PathLike[str] | None = None,
                                   stop: asyncio.Event | None = None, progress: ProgressCallback | None = None,
                                   force: bool = False, compress: bool = False) -> CaptureResult:
    """Track allocations with stacks for ``duration`` seconds; write the ``.heaptimeline`` to ``path``.

    The end of tracking takes a heap snapshot, so the memory guard runs first
    (``force`` overrides it, see :func:`take_heap_snapshot`).  ``events_path``
    keeps the heap statistics events.  ``stop`` ends early and saves.
    On an error or cancellation the tracker is stopped by disabling the
    HeapProfiler domain (no snapshot is taken on the way out; V8's object
    ids of this session are cleared by it).
    """
    if duration <= 0:
        raise UsageError(f"duration must be positive, not {duration:g}s")
    started, t0 = utc_now(), time.monotonic()
    pid, node_version = await process_identity(target)
    epoch, reset = await _id_epoch(target)
    budget = await guard.check_snapshot_budget(target, force=force)
    tracking = False
    conn = target.connection
    with stream_file(path, compress=compress) as out:
        events_out = StreamFile(events_path) if events_path else None
        try:
            log = _EventLog(events_out)
            offs = [conn.on(method, functools.partial(log.add, method)) for method in _EVENTS]
            try:
                tracking = True  # set first: a cancelled start may still have reached V8
                await target.send("HeapProfiler.startTrackingHeapObjects", {"trackAllocations": True})
                elapsed, early = await wait_duration(duration, stop=stop, progress=progress, target=target)
                counts = await stream_snapshot(target, out, "HeapProfiler.stopTrackingHeapObjects", {}, progress,
                                               heap_used=budget.heap_used)
                tracking = False
            finally:
                for off in offs:
                    off()
                if tracking:
                    await stop_quietly(target, "HeapProfiler.disable")
            log.close()
            size = out.commit()
            if events_out:
                events_out.commit()
        finally:
            if events_out:
                events_out.discard()
    return CaptureResult(
        kind="heaptimeline", path=Path(path), size=size, duration_s=time.monotonic() - t0, started=started,
        session=session_label(target, epoch), pid=pid, node_version=node_version,
        options={"duration_s": duration, "force": force},
        meta={**counts, "tracked_s": round(elapsed, 3), "stopped_early": early, "events": log.count,
              "last_seen_object_id": log.last_seen_object_id, "events_path": str(events_path) if events_path else None,
              "memory_before": budget.to_dict(), "id_epoch": epoch, "ids_reset_before": reset,
              "compressed": compress})
