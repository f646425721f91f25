"""Watch recordings: written into the store as they go, readable after a SIGKILL of the writer, a cut
tail or a full disk (RLIMIT_FSIZE in a subprocess), bounded in size."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from cdpclient import msgstream
from cdpclient.errors import InvalidCaptureFile
from cdpclient.store import Store
from cdpclient.watch.recording import SAMPLE_KEYS, WatchRecording, read_recording

ROOT = Path(__file__).parent.parent.parent
T0 = round(time.time()) - 3600.0
TARGET = {"endpoint": "127.0.0.1:9229", "target_id": "t1", "url": "file:///app.js"}


def sample(i: int, t0: float = T0) -> dict[str, Any]:
    """A sample with every key of the contract, growing like a leak."""
    mib = 1 << 20
    return {"ts": t0 + i, "pod": None, "heap_used": 40 * mib + i * mib, "heap_total": 60 * mib + i * mib,
            "heap_limit": 2 << 30, "external": 3 << 20, "array_buffers": 1 << 20, "rss": 120 * mib + i * mib,
            "cgroup_current": None, "cgroup_limit": None, "memory_limit": 1 << 30, "fds": 20, "fd_limit": 1024,
            "handles": 5, "loop_delay_ms": 1.5, "cost_ms": 0.8}


def create(store: Store, **kw: Any) -> WatchRecording:
    return WatchRecording.create(store, target=TARGET, every_s=1.0, conditions=["heap>85%"],
                                 actions=["snapshot --count 3"], labels={"watch": "w1"}, **kw)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "rec")


def test_write_and_read_back(store: Store) -> None:
    w = create(store)
    assert store.get(w.id).status == "recording"  # listed from the start
    for i in range(5):
        w.sample(sample(i))
    w.firing(condition="heap>85%", value=0.9, threshold=0.85, action="snapshot", ts=T0 + 4.5)
    w.capture(id="01ABCDEFGHJK", kind="heapsnapshot", condition="heap>85%", ts=T0 + 4.6)
    w.event({"t": "reconnect", "pod": None, "reason": "connection lost", "attempt": 1})
    w.event({"t": "future-type", "x": 1})  # a reader of today skips it
    record = w.close("for elapsed")
    assert record.kind == "watch" and record.status == "ok" and record.labels == {"watch": "w1"}
    assert record.meta["records"] == {"capture": 1, "end": 1, "firing": 1, "future-type": 1, "reconnect": 1,
                                      "sample": 5}
    assert w.close("again") is record  # idempotent
    assert store.verify(record.id).status == "ok"
    rec = read_recording(store.materialize(record))
    assert rec.header["stream"] == "cdpclient.watch" and rec.header["version"] == 1
    assert rec.header["target"] == TARGET and rec.header["every_s"] == 1.0 and rec.header["watch_id"] == w.id
    assert rec.header["conditions"] == ["heap>85%"] and rec.header["actions"] == ["snapshot --count 3"]
    assert [s["heap_used"] for s in rec.samples] == [sample(i)["heap_used"] for i in range(5)]
    assert set(SAMPLE_KEYS) | {"t", "ts"} == set(rec.samples[0])
    assert rec.firings[0]["skipped"] is None and rec.captures[0]["id"] == "01ABCDEFGHJK"
    assert [e["t"] for e in rec.events] == ["reconnect", "end"] and rec.end == rec.events[-1]
    assert rec.truncated_bytes == 0 and not rec.truncated
    assert rec.span is not None and rec.span[0] == T0
    json.dumps(rec.to_dict())


def test_files_are_private(store: Store) -> None:
    w = create(store, compress=False)
    w.sample(sample(0))
    assert os.stat(w.path).st_mode & 0o777 == 0o600
    assert os.stat(w.path.parent).st_mode & 0o777 == 0o700
    assert os.stat(store.root).st_mode & 0o777 == 0o700
    record = w.close("done")
    assert os.stat(record.path).st_mode & 0o777 == 0o600 and record.path.suffix == ".watch"


def test_a_cut_tail_is_reported_never_raised(store: Store, tmp_path: Path) -> None:
    w = create(store, compress=False)
    for i in range(10):
        w.sample(sample(i))
    record = w.close("done")
    data = record.path.read_bytes()
    for cut in (1, 17, 100):
        cut_file = tmp_path / f"cut{cut}.watch"
        cut_file.write_bytes(data[:-cut])
        rec = read_recording(cut_file)
        assert rec.truncated_bytes > 0 and rec.end is None or cut < 10
        assert len(rec.samples) <= 10 and len(rec.samples) >= 10 - 1 - cut // 200
    garbage = tmp_path / "garbage.watch"
    garbage.write_bytes(data[: len(data) // 2] + b"\xc1\xc1\xc1")
    rec = read_recording(garbage)
    assert 0 < len(rec.samples) < 10 and rec.truncated_bytes > 3


def test_not_a_recording(tmp_path: Path) -> None:
    other = tmp_path / "x.bin"
    with msgstream.StreamWriter(other, "cdpclient.session"):
        pass
    with pytest.raises(InvalidCaptureFile, match="not a watch recording"):
        read_recording(other)
    (tmp_path / "e.json").write_text("{}")
    with pytest.raises(InvalidCaptureFile):
        read_recording(tmp_path / "e.json")


KILLED = textwrap.dedent("""
    import sys, time
    from cdpclient.store import Store
    from cdpclient.watch.recording import WatchRecording
    store = Store.open(sys.argv[1])
    w = WatchRecording.create(store, target={"endpoint": "x"}, every_s=0.001, conditions=[], actions=[], labels={})
    print(w.id, flush=True)
    i = 0
    while True:
        w.sample({"ts": time.time(), "pod": None, "heap_used": i, "rss": 2 * i, "blob": b"x" * (i % 5000)})
        i += 1
        if i == 200:
            print("200", flush=True)
""")


def test_sigkill_of_the_writer_leaves_a_listed_readable_recording_that_reindex_finishes(store: Store) -> None:
    with subprocess.Popen([sys.executable, "-c", KILLED, str(store.root)], cwd=ROOT, text=True,
                          stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        capture_id = proc.stdout.readline().strip()
        assert proc.stdout.readline().strip() == "200"
        time.sleep(0.2)  # mid-stream: it writes a few thousand records a second
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    [record] = store.list(kind="watch")
    assert record.id == capture_id and record.status == "interrupted"
    rec = read_recording(record.path)
    assert len(rec.samples) >= 200 and rec.end is None
    assert [s["heap_used"] for s in rec.samples] == list(range(len(rec.samples)))  # every complete record
    shown = store.verify(capture_id)  # what `show` prints: facts of what is there so far
    assert shown.status == "interrupted" and shown.meta["records"]["sample"] == len(rec.samples)
    store.reindex()
    fixed = store.verify(capture_id)
    assert fixed.status == "ok" and fixed.meta["interrupted"] is True
    assert fixed.meta["records"]["sample"] == len(rec.samples)
    assert fixed.meta["truncated_bytes"] == rec.truncated_bytes


FULL_DISK = textwrap.dedent("""
    import json, resource, signal, sys
    from cdpclient.errors import StoreError
    from cdpclient.store import Store
    from cdpclient.watch.recording import WatchRecording
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    store = Store.open(sys.argv[1])
    w = WatchRecording.create(store, target={"endpoint": "x"}, every_s=1.0, conditions=[], actions=[], labels={})
    limit = w.size + 20_000
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    ok, errors = 0, []
    for i in range(400):
        try:
            w.sample({"ts": 1000.0 + i, "pod": None, "heap_used": i, "pad": "y" * 97})
            ok += 1
        except StoreError as exc:
            errors.append(str(exc))
    record = w.close("error")
    print(json.dumps({"ok": ok, "errors": len(errors), "first": errors[0], "id": record.id,
                      "status": record.status, "limit": limit}))
""")


def test_a_full_disk_leaves_a_clean_recording_up_to_its_last_record(store: Store) -> None:
    out = subprocess.run([sys.executable, "-c", FULL_DISK, str(store.root)], cwd=ROOT, text=True,
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert 0 < result["ok"] < 400 and result["errors"] == 400 - result["ok"]
    assert "file size limit reached" in result["first"] and "readable up to its last record" in result["first"]
    record = store.verify(result["id"])
    assert record.status == "ok"  # finished: the metadata is a new small file, under the limit
    rec = read_recording(store.materialize(record))
    assert len(rec.samples) == result["ok"] and rec.truncated_bytes == 0  # rolled back: no torn record
    assert [s["heap_used"] for s in rec.samples] == list(range(result["ok"]))
    # the short end record may still fit where a sample did not
    assert record.meta["end_reason"] == (rec.end["reason"] if rec.end else None) and rec.events[-1:] in ([], [rec.end])


def test_bounded_bytes_per_sample(store: Store) -> None:
    w = create(store)
    start = w.size
    for i in range(600):
        w.sample(sample(i))
    per_sample = (w.size - start) / 600
    assert per_sample < 300  # 6 h at 1 s: 21,600 samples, under 6.5 MB before compression
    record = w.close("done")
    assert record.stored_size < record.size / 4  # zstd at rest
