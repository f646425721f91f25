"""Captures straight into the recordings store: one call, the stored record back.

    store = cdpclient.store.Store.open()  # the per-user store (or $CDPCLIENT_STORE)
    async with cdpclient.connect("127.0.0.1:9229") as target:
        record = await cdpclient.capture_to_store(target, store, "heapsnapshot", gc=True)
        series = await cdpclient.heap_snapshot_series_to_store(target, store, count=3, every=60)

The capture is written into the store's temporary directory and published
only when it is complete (:meth:`Store.new_capture`); the record carries the
target's identity, the labels, the capture's options and its facts (pid,
session, series, kind-specific meta).  This is what ``cdpclient snapshot``,
``cpu``, ``sample``, ``timeline`` and ``report`` do without ``--out``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from cdpclient.captures.result import CaptureResult, ProgressCallback
from cdpclient.captures.state import CaptureTarget
from cdpclient.errors import UsageError

if TYPE_CHECKING:
    from cdpclient.store import CaptureRecord, Store

__all__ = ["StoreTarget", "capture_to_file", "capture_to_store", "heap_snapshot_series_to_store"]


class StoreTarget(CaptureTarget, Protocol):
    """A capture target that says who it is (``identity``: endpoint, target id, pod, ...) for the record."""

    @property
    def identity(self) -> dict[str, Any]: ...


CaptureFunction = Callable[..., Awaitable[CaptureResult]]


def _capture_function(kind: str) -> CaptureFunction:
    from cdpclient.captures.cpu import take_cpu_profile
    from cdpclient.captures.heap_snapshot import take_heap_snapshot
    from cdpclient.captures.report import take_diagnostic_report
    from cdpclient.captures.sampling import take_sampling_heap_profile
    from cdpclient.captures.timeline import take_allocation_timeline

    functions: dict[str, CaptureFunction] = {
        "heapsnapshot": take_heap_snapshot, "heaptimeline": take_allocation_timeline,
        "cpuprofile": take_cpu_profile, "heapprofile": take_sampling_heap_profile, "report": take_diagnostic_report,
    }
    try:
        return functions[kind]
    except KeyError:
        raise UsageError(f"unknown capture kind {kind!r} (kinds: {', '.join(functions)})") from None


async def capture_to_file(target: CaptureTarget, path: str | os.PathLike[str], kind: str,
                          **options: Any) -> CaptureResult:
    """Take one capture of ``kind`` into the file ``path``: the :class:`cdpclient.Target` method of that kind.

    ``options`` are the method's (see :func:`capture_to_store`; ``compress``
    writes a zstd file, a timeline's ``events_path`` keeps its events).
    """
    return await _capture_function(kind)(target, path, **options)


async def capture_to_store(target: StoreTarget, store: Store, kind: str, *, labels: dict[str, str] | None = None,
                           compress: bool = False, **options: Any) -> CaptureRecord:
    """Take one capture of ``kind`` from ``target`` into ``store``; returns the stored :class:`CaptureRecord`.

    ``kind`` is one of the store's kinds (``cdpclient.store.KINDS``).  ``options`` are those of the
    capture: ``heapsnapshot`` takes ``gc``, ``force``, ``progress``;
    ``cpuprofile`` ``duration``, ``interval``, ``stop``, ``progress``;
    ``heapprofile`` ``duration``, ``interval``, ``include_collected``, ``stop``,
    ``progress``; ``heaptimeline`` ``duration``, ``force``, ``stop``,
    ``progress`` (its events go to the ``.events.json`` side file);
    ``report`` none (see the :class:`cdpclient.Target` methods).  ``labels``
    are kept with the record; ``compress`` stores the file zstd-compressed.

    Raises what the capture raises (:class:`SnapshotRefused`,
    :class:`CaptureError`, :class:`ConnectionLost`, ...) with nothing stored,
    :class:`StoreError` when the store cannot take it, :class:`UsageError` for
    an unknown kind.
    """
    return await _capture_into(target, store, kind, labels=labels, compress=compress, options=options)


async def _capture_into(target: StoreTarget, store: Store, kind: str, *, labels: dict[str, str] | None,
                        compress: bool, options: dict[str, Any],
                        recorded: dict[str, Any] | None = None) -> CaptureRecord:
    """:func:`capture_to_store`; ``recorded`` adds to the options kept in the record (a series' count)."""
    from cdpclient.store.layout import EVENTS_SUFFIX

    _capture_function(kind)  # an unknown kind fails before the store is touched
    with store.new_capture(kind, target=dict(target.identity), labels=labels or {}, compress=compress) as pending:
        if kind == "heaptimeline" and options.get("events_path") is None:
            options = {**options, "events_path": pending.side_path(EVENTS_SUFFIX)}
        # With ``compress`` the capture writes zstd as it streams: the disk never holds the
        # uncompressed file (a 3 MB compressed snapshot must fit a volume smaller than its content).
        streamed = {"compress": True} if compress else {}
        result = await capture_to_file(target, pending.path, kind, **options, **streamed)
        pending.compressed = compress
        pending.meta.update(result.metadata())
        pending.meta["options"] = {**result.options, **(recorded or {})}
    assert pending.record is not None  # set by new_capture when the block exits cleanly
    return pending.record


async def heap_snapshot_series_to_store(target: StoreTarget, store: Store, *, count: int, every: float,
                                        gc: bool = False, force: bool = False, labels: dict[str, str] | None = None,
                                        compress: bool = False, progress: ProgressCallback | None = None,
                                        on_capture: Callable[[CaptureRecord], Any] | None = None,
                                        stop: asyncio.Event | None = None) -> list[CaptureRecord]:
    """:func:`cdpclient.captures.heap_snapshot.heap_snapshot_series` into ``store``: one record per snapshot.

    The records share a ``series`` id and carry their ``series_index``; their
    options record ``count`` and ``every_s``.  ``on_capture`` is called with
    each record as it is stored.  A failure stops the series and raises; the
    snapshots already stored stay.  Once ``stop`` is set, the series ends after
    the snapshot in progress.
    """
    from cdpclient.captures.heap_snapshot import run_series

    def take(index: int, series: str) -> Awaitable[CaptureRecord]:
        return _capture_into(target, store, "heapsnapshot", labels=labels, compress=compress,
                             options={"gc": gc, "force": force, "progress": progress, "series": series,
                                      "series_index": index},
                             recorded={"count": count, "every_s": every})

    return await run_series(count, every, take, progress=progress, on_capture=on_capture, stop=stop)
