"""Fixtures for the store tests: a fresh store, and real capture files of every kind from Node."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cdpclient.store import CaptureRecord, Store

APPS = Path(__file__).parent.parent / "apps"
NODE = os.environ.get("CDPCLIENT_TEST_NODE", "node")
WRITER = Path(__file__).parent / "store_writer.py"
ROOT = Path(__file__).parent.parent.parent

# A small document of each kind, as the files Node writes start.
SMALL = {
    "heapsnapshot": '{"snapshot":{"meta":{"node_fields":["type"]},"node_count":0,"edge_count":0,'
                    '"trace_function_count":0},"nodes":[],"edges":[],"trace_function_infos":[],'
                    '"trace_tree":[],"samples":[],"locations":[],"strings":[]}',
    "cpuprofile": '{"nodes":[{"id":1,"callFrame":{"functionName":"(root)"}}],"startTime":1,"endTime":2,'
                  '"samples":[1],"timeDeltas":[1]}',
}


@pytest.fixture(scope="session")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real capture files written by Node itself (see tests/apps/write_every_capture_kind.js)."""
    out = tmp_path_factory.mktemp("node_files")
    subprocess.run([NODE, "--cpu-prof", f"--cpu-prof-dir={out}", "--cpu-prof-name=cpu.cpuprofile",
                    "--heap-prof", f"--heap-prof-dir={out}", "--heap-prof-name=heap.heapprofile",
                    "--heap-prof-interval=1024", "--heapsnapshot-signal=SIGUSR2", f"--diagnostic-dir={out}",
                    str(APPS / "write_every_capture_kind.js"), str(out)],
                   check=True, capture_output=True, timeout=60)
    return out


@pytest.fixture(scope="session")
def node_files(node_dir: Path) -> dict[str, Path]:
    """One real capture file per JSON kind, keyed by kind (a watch recording is written by cdpclient, not
    Node: see ``write_watch_stream``)."""
    return {"heapsnapshot": node_dir / "plain.heapsnapshot", "heaptimeline": node_dir / "alloc.heaptimeline",
            "cpuprofile": node_dir / "cpu.cpuprofile", "heapprofile": node_dir / "heap.heapprofile",
            "report": node_dir / "report.json"}


@pytest.fixture
def write_watch() -> Callable[..., Path]:
    """``write_watch(path, samples=5, end=True)``: write a small watch recording (see write_watch_stream)."""
    return write_watch_stream


def write_watch_stream(path: Path, samples: int = 5, end: bool = True) -> Path:
    """A small watch recording (msgpack stream) as cdpclient.watch writes one."""
    from cdpclient import msgstream

    with msgstream.StreamWriter(path, "cdpclient.watch", every_s=1.0, conditions=["heap>85%"],
                                actions=["snapshot"], watch_id="w1", target={"endpoint": "127.0.0.1:9229"}) as w:
        for i in range(samples):
            w.write({"t": "sample", "ts": 1000.0 + i, "pod": None, "heap_used": 10 << 20, "rss": 50 << 20})
        w.write({"t": "firing", "ts": 1000.0 + samples, "pod": None, "condition": "heap>85%", "value": 0.9,
                 "threshold": 0.85, "action": "snapshot", "skipped": None})
        if end:
            w.write({"t": "end", "ts": 1000.0 + samples + 1, "reason": "for elapsed"})
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store.open(tmp_path / "rec")
    yield st
    st.close()


@pytest.fixture
def put(store: Store) -> Callable[..., CaptureRecord]:
    """``put(kind="heapsnapshot", text=None, **new_capture_kwargs)``: store a small capture."""

    def _put(kind: str = "heapsnapshot", text: str | None = None, meta: dict[str, Any] | None = None,
             **kwargs: Any) -> CaptureRecord:
        with store.new_capture(kind, **kwargs) as pending:
            pending.path.write_text(text or SMALL.get(kind, SMALL["heapsnapshot"]))
            pending.meta.update(meta or {})
        assert pending.record is not None
        return pending.record

    return _put


def run_writer(store_root: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """Start tests/store/store_writer.py in its own process."""
    return subprocess.Popen([sys.executable, str(WRITER), str(store_root), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
