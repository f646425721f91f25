"""Moving every capture of one store into another (``cdpclient store move``).

The store's default moved from ``./recordings`` (of whatever directory a command ran in) to the
per-user data directory; this moves an old store there, or any store anywhere, also across file
systems.  It runs only when asked: nothing moves a store silently.

Each capture moves on its own and is complete in at least one of the two stores at every moment:

- same file system: its directory is renamed into the destination's ``captures/`` (one step);
- otherwise: its files are copied into a temp directory of the destination (0700, files 0600),
  fsynced, each copy's sha256 compared with what was read from the source, the directory renamed
  into ``captures/``, and only then is the capture removed from the source.

While a move is under way the source holds a journal naming the destination
(``Layout.move_journal_path``), so an interrupted move can simply be run again: captures already
in the destination (same id, same sha256) are skipped and removed from the source, a half-copied
temp directory is cleaned up by the destination as any dead writer's is.  When no capture is left,
the source's own files (index, lock, tmp, cache, journal) and then its root are removed; files the
store does not own are left where they are, and said.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdpclient import fileio
from cdpclient.compression import BLOCK
from cdpclient.errors import StoreError
from cdpclient.store import files
from cdpclient.store.index import file_lock
from cdpclient.store.layout import Layout
from cdpclient.store.store import LEGACY_PATH, Store


@dataclass
class MovedCapture:
    """One capture a move dealt with: ``how`` is ``moved`` or ``present`` (already in the destination);
    ``copied``: moved by copying (another file system), not by a rename."""

    id: str
    kind: str
    stored_size: int
    how: str
    copied: bool = False


@dataclass
class MoveResult:
    """What :func:`move_store` did.

    ``left``: captures still in the source, with why (being written, an id taken by another capture).
    ``source_removed``: the source root is gone; otherwise ``source_leftovers`` names what keeps it.
    """

    source: Path
    dest: Path
    method: str  # "rename" (one file system), else "copy" (some or all copied, verified, then removed)
    captures: list[MovedCapture] = field(default_factory=list)
    left: dict[str, str] = field(default_factory=dict)
    source_removed: bool = False
    source_leftovers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": str(self.source), "to": str(self.dest), "method": self.method,
            "moved": [c.id for c in self.captures if c.how == "moved"],
            "present": [c.id for c in self.captures if c.how == "present"],
            "bytes": sum(c.stored_size for c in self.captures if c.how == "moved"),
            "left": [{"id": k, "why": v} for k, v in sorted(self.left.items())],
            "source_removed": self.source_removed, "source_leftovers": self.source_leftovers,
        }


def capture_count(root: Path) -> int:
    """How many capture directories with a metadata file ``root`` holds (0: not a store, or an empty one)."""
    layout = Layout(root)
    return sum(1 for capture_id in layout.capture_ids() if layout.meta_path(capture_id).is_file())


def legacy_store() -> tuple[Path, int] | None:
    """``./recordings`` of the current directory when it is a store holding captures: (its path, how many)."""
    root = Path(LEGACY_PATH).absolute()
    count = capture_count(root)
    return (root, count) if count else None


def move_store(source: Store, dest: Store, *, merge: bool = False,
               progress: Callable[[MovedCapture], None] | None = None) -> MoveResult:
    """Move every capture of ``source`` into ``dest``, then remove ``source``; see the module docstring.

    Raises :class:`StoreError` (nothing moved) when ``source`` is not a store, both are the same
    store or one lies inside the other, ``dest`` already holds captures (unless ``merge``: then
    ``source``'s are added, skipping the ids ``dest`` holds with the same sha256; rerunning an
    interrupted move to the same ``dest`` merges as well), or an interrupted move of ``source`` to
    another destination is pending.  ``progress`` is called after each capture.
    """
    src_root, dst_root = source.root, dest.root
    _check_paths(src_root, dst_root)
    journal = source.layout.move_journal_path
    pending_to = _read_journal(journal)
    if not source.layout.captures_dir.is_dir() and pending_to is None:
        if not src_root.exists():
            raise StoreError(f"no store at {src_root}: nothing to move")
        raise StoreError(f"{src_root} is not a store (it has no captures/ directory); nothing moved")
    if pending_to is not None and Path(pending_to) != dst_root:
        raise StoreError(f"an interrupted move of {src_root} to {pending_to} is pending: finish it with "
                         f"`cdpclient store move {src_root} --to {pending_to}`")
    held = capture_count(dst_root)
    if held and not merge and pending_to is None:
        raise StoreError(f"{dst_root} already holds {held} captures; --merge adds those of {src_root} to them "
                         "(by id and sha256, skipping the ones it has)")
    dest._ready(create=True)  # also clears the temp directory a killed move was copying into
    if source.layout.captures_dir.is_dir():
        source.reindex()  # finishes live captures whose writer died, so they can move
    if pending_to is None:
        fileio.write_json_atomic(journal, {"to": str(dst_root), "started": _now()})
    same_fs = source.layout.captures_dir.is_dir() and _same_filesystem(source.layout.captures_dir,
                                                                       dest.layout.captures_dir)
    result = MoveResult(src_root, dst_root, "rename" if same_fs else "copy")
    for capture_id in sorted(source.layout.capture_ids()):
        try:
            done = _move_one(source, dest, capture_id, same_fs)
        except _Left as why:
            result.left[capture_id] = str(why)
            continue
        result.captures.append(done)
        if done.copied:  # e.g. a bind mount: one device, yet rename says EXDEV
            result.method = "copy"
        if progress is not None:
            progress(done)
    if not result.left:
        result.source_leftovers = _remove_source(source)
        result.source_removed = not src_root.exists()
    source.close()
    return result


class _Left(Exception):
    """A capture that stays in the source; the message says why."""


def _check_paths(src: Path, dst: Path) -> None:
    real_src, real_dst = Path(os.path.realpath(src)), Path(os.path.realpath(dst))
    if real_src == real_dst:
        raise StoreError(f"the source and the destination are the same store ({src}); nothing to move")
    if real_dst.is_relative_to(real_src) or real_src.is_relative_to(real_dst):
        raise StoreError(f"{dst} and {src} lie one inside the other; move to a directory outside {src}")


def _same_filesystem(a: Path, b: Path) -> bool:
    """Whether a rename from ``a`` into ``b`` can work (one device); else the captures are copied."""
    return os.stat(a).st_dev == os.stat(b).st_dev


def _read_journal(path: Path) -> str | None:
    try:
        value = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read {path} (the journal of an interrupted move): {exc}") from exc
    if not isinstance(value, dict) or not isinstance(value.get("to"), str):
        raise StoreError(f"{path} (the journal of an interrupted move) does not name a destination")
    return str(value["to"])


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _move_one(source: Store, dest: Store, capture_id: str, same_fs: bool) -> MovedCapture:
    src_dir = source.layout.capture_dir(capture_id)
    meta = source._read_meta(capture_id)
    if meta is not None and meta.get("status") == "recording":
        raise _Left("it is still being written (a live capture); move it once its writer has finished")
    entries = sorted(os.scandir(src_dir), key=lambda e: e.name)
    odd = [e.name for e in entries if not e.is_file(follow_symlinks=False)]
    if odd:
        raise _Left(f"its directory holds something other than files ({odd[0]}); not moved")
    kind = str(meta["kind"]) if meta else "unknown"
    stored = int(meta.get("stored_size") or meta.get("size") or 0) if meta else sum(e.stat().st_size for e in entries)
    dst_dir = dest.layout.capture_dir(capture_id)
    if dst_dir.exists():
        if not _same_data(src_dir, dst_dir, meta, dest):
            raise _Left(f"{dest.root} holds another capture with the id {capture_id} (another sha256); "
                        "not moved")
        _forget(source, capture_id)  # the destination has it whole: the source's copy can go
        return MovedCapture(capture_id, kind, stored, "present")
    renamed = False
    if same_fs:
        try:
            os.rename(src_dir, dst_dir)
            renamed = True
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):  # published there in the meantime
                raise _Left(f"{dest.root} got a capture with the id {capture_id} meanwhile; not moved") from exc
            if exc.errno != errno.EXDEV:  # EXDEV: one device, two mounts (a bind mount): copy it
                raise _error(exc, capture_id) from exc
    if renamed:
        _make_private(dst_dir)
        fileio.fsync_path(dest.layout.captures_dir)
    else:
        _copy_verified(src_dir, [e.name for e in entries], dest, capture_id)
    if meta is not None:
        with contextlib.suppress(StoreError):  # the next listing indexes it otherwise
            dest.index.put(meta)
    _forget(source, capture_id)
    return MovedCapture(capture_id, kind, stored, "moved", copied=not renamed)


def _copy_verified(src_dir: Path, names: list[str], dest: Store, capture_id: str) -> None:
    """Copy into a temp directory of ``dest`` (named for this process: cleaned if it dies), check, publish."""
    temp = dest.layout.new_temp_dir_path(capture_id)
    try:
        fileio.make_private_dir(temp)
        for name in names:
            read = _copy_hashing(src_dir / name, temp / name)
            written, _ = files.digest(temp / name)
            if written != read:
                raise StoreError(f"the copy of {capture_id}/{name} in {dest.root} does not match its source "
                                 "(sha256); nothing removed from the source")
        fileio.fsync_path(temp)
        try:
            os.rename(temp, dest.layout.capture_dir(capture_id))
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise _Left(f"{dest.root} got a capture with the id {capture_id} meanwhile; not moved") from exc
            raise
        fileio.fsync_path(dest.layout.captures_dir)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise _error(exc, capture_id) from exc
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _copy_hashing(src: Path, dst: Path) -> str:
    """Copy ``src`` into a new 0600 file ``dst``, fsynced; the sha256 of the bytes read."""
    h = hashlib.sha256()
    with open(src, "rb") as fin, fileio.open_private(dst) as fout:
        while block := fin.read(BLOCK):
            h.update(block)
            fout.write(block)
        fout.flush()
        os.fsync(fout.fileno())
    return h.hexdigest()


def _same_data(src_dir: Path, dst_dir: Path, meta: dict[str, Any] | None, dest: Store) -> bool:
    """Whether the destination's capture of this id holds the same data (sha256 of the data file; of every
    file but the metadata when the source's metadata is unreadable)."""
    if meta is not None:
        names = [str(meta["file"])]
    else:
        names = [p.name for p in src_dir.iterdir() if p.name != Layout.meta_name(src_dir.name)]
    for name in names:
        try:
            if files.digest(src_dir / name)[0] != files.digest(dst_dir / name)[0]:
                return False
        except OSError:
            return False
    return True


def _forget(source: Store, capture_id: str) -> None:
    """Remove a capture from the source once the destination holds it (directory, index row, caches)."""
    source._ready(write=True)
    with file_lock(source.layout.lock_path):
        trash = source.layout.new_temp_dir_path(capture_id)  # a temp dir: cleaned if we die now
        with contextlib.suppress(FileNotFoundError):
            os.rename(source.layout.capture_dir(capture_id), trash)
        with contextlib.suppress(StoreError):
            source.index.delete([capture_id])
    shutil.rmtree(trash, ignore_errors=True)
    shutil.rmtree(source.layout.cache_dir(capture_id), ignore_errors=True)


def _make_private(folder: Path) -> None:
    os.chmod(folder, fileio.DIR_MODE)
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False):
            os.chmod(entry.path, fileio.FILE_MODE)


def _remove_source(source: Store) -> list[str]:
    """Remove what the emptied source store owns, then its root; returns the names that keep it (not ours)."""
    layout = source.layout
    source.close()
    source._clean_temps()
    for path in (*layout.index_files(), layout.lock_path):
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
    shutil.rmtree(layout.cache_root, ignore_errors=True)
    for folder in (layout.tmp_dir, layout.captures_dir):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty: a capture being written there stays
    if not layout.captures_dir.exists():
        layout.move_journal_path.unlink(missing_ok=True)
    try:
        layout.root.rmdir()
    except FileNotFoundError:
        return []
    except OSError:
        with contextlib.suppress(OSError):
            return sorted(os.listdir(layout.root))
    return []


def _error(exc: OSError, capture_id: str) -> StoreError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return StoreError(f"no space left to move {capture_id}: it stays in the source; free space and "
                          "run the move again")
    return StoreError(f"cannot move {capture_id}: {exc.strerror or exc}; it stays in the source")
