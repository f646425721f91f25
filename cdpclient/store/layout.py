"""Where everything in a store lives.  No other code joins store paths.

::

    <root>/                         0700
      index.sqlite                  the query index (rebuilt from meta files when lost)
      index.lock                    flock taken while the index is created or rebuilt, and
                                    while captures are removed (so each is removed once)
      .index.sqlite.<pid>.<start>.tmp  an index being rebuilt, renamed over index.sqlite
      captures/<id>/                one directory per complete capture
        <id>.<ext>[.zst]            the capture file (0600)
        <id>.meta.json              its metadata (the source of truth)
        <id><suffix>                side files (e.g. ``.events.json``)
      tmp/<id>.<pid>.<start>.<host>/  a capture being written; published by renaming it
                                    to captures/<id>; removed when its writer is dead
                                    (a live capture, e.g. a watch recording, is published
                                    at its start and appended in place; its meta names
                                    its writer: see ``writer_token``)
      cache/<id>/                   analysis caches and decompressed copies (disposable;
                                    removed with the capture by rm and prune)
      move.json                     while ``store move`` empties this store: where to
                                    (so an interrupted move can be rerun; see store/move.py)

A capture directory appears by one atomic rename of a complete temp
directory, so a reader never sees half a capture.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from cdpclient.store.kinds import EXTENSIONS

META_SUFFIX = ".meta.json"
COMPRESSED_SUFFIX = ".zst"
EVENTS_SUFFIX = ".events.json"  # a timeline's heap statistics events, kept as a side file


class Layout:
    """The paths of one store rooted at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # --- top level -----------------------------------------------------------
    @property
    def index_path(self) -> Path:
        return self.root / "index.sqlite"

    def index_files(self) -> list[Path]:
        """The index and SQLite's WAL companions (removed together when the index is corrupt)."""
        return [self.index_path, self.root / "index.sqlite-wal", self.root / "index.sqlite-shm"]

    def index_temp_path(self) -> Path:
        """Where this process writes a rebuilt index before renaming it over :attr:`index_path`."""
        pid = os.getpid()
        return self.root / f".{self.index_path.name}.{pid}.{process_start(pid)}.tmp"

    def stale_index_temps(self) -> list[Path]:
        """Rebuilt indexes (and their journals) left by a process that died before renaming them."""
        prefix = f".{self.index_path.name}."
        stale = []
        for path in self.root.glob(prefix + "*.tmp*"):
            parts = path.name[len(prefix):].split(".")
            if len(parts) >= 3 and parts[0].isdigit() and process_start(int(parts[0])) != parts[1]:
                stale.append(path)
        return stale

    @property
    def lock_path(self) -> Path:
        return self.root / "index.lock"

    @property
    def captures_dir(self) -> Path:
        return self.root / "captures"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    @property
    def cache_root(self) -> Path:
        return self.root / "cache"

    @property
    def move_journal_path(self) -> Path:
        return self.root / "move.json"

    # --- one capture -----------------------------------------------------------
    def capture_dir(self, capture_id: str) -> Path:
        return self.captures_dir / capture_id

    @staticmethod
    def data_name(capture_id: str, kind: str, compressed: bool = False) -> str:
        return capture_id + EXTENSIONS[kind] + (COMPRESSED_SUFFIX if compressed else "")

    @staticmethod
    def meta_name(capture_id: str) -> str:
        return capture_id + META_SUFFIX

    @staticmethod
    def side_name(capture_id: str, suffix: str) -> str:
        if not suffix.startswith(".") or "/" in suffix or suffix in (META_SUFFIX,) or suffix in EXTENSIONS.values():
            raise ValueError(f"side file suffix must look like '.events.json', not {suffix!r}")
        return capture_id + suffix

    @staticmethod
    def beside(file: Path, suffix: str) -> list[Path]:
        """Where a plain capture file outside a store keeps a side file, most likely first.

        ``x.heaptimeline`` -> ``x.heaptimeline.events.json`` (as a capture written to a file
        names it), then ``x.events.json``.
        """
        return [file.with_name(file.name + suffix), file.with_suffix(suffix)]

    def meta_path(self, capture_id: str) -> Path:
        return self.capture_dir(capture_id) / self.meta_name(capture_id)

    def cache_dir(self, capture_id: str) -> Path:
        return self.cache_root / capture_id

    # --- capture ids on disk ----------------------------------------------------
    def capture_ids(self) -> set[str]:
        """Ids of the capture directories present (complete captures)."""
        try:
            with os.scandir(self.captures_dir) as entries:
                return {entry.name for entry in entries if entry.is_dir()}
        except FileNotFoundError:
            return set()

    # --- temp directories --------------------------------------------------------
    def new_temp_dir_path(self, capture_id: str) -> Path:
        """A temp directory name that says which live process owns it."""
        pid = os.getpid()
        return self.tmp_dir / f"{capture_id}.{pid}.{process_start(pid)}.{_host()}"

    @staticmethod
    def writer_token() -> dict[str, str | int]:
        """Who is writing (kept in a live capture's metadata): pid, its start token, host."""
        pid = os.getpid()
        return {"pid": pid, "start": process_start(pid), "host": _host()}

    @staticmethod
    def writer_alive(token: dict[str, object]) -> bool:
        """Whether the writer named by :meth:`writer_token` still runs (a writer on another host: assumed so)."""
        if token.get("host") != _host():
            return True
        pid = token.get("pid")
        return isinstance(pid, int) and process_start(pid) == token.get("start")

    def stale_temp_dirs(self) -> list[Path]:
        """Temp directories whose writer process is gone (crashed or killed)."""
        stale = []
        try:
            with os.scandir(self.tmp_dir) as it:
                entries = list(it)
        except FileNotFoundError:
            return []
        for entry in entries:
            parts = entry.name.split(".", 3)
            if len(parts) != 4 or not parts[1].isdigit():
                continue  # not ours: leave it alone
            _, pid, start, host = parts
            if host != _host():
                continue  # a writer on another machine sharing this directory
            if process_start(int(pid)) != start:
                stale.append(Path(entry.path))
        return stale

    # --- caches of files outside the store ------------------------------------------
    @staticmethod
    def external_cache_dir(file: Path) -> Path:
        """Cache directory for a capture file outside any store (keyed by path, size, mtime): an entry
        of the bounded cache of plain files, :mod:`cdpclient.filecache` (which creates and evicts them)."""
        from cdpclient import filecache

        return filecache.entry_path(file)


def _host() -> str:
    return socket.gethostname().replace("/", "_") or "localhost"


def process_start(pid: int) -> str:
    """A token that changes when ``pid`` is reused: its start time in clock ticks ('' if no such process)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        # field 22 (starttime) counts after the ')' that closes the command name
        return stat[stat.rindex(b")") + 2:].split()[19].decode()
    except FileNotFoundError:
        return ""
    except (OSError, IndexError, ValueError):
        # no /proc (not Linux): fall back to plain liveness
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return ""
        except PermissionError:
            pass
        return "0"
