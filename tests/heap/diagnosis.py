"""Leaking Node services that know the truth, and the capture of their snapshot series.

Each service under ``tests/apps/diagnosis/<name>/server.js`` leaks one thing the way
real services do (see :data:`TRUTHS`) and counts it: on SIGUSR2 it handles one batch of
simulated requests and prints ``{"batch": k, "leaked": N, "bytes": B}`` with N the
cumulative count of leaked items and B their payload bytes (``harness.js``).

:func:`leak_series` starts a service under the inspector, runs a warm-up batch, then in
ONE inspector session (object ids comparable) takes a snapshot after a forced GC, runs
a batch, takes the next snapshot, and so on.  The JSON lines printed before each
snapshot are the truth for that snapshot; :func:`growth_per_snapshot` is what a leak
report's growth must match.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodeproc import NodeProcess, start_node, wait_output  # type: ignore[import-not-found]

SERVICES_DIR = Path(__file__).resolve().parents[1] / "apps" / "diagnosis"


@dataclass(frozen=True)
class Truth:
    """What a service leaks, in the words its author would use.

    ``owner``: the class (or module variable) that holds the leak; ``prop``: its
    property, event or variable name; ``function``: the leaking function where there is
    one; ``item``: what is leaked; ``unit``: what the JSON line's N counts; ``module``:
    the script that declares the holder; ``offheap``: the payload is off the JS heap;
    ``batch``: items per batch used by the tests.
    """

    name: str
    owner: str | None
    prop: str | None
    function: str | None
    item: str | None
    unit: str | None
    module: str | None
    batch: int
    offheap: bool = False

    @property
    def leaks(self) -> bool:
        return self.owner is not None


TRUTHS: dict[str, Truth] = {t.name: t for t in (
    Truth("listeners", owner="PriceFeed", prop="tick", function="onTick", item="listener", unit="listeners",
          module="lib/feed.js", batch=1000),
    # Kept alive by their active intervals, through Node's timer list (a linked list of Timeouts).
    Truth("intervals", owner="Connection", prop=None, function="keepAlive", item="Connection", unit="connections",
          module="lib/pool.js", batch=1000),
    Truth("closures", owner="pendingCalls", prop="pendingCalls", function="onReply", item="Map entry",
          unit="entries", module="lib/calls.js", batch=1000),
    Truth("buffers", owner="ImageCache", prop="entries", function=None, item="Buffer", unit="buffers",
          module="lib/cache.js", batch=100, offheap=True),
    # Three deliveries in four fail: N grows by 3/4 of the batch.
    Truth("promises", owner="RetryQueue", prop="failed", function=None, item="Promise", unit="promises",
          module="lib/retry.js", batch=1000),
    Truth("events", owner="StreamClient", prop="sentEvents", function=None, item="string", unit="ids",
          module="lib/stream.js", batch=1000),
    Truth("steady", owner=None, prop=None, function=None, item=None, unit=None, module=None, batch=1000),
)}

LEAKING = [name for name, t in TRUTHS.items() if t.leaks]


def service_script(name: str) -> Path:
    return SERVICES_DIR / name / "server.js"


def batch_lines(node: NodeProcess) -> list[dict[str, Any]]:
    """The JSON lines the service printed so far (other output, e.g. warnings, skipped)."""
    out = []
    for line in list(node.output):
        if line.startswith("{") and '"leaked"' in line:
            out.append(json.loads(line))
    return out


def _send_batch(node: NodeProcess) -> int:
    """SIGUSR2 the service; returns the number of the batch it will print."""
    expected = len(batch_lines(node)) + 1
    os.kill(node.pid, signal.SIGUSR2)
    return expected


def _batch_done(node: NodeProcess, expected: int) -> dict[str, Any] | None:
    if node.proc.poll() is not None:
        raise RuntimeError(f"service exited ({node.proc.returncode}): {' | '.join(node.output[-20:])}")
    lines = batch_lines(node)
    if len(lines) >= expected:
        line = lines[expected - 1]
        assert line["batch"] == expected, line
        return line
    return None


def run_batch(node: NodeProcess, timeout: float = 60.0) -> dict[str, Any]:
    """One batch, synchronously: SIGUSR2 and wait for its JSON line."""
    expected = _send_batch(node)
    deadline = time.monotonic() + timeout
    while (line := _batch_done(node, expected)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no batch {expected} line: {' | '.join(node.output[-20:])}")
        time.sleep(0.01)
    return line


async def _run_batch_async(node: NodeProcess, timeout: float = 60.0) -> dict[str, Any]:
    expected = _send_batch(node)
    deadline = time.monotonic() + timeout
    while (line := _batch_done(node, expected)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no batch {expected} line: {' | '.join(node.output[-20:])}")
        await asyncio.sleep(0.01)
    return line


async def _stream(target: Any, method: str, params: dict[str, Any], path: Path) -> None:
    """As conftest._stream (``from conftest import`` is ambiguous across test directories)."""
    with open(path, "w", encoding="utf-8") as fh:
        unsubscribe = target.connection.on("HeapProfiler.addHeapSnapshotChunk", lambda p: fh.write(p["chunk"]))
        try:
            await target.send(method, params, timeout=300)
        finally:
            unsubscribe()


async def _series(node: NodeProcess, paths: list[Path]) -> tuple[list[dict[str, Any]], str]:
    import cdpclient

    truth: list[dict[str, Any]] = []
    async with cdpclient.connect(node.endpoint) as target:
        await target.send("HeapProfiler.enable")
        for i, path in enumerate(paths):
            if i:
                truth.append(await _run_batch_async(node))
            else:
                truth.append(batch_lines(node)[-1])  # the warm-up batch's line
            await target.send("HeapProfiler.collectGarbage", timeout=120)
            await _stream(target, "HeapProfiler.takeHeapSnapshot", {"reportProgress": False}, path)
        return truth, str(target.session_id)


@dataclass(frozen=True)
class Series:
    """A captured series: snapshot paths, the service's JSON line before each, the session id."""

    name: str
    paths: list[Path]
    lines: list[dict[str, Any]]
    session: str
    seconds: float

    @property
    def growth_per_snapshot(self) -> float:
        return growth_per_snapshot(self.lines)


def leak_series(name: str, batch: int | None = None, snapshots: int = 3, *, out_dir: Path | None = None,
                env: dict[str, str] | None = None) -> tuple[list[Path], list[dict[str, Any]]]:
    """Snapshots of service ``name`` with a batch between each two, in one inspector session.

    Returns the snapshot paths and, per snapshot, the JSON line the service printed just
    before it (cumulative leaked count and bytes).  ``batch`` defaults to the service's
    (:data:`TRUTHS`); files go to ``out_dir`` (default: a new temporary directory).
    """
    series = capture_series(name, batch, snapshots, out_dir=out_dir, env=env)
    return series.paths, series.lines


def capture_series(name: str, batch: int | None = None, snapshots: int = 3, *, out_dir: Path | None = None,
                   env: dict[str, str] | None = None) -> Series:
    """:func:`leak_series`, with the inspector session id (for a store import) and the time taken."""
    started = time.monotonic()
    truth = TRUTHS[name]
    size = batch if batch is not None else truth.batch
    directory = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix=f"diag-{name}-"))
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{name}-{i}.heapsnapshot" for i in range(snapshots)]
    node = start_node(service_script(name), str(size), env=env)
    try:
        wait_output(node, "ready")
        run_batch(node)  # warm-up: code compiled, caches and pools filled
        lines, session = asyncio.run(_series(node, paths))
    finally:
        node.stop()
    return Series(name=name, paths=paths, lines=lines, session=session, seconds=time.monotonic() - started)


def growth_per_snapshot(lines: list[dict[str, Any]]) -> float:
    """Leaked items per snapshot interval, from the service's own count."""
    return float(lines[-1]["leaked"] - lines[0]["leaked"]) / max(1, len(lines) - 1)


# --- the truth, read from a snapshot independently of cdpclient.heap --------------------------------------

_EVENT_ID = re.compile(r"^audit-producer:request\.handled:[0-9a-z]+:\d+$")
THUMB_BYTES = 64 * 1024


def witness_counts(path: Path) -> dict[str, int]:
    """Counts of what the services leak, read from the raw snapshot JSON with nothing but
    ``json``: the closures and instances named by the truth, the 64 KiB backing stores,
    the event id strings (a concatenated string's value rebuilt from its ``first`` and
    ``second`` parts).  The same numbers as the services print, for the leaking kinds."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    meta = data["snapshot"]["meta"]
    fields, efields = meta["node_fields"], meta["edge_fields"]
    width, ewidth = len(fields), len(efields)
    types = meta["node_types"][fields.index("type")]
    etypes = meta["edge_types"][efields.index("type")]
    t_at, n_at, s_at, c_at = (fields.index(f) for f in ("type", "name", "self_size", "edge_count"))
    et_at, en_at, eto_at = (efields.index(f) for f in ("type", "name_or_index", "to_node"))
    nodes, edges, strings = data["nodes"], data["edges"], data["strings"]
    first_edge = [0]
    for i in range(0, len(nodes), width):
        first_edge.append(first_edge[-1] + nodes[i + c_at])

    def value(i: int, depth: int = 0) -> str:
        """The text of string node ``i`` (node index, not array offset)."""
        kind = types[nodes[i * width + t_at]]
        if kind != "concatenated string" or depth > 64:
            return str(strings[nodes[i * width + n_at]])
        parts: dict[str, int] = {}
        for e in range(first_edge[i], first_edge[i + 1]):
            o = e * ewidth
            if etypes[edges[o + et_at]] == "internal":
                parts[str(strings[edges[o + en_at]])] = edges[o + eto_at] // width
        return value(parts["first"], depth + 1) + value(parts["second"], depth + 1)

    counted: dict[tuple[str, str], int] = {}
    thumbs = 0
    event_ids = 0
    for i in range(len(nodes) // width):
        kind = types[nodes[i * width + t_at]]
        name = strings[nodes[i * width + n_at]]
        if kind in ("closure", "object"):
            counted[(kind, name)] = counted.get((kind, name), 0) + 1
        elif kind == "native" and name == "system / JSArrayBufferData" and nodes[i * width + s_at] == THUMB_BYTES:
            thumbs += 1
        elif kind in ("string", "concatenated string") and _EVENT_ID.match(value(i)):
            event_ids += 1
    return {
        "listeners": counted.get(("closure", "onTick"), 0),
        "intervals": counted.get(("object", "Connection"), 0),
        "keepAlive": counted.get(("closure", "keepAlive"), 0),
        "closures": counted.get(("closure", "onReply"), 0),
        "buffers": thumbs,
        "promises": counted.get(("object", "DeliveryError"), 0),
        "events": event_ids,
        "steady": counted.get(("object", "Session"), 0),
    }
