"""The cache of plain files: analyses of capture files outside any store, kept within bounds.

``cdpclient top ./app.heapsnapshot`` keeps the parsed arrays (and the decompressed copy of a
``.zst``) so the next look is quick.  They live under the user cache directory::

    $XDG_CACHE_HOME/cdpclient/files/     (default ~/.cache/cdpclient/files; 0700)
      <key>/                             one entry per file version: path, size and mtime
        source.json                      the file it caches: {"path", "size", "mtime_ns"}
        heap-v3/ ...                     the heap analysis (cdpclient.heap.cache)
        <name>                           a decompressed copy of a .zst (Store.materialize)
      .trash-<key>.<token>/              an evicted entry being deleted

Bounds, applied after each entry is written (:func:`written`): entries unused for
:data:`MAX_AGE_S` go, then the least recently used until the total fits the budget
(``$CDPCLIENT_CACHE_MAX``, else the smaller of 10 GiB and 20% of the disk space free
for the cache).  The entry just written stays, even alone over the budget.

"Used" is the entry directory's mtime, set each time a process opens the entry
(:func:`open_entry`).  A process keeps a shared ``flock`` on every entry it opened until it
exits (or :func:`release`); eviction takes an exclusive lock without waiting and skips an
entry it cannot lock, so nothing is deleted under a reader.  An evicted entry is renamed
away in one step, then deleted; a reader that opens it in the meantime finds it gone (or
renamed) and starts a new one: the cache is only a cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cdpclient.errors import UsageError
from cdpclient.fileio import make_private_dir, open_private
from cdpclient.units import format_bytes, parse_size

ENV_MAX = "CDPCLIENT_CACHE_MAX"
DEFAULT_MAX = 10 << 30
FREE_SHARE = 0.2
MAX_AGE_S = 14 * 86400.0
SOURCE_NAME = "source.json"
_TRASH = ".trash-"

# Notices for the user (the library does not print): ``listener(message, warning)``.
Listener = Callable[[str, bool], None]
_listeners: list[Listener] = []
_told: set[str] = set()
_held: dict[str, int] = {}  # entry path -> fd holding a shared lock on it


# --- where ------------------------------------------------------------------------------------


def root() -> Path:
    """The directory of the cache: ``$XDG_CACHE_HOME/cdpclient/files`` (``~/.cache`` without it)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cdpclient" / "files"


def entry_path(file: Path) -> Path:
    """The entry directory for ``file`` as it is now (keyed by its real path, size and mtime)."""
    st = file.stat()
    key = hashlib.sha256(f"{file.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:20]
    return root() / key


# --- typed results ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Budget:
    """How large the cache may grow (``size``, bytes), whence that (``source``), and the age limit."""

    size: int
    source: str  # "CDPCLIENT_CACHE_MAX" or "default"
    max_age_s: float = MAX_AGE_S

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One cached file: where, what it caches (``source``, None when it does not say), size, last use."""

    key: str
    path: Path
    source: str | None
    size: int
    last_used: float
    source_present: bool  # the source file is still there, unchanged (else the entry is of no further use)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "path": str(self.path), "source": self.source, "source_present": self.source_present,
                "size": self.size, "last_used": _iso(self.last_used)}


@dataclasses.dataclass(frozen=True)
class Listing:
    """The whole cache: its directory, bounds, entries (most recently used first) and total size."""

    path: Path
    budget: Budget
    entries: list[Entry]

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self.entries)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "budget": self.budget.to_dict(), "total_size": self.total_size,
                "entries": [e.to_dict() for e in self.entries]}


@dataclasses.dataclass(frozen=True)
class Cleared:
    """What :func:`clear` (or an eviction) removed, and what it kept because a process was using it."""

    path: Path
    removed: list[Entry]
    in_use: list[Entry]

    @property
    def freed(self) -> int:
        return sum(e.size for e in self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "freed": self.freed, "removed": [e.to_dict() for e in self.removed],
                "in_use": [e.to_dict() for e in self.in_use]}


# --- notices ----------------------------------------------------------------------------------


def on_notice(listener: Listener) -> None:
    """Call ``listener(message, warning)`` for what the user should hear: where a first entry went
    (once per process), a ``$CDPCLIENT_CACHE_MAX`` that is not a size (once)."""
    if listener not in _listeners:
        _listeners.append(listener)


def _notice(topic: str, message: str, warning: bool = False) -> None:
    if topic in _told:
        return
    _told.add(topic)
    for listener in _listeners:
        listener(message, warning)


# --- bounds -----------------------------------------------------------------------------------


def budget(*, strict: bool = False, cached: int | None = None) -> Budget:
    """The size bound: ``$CDPCLIENT_CACHE_MAX`` (``2GiB``, ``500M``, bytes), else the smaller of
    10 GiB and 20% of the space free on the cache's disk (counting ``cached`` bytes, the cache's own
    size, as free).

    A value that is not a size raises :class:`UsageError` with ``strict``; else it is said once
    (see :func:`on_notice`) and the default applies: a bad setting must not stop an analysis.
    """
    raw = os.environ.get(ENV_MAX, "").strip()
    if raw:
        try:
            return Budget(parse_size(raw), ENV_MAX)
        except UsageError as exc:
            message = f"{ENV_MAX}={raw!r} is not a size (e.g. 2GiB, 500M, 0)"
            if strict:
                raise UsageError(message) from exc
            _notice("env", f"{message}; the cache of plain files keeps its default bound", warning=True)
    where = root()
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return Budget(DEFAULT_MAX, "default")
    if cached is None:
        cached = sum(e.size for e in _scan())
    return Budget(min(DEFAULT_MAX, int((free + cached) * FREE_SHARE)), "default")


# --- using an entry -------------------------------------------------------------------------------


def open_entry(file: Path) -> Path:
    """The entry directory for ``file`` (0700), created if new, marked as used now.

    The calling process holds a shared lock on it until it exits or calls :func:`release`, so
    no eviction removes it meanwhile.  Raises OSError when the cache cannot be written.
    """
    where = entry_path(file)
    for _ in range(10):
        created = not where.is_dir()
        make_private_dir(where)
        try:
            fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # evicted between the two calls: make it again
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while an eviction renames the entry away
            except OSError as exc:  # a file system without locks: unguarded, as a cache may be
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise
            if os.stat(where).st_ino != os.fstat(fd).st_ino:
                raise FileNotFoundError(errno.ENOENT, "evicted meanwhile", str(where))
        except FileNotFoundError:
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        old = _held.pop(str(where), None)
        _held[str(where)] = fd
        if old is not None:
            os.close(old)
        if not (where / SOURCE_NAME).exists():
            _write_source(where, file)
            created = True
        os.utime(where)
        if created:
            _notice("created", f"caching {file.name} for the next analysis in {root()} (kept within "
                               f"{format_bytes(budget().size)}; entries unused for {MAX_AGE_S / 86400:.0f} days "
                               "go; 'cdpclient cache ls' lists them, 'cdpclient cache clear' removes them)")
        return where
    raise OSError(errno.EAGAIN, "the cache entry kept being evicted", str(where))


def release(entry: Path | None = None) -> None:
    """Drop this process's lock on ``entry`` (every entry when None): eviction may remove it again."""
    for key in [str(entry)] if entry is not None else list(_held):
        fd = _held.pop(key, None)
        if fd is not None:
            os.close(fd)


def _write_source(where: Path, file: Path) -> None:
    st = file.stat()
    tmp = where / f".{SOURCE_NAME}.{secrets.token_hex(4)}.tmp"
    with open_private(tmp) as fh:
        fh.write(json.dumps({"path": str(file.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}).encode())
    os.replace(tmp, where / SOURCE_NAME)


def written(directory: Path) -> list[Entry]:
    """Apply the bounds after ``directory`` got new content, if it is an entry of this cache; the
    evicted entries.  ``directory`` itself stays.  Never raises for the cache's own troubles."""
    try:
        if directory.parent.resolve() != root().resolve():
            return []
        return trim(keep=directory)
    except OSError:
        return []


def trim(*, keep: Path | None = None, now: float | None = None) -> list[Entry]:
    """Remove entries unused for :data:`MAX_AGE_S`, then the least recently used while the total is
    over :func:`budget`; never ``keep`` nor an entry in use.  Returns what was removed."""
    now = time.time() if now is None else now
    entries = sorted(_scan(), key=lambda e: e.last_used)
    total = sum(e.size for e in entries)
    bound = budget(cached=total)
    keep_key = keep.name if keep is not None else None
    removed = []
    for entry in entries:
        if entry.key == keep_key:
            continue
        if total <= bound.size and now - entry.last_used <= bound.max_age_s:
            continue
        if _evict(entry):
            total -= entry.size
            removed.append(entry)
    _empty_trash()
    return removed


def clear(*, older_than: float | None = None, now: float | None = None) -> Cleared:
    """Remove every entry (with ``older_than``: those unused for longer, in seconds) that no process
    is using.  Returns what was removed and what was kept in use."""
    now = time.time() if now is None else now
    removed: list[Entry] = []
    in_use: list[Entry] = []
    for entry in _scan():
        if older_than is not None and now - entry.last_used <= older_than:
            continue
        (removed if _evict(entry) else in_use).append(entry)
    _empty_trash()
    return Cleared(root(), removed, in_use)


def listing() -> Listing:
    """The cache as it is: path, bounds (raises :class:`UsageError` for a bad ``$CDPCLIENT_CACHE_MAX``),
    entries most recently used first."""
    entries = sorted(_scan(), key=lambda e: e.last_used, reverse=True)
    return Listing(root(), budget(strict=True, cached=sum(e.size for e in entries)), entries)


# --- on disk ----------------------------------------------------------------------------------------


def _scan() -> Iterator[Entry]:
    try:
        with os.scandir(root()) as it:
            dirs = [d for d in it if not d.name.startswith(".") and d.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return
    for d in dirs:
        path = Path(d.path)
        try:
            last_used = d.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue  # evicted meanwhile
        source, present = _source(path)
        yield Entry(d.name, path, source, _size(path), last_used, present)


def _source(path: Path) -> tuple[str | None, bool]:
    try:
        meta = json.loads((path / SOURCE_NAME).read_text())
        source = str(meta["path"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, False
    try:
        st = os.stat(source)
    except OSError:
        return source, False
    return source, (st.st_size, st.st_mtime_ns) == (meta.get("size"), meta.get("mtime_ns"))


def _size(path: Path) -> int:
    total = 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _evict(entry: Entry) -> bool:
    """Rename ``entry`` out of the cache and delete it; False when a process is using it."""
    try:
        fd = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True  # another eviction took it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if os.stat(entry.path).st_ino != os.fstat(fd).st_ino:
            return False  # a new entry by that name: it is being used
        trash = entry.path.with_name(f"{_TRASH}{entry.key}.{secrets.token_hex(4)}")
        os.rename(entry.path, trash)
    except FileNotFoundError:
        return True
    finally:
        os.close(fd)  # readers waiting for it find the path gone and make a new entry
    shutil.rmtree(trash, ignore_errors=True)
    return True


def _empty_trash() -> None:
    """Delete what an eviction killed midway left (renamed away: nobody reads it)."""
    with contextlib.suppress(OSError), os.scandir(root()) as it:
        for d in it:
            if d.name.startswith(_TRASH):
                shutil.rmtree(d.path, ignore_errors=True)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
