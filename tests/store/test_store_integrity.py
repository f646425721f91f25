"""The store's guarantees, with real processes: crashes, concurrency, lost index, damaged files, full disk."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cdpclient.errors import CaptureNotFound, StoreError
from cdpclient.store import Store

ROOT = Path(__file__).parent.parent.parent
WRITER = Path(__file__).parent / "store_writer.py"


@pytest.fixture
def writer() -> Any:
    """``writer(store_root, *args)``: tests/store/store_writer.py in its own process; killed after the test."""
    procs: list[subprocess.Popen[str]] = []

    def start(root: Path, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, str(WRITER), str(root), *args], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _temp_dirs(store: Store) -> list[Path]:
    return list(store.layout.tmp_dir.iterdir()) if store.layout.tmp_dir.exists() else []


def test_kill_9_of_a_writer_leaves_nothing_registered_and_its_temp_is_cleaned(store: Store, writer: Any) -> None:
    proc = writer(store.root, "slow")
    assert proc.stdout.readline().startswith("writing")
    time.sleep(0.2)
    # a live writer's temp directory survives other processes' store operations
    other = Store.open(store.root)
    assert other.list() == []
    [temp] = _temp_dirs(other)
    assert any(f.stat().st_size > 0 for f in temp.iterdir())
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert _temp_dirs(other) == [temp]  # nothing removes it until the next operation
    assert Store.open(store.root).list() == []
    assert _temp_dirs(other) == []
    assert list(store.layout.captures_dir.iterdir()) == []


@pytest.mark.slow
def test_kill_9_of_cdpclient_snapshot_mid_stream(store: Store, node_app: Callable[..., Any]) -> None:
    target = node_app("heap_of_size.js", "30", node_args=())
    deadline = time.monotonic() + 20
    while not any("ready" in line for line in target.output):
        assert time.monotonic() < deadline, target.output
        time.sleep(0.05)
    proc = subprocess.Popen([sys.executable, "-m", "cdpclient_cli.app", "snapshot", target.endpoint,
                             "--store", str(store.root)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    try:
        streaming = False
        deadline = time.monotonic() + 60
        while not streaming and proc.poll() is None and time.monotonic() < deadline:
            streaming = any(f.is_file() and f.stat().st_size > 0
                            for d in _temp_dirs(store) for f in d.iterdir())
            time.sleep(0.02)
        ended = proc.poll()
        why = proc.stderr.read() if ended is not None else ""
        assert streaming, f"the snapshot never started streaming: exit {ended} {why}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stderr.close()
    assert _temp_dirs(store)  # the killed writer left its temp directory
    assert Store.open(store.root).list() == []
    assert _temp_dirs(store) == []


def test_concurrent_writers_in_separate_processes_all_land(store: Store, writer: Any) -> None:
    procs = [writer(store.root, "many", "8", f"w{n}") for n in range(4)]
    reindexed = 0
    while any(p.poll() is None for p in procs):  # rebuild the index while they publish
        if store.root.exists() and store.reindex()["captures"]:
            reindexed += 1
        time.sleep(0.02)
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    from cdpclient.store.index import Index

    index = Index(store.layout.index_path)  # the index itself, before any listing repairs it
    index.open_existing()
    assert index.ids() == store.layout.capture_ids() and len(index.ids()) == 32
    index.close()
    records = Store.open(store.root).list()
    assert len(records) == 32
    expected = {(f"w{n}", str(i)) for n in range(4) for i in range(8)}
    assert {(r.labels["writer"], r.labels["i"]) for r in records} == expected
    assert all(r.status == "ok" for r in records)
    assert reindexed > 0


def test_a_lost_index_is_rebuilt_on_open(store: Store, put: Callable[..., Any]) -> None:
    made = {put().id for _ in range(3)}
    store.close()
    for f in store.layout.index_files():
        f.unlink(missing_ok=True)
    assert {r.id for r in Store.open(store.root).list()} == made


def test_a_corrupt_index_is_rebuilt_on_open(store: Store, put: Callable[..., Any]) -> None:
    made = {put().id for _ in range(3)}
    store.close()
    for f in store.layout.index_files()[1:]:
        f.unlink(missing_ok=True)
    store.layout.index_path.write_bytes(b"this is not a database" * 100)
    assert {r.id for r in Store.open(store.root).list()} == made


def test_a_capture_published_but_not_indexed_is_picked_up(store: Store, put: Callable[..., Any]) -> None:
    rec = put()
    with sqlite3.connect(store.layout.index_path) as db:  # as if the writer died right after the rename
        db.execute("DELETE FROM captures")
    assert [r.id for r in Store.open(store.root).list()] == [rec.id]


def test_reindex_rebuilds_from_meta_files_and_skips_unreadable_ones(store: Store, put: Callable[..., Any]) -> None:
    a, b = put(), put()
    store.layout.meta_path(b.id).write_text("{not json")
    with sqlite3.connect(store.layout.index_path) as db:
        db.execute("DELETE FROM captures")
    assert store.reindex() == {"captures": 1, "skipped": [b.id]}
    # the unreadable one is listed, as corrupt (it does not vanish with its index row)
    assert [(r.id, r.status) for r in store.list()] == [(b.id, "corrupt"), (a.id, "ok")]


def test_files_deleted_or_damaged_behind_the_store_show_as_status(store: Store, put: Callable[..., Any]) -> None:
    gone, flipped, cut, dir_gone = put(), put(), put(), put()
    gone.path.unlink()
    data = bytearray(flipped.path.read_bytes())
    data[5] ^= 1
    flipped.path.write_bytes(bytes(data))
    with open(cut.path, "r+b") as fh:
        fh.truncate(10)
    import shutil
    shutil.rmtree(dir_gone.path.parent)
    status = {r.id: r.status for r in store.list()}
    assert status == {gone.id: "missing", flipped.id: "ok", cut.id: "corrupt", dir_gone.id: "missing"}
    assert store.verify(flipped.id).status == "corrupt"   # the sha256 check finds what size cannot
    assert store.verify(gone.id).status == "missing"
    assert store.verify(cut.id).status == "corrupt"
    with pytest.raises(CaptureNotFound, match="missing"):
        store.materialize(store.resolve(gone.id))
    store.remove([gone.id, dir_gone.id])
    assert {r.id for r in store.list()} == {flipped.id, cut.id}


@pytest.fixture
def tiny_fs(tmpfs: Callable[[str], Path]) -> Path:
    """A 1 MB tmpfs (needs root and permission to mount)."""
    return tmpfs("1m")


def test_disk_full_during_a_capture_registers_nothing(tiny_fs: Path, writer: Any) -> None:
    root = tiny_fs / "rec"
    proc = writer(root, "fill", "4")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "no space left on the device" in err, err
    with Store.open(root) as st:  # closed, so the tmpfs can be unmounted
        assert st.list() == []
        assert _temp_dirs(st) == [] and list(st.layout.captures_dir.iterdir()) == []


def test_disk_full_while_compressing_registers_nothing(tiny_fs: Path) -> None:
    with Store.open(tiny_fs / "rec") as st:
        with pytest.raises(StoreError, match="no space left on the device"):
            with st.new_capture("heapsnapshot", compress=True) as pending:
                pending.path.write_bytes(os.urandom(600 * 1024))  # fits; its compressed copy does not
        assert st.list() == []
        assert _temp_dirs(st) == [] and list(st.layout.captures_dir.iterdir()) == []
        with st.new_capture("heapsnapshot") as pending:  # the store still works once space is back
            pending.path.write_text('{"snapshot":{"meta":{}}}')
        assert len(st.list()) == 1
