"""Fixtures for the heap analysis tests: real snapshots of real Node processes, and memlab.

Snapshots are taken over the inspector with a small helper of our own (one session for
a whole series, so object ids stay comparable) or by ``v8.writeHeapSnapshot`` inside
Node.  memlab, the independent reference, is installed from the npm registry into
``.cache/memlab`` on first use (``PUPPETEER_SKIP_DOWNLOAD=1``: its puppeteer dependency
would otherwise try to download a browser).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MEMLAB_PREFIX = REPO / ".cache" / "memlab"
MEMLAB_MODULES = MEMLAB_PREFIX / "node_modules"
REFERENCE_JS = Path(__file__).parent / "memlab_reference.js"
DEMO_JS = REPO / "cdpclient" / "demo" / "service.js"
APPS = REPO / "tests" / "apps"

sys.path.insert(0, str(REPO / "tests"))
from devtools_model import devtools_reference, install_devtools_model  # noqa: E402
from nodeproc import NODE, start_node  # noqa: E402  (the shared fixtures module)

# --- memlab ---------------------------------------------------------------------------------


def install_memlab() -> Path:
    """Install memlab under .cache/memlab if it is not there; returns its node_modules."""
    if (MEMLAB_MODULES / "@memlab" / "heap-analysis").is_dir():
        return MEMLAB_MODULES
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: memlab (the reference implementation) cannot be installed")
    MEMLAB_PREFIX.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"}
    proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(MEMLAB_PREFIX), "memlab"],
                          capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0 or not (MEMLAB_MODULES / "@memlab" / "heap-analysis").is_dir():
        raise RuntimeError(f"npm install memlab failed: {proc.stderr[-2000:]}")
    return MEMLAB_MODULES


@pytest.fixture(scope="session")
def memlab() -> Callable[[Path, Path], dict[str, Any]]:
    """``memlab(snapshot, out_json)``: memlab's numbers for a snapshot (installs memlab once)."""
    modules = install_memlab()
    return lambda snapshot, out: memlab_reference(modules, snapshot, out)


@pytest.fixture(scope="session")
def write_snapshot() -> Callable[[Path, str], Path]:
    """``write_snapshot(path, script)``: a snapshot written by ``node -e`` after ``script``."""
    return write_snapshot_in_node


@pytest.fixture(scope="session")
def devtools_model() -> Callable[[Path, Path], dict[str, Any]]:
    """``devtools_model(snapshot, out_json)``: DevTools' Summary of a snapshot (fetched once)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: DevTools' model cannot be fetched")
    bundle = install_devtools_model()
    return lambda snapshot, out: devtools_reference(bundle, snapshot, out)


def memlab_reference(modules: Path, snapshot: Path, out: Path, top: int = 40) -> dict[str, Any]:
    """Run memlab on ``snapshot``: counts, per-class sizes, retained sizes of the top objects."""
    proc = subprocess.run([NODE, str(REFERENCE_JS), str(snapshot), str(out), str(top)], capture_output=True,
                          text=True, env={**os.environ, "NODE_PATH": str(modules)}, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"memlab reference failed: {proc.stderr[-2000:]}")
    return json.loads(out.read_text())


# --- capturing over the inspector ----------------------------------------------------------------


async def _stream(target: Any, method: str, params: dict[str, Any], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        unsubscribe = target.connection.on("HeapProfiler.addHeapSnapshotChunk",
                                           lambda p: fh.write(p["chunk"]))
        try:
            await target.send(method, params, timeout=300)
        finally:
            unsubscribe()


async def snapshot_series(endpoint: str, paths: list[Path], every: float, gc: bool = True) -> str:
    """Take ``len(paths)`` snapshots ``every`` seconds apart in ONE session; returns its session id."""
    import cdpclient

    async with cdpclient.connect(endpoint) as target:
        await target.send("HeapProfiler.enable")
        for i, path in enumerate(paths):
            if i:
                await asyncio.sleep(every)
            if gc:
                await target.send("HeapProfiler.collectGarbage", timeout=120)
            await _stream(target, "HeapProfiler.takeHeapSnapshot", {"reportProgress": False}, path)
        return str(target.session_id)


async def heap_timeline(endpoint: str, path: Path, seconds: float) -> None:
    """Record an allocation timeline (a ``.heaptimeline``) for ``seconds``."""
    import cdpclient

    async with cdpclient.connect(endpoint) as target:
        await target.send("HeapProfiler.enable")
        await target.send("HeapProfiler.startTrackingHeapObjects", {"trackAllocations": True}, timeout=120)
        try:
            await asyncio.sleep(seconds)
        finally:
            await _stream(target, "HeapProfiler.stopTrackingHeapObjects", {"reportProgress": False}, path)


def write_snapshot_in_node(path: Path, script: str) -> Path:
    """``node -e``: run ``script`` (which may set globals) then ``v8.writeHeapSnapshot(path)``."""
    code = f"{script}\n;require('v8').writeHeapSnapshot({json.dumps(str(path))});"
    subprocess.run([NODE, "-e", code], check=True, timeout=120)
    return path


# --- shared snapshots (made once per test session) -----------------------------------------------------


@pytest.fixture(scope="session")
def heap_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("heap")


@pytest.fixture(scope="session")
def app_snapshot(heap_dir: Path) -> Path:
    """A snapshot of a Node process with a server-like mix of objects (v8.writeHeapSnapshot)."""
    script = (
        "class Session { constructor(i) {"
        " this.id = 's-' + i; this.user = { name: 'u' + i }; this.tags = new Map(); } }\n"
        "globalThis.keep = { sessions: [], byId: new Map(), weak: new WeakMap(), handlers: [] };\n"
        "for (let i = 0; i < 20000; i++) { const s = new Session(i); keep.sessions.push(s);"
        " keep.byId.set(s.id, s); keep.weak.set(s, { seen: i }); if (i % 10 === 0) keep.handlers.push(() => s); }"
    )
    return write_snapshot_in_node(heap_dir / "app.heapsnapshot", script)


@pytest.fixture(scope="session")
def timeline_file(heap_dir: Path) -> Path:
    """A ``.heaptimeline`` of the demo service, recorded over the inspector."""
    node = start_node(DEMO_JS, env={"DEMO_RATE": "500"})
    try:
        path = heap_dir / "demo.heaptimeline"
        asyncio.run(heap_timeline(node.endpoint, path, 1.0))
        return path
    finally:
        node.stop()


@pytest.fixture(scope="session")
def demo_series(heap_dir: Path) -> Iterator[dict[str, Any]]:
    """Three snapshots of the leaking demo service, 2 s apart, from one session, in a store."""
    from cdpclient.store import Store

    node = start_node(DEMO_JS, env={"DEMO_RATE": "2000"})
    try:
        time.sleep(1.0)  # let the service warm up: code compiled, caches filled
        paths = [heap_dir / f"demo-{i}.heapsnapshot" for i in range(3)]
        session = asyncio.run(snapshot_series(node.endpoint, paths, every=2.0))
    finally:
        node.stop()
    store = Store.open(heap_dir / "store")
    ids = []
    for i, path in enumerate(paths):
        with store.new_capture("heapsnapshot", target={"endpoint": node.endpoint}) as pending:
            shutil.copyfile(path, pending.path)
            pending.meta.update(session=session, series="demo-series", series_index=i)
        ids.append(pending.record.id)
    yield {"paths": paths, "store": heap_dir / "store", "ids": ids, "session": session}
