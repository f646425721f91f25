"""The SQLite query index.  It only caches the meta files: losing it loses nothing.

WAL mode lets readers run beside a writer; the busy timeout makes writers from
separate processes queue instead of failing.  Creating or rebuilding the index
happens under an flock so two processes never rebuild at once.
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
    """Rows of capture metadata, keyed by id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    # --- opening -------------------------------------------------------------
    def open_existing(self) -> None:
        """Open the index; raise :class:`IndexUnusable` if it is missing or unreadable."""
        if not self.path.exists():
            raise IndexUnusable("missing")
        try:
            db = self._connect()
            row = db.execute("SELECT value FROM info WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise IndexUnusable(str(exc)) from exc
        if row is None or row[0] != SCHEMA_VERSION:
            self.close()
            raise IndexUnusable(f"schema {row[0] if row else None}")

    def create(self, metas: Iterable[dict[str, Any]]) -> None:
        """Create a fresh index holding ``metas`` (the caller holds the index lock)."""
        self.close()
        db = self._connect()
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        with db:
            db.execute("DELETE FROM captures")
            db.executemany("INSERT OR REPLACE INTO captures VALUES (?, ?, ?, ?)", (_row(m) for m in metas))
            db.execute("INSERT OR REPLACE INTO info VALUES ('schema', ?)", (SCHEMA_VERSION,))

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            fresh = not self.path.exists()
            # check_same_thread=False: a runbook may use the store from a worker thread
            # (asyncio.to_thread); Python's sqlite3 is built serialized, so this is safe
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if fresh:
                os.chmod(self.path, FILE_MODE)
        return self._db

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
        with _errors(self.path), self.db:
            self.db.executemany("INSERT OR REPLACE INTO captures VALUES (?, ?, ?, ?)", (_row(m) for m in metas))

    def replace_all(self, metas: Callable[[], Iterable[dict[str, Any]]]) -> int:
        """Make the index hold exactly what ``metas()`` yields, in one write transaction.

        ``metas`` runs inside the transaction, so a capture published meanwhile
        waits for it and is added after, never lost.  Returns the row count.
        """
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

    def delete(self, capture_ids: Iterable[str]) -> None:
        with _errors(self.path), self.db:
            self.db.executemany("DELETE FROM captures WHERE id = ?", ((i,) for i in capture_ids))

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


def _row(meta: dict[str, Any]) -> tuple[str, str, str, str]:
    return meta["id"], meta["kind"], meta["created"], json.dumps(meta, sort_keys=True)
