"""The record of one capture, as the store hands it out."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar, overload

T = TypeVar("T")

# File states a record can show (``CaptureRecord.status``).
STATUS_OK = "ok"                # file present; size (and in a full check, sha256) as recorded
STATUS_MISSING = "missing"      # the capture file is gone
STATUS_CORRUPT = "corrupt"      # size or sha256 differs from what was recorded
STATUS_UNCHECKED = "unchecked"  # not looked at
STATUS_EXTERNAL = "external"    # a file outside the store, named by path
STATUS_RECORDING = "recording"  # a live capture (a watch recording) whose writer is still appending
STATUS_INTERRUPTED = "interrupted"  # a live capture whose writer died: readable; ``store reindex`` finishes it

# Metadata keys that are record fields (the rest stay in ``meta`` only).
RECORD_KEYS = ("duration_s", "node_version", "pid", "session", "series", "series_index")


@dataclasses.dataclass
class CaptureRecord:
    """One capture: its file and its metadata.

    ``path`` is the stored file (it ends in ``.zst`` when the capture is
    compressed at rest: use ``Store.materialize`` for a plain file to read).
    ``size`` and ``sha256`` describe the capture's content (uncompressed).
    ``meta`` is the whole metadata as kept beside the file, including keys a
    capture added that are not fields here.  A capture directory whose metadata
    is unreadable has status ``corrupt``, ``meta == {"id": ..., "damaged": True}``
    and ``problem`` saying why.
    """

    id: str
    kind: str
    path: Path
    created: str
    size: int
    sha256: str | None
    duration_s: float | None = None
    target: dict[str, Any] = dataclasses.field(default_factory=dict)
    node_version: str | None = None
    pid: int | None = None
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    session: str | None = None
    series: str | None = None
    series_index: int | None = None
    status: str = STATUS_UNCHECKED
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    problem: str | None = None  # why the status is not ok, when it is known (e.g. after ``Store.verify``)

    @property
    def compressed(self) -> bool:
        return self.meta.get("compression") is not None

    @property
    def stored_size(self) -> int:
        return int(self.meta.get("stored_size", self.size))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``path`` as a string)."""
        out = dataclasses.asdict(self)
        out["path"] = str(self.path)
        return out

    @classmethod
    def from_meta(cls, meta: dict[str, Any], path: Path, status: str = STATUS_UNCHECKED) -> CaptureRecord:
        """Build a record from a metadata dict (as written beside a capture)."""
        return cls(
            id=meta["id"], kind=meta["kind"], path=path, created=meta["created"],
            size=int(meta["size"]), sha256=meta.get("sha256"),
            target=dict(meta.get("target") or {}), labels=dict(meta.get("labels") or {}),
            options=dict(meta.get("options") or {}), status=status, meta=meta,
            **{key: meta.get(key) for key in RECORD_KEYS},
        )


def ids_comparable(records: Iterable[CaptureRecord]) -> bool:
    """Whether heap object ids compare across these snapshots: all taken in one inspector session.

    V8 numbers objects per HeapProfiler session, so an id names the same object in two
    snapshots only when both record the same ``session`` (docs/DESIGN.md, "Series and
    object identity").  A record without a session (a file imported or named by path)
    never compares.
    """
    sessions = [r.session for r in records]
    return bool(sessions) and all(sessions) and len(set(sessions)) == 1


@overload
def order_series(items: Sequence[CaptureRecord]) -> list[CaptureRecord]: ...
@overload
def order_series(items: Sequence[T], key: Callable[[T], CaptureRecord]) -> list[T]: ...
def order_series(items: Sequence[Any], key: Callable[[Any], CaptureRecord] | None = None) -> list[Any]:
    """``items`` in the order they were taken when they are one series, else as given.

    One series: every record has the same ``series`` and a ``series_index``; then the
    series' own order wins over the order the caller named them in.  ``key`` gives the
    record of an item (for pairs such as ``(record, path)``).
    """
    records: list[CaptureRecord] = [key(item) for item in items] if key is not None else list(items)
    positions: list[int] = []
    for r in records:
        if r.series is None or r.series != records[0].series or r.series_index is None:
            return list(items)
        positions.append(r.series_index)
    return [items[i] for i in sorted(range(len(items)), key=positions.__getitem__)]


def series_notes(records: Sequence[CaptureRecord]) -> list[str]:
    """What a user should know about snapshots compared together, beyond "ids not comparable".

    Snapshots of different processes (another pid, pod or endpoint) are named as such, with
    which process each came from; snapshots of one process in different inspector sessions
    too.  Empty when they are one session's series.
    """
    if len(records) < 2 or ids_comparable(records):
        return []

    def process(r: CaptureRecord) -> str:
        t = r.target or {}
        where = (f"{t['namespace']}/{t['pod']}" if t.get("pod") else t.get("endpoint") or t.get("host")
                 or (f"file {r.meta.get('source')}" if r.meta.get("source") else None))
        return f"pid {r.pid}" + (f" on {where}" if where else "") if r.pid is not None else (where or "unknown")

    procs = [process(r) for r in records]
    if len(set(procs)) > 1 and all(r.pid is not None for r in records):
        listed = ", ".join(f"{r.id} is {p}" for r, p in zip(records, procs, strict=True))
        return [f"these snapshots are of different processes ({listed}): the same object cannot be followed "
                f"from one to the next; classes are compared by their counts and sizes"]
    if len(set(procs)) == 1 and records[0].pid is not None and len({r.session for r in records}) > 1:
        return [f"these snapshots are of one process ({procs[0]}) but from different inspector sessions: "
                f"V8 numbered its objects afresh in each, so classes are compared by their counts and sizes"]
    return []


def order_by_time(items: Sequence[T], key: Callable[[T], CaptureRecord]) -> tuple[list[T], str | None]:
    """``items`` oldest first (one series keeps its own order); and a note when that is not the order given."""
    records = [key(item) for item in items]
    ordered = order_series(items, key=key)
    if ordered == list(items) and all(r.created for r in records):
        ordered = sorted(items, key=lambda i: key(i).created)
    if [key(i).id for i in ordered] == [r.id for r in records]:
        return ordered, None
    return ordered, ("the snapshots were given out of order; compared in the order they were taken: "
                     + ", ".join(key(i).id for i in ordered))
