"""The recordings store: every capture kept, findable, and safe against crashes.

A capture is published in four steps: the writer streams into a temp directory
inside the store; the store fsyncs it, hashes it (and compresses it if asked),
writes the metadata beside it, and renames the directory into ``captures/``
in one step; then it adds the index row.  A crash before the rename leaves only
a temp directory, removed by the next store operation once its writer is dead;
a crash after it leaves a complete capture the next listing finds on disk.

Commands that only read never change the index: when it is missing, corrupt or
cannot be opened (a full disk), they work from a scan of the capture directories
held in memory.  Only writing operations (a capture, an import, ``remove``,
``reindex``) rebuild it, atomically and under the index lock.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import errno
import functools
import json
import os
import shutil
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from cdpclient import compression, filecache, fileio
from cdpclient.errors import (
    AmbiguousCapture,
    CaptureNotFound,
    CDPClientError,
    InvalidCaptureFile,
    StoreError,
    UsageError,
)
from cdpclient.store import files, ids, kinds, streams
from cdpclient.store.index import Index, IndexUnavailable, IndexUnusable, file_lock
from cdpclient.store.kinds import EXPORT_SUFFIXES, EXTENSIONS, HEAP_KINDS, KINDS, STREAM_KINDS
from cdpclient.store.layout import COMPRESSED_SUFFIX, EVENTS_SUFFIX, Layout, process_start
from cdpclient.store.record import (
    RECORD_KEYS,
    STATUS_CORRUPT,
    STATUS_EXTERNAL,
    STATUS_INTERRUPTED,
    STATUS_MISSING,
    STATUS_OK,
    STATUS_RECORDING,
    CaptureRecord,
)

ENV_VAR = "CDPCLIENT_STORE"
# Where the store lived by default before it moved to the per-user data directory: only
# ``cdpclient store move`` (and the CLI's hint that a store is still there) look at it.
LEGACY_PATH = "./recordings"
META_FORMAT = 1
# Keys the store writes itself; a capture's ``pending.meta`` cannot override them.
_RESERVED = ("format", "id", "kind", "file", "created", "size", "sha256", "compression",
             "stored_size", "stored_sha256", "side_files", "status", "verified")
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# meta "status" of a live capture until it is finished (``Store.finish_live``)
_LIVE = "recording"


# ``check(path, kind)``: raises InvalidCaptureFile for a file its kind's reader refuses.
ContentCheck = Callable[[Path, str], None]


def default_path() -> Path:
    """The store used when none is named: ``$XDG_DATA_HOME/cdpclient``, else ``~/.local/share/cdpclient``.

    One place per user whatever directory a command runs in (the XDG base directory spec:
    a relative ``$XDG_DATA_HOME`` is invalid and ignored).
    """
    base = os.environ.get("XDG_DATA_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "cdpclient"


def iso(ts: float) -> str:
    """UTC ISO 8601 with milliseconds, e.g. ``2026-11-22T05:03:34.123Z``."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class PendingCapture:
    """A capture being written: see :meth:`Store.new_capture`."""

    def __init__(self, capture_id: str, kind: str, temp_dir: Path) -> None:
        self.id = capture_id
        self.kind = kind
        self.temp_dir = temp_dir
        self.path = temp_dir / Layout.data_name(capture_id, kind)
        self.meta: dict[str, Any] = {}
        self.record: CaptureRecord | None = None
        self.compressed = False
        """Set by a writer that wrote ``path`` as a zstd stream itself (compressing while streaming)."""
        self._sides: list[str] = []

    def side_path(self, suffix: str) -> Path:
        """A side file kept with the capture (``".events.json"``); created empty, 0600."""
        path = self.temp_dir / Layout.side_name(self.id, suffix)
        if suffix not in self._sides:
            fileio.create_private(path)
            self._sides.append(suffix)
        return path


class Store:
    """A directory of captures with a query index.  Open with :meth:`Store.open`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.layout = Layout(root)
        self._index: Index | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Store:
        """The store at ``path``, else ``$CDPCLIENT_STORE``, else the per-user default (:func:`default_path`).

        Nothing is created until the first write (a capture or an import); a new root is 0700,
        and so are the missing parents it needs (``~/.local/share`` on a fresh account).
        An existing root is used with the mode it has (see :meth:`exposure`).
        """
        raw = path if path not in (None, "") else (os.environ.get(ENV_VAR) or default_path())
        return cls(Path(os.fspath(raw)).expanduser().absolute())

    def exposure(self) -> str | None:
        """One line saying the existing root is open to other users (group/other mode bits), else None.

        The store never changes the mode of a root it did not create; the caller tells the user.
        """
        try:
            mode = stat.S_IMODE(self.root.stat().st_mode)
        except OSError:
            return None
        if not self.root.is_dir() or not mode & 0o077:
            return None
        return (f"the store {self.root} is open to other users (mode {mode:04o}); "
                f"restrict it with: chmod 700 {self.root}")

    @property
    def exists(self) -> bool:
        return self.root.is_dir()

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # --- readiness -----------------------------------------------------------
    def _ready(self, create: bool = False, write: bool = False) -> bool:
        """Open the index and clear dead writers' temp files.

        ``write`` (implied by ``create``): the index file is opened for writing, and rebuilt
        (atomically) if it is missing or corrupt.  Otherwise it is only read, never changed:
        when it cannot be used, a scan of the capture directories stands in for it.
        Returns False when the store does not exist and ``create`` is false.
        """
        write = write or create
        if not self.root.is_dir():
            if not create:
                if self.root.exists():
                    raise StoreError(f"the store path {self.root} is not a directory")
                return False
        if create:
            try:
                for d in (self.root, self.layout.captures_dir, self.layout.tmp_dir):
                    fileio.make_private_dir(d)
            except OSError as exc:
                raise StoreError(f"cannot create the store at {self.root}: {exc.strerror or exc}") from exc
        if self._index is not None and write and not self._index.writable:
            self._index.close()
            self._index = None
        if self._index is None:
            self._index = self._open_index() if write else self._open_index_to_read()
        self._clean_temps()
        return True

    def _open_index_to_read(self) -> Index:
        index = Index(self.layout.index_path, writable=False)
        try:
            index.open_existing()
            return index
        except (IndexUnusable, IndexUnavailable):  # lost, corrupt, or a full disk: leave the file alone
            return Index.from_metas(self.layout.index_path,
                                   (m for m, _ in self._read_metas(self.layout.capture_ids())))

    def _open_index(self, locked: bool = False) -> Index:
        """The index opened for writing, rebuilt if missing or corrupt (``locked``: the caller holds the lock)."""
        index = Index(self.layout.index_path)
        try:
            index.open_existing()
            return index
        except IndexUnusable:
            pass
        except IndexUnavailable as exc:  # not a reason to rebuild it
            raise StoreError(f"cannot open the index of {self.root}: {exc}") from exc
        try:
            with contextlib.nullcontext() if locked else file_lock(self.layout.lock_path):
                try:  # another process may have rebuilt it while we waited
                    index.open_existing()
                    return index
                except IndexUnusable:
                    index.rebuild((m for m, _ in self._read_metas(self.layout.capture_ids())),
                                  self.layout.index_temp_path())
                    return index
        except IndexUnavailable as exc:
            raise StoreError(f"cannot open the index of {self.root}: {exc}") from exc
        except OSError as exc:
            raise _store_error(exc, f"cannot rebuild the index of {self.root}") from exc
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorname", None) == "SQLITE_FULL":
                raise StoreError(f"cannot rebuild the index of {self.root}: no space left on the device") from exc
            raise StoreError(f"cannot rebuild the index of {self.root}: {exc}") from exc

    @property
    def index(self) -> Index:
        assert self._index is not None
        return self._index

    def _clean_temps(self) -> None:
        for stale in self.layout.stale_temp_dirs():
            shutil.rmtree(stale, ignore_errors=True)
        for stale_file in self.layout.stale_index_temps():
            stale_file.unlink(missing_ok=True)

    # --- writing ---------------------------------------------------------------
    @contextlib.contextmanager
    def new_capture(self, kind: str, *, target: dict[str, Any] | None = None,
                    labels: dict[str, str] | None = None, options: dict[str, Any] | None = None,
                    compress: bool = False, created: float | None = None) -> Iterator[PendingCapture]:
        """Write a new capture; it appears in the store only if the block exits cleanly.

        Yields a :class:`PendingCapture`: write the capture to ``pending.path``
        (a 0600 temp file in the store), put what you know into ``pending.meta``
        (``node_version``, ``pid``, ``session``, ``series``, ``series_index``,
        ``duration_s`` and any other keys), and side files at
        ``pending.side_path(suffix)``.  After the block, ``pending.record`` is the
        stored :class:`CaptureRecord`.  An exception in the block removes the
        temp files, registers nothing and propagates; running out of disk space
        (in the block or while storing) raises :class:`StoreError`.
        ``created``: the capture time (epoch seconds) when it is not now (imports).
        """
        pending = self._start(kind, created)
        try:
            fileio.create_private(pending.path)
        except OSError as exc:
            shutil.rmtree(pending.temp_dir, ignore_errors=True)
            raise _store_error(exc, f"cannot start a capture in {self.root}") from exc
        try:
            yield pending
            pending.record = self._publish(pending, target or {}, labels or {}, options or {}, compress)
        except BaseException as exc:
            shutil.rmtree(pending.temp_dir, ignore_errors=True)
            # a capture's write error arrives wrapped (CaptureError naming the temp file)
            cause = exc if isinstance(exc, OSError) else exc.__cause__
            if isinstance(cause, OSError) and cause.errno in _NO_SPACE:
                raise _store_error(cause, f"capture not stored in {self.root}", where=False) from exc
            raise

    def _start(self, kind: str, created: float | None = None) -> PendingCapture:
        if kind not in KINDS:
            raise UsageError(f"unknown capture kind {kind!r} (kinds: {', '.join(KINDS)})")
        self._ready(create=True)
        capture_id = ids.new_id(created)
        temp_dir = self.layout.new_temp_dir_path(capture_id)
        try:
            fileio.make_private_dir(temp_dir)
        except OSError as exc:
            shutil.rmtree(temp_dir, ignore_errors=True)
            raise _store_error(exc, f"cannot start a capture in {self.root}") from exc
        return PendingCapture(capture_id, kind, temp_dir)

    # --- live captures (appended in place: watch recordings) ----------------------------
    def begin_live(self, kind: str) -> PendingCapture:
        """Start a capture that is registered while it is written (a watch recording).

        Create the data file at ``pending.path`` (0600; e.g. a ``msgstream.StreamWriter``
        that keeps it open), then call :meth:`publish_live`: the capture is listed from then
        on (status ``recording``) and the writer appends in place through its open file.
        :meth:`finish_live` records size, sha256 and facts.  A writer that dies leaves a
        listed, readable capture (status ``interrupted``) that :meth:`reindex` finishes.
        :meth:`discard_live` drops a capture never published.
        """
        return self._start(kind)

    def publish_live(self, pending: PendingCapture, *, target: dict[str, Any] | None = None,
                     labels: dict[str, str] | None = None, options: dict[str, Any] | None = None,
                     meta: dict[str, Any] | None = None) -> CaptureRecord:
        """List the live capture now (see :meth:`begin_live`); ``pending.path`` then names the stored file."""
        data = pending.path
        if not data.exists():
            raise StoreError(f"the {pending.kind} capture has no data file; nothing stored")
        record_meta: dict[str, Any] = {key: None for key in RECORD_KEYS}
        record_meta.update(target=target or {}, labels=labels or {}, options=options or {})
        record_meta.update({k: v for k, v in (meta or {}).items() if k not in _RESERVED})
        record_meta.update(
            format=META_FORMAT, id=pending.id, kind=pending.kind, file=data.name,
            created=iso(ids.id_time(pending.id)), size=0, sha256=None, compression=None,
            stored_size=0, stored_sha256=None, side_files=[], status=_LIVE, writer=self.layout.writer_token(),
        )
        pending.meta = record_meta
        try:
            record = self._place(pending, record_meta)
        except OSError as exc:
            self.discard_live(pending)
            raise _store_error(exc, "capture not stored") from exc
        pending.path = pending.temp_dir / data.name
        return record

    def finish_live(self, pending: PendingCapture, *, meta: dict[str, Any] | None = None,
                    compress: bool = False) -> CaptureRecord:
        """Finish a published live capture: sha256, size, ``meta`` merged in, status complete.

        The writer must have closed its file.  ``compress``: zstd at rest (readers go
        through :meth:`materialize`).  If compressing runs out of space the capture stays
        plain and complete.
        """
        current = self._read_meta(pending.id) or dict(pending.meta)
        current.update({k: v for k, v in (meta or {}).items() if k not in _RESERVED})
        self._finish_meta(current, compress=compress)
        pending.meta = current
        return self._record(current)

    def discard_live(self, pending: PendingCapture) -> None:
        """Drop a live capture that was begun but never published."""
        if pending.temp_dir.parent == self.layout.tmp_dir:
            shutil.rmtree(pending.temp_dir, ignore_errors=True)

    def _finish_meta(self, meta: dict[str, Any], *, compress: bool = False, interrupted: bool = False,
                     index: bool = True) -> None:
        folder = self.layout.capture_dir(meta["id"])
        data = folder / meta["file"]
        fileio.fsync_path(data)
        if meta["kind"] in STREAM_KINDS:
            try:
                meta.update(streams.facts(data))
            except Exception:  # the store keeps what it has; show/verify report the file
                pass
        sha, size = files.digest(data)
        meta.update(size=size, sha256=sha, stored_size=size, stored_sha256=sha, compression=None)
        if compress:
            packed = data.with_name(data.name + COMPRESSED_SUFFIX)
            try:
                _, _, stored_sha, stored_size = fileio.compress_file(data, packed)
            except OSError:
                packed.unlink(missing_ok=True)
            else:
                meta.update(file=packed.name, compression="zstd", stored_size=stored_size,
                            stored_sha256=stored_sha)
        meta.update(status="complete")
        meta.pop("writer", None)
        if interrupted:
            meta["interrupted"] = True
        fileio.write_json_atomic(self.layout.meta_path(meta["id"]), meta)
        fileio.fsync_path(folder)
        if meta.get("compression"):
            data.unlink(missing_ok=True)
        if index:
            with contextlib.suppress(StoreError):
                self.index.put(meta)

    def _place(self, pending: PendingCapture, meta: dict[str, Any]) -> CaptureRecord:
        """Write ``meta`` into the temp directory and rename it into ``captures/`` (new id on a collision)."""
        for _attempt in range(8):
            fileio.write_json_atomic(pending.temp_dir / Layout.meta_name(pending.id), meta)
            fileio.fsync_path(pending.temp_dir)
            final = self.layout.capture_dir(meta["id"])
            try:
                os.rename(pending.temp_dir, final)
                break
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                self._rename_id(pending, meta)  # two captures got the same id: take another
        else:  # pragma: no cover - 8 collisions of 10 random bits in one millisecond
            raise StoreError("could not find a free capture id")
        pending.temp_dir = final
        fileio.fsync_path(self.layout.captures_dir)
        with contextlib.suppress(StoreError):
            # if this fails the capture is still complete on disk; the next listing indexes it
            self.index.put(meta)
        return self._record(meta)

    def _publish(self, pending: PendingCapture, target: dict[str, Any], labels: dict[str, str],
                 options: dict[str, Any], compress: bool) -> CaptureRecord:
        data = pending.path
        if not data.exists() or data.stat().st_size == 0:
            raise StoreError(f"the {pending.kind} capture wrote no data; nothing stored")
        os.chmod(data, fileio.FILE_MODE)
        if compress and pending.compressed:  # written as zstd while streaming: hash it, rename it
            fileio.fsync_path(data)
            sha, size = files.content_digest(data)
            stored_sha, stored_size = files.digest(data)
            packed = data.with_name(data.name + COMPRESSED_SUFFIX)
            os.rename(data, packed)
            stored_name = packed.name
        elif compress:
            packed = data.with_name(data.name + COMPRESSED_SUFFIX)
            sha, size, stored_sha, stored_size = fileio.compress_file(data, packed)
            data.unlink()
            stored_name = packed.name
        else:
            fileio.fsync_path(data)
            sha, size = files.digest(data)
            stored_sha, stored_size, stored_name = sha, size, data.name
        meta: dict[str, Any] = {key: None for key in RECORD_KEYS}
        meta.update(target=target, labels=labels, options=options)
        meta.update({k: v for k, v in pending.meta.items() if k not in _RESERVED})
        meta.update(
            format=META_FORMAT, id=pending.id, kind=pending.kind, file=stored_name,
            created=iso(ids.id_time(pending.id)), size=size, sha256=sha,
            compression="zstd" if compress else None, stored_size=stored_size, stored_sha256=stored_sha,
            side_files=[s for s in pending._sides if (pending.temp_dir / Layout.side_name(pending.id, s)).exists()],
            status="complete",
        )
        return self._place(pending, meta)

    def _rename_id(self, pending: PendingCapture, meta: dict[str, Any]) -> None:
        old = pending.id
        new = ids.new_id(ids.id_time(old))
        for entry in list(pending.temp_dir.iterdir()):
            entry.rename(entry.with_name(new + entry.name[len(old):]))
        new_temp = self.layout.new_temp_dir_path(new)
        os.rename(pending.temp_dir, new_temp)
        pending.temp_dir, pending.id = new_temp, new
        pending.path = new_temp / (new + pending.path.name[len(old):])
        meta.update(id=new, file=new + meta["file"][len(old):])

    # --- reading -----------------------------------------------------------------
    def _record(self, meta: dict[str, Any], status: str | None = None) -> CaptureRecord:
        if meta.get("status") == _LIVE:
            # the index row of a live capture may be older than its meta file (finished by a
            # writer whose index update failed, e.g. on a full disk): the meta file wins
            fresh = self._read_meta(meta["id"])
            if fresh is not None and fresh.get("status") != _LIVE:
                meta = fresh
                with contextlib.suppress(StoreError):
                    self.index.put(meta)
        path = self.layout.capture_dir(meta["id"]) / meta["file"]
        record = CaptureRecord.from_meta(meta, path)
        record.status = status or _quick_status(record)
        verdict = meta.get(VERDICT) or {}
        if record.status == STATUS_CORRUPT and record.problem is None:
            record.problem = verdict.get("problem") if verdict.get("status") == STATUS_CORRUPT else (
                f"its file {meta['file']} does not have the {record.stored_size:,} bytes recorded")
        return record

    def _read_metas(self, capture_ids: Iterable[str]) -> Iterator[tuple[dict[str, Any], str]]:
        """``(meta, id)`` for each readable meta file; unreadable ones are skipped."""
        for capture_id in sorted(capture_ids):
            meta = self._read_meta(capture_id)
            if meta is not None:
                yield meta, capture_id

    def _read_meta(self, capture_id: str) -> dict[str, Any] | None:
        return self._load_meta(capture_id)[0]

    def _load_meta(self, capture_id: str) -> tuple[dict[str, Any] | None, str]:
        """``(meta, "")`` for a readable metadata file, else ``(None, why it is unreadable)``."""
        path = self.layout.meta_path(capture_id)
        try:
            meta = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None, f"its metadata file {path.name} is missing"
        except OSError as exc:
            return None, f"its metadata file {path.name} cannot be read ({exc.strerror or exc})"
        except ValueError as exc:
            return None, f"its metadata file {path.name} is not valid JSON ({exc})"
        if not isinstance(meta, dict):
            return None, f"its metadata file {path.name} does not hold an object"
        for key in ("created", "file", "size"):
            if key not in meta:
                return None, f"its metadata file {path.name} has no {key!r}"
        if meta.get("id") != capture_id:
            return None, f"its metadata file {path.name} names another id ({str(meta.get('id'))[:40]!r})"
        if meta.get("kind") not in KINDS:
            return None, f"its metadata file {path.name} names an unknown kind ({str(meta.get('kind'))[:40]!r})"
        return meta, ""

    def _reconcile(self) -> tuple[set[str], dict[str, str]]:
        """Index captures complete on disk but missing from the index (a writer died in between).

        Returns the ids on disk, and the capture directories that cannot be indexed (their
        metadata is unreadable) with the reason for each.  A read-only index takes the rows
        in memory only (see :class:`Index`).
        """
        on_disk = self.layout.capture_ids()
        unindexed = on_disk - self.index.ids()
        damaged: dict[str, str] = {}
        metas = []
        for capture_id in sorted(unindexed):
            meta, why = self._load_meta(capture_id)
            if meta is None:
                damaged[capture_id] = why
            else:
                metas.append(meta)
        if metas:
            self.index.put_many(metas)
        return on_disk, damaged

    def _damaged(self, capture_id: str, why: str) -> CaptureRecord:
        """The record of a capture directory whose metadata is unreadable: status ``corrupt``, ``problem`` why.

        Its kind is guessed from the data file in it (``unknown`` if there is none).
        """
        folder = self.layout.capture_dir(capture_id)
        kind, path, size = "unknown", folder, 0
        with contextlib.suppress(OSError):
            for entry in sorted(folder.iterdir()):
                name = entry.name.removesuffix(COMPRESSED_SUFFIX)
                found = next((k for k, ext in EXTENSIONS.items() if name == capture_id + ext), None)
                if found is not None:
                    kind, path, size = found, entry, entry.stat().st_size
                    break
        try:
            created = iso(ids.id_time(capture_id)) if ids.looks_like_id(capture_id) else ""
        except ValueError:
            created = ""
        return CaptureRecord(id=capture_id, kind=kind, path=path, created=created, size=size, sha256=None,
                             status=STATUS_CORRUPT, meta={"id": capture_id, "damaged": True}, problem=why)

    def list(self, *, kind: str | None = None, labels: dict[str, str] | None = None,
             target: str | None = None, since: float | dt.datetime | None = None) -> builtins.list[CaptureRecord]:
        """Captures, newest first, each with a cheap ``status`` (file present, size as recorded).

        ``labels``: every pair must match.  ``target``: a substring of any value of
        the record's target (endpoint, pod, namespace...) or of an imported file's path.  ``since``: a datetime,
        or seconds before now.
        """
        if kind is not None and kind not in KINDS:
            raise UsageError(f"unknown capture kind {kind!r} (kinds: {', '.join(KINDS)})")
        if not self._ready():
            return []
        present, damaged = self._reconcile()
        if isinstance(since, (int, float)):
            since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=since)
        since_text = iso(since.timestamp()) if since is not None else None
        out = []
        for meta in self.index.query(kind=kind, since=since_text):
            if labels and any(meta.get("labels", {}).get(k) != v for k, v in labels.items()):
                continue
            if target and not any(target in str(v) for v in [*(meta.get("target") or {}).values(),
                                                               meta.get("source") or ""]):
                continue
            out.append(self._record(meta, None if meta["id"] in present else STATUS_MISSING))
        if damaged and not labels and not target:
            # listed so the damage shows (status corrupt); labels and target are unknown: a filter on them skips it
            broken = [self._damaged(i, why) for i, why in damaged.items()]
            out.extend(r for r in broken if (kind is None or r.kind == kind)
                       and (since_text is None or r.created >= since_text))
            out.sort(key=lambda r: (r.created, r.id), reverse=True)
        return out

    def get(self, capture_id: str) -> CaptureRecord:
        """The record of exactly ``capture_id`` (no prefix matching)."""
        if self._ready():
            meta = self.index.get(capture_id)
            if meta is None:
                _, damaged = self._reconcile()
                meta = self.index.get(capture_id)
                if meta is None and capture_id in damaged:
                    raise self._damage_error(self._damaged(capture_id, damaged[capture_id]))
            if meta is not None:
                return self._record(meta)
        raise CaptureNotFound(f"no capture {capture_id} in {self.root}", ref=capture_id)

    def resolve(self, ref: str | os.PathLike[str] | CaptureRecord, *, damaged: bool = False) -> CaptureRecord:
        """The capture ``ref`` names: an id, a unique id prefix, or a capture file's path.

        A path outside the store gives a record with ``status == "external"``,
        its kind detected from the content (``id`` is the file name).
        Raises :class:`CaptureNotFound`, :class:`AmbiguousCapture`, or
        :class:`InvalidCaptureFile` (a path that is not a capture, or a capture
        directory whose metadata is unreadable).  ``damaged``: such a capture
        directory gives its record instead (status ``corrupt``, ``problem`` saying
        why; for removing or checking it, not for reading).  Never creates the store.
        """
        if isinstance(ref, CaptureRecord):
            if ref.problem is not None and ref.meta.get("damaged") and not damaged:
                raise self._damage_error(ref)
            return ref
        text = os.fspath(ref)
        path = Path(text).expanduser()
        pathlike = os.sep in text or path.suffix.lower() in (*EXTENSIONS.values(), COMPRESSED_SUFFIX)
        if ids.looks_like_id(text) and not (pathlike and path.is_file()):
            found = self._by_prefix(text.upper(), damaged=damaged)
            if found is not None:
                return found
        if path.is_file() or path.is_dir():
            return self._external(path)
        if ids.looks_like_id(text):
            where = self.root if self.exists else f"{self.root} (no store there)"
            raise CaptureNotFound(f"no capture matches {text!r} in {where}", ref=text)
        raise CaptureNotFound(f"{text!r} is neither a capture id nor an existing file", ref=text)

    def _by_prefix(self, prefix: str, damaged: bool = False) -> CaptureRecord | None:
        if not self._ready():
            return None
        # reconciled first: a prefix must not pick an indexed capture while a damaged one matches too
        _, broken = self._reconcile()
        metas = self.index.with_prefix(prefix, limit=6)
        broken = {i: why for i, why in broken.items() if i.startswith(prefix)}
        found: list[str] = sorted({*(m["id"] for m in metas), *broken})
        if prefix in found:
            found = [prefix]
        if len(found) > 1:
            shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
            raise AmbiguousCapture(f"{prefix!r} matches several captures ({shown}); give more characters",
                                   ref=prefix, candidates=found)
        if not found:
            return None
        if found[0] in broken:
            record = self._damaged(found[0], broken[found[0]])
            if not damaged:
                raise self._damage_error(record)
            return record
        return self._record(next(m for m in metas if m["id"] == found[0]))

    def _damage_error(self, record: CaptureRecord) -> InvalidCaptureFile:
        return InvalidCaptureFile(f"capture {record.id} is damaged: {record.problem}; remove it, "
                                  f"or restore that file", path=record.path, kind=record.kind, ref=record.id)

    def _external(self, path: Path) -> CaptureRecord:
        path = path.resolve()
        if path.is_relative_to(self.layout.captures_dir) and path.parent.name in self.layout.capture_ids():
            found = self._by_prefix(path.parent.name)  # a path into this store: the stored record
            if found is not None:
                return found
        kind = kinds.detect_kind(path)
        st = path.stat()
        meta: dict[str, Any] = {"external": True, "source": str(path)}
        size = st.st_size
        if compression.is_compressed(path):
            meta.update(compression="zstd", stored_size=st.st_size)
            content = compression.content_size(path)
            size = content if content is not None else st.st_size
        return CaptureRecord(id=path.name, kind=kind, path=path, created=iso(st.st_mtime), size=size,
                             sha256=None, status=STATUS_EXTERNAL, meta=meta)

    def side_file(self, record: CaptureRecord, suffix: str) -> Path | None:
        """The side file ``suffix`` kept with ``record`` (see ``PendingCapture.side_path``), if any."""
        return _side_file(record, suffix)

    @staticmethod
    def events_file(record: CaptureRecord) -> Path | None:
        """The heap statistics events a timeline capture kept (``.events.json``), if there are any.

        A stored capture: its side file.  A file outside the store: the events file beside
        it (``x.heaptimeline.events.json``, else ``x.events.json``).  Needs no open store:
        the record says where its files are.
        """
        if record.status != STATUS_EXTERNAL:
            return _side_file(record, EVENTS_SUFFIX)
        return next((p for p in Layout.beside(record.path, EVENTS_SUFFIX) if p.is_file()), None)

    def materialize(self, record: CaptureRecord) -> Path:
        """A plain, uncompressed file with the capture's content, for reading.

        The stored file itself, or a decompressed copy kept in the capture's
        cache directory.  Raises :class:`CaptureNotFound` if the file is gone.
        """
        if record.meta.get("damaged"):
            raise self._damage_error(record)
        if not record.path.exists():
            raise CaptureNotFound(f"the file of capture {record.id} is missing: {record.path}", ref=record.id)
        if not record.compressed:
            return record.path
        name = record.path.name
        dest = self.cache_dir(record) / (name[: -len(COMPRESSED_SUFFIX)] if name.endswith(COMPRESSED_SUFFIX)
                                          else name + EXTENSIONS[record.kind])
        if dest.exists() and dest.stat().st_size == record.size:
            return dest
        for old in dest.parent.glob(f".{dest.name}.*.tmp"):  # left by a killed reader
            pid = old.name[len(dest.name) + 2:-4]
            if pid.isdigit() and not process_start(int(pid)):
                old.unlink(missing_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            fileio.decompress_file(record.path, tmp, check_head=lambda head: kinds.check_head(head, record.path))
            os.replace(tmp, dest)
        except OSError as exc:
            raise _store_error(exc, f"cannot decompress capture {record.id}") from exc
        except Exception as exc:
            if compression.is_zstd_error(exc):
                raise InvalidCaptureFile(f"capture {record.id} is damaged: {exc}", ref=record.id) from exc
            raise
        finally:
            tmp.unlink(missing_ok=True)
        filecache.written(dest.parent)  # a plain file's copy: the cache of plain files keeps its bounds
        return dest

    def cache_dir(self, record: CaptureRecord) -> Path:
        """A 0700 directory for analysis caches of ``record`` (created on demand; disposable)."""
        if record.meta.get("external"):  # an entry of the bounded cache of plain files, held while we run
            return filecache.open_entry(record.path)
        path = self.layout.cache_dir(record.id)  # the store exists (it holds the record); no index needed
        fileio.make_private_dir(path)
        return path

    # --- checking ---------------------------------------------------------------------
    def verify(self, ref: str | CaptureRecord) -> CaptureRecord:
        """The record with a full ``status``: the stored file's sha256 compared with the recorded one.

        Also checks that the metadata file beside it is readable.  A status other than ``ok``
        (or ``external``, ``recording``, ``interrupted``) comes with ``record.problem`` saying why.
        A capture directory whose metadata is unreadable gives status ``corrupt``.
        """
        record = self.resolve(ref, damaged=True)
        if record.status == STATUS_EXTERNAL or record.meta.get("damaged"):
            return record
        if not record.path.exists():
            record.status = STATUS_MISSING
            record.problem = f"its file {record.path.name} is missing"
            return record
        meta, why = self._load_meta(record.id)
        if meta is None:
            record.status, record.problem = STATUS_CORRUPT, why
            return record
        if record.status in (STATUS_RECORDING, STATUS_INTERRUPTED):
            # no sha256 yet: what the file holds so far
            if record.kind in STREAM_KINDS:
                with contextlib.suppress(Exception):
                    record.meta.update(streams.facts(record.path), size=record.path.stat().st_size)
                    record.size = record.meta["size"]
            return record
        try:
            sha, size = files.digest(record.path)
        except OSError as exc:
            record.status = STATUS_MISSING
            record.problem = f"its file {record.path.name} cannot be read ({exc.strerror or exc})"
            return record
        expected = record.meta.get("stored_sha256", record.sha256)
        if size != record.stored_size:
            record.status = STATUS_CORRUPT
            record.problem = f"its file {record.path.name} has {size:,} bytes, {record.stored_size:,} recorded"
        elif sha != expected:
            record.status = STATUS_CORRUPT
            record.problem = f"its file {record.path.name} differs from its recorded sha256"
        else:
            record.status, record.problem = STATUS_OK, None
        self._remember_verdict(record)
        return record

    def _remember_verdict(self, record: CaptureRecord) -> None:
        """Keep a full check's outcome in the capture's metadata and index row (not in a read-only store)."""
        try:
            mtime_ns = record.path.stat().st_mtime_ns
        except OSError:
            return
        verdict = {"status": record.status, "problem": record.problem, "mtime_ns": mtime_ns}
        old = record.meta.get(VERDICT) or {}
        if {k: old.get(k) for k in verdict} == verdict:
            return
        meta = self._read_meta(record.id)
        if meta is None or not os.access(self.layout.meta_path(record.id).parent, os.W_OK):
            return
        meta[VERDICT] = {**verdict, "at": iso(dt.datetime.now(dt.UTC).timestamp())}
        with contextlib.suppress(OSError, StoreError, sqlite3.Error):
            fileio.write_json_atomic(self.layout.meta_path(record.id), meta)
            record.meta[VERDICT] = meta[VERDICT]
            self._put_existing(meta)

    def _put_existing(self, meta: dict[str, Any]) -> None:
        """Update one row of the index if it is there to be written (never rebuilt for it: a
        reading command may keep a verdict, not repair the store)."""
        if self._index is not None and self._index.writable:
            self._index.put(meta)
            return
        index = Index(self.layout.index_path)
        try:
            index.open_existing()
        except (IndexUnusable, IndexUnavailable):
            return
        try:
            index.put(meta)
        finally:
            index.close()

    def intact(self, ref: str | CaptureRecord) -> CaptureRecord:
        """The record, fully checked unless an earlier full check passed on the same file (size, mtime).

        For analysis: hashing a 2 GB snapshot costs about a second, once; a damage found
        by any check stays visible (``status``, ``problem``) until the file checks ``ok``.
        """
        record = self.resolve(ref, damaged=True)
        if record.status in (STATUS_EXTERNAL, STATUS_RECORDING, STATUS_INTERRUPTED, STATUS_MISSING):
            return record
        verdict = record.meta.get(VERDICT) or {}
        try:
            st = record.path.stat()
        except OSError:
            return self.verify(record)
        if (verdict.get("status") == STATUS_OK and verdict.get("mtime_ns") == st.st_mtime_ns
                and st.st_size == record.stored_size):
            return record
        return self.verify(record)

    # --- removing ----------------------------------------------------------------------
    def remove(self, refs: Iterable[str | CaptureRecord]) -> builtins.list[CaptureRecord]:
        """Delete captures (file, metadata, caches, index row); returns the records this call removed.

        Every ref is resolved before anything is deleted, so one bad ref deletes nothing.
        A damaged capture (unreadable metadata) can be removed.  Removals by separate
        processes queue on the index lock, so each capture is removed by exactly one:
        a capture another process removed first is not in the returned list (compare
        with the records given to tell which).
        """
        records = list({r.id: r for r in (self.resolve(ref, damaged=True) for ref in refs)}.values())
        for record in records:
            if record.status == STATUS_EXTERNAL:
                raise StoreError(f"{record.path} is not in the store {self.root}; not removing it")
        if not records:
            return []
        try:
            self._ready(write=True)
            index_open = True
        except StoreError:  # e.g. a full disk: the index can be opened once the removed files are gone
            index_open = False
        trashed: dict[str, Path] = {}
        removed = []
        try:
            with file_lock(self.layout.lock_path):
                for record in records:
                    trash = self._unpublish(record.id)
                    if trash is not None:
                        trashed[record.id] = trash
                mine = set(trashed)
                if not index_open:
                    self._empty_trash(trashed)
                    self.close()
                    self._index = self._open_index(locked=True)
                for record in records:
                    rows = self.index.delete([record.id])
                    # a row alone counts when the directory was already gone (deleted behind the store's back)
                    if record.id in mine or rows:
                        removed.append(record)
        except OSError as exc:
            raise _store_error(exc, f"cannot remove captures from {self.root}") from exc
        finally:
            self._empty_trash(trashed)  # outside the lock: deleting gigabytes must not hold up others
        for record in removed:
            shutil.rmtree(self.layout.cache_dir(record.id), ignore_errors=True)
        return removed

    @staticmethod
    def _empty_trash(trashed: dict[str, Path]) -> None:
        for trash in trashed.values():
            shutil.rmtree(trash, ignore_errors=True)
        trashed.clear()

    def _unpublish(self, capture_id: str) -> Path | None:
        """Rename the capture's directory out of ``captures/`` (one step); None if it is not there.

        If we die after the rename, the temp-dir cleanup finishes the job.
        """
        trash = self.layout.new_temp_dir_path(capture_id)
        try:
            os.rename(self.layout.capture_dir(capture_id), trash)
        except FileNotFoundError:
            return None
        return trash

    def prune_candidates(self, *, keep: int | None = None, older_than: float | None = None,
                         kind: str | None = None) -> builtins.list[CaptureRecord]:
        """Captures ``prune`` would delete: all but the newest ``keep``, and/or older than ``older_than`` s.

        With both, captures older than ``older_than`` go except the newest ``keep``.
        """
        if keep is None and older_than is None:
            raise UsageError("prune needs {keep} N or {older_than} DURATION", options=("keep", "older_than"))
        if keep is not None and keep < 0:
            raise UsageError("{keep} must not be negative", options=("keep",))
        records = self.list(kind=kind)
        candidates = records[keep:] if keep is not None else records
        if older_than is not None:
            cutoff = iso((dt.datetime.now(dt.UTC) - dt.timedelta(seconds=older_than)).timestamp())
            candidates = [r for r in candidates if r.created < cutoff]
        return candidates

    # --- index ------------------------------------------------------------------------------
    def reindex(self) -> dict[str, Any]:
        """Rebuild the index from the metadata files.

        A live capture whose writer died (a watch killed with SIGKILL) is finished
        on the way: its size, sha256 and facts are recorded and it is marked
        ``interrupted`` in its metadata.
        Returns ``{"captures": N, "skipped": [ids whose metadata is unreadable]}``.
        """
        if not self._ready(write=True):
            return {"captures": 0, "skipped": []}
        on_disk: set[str] = set()
        good: set[str] = set()

        def metas() -> Iterator[dict[str, Any]]:
            on_disk.update(self.layout.capture_ids())
            for meta, capture_id in self._read_metas(on_disk):
                good.add(capture_id)
                if meta.get("status") == _LIVE and not Layout.writer_alive(meta.get("writer") or {}):
                    with contextlib.suppress(OSError):  # a writer that died: finish what it wrote
                        self._finish_meta(meta, interrupted=True, index=False)
                yield meta

        with file_lock(self.layout.lock_path):
            count = self.index.replace_all(metas)
        return {"captures": count, "skipped": sorted(on_disk - good)}

    # --- import / export --------------------------------------------------------------------
    def import_file(self, path: str | os.PathLike[str], *, labels: dict[str, str] | None = None,
                    compress: bool = False, target: dict[str, Any] | None = None,
                    meta: dict[str, Any] | None = None, move: bool = False,
                    check: ContentCheck | None = None) -> CaptureRecord:
        """Copy one capture file taken elsewhere into the store: see :meth:`import_files`."""
        return self.import_files([path], labels=labels, compress=compress, target=target, meta=meta,
                                 move=move, check=check)[0]

    def import_files(self, paths: Iterable[str | os.PathLike[str]], *, labels: dict[str, str] | None = None,
                     compress: bool = False, target: dict[str, Any] | None = None,
                     meta: dict[str, Any] | None = None, move: bool = False,
                     check: ContentCheck | None = None) -> builtins.list[CaptureRecord]:
        """Copy capture files taken elsewhere into the store; returns their records.

        Each kind is detected from the content, and every file is checked whole
        (streaming) before any is imported: an invalid one raises
        :class:`InvalidCaptureFile` with the reason and nothing is imported.
        A capture's time is its file's modification time.  ``target`` and ``meta``
        (e.g. ``source``, ``pid``) go into every record; ``move`` renames an
        uncompressed file into the store instead of copying it (a file from
        :meth:`staging`, on the store's own file system).  ``check(path, kind)`` reads each
        plain copy before it is published and raises to refuse it (the CLI passes
        :func:`cdpclient.profiles.validate.check_capture`: what the analysis could not read is
        not imported).  A compressed file's expansion is bounded (:mod:`cdpclient.compression`).
        """
        checked = [(src, kinds.validate_file(src)) for src in (Path(os.fspath(p)).expanduser() for p in paths)]
        records = []
        for src, kind in checked:
            with self.new_capture(kind, labels=labels, compress=compress, created=src.stat().st_mtime,
                                  target=target) as pending:
                pending.path.unlink()
                if compression.is_compressed(src):
                    fileio.decompress_file(src, pending.path, check_head=functools.partial(kinds.check_head, path=src))
                elif move:
                    os.replace(src, pending.path)
                else:
                    files.copy_private(src, pending.path)
                pending.meta.update(source=str(src.resolve()), imported=iso(dt.datetime.now().timestamp()))
                pending.meta.update(meta or {})
                if check is not None:
                    try:
                        check(pending.path, kind)
                    except CDPClientError as exc:
                        exc.rename_path(pending.path, src)  # the user knows the file by its own name
                        raise
                if kind == "report":
                    pending.meta.update(_report_facts(pending.path))
                elif kind in STREAM_KINDS:
                    pending.meta.update(streams.facts(pending.path))
            assert pending.record is not None
            records.append(pending.record)
        return records

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A private (0700) directory in the store for files on their way in (see ``move``); removed after.

        Named like a capture's temp directory, so one left by a killed process is cleaned up.
        """
        self._ready(create=True)
        path = self.layout.new_temp_dir_path("staging-" + ids.new_id())
        try:
            fileio.make_private_dir(path)
        except OSError as exc:
            raise _store_error(exc, f"cannot stage files in {self.root}") from exc
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def export_stream(self, ref: str | CaptureRecord, sink: BinaryIO, *, redact: bool = False,
                      fmt: str | None = None) -> None:
        """:meth:`export` into an open binary stream (``-o -``: stdout) instead of a file.

        The original format and ``redact`` stream straight from the capture; another ``fmt``
        is written to a private temporary directory first, then copied.
        """
        import tempfile

        record = self.resolve(ref)
        if not fmt:
            self._check_export(record, redact, fmt)
            _write_content(self.materialize(record), sink, redact)
            sink.flush()
            return
        with tempfile.TemporaryDirectory(prefix="cdpclient-export-") as tmp:  # 0700
            written = self.export(record, tmp, redact=redact, fmt=fmt)
            with open(written, "rb") as fh:
                while block := fh.read(compression.BLOCK):
                    sink.write(block)
            sink.flush()

    def _check_export(self, record: CaptureRecord, redact: bool, fmt: str | None) -> None:
        if redact and fmt:
            raise UsageError("{redact} applies to heap snapshots in their own format; not with {fmt}",
                             options=("redact", "fmt"))
        if fmt and fmt not in kinds.TABLE[record.kind].exports:
            exports = kinds.TABLE[record.kind].exports
            to = f"exports to {', '.join(exports)} only" if exports else "exports in its own format only"
            raise UsageError(f"{{fmt}} {fmt} does not apply to {record.id}: a {kinds.title(record.kind)} {to}",
                             options=("fmt",))
        if redact and record.kind not in HEAP_KINDS:
            raise UsageError(f"{{redact}} works on heap snapshots; {record.id} is a {record.kind}", options=("redact",))

    def export(self, ref: str | CaptureRecord, dest: str | os.PathLike[str], *, redact: bool = False,
               fmt: str | None = None) -> Path:
        """Write the capture to ``dest`` (a file, or a directory to put it in); returns the file written.

        Plain: the original format, decompressed.  ``redact``: a heap snapshot with
        every string value replaced (see :mod:`cdpclient.store.redact`).  ``fmt``: a profile
        as ``collapsed``, ``speedscope`` or ``pprof`` via ``cdpclient.profiles.export``; a
        watch recording as ``json`` via ``cdpclient.watch.export``.  Raises
        :class:`UsageError` for a format the capture's kind does not export to.
        """
        record = self.resolve(ref)
        self._check_export(record, redact, fmt)
        src = self.materialize(record)
        out = Path(os.fspath(dest)).expanduser()
        if out.is_dir():
            stem = record.id if record.status != STATUS_EXTERNAL else Path(record.id).stem
            suffix = EXPORT_SUFFIXES.get(fmt or "", EXTENSIONS[record.kind])
            out = out / (stem + (".redacted" if redact else "") + suffix)
        if fmt in kinds.WATCH_FORMATS:
            from cdpclient.watch.export import export_json
            from cdpclient.watch.recording import read_recording

            try:
                return export_json(read_recording(src), out, capture_id=record.id)
            except OSError as exc:
                raise _store_error(exc, f"cannot write {out}") from exc
        if fmt:
            try:
                from cdpclient.profiles.export import export_profile
            except ImportError as exc:
                raise StoreError(f"format {fmt} needs cdpclient.profiles.export, which this build lacks") from exc
            return Path(export_profile(src, record.kind, fmt, out) or out)
        try:
            if not out.parent.is_dir():  # export writes into an existing directory; it creates none
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(out.parent))
            with fileio.atomic_file(out) as sink:
                _write_content(src, sink, redact)
                sink.commit()
        except OSError as exc:
            raise _store_error(exc, f"cannot write {out}") from exc
        return out


def _write_content(src: Path, sink: Any, redact: bool) -> None:
    """The capture's content into ``sink`` (a binary stream or an atomic file): as it is, or redacted."""
    if redact:
        from cdpclient.store.redact import redact_heapsnapshot

        redact_heapsnapshot(src, sink)
        return
    with open(src, "rb") as fh:
        while block := fh.read(compression.BLOCK):
            sink.write(block)


def _side_file(record: CaptureRecord, suffix: str) -> Path | None:
    if suffix not in record.meta.get("side_files", ()):
        return None
    path = record.path.with_name(Layout.side_name(record.id, suffix))
    return path if path.exists() else None


VERDICT = "verified"
"""Meta key of the last full check (``verify``): ``{"status", "problem", "at", "mtime_ns"}``.

Every listing shows a damage a full check found (``ls``, ``show``, the analysis), not only
``store verify``; an ``ok`` verdict for an unchanged file (same size and mtime) spares the
analysis a second hashing of a multi-GB file.
"""


def _quick_status(record: CaptureRecord) -> str:
    try:
        st = record.path.stat()
    except OSError:
        return STATUS_MISSING
    if record.meta.get("status") == _LIVE:  # still growing: no size to compare
        return STATUS_RECORDING if Layout.writer_alive(record.meta.get("writer") or {}) else STATUS_INTERRUPTED
    if st.st_size != record.stored_size:
        return STATUS_CORRUPT
    verdict = record.meta.get(VERDICT) or {}
    if verdict.get("status") == STATUS_CORRUPT and verdict.get("mtime_ns") == st.st_mtime_ns:
        return STATUS_CORRUPT
    return STATUS_OK


def _report_facts(path: Path) -> dict[str, Any]:
    """node_version and pid from a diagnostic report's header (reports are small)."""
    try:
        header = json.loads(path.read_bytes()).get("header", {})
    except (OSError, ValueError):
        return {}
    return {"node_version": header.get("nodejsVersion"), "pid": header.get("processId")}


def _store_error(exc: OSError, what: str, *, where: bool = True) -> StoreError:
    if exc.errno in _NO_SPACE:
        where_text = f" ({exc.filename})" if exc.filename and where else ""
        return StoreError(f"{what}: no space left on the device{where_text}")
    return StoreError(f"{what}: {exc.strerror or exc}")
