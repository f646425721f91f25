"""``load``: a snapshot file to an analysed :class:`HeapSnapshot`, through the cache when there is one.

Sits above :mod:`.snapshot` (the analysis) and :mod:`.cache` (its arrays on disk): the cache
imports the snapshot type, and neither imports this module or each other back.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from cdpclient.heap import cache
from cdpclient.heap.parse import Progress, parse_file
from cdpclient.heap.snapshot import ClassCensus, HeapSnapshot, analyse
from cdpclient.heap.snapshot import census as _census

_pending: list[threading.Thread] = []  # caches being written in the background (load(background=True))


def _finish(workspace: cache.Workspace, path: Path, snap: HeapSnapshot, cache_dir: Path) -> None:
    try:
        workspace.commit(path, snap)
    finally:
        workspace.discard()
    cached = cache.read(cache_dir, path)
    if cached is not None:
        snap.adopt(cached)  # mapped, not resident: what a series of snapshots needs


def _tell_compile(on_note: Callable[[str], None] | None) -> None:
    """Say, before the kernels compile on a first run, that they will (see :func:`_kernels.compile_notice`)."""
    if on_note is not None:
        from cdpclient.heap import _kernels

        notice = _kernels.compile_notice()
        if notice is not None:
            on_note(notice)


def caching() -> bool:
    """Whether a cache is still being written in the background."""
    return any(thread.is_alive() for thread in _pending)


def wait_for_caches() -> None:
    """Wait until the caches being written in the background are written (in slices: Ctrl-C gets through)."""
    while _pending:
        thread = _pending[0]
        while thread.is_alive():
            thread.join(0.2)
        _pending.remove(thread)


def load(path: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None,
         progress: Progress | None = None, dominance: str = "gc-roots",
         classes: str = "memlab", on_note: Callable[[str], None] | None = None,
         background: bool = False) -> HeapSnapshot:
    """Parse and analyse a ``.heapsnapshot`` / ``.heaptimeline`` file.

    ``dominance`` and ``classes`` are explained at :func:`~cdpclient.heap.snapshot.analyse`.  With ``cache_dir``
    the arrays are kept there as ``.npy`` files (0600, directory 0700) and a later call maps
    them back in a fraction of a second; a cache that no longer matches the file (size or
    mtime changed) is rebuilt.  ``on_note`` hears what a person waiting should know: today one line
    before the first analysis on a machine compiles the kernels (about 15 s, once; then cached by numba,
    see :func:`~cdpclient.heap._kernels.compile_notice`).  Raises :class:`~cdpclient.errors.InvalidCaptureFile` for
    files that are not heap snapshots.

    ``background``: hand the snapshot back as soon as it is analysed and finish writing its cache in a
    thread (a second or more on a 2 GB file), so the first answer does not wait for it; the snapshot's
    arrays become the cached, mapped ones when the writing is done.  :func:`wait_for_caches` waits for
    the writing (the CLI does before it exits); a process that stops first leaves no cache, only a
    temporary directory that a later analysis of the same file removes.
    """
    path = Path(path)
    if cache_dir is not None:
        cached = cache.read(Path(cache_dir), path)
        if cached is not None and cached.meta.get("dominance") == dominance \
                and cached.meta.get("classes", "memlab") == classes:
            return cached
    say: Progress = progress or (lambda _msg: None)
    _tell_compile(on_note)
    raw = parse_file(path, progress=say)
    workspace: cache.Workspace | None = cache.Workspace(Path(cache_dir) if cache_dir is not None else None)
    assert workspace is not None
    try:
        snap = analyse(raw, path, progress=say, dominance=dominance, classes=classes,
                       workspace=workspace)
        del raw
        if cache_dir is not None and background:
            thread = threading.Thread(target=_finish, args=(workspace, path, snap, Path(cache_dir)),
                                      name="cdpclient-heap-cache", daemon=True)
            thread.start()
            _pending.append(thread)
            workspace = None
            return snap
        if cache_dir is not None:
            say("caching")
        workspace.commit(path, snap)
    finally:
        if workspace is not None:
            workspace.discard()
    if cache_dir is not None:
        # Hand back the cached copy: mapped, not resident, so a diff or a series of three
        # does not hold every snapshot's arrays in memory at once.
        cached = cache.read(Path(cache_dir), path)
        if cached is not None:
            return cached
    return snap


def census(path: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None,
           progress: Progress | None = None, classes: str = "memlab",
           on_note: Callable[[str], None] | None = None) -> HeapSnapshot | ClassCensus:
    """What :func:`cdpclient.heap.compare` needs of a snapshot file, at the least cost: its full analysis when
    ``cache_dir`` holds one (any dominance: the classes do not depend on it), else a parse and the classes
    only (:func:`cdpclient.heap.snapshot.census`: no dominators, distances or retained sizes, and no cache
    written: a Comparison alone does not pay for one).  Raises what :func:`load` raises."""
    path = Path(path)
    if cache_dir is not None:
        cached = cache.read(Path(cache_dir), path)
        if cached is not None and cached.meta.get("classes", "memlab") == classes:
            return cached
    _tell_compile(on_note)
    say: Progress = progress or (lambda _msg: None)
    raw = parse_file(path, progress=say, edges=classes != "memlab")  # memlab's classes read no edge
    say("classes")
    return _census(raw, path, classes=classes)
