"""The analysis cache of one snapshot: its arrays as ``.npy`` files, mapped back on read.

Layout: ``<cache_dir>/heap-v<VERSION>/`` holding one ``.npy`` per array, ``strings.json``
(the raw strings array, from the page boundary before its ``[``: the
string offsets count from there) and ``meta.json`` (layout, class names, and the size and mtime of
the source file, which decide whether the cache is still valid, and the size of each file
in it: one cut short is rebuilt).  A cache is built in a temporary directory and renamed
into place, so a reader never sees half of one; a cache that is missing or damaged is only
a slower next time, never an error.

While a snapshot is analysed, arrays that the dominator pass does not need are written
out early and mapped back (:meth:`Workspace.spill`): they leave the resident set, which
keeps the peak memory of a full analysis near the size of the file.
"""

from __future__ import annotations

import json
import mmap
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cdpclient import filecache
from cdpclient.fileio import make_private_dir, open_private
from cdpclient.heap.snapshot import ARRAYS, HeapSnapshot
from cdpclient.heap.strings import StringTable

VERSION = 3  # 2: function locations (loc_node, loc_line); 3: parent_edge int32


def _dir(cache_dir: Path) -> Path:
    return cache_dir / f"heap-v{VERSION}"


def _source_key(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _map_bytes(path: Path) -> Any:
    """The file's bytes as a read-only mapping (``b""`` for an empty file)."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return b""
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def read(cache_dir: Path, path: Path) -> HeapSnapshot | None:
    """The cached analysis of ``path``, or None when there is none or it is stale/damaged."""
    import numpy as np

    where = _dir(cache_dir)
    try:
        meta = json.loads((where / "meta.json").read_text())
        if meta.get("source") != _source_key(path):
            return None
        for name, size in meta.get("files", {}).items():
            if (where / name).stat().st_size != size:
                return None  # cut short (a full disk, a copy): rebuilt
        arrays = {name: np.load(where / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
        blob = _map_bytes(where / "strings.json")
    except (OSError, ValueError, KeyError):
        return None
    strings = StringTable(blob, arrays["string_starts"], arrays["string_ends"])
    return HeapSnapshot(path, meta["layout"], arrays, strings, meta["class_names"], meta["layout"]["root"])


STALE_S = 24 * 3600.0  # a workspace untouched this long belongs to a process that stopped before its commit


def _remove_stale(cache_dir: Path) -> None:
    """Remove workspaces that processes stopped (killed, Ctrl-C) left in ``cache_dir``."""
    import time

    now = time.time()
    try:
        for entry in cache_dir.iterdir():
            if entry.name.startswith(".heap-") and now - entry.stat().st_mtime > STALE_S:
                shutil.rmtree(entry, ignore_errors=True)
    except OSError:
        pass


class Workspace:
    """A directory the arrays of one analysis are written to.

    With a cache directory it becomes the cache on :meth:`commit`; without one it is a
    private temporary directory removed at the end (mapped arrays stay readable).
    """

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir
        self.dir: Path | None = None
        try:
            if cache_dir is not None:
                make_private_dir(cache_dir)
                _remove_stale(cache_dir)
                self.dir = Path(tempfile.mkdtemp(prefix=".heap-", dir=cache_dir))
            else:
                self.dir = Path(tempfile.mkdtemp(prefix="cdpclient-heap-"))
        except OSError:
            self.dir = None  # nowhere to write: keep everything in memory

    def spill(self, name: str, array: Any) -> Any:
        """Write ``array`` out and return it mapped read-only from the file."""
        import numpy as np

        if self.dir is None:
            return array
        target = self.dir / f"{name}.npy"
        try:
            with open_private(target, exclusive=False) as fh:
                np.save(fh, np.ascontiguousarray(array))
            return np.load(target, mmap_mode="r")
        except OSError:
            return array

    def spill_bytes(self, name: str, data: Any) -> Any:
        if self.dir is None:
            return data
        target = self.dir / name
        try:
            with open_private(target, exclusive=False) as fh:
                fh.write(data)
            return _map_bytes(target)
        except OSError:
            return data

    def commit(self, path: Path, snap: HeapSnapshot) -> None:
        """Write what is not written yet and move the directory into place as the cache."""
        import numpy as np

        if self.dir is None:
            return
        try:
            if self.cache_dir is None:
                return
            for name in ARRAYS:
                target = self.dir / f"{name}.npy"
                if not target.exists():
                    with open_private(target, exclusive=False) as fh:
                        np.save(fh, np.ascontiguousarray(snap.arrays[name]))
            if not (self.dir / "strings.json").exists():
                with open_private(self.dir / "strings.json", exclusive=False) as fh:
                    fh.write(snap.strings.blob)
            sizes = {p.name: p.stat().st_size for p in self.dir.iterdir()}
            meta = {"source": _source_key(path), "layout": snap.meta, "class_names": snap.class_names,
                    "files": sizes}
            with open_private(self.dir / "meta.json", exclusive=False) as fh:
                fh.write(json.dumps(meta).encode())
            where = _dir(self.cache_dir)
            if where.exists():
                shutil.rmtree(where, ignore_errors=True)
            os.replace(self.dir, where)
            self.dir = None
            filecache.written(self.cache_dir)  # an entry of the cache of plain files: keep its bounds
        except OSError:
            pass  # a cache we cannot write is only a slower next time
        finally:
            self.discard()

    def discard(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
