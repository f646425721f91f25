"""Real profiles for the profile-analysis tests, produced once per session by real Node.

CPU and sampling heap profiles come from ``node --cpu-prof`` / ``node --heap-prof`` (no
capture code involved); the allocation timeline is recorded over a plain websocket to
``node --inspect=127.0.0.1:0``, the way DevTools' "Allocation instrumentation on timeline" does.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nodeproc import NODE, start_node  # type: ignore[attr-defined]

APPS = Path(__file__).parent / "apps"


@pytest.fixture(scope="session")
def _own_tmp() -> Iterator[Path]:
    """A temp root of this part's own: several pytest sessions sharing /tmp/pytest-of-<user>
    prune each other's numbered directories while they still run."""
    root = Path(tempfile.mkdtemp(prefix="cdpclient-profiles-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


class _Dirs:
    def __init__(self, root: Path) -> None:
        self.root = root

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))


@pytest.fixture(scope="session")
def tmp_path_factory(_own_tmp: Path) -> _Dirs:  # type: ignore[override]
    return _Dirs(_own_tmp)


@pytest.fixture
def tmp_path(tmp_path_factory: _Dirs, request: pytest.FixtureRequest) -> Path:
    return tmp_path_factory.mktemp(request.node.name[:30].replace("/", "_").replace("[", "_"))


@pytest.fixture(scope="session")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workloads with their fake dependencies really under node_modules/ (which git ignores,
    hence tests/profiles/apps/deps/ and deps/**/_node_modules/ in the repo)."""
    root = tmp_path_factory.mktemp("profile-app")
    for script in APPS.glob("*.js"):
        shutil.copy(script, root / script.name)
    shutil.copytree(APPS / "deps", root / "node_modules")
    # git ignores node_modules/ everywhere, so nested ones are kept as _node_modules/.
    for nested in sorted((root / "node_modules").rglob("_node_modules"), reverse=True):
        nested.rename(nested.with_name("node_modules"))
    return root


def _run(app_dir: Path, *args: str) -> None:
    node = os.path.abspath(NODE) if os.sep in NODE else NODE  # the run's cwd is the app dir
    subprocess.run([node, *args], cwd=app_dir, check=True, timeout=60, capture_output=True)


def _one(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    assert len(found) == 1, found
    return found[0]


@dataclass
class CpuProfiles:
    base: Path  # hog-heavy run
    grow: Path  # the same plus growingHotPath


def _profile_runs(app_dir: Path, out: Path, kind: str, runs: list[tuple[str, list[str]]]) -> list[Path]:
    """Run the workload once per (name, args) under ``node --<kind>-prof``; the file of each run."""
    paths = []
    for name, args in runs:
        d = out / name
        _run(app_dir, f"--{kind}-prof", f"--{kind}-prof-dir={d}", *args)
        paths.append(_one(d, f"*.{kind}profile"))
    return paths


@pytest.fixture(scope="session")
def cpu_profiles(app_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> CpuProfiles:
    runs = [(mode, ["--cpu-prof-interval", "500", "cpu_workload.js", mode, "1000"]) for mode in ("base", "grow")]
    return CpuProfiles(*_profile_runs(app_dir, tmp_path_factory.mktemp("cpu"), "cpu", runs))


@dataclass
class HeapProfiles:
    small: Path  # the workload once
    large: Path  # three times as much


@pytest.fixture(scope="session")
def heap_profiles(app_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> HeapProfiles:
    runs = [(scale, ["--heap-prof-interval=8192", "heap_workload.js", "run", scale]) for scale in ("1", "3")]
    return HeapProfiles(*_profile_runs(app_dir, tmp_path_factory.mktemp("heap"), "heap", runs))


@dataclass
class TimelineFiles:
    timeline: Path
    events: Path
    snapshot: Path  # a plain heap snapshot: no allocation traces


class _Inspector:
    """Just enough CDP over a websocket to record a timeline (no capture code involved)."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.next_id = ws, 0
        self.chunks: list[str] = []
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send(json.dumps({"id": my_id, "method": method, "params": params or {}}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 60))
            if msg.get("id") == my_id:
                assert "error" not in msg, msg
                return msg["result"]
            if msg.get("method") == "HeapProfiler.addHeapSnapshotChunk":
                self.chunks.append(msg["params"]["chunk"])
            elif msg.get("method", "").startswith("HeapProfiler."):
                self.events.append(msg)

    def take_chunks(self) -> str:
        text, self.chunks = "".join(self.chunks), []
        return text


async def _record_timeline(ws_url: str, out: Path) -> TimelineFiles:
    from websockets.asyncio.client import connect

    # No pings: the Node inspector does not answer them (shared/FACTS.md).
    async with connect(ws_url, ping_interval=None, max_size=None) as ws:
        cdp = _Inspector(ws)
        await cdp.call("HeapProfiler.enable")
        await cdp.call("HeapProfiler.collectGarbage")
        snapshot = out / "plain.heapsnapshot"
        await cdp.call("HeapProfiler.takeHeapSnapshot", {"reportProgress": False})
        snapshot.write_text(cdp.take_chunks())
        await cdp.call("HeapProfiler.startTrackingHeapObjects", {"trackAllocations": True})
        await cdp.call("Runtime.evaluate", {"expression": "runWorkload(1)"})
        await asyncio.sleep(0.2)  # let a heapStatsUpdate / lastSeenObjectId pair pass between the bursts
        await cdp.call("Runtime.evaluate", {"expression": "runWorkload(1)"})
        await cdp.call("HeapProfiler.stopTrackingHeapObjects", {"reportProgress": False})
        timeline = out / "capture.heaptimeline"
        timeline.write_text(cdp.take_chunks())
        events = out / "capture.heaptimeline.events.json"
        events.write_text(json.dumps(cdp.events))
        await cdp.call("HeapProfiler.disable")
    return TimelineFiles(timeline, events, snapshot)


@pytest.fixture(scope="session")
def timeline_files(app_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TimelineFiles:
    out = tmp_path_factory.mktemp("timeline")
    node = start_node(app_dir / "heap_workload.js", "serve")
    try:
        return asyncio.run(_record_timeline(node.ws_url, out))
    finally:
        node.stop()


@pytest.fixture
def truncate(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``truncate(path, fraction)``: a copy of ``path`` cut to that fraction of its size."""
    def cut(path: Path, fraction: float) -> Path:
        data = path.read_bytes()
        dest = tmp_path / f"cut-{fraction}-{path.name}"
        dest.write_bytes(data[: int(len(data) * fraction)])
        return dest

    return cut
