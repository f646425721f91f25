"""The SQLite query index.  It only caches the meta files: losing it loses nothing.

WAL mode lets readers run beside a writer; the busy timeout makes writers from
separate processes queue instead of failing.  Creating or rebuilding the index
happens under an flock so two processes never rebuild at once, and atomically:
the new index is written beside the old one and renamed over it.

A read-only index (``writable=False``, for commands that only read) never
changes the file: it opens it read-only, and anything put into it (captures
found on disk but not indexed) goes into an in-memory copy.  When the file is
missing, corrupt or cannot be opened, :meth:`Index.from_metas` holds what a scan
of the capture directories found.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from cdpclient.errors import StoreError
from cdpclient.fileio import FILE_MODE

SCHEMA_VERSION = "1"
BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS captures (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    created TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS captures_created ON captures (created);
"""


@contextlib.contextmanager
def _errors(path: Path) -> Iterator[None]:
    """SQLite failures (locked past the busy timeout, disk full) as one clear StoreError."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"the store index {path} failed: {exc}") from exc


class IndexUnusable(Exception):
    """The index file is missing, corrupt or of another schema (internal: the store rebuilds it)."""


class IndexUnavailable(Exception):
    """The index file is there but cannot be opened now: disk full, I/O error, no permission (internal).

    Unlike :class:`IndexUnusable` this says nothing about its content: it must not be rebuilt.
    """


# SQLite's answers that mean the file holds no usable index (rebuild it); any other error is
# a passing condition of the disk or the system (the file is left alone).
_UNUSABLE = ("SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_ERROR", "SQLITE_EMPTY", "SQLITE_FORMAT")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on ``path`` (created 0600) for the duration of the block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock


class Index:
    """Rows of capture metadata, keyed by id.

    ``writable=False``: the file is opened read-only and never changed (see the module doc).
    """

    def __init__(self, path: Path, *, writable: bool = True) -> None:
        self.path = path
        self.writable = writable
        self.in_memory = False  # True: the rows live in this process only (the file is not touched)
        self._db: sqlite3.Connection | None = None

    # --- opening -------------------------------------------------------------
    def open_existing(self) -> None:
        """Open the index file.

        Raises :class:`IndexUnusable` if it is missing or holds no index of this schema,
        :class:`IndexUnavailable` if it cannot be opened or read now (its content unknown).
        """
        if not self.path.exists():
            raise IndexUnusable("missing")
        try:
            db = self._connect()
            row = db.execute("SELECT value FROM info WHERE key = 'schema'").fetchone()
        except sqlite3.Error as exc:
            self.close()
            if getattr(exc, "sqlite_errorname", None) in _UNUSABLE:
                raise IndexUnusable(str(exc)) from exc
            raise IndexUnavailable(str(exc)) from exc
        if row is None or row[0] != SCHEMA_VERSION:
            self.close()
            raise IndexUnusable(f"schema {row[0] if row else None}")

    def rebuild(self, metas: Iterable[dict[str, Any]], temp: Path) -> None:
        """Replace the index file by a fresh one holding ``metas``, atomically (the caller holds the lock).

        The new index is written to ``temp`` (beside the index) and renamed over the old
        file, so a failure (a full disk) leaves the old file as it was and no partial index.
        """
        self.close()
        companions = [temp.with_name(temp.name + s) for s in ("-wal", "-shm", "-journal")]
        try:
            temp.unlink(missing_ok=True)
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))  # 0600 from the start
            os.chmod(temp, FILE_MODE)  # whatever the umask (SQLite gives its journals the same mode)
            db = sqlite3.connect(temp, isolation_level=None)
            try:
                _fill(db, metas)
                db.execute("PRAGMA journal_mode=WAL")  # kept in the file's header
            finally:
                db.close()
            # a WAL of the old file must not be replayed into the new one
            for f in (self.path.with_name(self.path.name + "-wal"), self.path.with_name(self.path.name + "-shm")):
                f.unlink(missing_ok=True)
            os.replace(temp, self.path)
        except BaseException:
            for f in (temp, *companions):
                f.unlink(missing_ok=True)
            raise
        self.open_existing()

    @classmethod
    def from_metas(cls, path: Path, metas: Iterable[dict[str, Any]]) -> Index:
        """An index of ``metas`` held in this process only (``path`` is the file it stands in for)."""
        index = cls(path, writable=False)
        index._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        index.in_memory = True
        _fill(index._db, metas)
        return index

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            # mode=rw / ro: never create the file here (a new index comes from rebuild());
            # check_same_thread=False: a runbook may use the store from a worker thread
            # (asyncio.to_thread); Python's sqlite3 is built serialized, so this is safe
            mode = "rw" if self.writable else "ro"
            self._db = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode={mode}", uri=True,
                                       timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return self._db

    def _for_writing(self) -> sqlite3.Connection:
        """The connection to change rows through: a read-only index moves to memory first."""
        if not self.writable and not self.in_memory:
            memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            with _errors(self.path):
                self.db.backup(memory)
            self.close()
            self._db, self.in_memory = memory, True
        return self.db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        assert self._db is not None, "index not open"
        return self._db

    # --- rows ------------------------------------------------------------------
    def put(self, meta: dict[str, Any]) -> None:
        self.put_many([meta])

    def put_many(self, metas: Iterable[dict[str, Any]]) -> None:
        db = self._for_writing()
        with _errors(self.path), db:
            db.executemany("INSERT OR REPLACE INTO captures VALUES (?, ?, ?, ?)", (_row(m) for m in metas))

    def replace_all(self, metas: Callable[[], Iterable[dict[str, Any]]]) -> int:
        """Make the index hold exactly what ``metas()`` yields, in one write transaction.

        ``metas`` runs inside the transaction, so a capture published meanwhile
        waits for it and is added after, never lost.  Returns the row count.
        """
        assert self.writable, "replace_all on a read-only index"
        with _errors(self.path):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute("DELETE FROM captures")
                rows = [_row(m) for m in metas()]
                self.db.executemany("INSERT OR REPLACE INTO captures VALUES (?, ?, ?, ?)", rows)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        return len(rows)

    def delete(self, capture_ids: Iterable[str]) -> int:
        """Delete the rows of ``capture_ids``; returns how many there were."""
        db = self._for_writing()
        with _errors(self.path), db:
            return db.executemany("DELETE FROM captures WHERE id = ?", ((i,) for i in capture_ids)).rowcount

    def ids(self) -> set[str]:
        with _errors(self.path):
            return {row[0] for row in self.db.execute("SELECT id FROM captures")}

    def get(self, capture_id: str) -> dict[str, Any] | None:
        with _errors(self.path):
            row = self.db.execute("SELECT meta FROM captures WHERE id = ?", (capture_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def with_prefix(self, prefix: str, limit: int = 10) -> list[dict[str, Any]]:
        with _errors(self.path):
            rows = self.db.execute("SELECT meta FROM captures WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                                   (prefix, prefix + "\x7f", limit)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def query(self, kind: str | None = None, since: str | None = None) -> list[dict[str, Any]]:
        """Metadata rows, newest first, filtered by kind and creation time (UTC ISO, inclusive)."""
        sql, args = "SELECT meta FROM captures WHERE 1=1", []
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        if since:
            sql += " AND created >= ?"
            args.append(since)
        sql += " ORDER BY created DESC, id DESC"
        with _errors(self.path):
            rows = self.db.execute(sql, args).fetchall()
        return [json.loads(r[0]) for r in rows]


def _fill(db: sqlite3.Connection, metas: Iterable[dict[str, Any]]) -> None:
    db.executescript(_SCHEMA)
    db.execute("BEGIN")
    try:
        db.executemany("INSERT OR REPLACE INTO captures VALUES (?, ?, ?, ?)", (_row(m) for m in metas))
        db.execute("INSERT OR REPLACE INTO info VALUES ('schema', ?)", (SCHEMA_VERSION,))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _row(meta: dict[str, Any]) -> tuple[str, str, str, str]:
    return meta["id"], meta["kind"], meta["created"], json.dumps(meta, sort_keys=True)
