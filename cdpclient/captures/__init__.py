"""Captures taken from a live target.

``CaptureMethods`` is mixed into :class:`cdpclient.Target`, so captures read as
``await target.heap_snapshot(path)``; each method delegates to a module here:

* :mod:`.heap_snapshot` streams snapshots (and series) to disk;
* :mod:`.guard` refuses snapshots that would not fit in the target's memory;
* :mod:`.cpu`, :mod:`.sampling`, :mod:`.timeline`: timed profiles;
* :mod:`.report`: the Node diagnostic report and its summary;
* :mod:`.stored`: any of them straight into the store, returning the record
  (``capture_to_store``, ``heap_snapshot_series_to_store``);
* :mod:`.state`: what a capture needs of a target (:class:`CaptureTarget`)
  and remembers about it between captures (:class:`CaptureState`).

Every capture writes its file under a temporary name (0600) and renames it
when complete, and stops whatever it started in the target on every way out.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cdpclient.captures.result import CaptureResult, Progress, ProgressCallback
from cdpclient.captures.state import CaptureState, CaptureTarget

if TYPE_CHECKING:
    from cdpclient.captures.guard import MemoryBudget

__all__ = ["CaptureMethods", "CaptureResult", "CaptureState", "CaptureTarget", "Progress", "ProgressCallback"]

PathLike = str | os.PathLike[str]


class CaptureMethods:
    """Capture methods of :class:`cdpclient.Target`.

    Each returns a :class:`CaptureResult` (path, size, duration, session, pid,
    node version, kind-specific ``meta``) once the file is complete.  Timed
    captures take ``stop=asyncio.Event()`` to end early and still save;
    cancelling the task stops what was started and saves nothing.
    """

    async def heap_snapshot(self: CaptureTarget, path: PathLike, *, gc: bool = False,
                            progress: ProgressCallback | None = None, force: bool = False, compress: bool = False,
                            series: str | None = None, series_index: int | None = None) -> CaptureResult:
        """Stream a heap snapshot to ``path``; see :func:`cdpclient.captures.heap_snapshot.take_heap_snapshot`.

        Raises :class:`SnapshotRefused` when the memory guard finds the target
        too close to its memory limit (``force=True`` overrides).
        """
        from cdpclient.captures.heap_snapshot import take_heap_snapshot

        return await take_heap_snapshot(self, path, gc=gc, progress=progress, force=force,
                                        compress=compress, series=series, series_index=series_index)

    async def heap_snapshot_series(self: CaptureTarget, paths: str | Callable[[int], PathLike], *, count: int,
                                   every: float, gc: bool = False, force: bool = False, compress: bool = False,
                                   progress: ProgressCallback | None = None,
                                   on_capture: Callable[[CaptureResult], Any] | None = None) -> list[CaptureResult]:
        """``count`` snapshots ``every`` seconds apart in this session, sharing a ``series`` id.

        ``paths``: a format string with ``{index}`` or a function of the index.
        Object ids are comparable across the series while every result has
        the same ``session`` (another client's session closing resets them:
        the ``session`` of later snapshots then changes).
        """
        from cdpclient.captures.heap_snapshot import heap_snapshot_series

        return await heap_snapshot_series(self, paths, count=count, every=every, gc=gc, force=force,
                                          compress=compress, progress=progress, on_capture=on_capture)

    async def snapshot_budget(self: CaptureTarget) -> MemoryBudget:
        """The memory guard's view: heap, RSS, limits, and whether a snapshot fits now."""
        from cdpclient.captures.guard import read_budget
        from cdpclient.captures.heap_snapshot import settle

        await settle(self)  # an earlier snapshot's memory counts once V8 is done with it
        return await read_budget(self)

    async def cpu_profile(self: CaptureTarget, path: PathLike, *, duration: float, interval: float = 0.001,
                          stop: asyncio.Event | None = None, progress: ProgressCallback | None = None,
                          compress: bool = False) -> CaptureResult:
        """Profile the CPU for ``duration`` seconds (``interval`` seconds between samples); write a ``.cpuprofile``."""
        from cdpclient.captures.cpu import take_cpu_profile

        return await take_cpu_profile(self, path, duration=duration, interval=interval, stop=stop,
                                      progress=progress, compress=compress)

    async def sampling_heap_profile(self: CaptureTarget, path: PathLike, *, duration: float, interval: int = 32768,
                                    include_collected: bool = False, stop: asyncio.Event | None = None,
                                    progress: ProgressCallback | None = None,
                                    compress: bool = False) -> CaptureResult:
        """Sample allocations for ``duration`` seconds (mean ``interval`` bytes apart); write a ``.heapprofile``."""
        from cdpclient.captures.sampling import take_sampling_heap_profile

        return await take_sampling_heap_profile(self, path, duration=duration, interval=interval,
                                                include_collected=include_collected, stop=stop, progress=progress,
                                                compress=compress)

    async def allocation_timeline(self: CaptureTarget, path: PathLike, *, duration: float,
                                  events_path: PathLike | None = None, stop: asyncio.Event | None = None,
                                  progress: ProgressCallback | None = None, force: bool = False,
                                  compress: bool = False) -> CaptureResult:
        """Track allocations with stacks for ``duration`` seconds; write a ``.heaptimeline`` (and events)."""
        from cdpclient.captures.timeline import take_allocation_timeline

        return await take_allocation_timeline(self, path, duration=duration, events_path=events_path,
                                              stop=stop, progress=progress, force=force, compress=compress)

    async def diagnostic_report(self: CaptureTarget, path: PathLike, *, compress: bool = False) -> CaptureResult:
        """Write the Node diagnostic report to ``path``; ``meta["summary"]`` holds its summary."""
        from cdpclient.captures.report import take_diagnostic_report

        return await take_diagnostic_report(self, path, compress=compress)
