"""Watch recordings: what a watch saw, written as it goes into the store (kind ``watch``).

A recording is a :mod:`cdpclient.msgstream` stream (kind ``cdpclient.watch``, version 1):
a header with the watch's target, interval, conditions and actions, then one msgpack map
per record, each with ``"t"`` (its type) and ``"ts"`` (unix seconds): ``sample``,
``firing``, ``capture``, ``reconnect``, ``connected`` and a final ``end``.  The keys are
listed in docs/store.md ("Watch recordings"); readers skip types they do not know.

The recording is registered in the store when the watch starts (status ``recording``)
and every record is written whole and handed to the OS at once, so a watcher killed with
SIGKILL leaves a listed capture (status ``interrupted``) readable up to its last
complete record, which ``store reindex`` finishes; a write that fails on a full disk is
rolled back to the last complete record and raises :class:`StoreError`, and the
recording stays readable.  :meth:`WatchRecording.close` writes ``end`` and records the
size, sha256 and facts (zstd at rest by default: samples compress about 10x).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import time
from pathlib import Path
from typing import Any

from cdpclient import msgstream
from cdpclient.errors import InvalidCaptureFile, StoreError
from cdpclient.store import CaptureRecord, PendingCapture, Store
from cdpclient.store.store import iso

STREAM_KIND = "cdpclient.watch"
VERSION = 1
KIND = "watch"  # the store kind

# The keys of a sample record, in the order the contract lists them (docs/store.md).
SAMPLE_KEYS = ("pod", "heap_used", "heap_total", "heap_limit", "external", "array_buffers", "rss",
               "cgroup_current", "cgroup_limit", "memory_limit", "fds", "fd_limit", "handles",
               "loop_delay_ms", "cost_ms")
_EVENT_TYPES = ("reconnect", "connected", "gone", "error", "end")
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@dataclasses.dataclass(frozen=True)
class Recording:
    """A recording as read back (see :func:`read_recording`).

    ``samples``, ``firings`` and ``captures`` are the records of those types, in order;
    ``events`` are the others a reader knows (``reconnect``, ``connected``, ``end``);
    ``truncated_bytes`` counts a cut tail (a writer killed mid-record), 0 if whole.
    """

    path: Path
    header: dict[str, Any]
    samples: list[dict[str, Any]]
    firings: list[dict[str, Any]]
    captures: list[dict[str, Any]]
    events: list[dict[str, Any]]
    truncated_bytes: int = 0

    @property
    def truncated(self) -> bool:
        return self.truncated_bytes > 0

    @property
    def end(self) -> dict[str, Any] | None:
        """The ``end`` record, or None when the writer died before writing it."""
        return next((e for e in reversed(self.events) if e.get("t") == "end"), None)

    @property
    def span(self) -> tuple[float, float] | None:
        """``(first ts, last ts)`` over every record, or None if there is none."""
        stamps = [r["ts"] for r in (*self.samples, *self.firings, *self.captures, *self.events)
                  if isinstance(r.get("ts"), (int, float))]
        return (min(stamps), max(stamps)) if stamps else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = dataclasses.asdict(self)
        out["path"] = str(self.path)
        return out


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a watch recording file (plain or zstd-compressed), tolerating a cut tail.

    Raises :class:`InvalidCaptureFile` if the file is not a watch recording.  Records of
    an unknown type are skipped.  For a store id, resolve and materialize first:
    ``read_recording(store.materialize(store.resolve(ref)))``.
    """
    p = Path(os.fspath(path))
    try:
        stream = msgstream.read(p)
    except msgstream.NotAStream as exc:
        raise InvalidCaptureFile(str(exc), path=str(p), kind=KIND) from exc
    except OSError as exc:
        raise InvalidCaptureFile(f"{p}: cannot read: {exc.strerror or exc}", path=str(p), kind=KIND) from exc
    if stream.kind != STREAM_KIND:
        raise InvalidCaptureFile(f"{p}: a {stream.kind!r} stream, not a watch recording", path=str(p), kind=KIND)
    by_type: dict[str, list[dict[str, Any]]] = {"sample": [], "firing": [], "capture": [], "event": []}
    for record in stream.records:
        t = record.get("t")
        if t in ("sample", "firing", "capture"):
            by_type[str(t)].append(record)
        elif t in _EVENT_TYPES:
            by_type["event"].append(record)
    header = {"stream": stream.kind, "version": stream.version, **stream.header}
    return Recording(path=p, header=header, samples=by_type["sample"], firings=by_type["firing"],
                     captures=by_type["capture"], events=by_type["event"], truncated_bytes=stream.truncated_bytes)


class WatchRecording:
    """The writer of one watch's recording.  Create with :meth:`create`; end with :meth:`close`.

    Every method writes one record at once.  A failed write (disk full) raises
    :class:`StoreError`; the file is cut back to its last complete record and later
    writes may succeed once space is freed.
    """

    def __init__(self, store: Store, pending: PendingCapture, writer: msgstream.StreamWriter,
                 record: CaptureRecord, compress: bool) -> None:
        self.store = store
        self.id = pending.id
        self.record = record
        self._pending = pending
        self._writer = writer
        self._compress = compress
        self._counts: dict[str, int] = {}
        self._closed: CaptureRecord | None = None

    @classmethod
    def create(cls, store: Store, *, target: dict[str, Any], every_s: float, conditions: list[str],
               actions: list[str], labels: dict[str, str], compress: bool = True,
               fsync_every: float = 5.0) -> WatchRecording:
        """Register a new recording of kind ``watch`` in ``store`` (listed from now on) and write its header.

        ``labels`` label the recording (the watch adds the same to its captures).
        ``compress``: zstd at rest once closed.  ``fsync_every``: seconds between fsyncs
        (what a power loss can take; a killed process loses nothing written).
        Raises :class:`StoreError` (e.g. no space left).
        """
        pending = store.begin_live(KIND)
        header = {"created": iso(time.time()), "target": dict(target), "every_s": float(every_s),
                  "conditions": list(conditions), "actions": list(actions), "watch_id": pending.id}
        try:
            writer = msgstream.StreamWriter(pending.path, STREAM_KIND, VERSION, fsync_every=fsync_every, **header)
        except OSError as exc:
            store.discard_live(pending)
            raise StoreError(f"cannot start the watch recording in {store.root}: {exc.strerror or exc}") from exc
        try:
            record = store.publish_live(pending, target=dict(target), labels=dict(labels),
                                        options={"every_s": float(every_s), "conditions": list(conditions),
                                                 "actions": list(actions)},
                                        meta={"watch_id": pending.id})
        except BaseException:
            writer.close()
            store.discard_live(pending)
            raise
        writer.path = pending.path  # the directory was renamed into captures/; the fd follows it
        return cls(store, pending, writer, record, compress)

    @property
    def path(self) -> Path:
        """The file being written (plain until closed)."""
        return self._writer.path

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._writer.size

    @property
    def counts(self) -> dict[str, int]:
        """Records written so far, by type."""
        return dict(self._counts)

    # --- records --------------------------------------------------------------------
    def sample(self, sample: dict[str, Any]) -> None:
        """Append a sample (keys: ``SAMPLE_KEYS``; ``ts`` defaults to now)."""
        self.event({"t": "sample", **sample})

    def firing(self, *, condition: str, value: float, threshold: float, action: str,
               skipped: str | None = None, pod: str | None = None, ts: float | None = None) -> None:
        """Append a firing: ``condition`` as typed, the ``value`` that crossed ``threshold``, the ``action``
        run, and ``skipped`` (why a snapshot was not taken) or None."""
        self.event({"t": "firing", "ts": ts, "pod": pod, "condition": condition, "value": float(value),
                    "threshold": float(threshold), "action": action, "skipped": skipped})

    def capture(self, *, id: str, kind: str, condition: str, pod: str | None = None,  # noqa: A002 - the contract's key
                ts: float | None = None) -> None:
        """Append a capture taken on a firing: its store ``id`` and ``kind``, and the ``condition`` that fired."""
        self.event({"t": "capture", "ts": ts, "pod": pod, "id": id, "kind": kind, "condition": condition})

    def event(self, record: dict[str, Any]) -> None:
        """Append any record (``{"t": type, ...}``; ``ts`` defaults to now)."""
        if self._closed is not None:
            raise StoreError(f"the watch recording {self.id} is closed")
        if not isinstance(record.get("t"), str):
            raise ValueError("a recording record needs a string 't' (its type)")
        if record.get("ts") is None:
            record = {**record, "ts": time.time()}
        try:
            self._writer.write(record)
        except OSError as exc:
            raise _write_error(exc, self.id) from exc
        t = record["t"]
        self._counts[t] = self._counts.get(t, 0) + 1

    # --- end --------------------------------------------------------------------------
    def close(self, reason: str) -> CaptureRecord:
        """Write ``end`` with ``reason``, close the file and finish the store record; returns it.

        Idempotent.  When the disk is full the ``end`` record is left out (the recording
        still reads, up to its last complete record) and the record is finished anyway;
        raises :class:`StoreError` only if the store cannot record it (then ``store
        reindex`` finishes it later).
        """
        if self._closed is not None:
            return self._closed
        try:
            self.event({"t": "end", "reason": reason})
        except StoreError:
            pass
        self._writer.close()
        try:
            record = self.store.finish_live(self._pending, meta={"watch_id": self.id}, compress=self._compress)
        except OSError as exc:
            raise _write_error(exc, self.id, "cannot finish") from exc
        self._closed = self.record = record
        return record

    def __enter__(self) -> WatchRecording:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close("error" if exc_type is not None else "done")


def _write_error(exc: OSError, capture_id: str, what: str = "cannot write to") -> StoreError:
    if exc.errno in _NO_SPACE:
        why = "file size limit reached" if exc.errno == errno.EFBIG else "no space left on the device"
        return StoreError(f"{what} the watch recording {capture_id}: {why}; it is readable up to its last record")
    return StoreError(f"{what} the watch recording {capture_id}: {exc.strerror or exc}")
