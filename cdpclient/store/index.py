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
from pathlib import Path
from typing import Any, Iterable, Iterator

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


class IndexUnusable(Exception):
    """The index file is missing, corrupt or of another schema (internal: the store rebuilds it)."""


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on ``path`` (created 0600) for the duration of the block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
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
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if fresh:
                os.chmod(self.path, 0o600)
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
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO captures VALUES (?, ?, ?, ?)", _row(meta))

    def put_many(self, metas: Iterable[dict[str, Any]]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO captures VALUES (?, ?, ?, ?)", (_row(m) for m in metas))

    def replace_all(self, metas: Iterable[dict[str, Any]]) -> None:
        """Make the index hold exactly ``metas``, in one transaction."""
        with self.db:
            self.db.execute("DELETE FROM captures")
            self.db.executemany("INSERT INTO captures VALUES (?, ?, ?, ?)", (_row(m) for m in metas))

    def delete(self, capture_ids: Iterable[str]) -> None:
        with self.db:
            self.db.executemany("DELETE FROM captures WHERE id = ?", ((i,) for i in capture_ids))

    def ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT id FROM captures")}

    def get(self, capture_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT meta FROM captures WHERE id = ?", (capture_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def with_prefix(self, prefix: str, limit: int = 10) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT meta FROM captures WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                               (prefix, prefix + "\x7f", limit))
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
        return [json.loads(r[0]) for r in self.db.execute(sql, args)]


def _row(meta: dict[str, Any]) -> tuple[str, str, str, str]:
    return meta["id"], meta["kind"], meta["created"], json.dumps(meta, sort_keys=True)
