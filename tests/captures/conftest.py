"""Observers for the captures tests: what a second, independent session sees of the target.

V8 keeps the CPU profiler per session, the sampling heap profiler and the
allocation tracker per isolate.  Each observer opens its own session, so it
shows what the target itself is running, not what our session believes.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nodeproc import APPS, NODE, NodeProcess, _pump, wait_listening, wait_output  # type: ignore[attr-defined]

import cdpclient

_THREADS_JS = r"""(() => { const fs = require('fs'); return fs.readdirSync('/proc/self/task').map((t) => {
  try { return fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim(); } catch (e) { return '?'; } }); })()"""


async def cpu_profiler_running(endpoint: str) -> bool:
    """V8 runs a "v8:ProfEvntProc" thread exactly while some CPU profile is recording."""
    async with cdpclient.connect(endpoint) as other:
        return "v8:ProfEvntProc" in await other.evaluate(_THREADS_JS)


async def heap_sampler_running(endpoint: str) -> bool:
    """The sampling heap profiler is one per isolate: getSamplingProfile answers from any session."""
    async with cdpclient.connect(endpoint) as other:
        try:
            await other.send("HeapProfiler.getSamplingProfile")
        except cdpclient.ProtocolError:
            return False
        return True


async def allocation_tracking(endpoint: str) -> bool:
    """While allocations are tracked, any session's snapshot carries trace function infos."""
    async with cdpclient.connect(endpoint) as other:
        head: list[str] = []
        off = other.connection.on("HeapProfiler.addHeapSnapshotChunk",
                                  lambda p: head.append(p["chunk"]) if len(head) < 2 else None)
        await other.send("HeapProfiler.takeHeapSnapshot", {"reportProgress": False}, timeout=60)
        off()
    match = re.search(r'"trace_function_count":(\d+)', "".join(head))
    assert match, "no trace_function_count in the snapshot header"
    return int(match.group(1)) > 0


def leftovers(directory: Path) -> list[str]:
    """Every file in ``directory`` (temporary ones included)."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def load_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture
def shell_node() -> Iterator[Callable[..., NodeProcess]]:
    """Factory: ``shell_node(prefix, script, *args)`` starts Node through ``sh -c "PREFIX exec node ..."``.

    For what ``start_node`` cannot set up: a lower hard limit (``ulimit -n 1024;``),
    joining a cgroup (``echo $$ > .../cgroup.procs &&``).  Waits for "ready".
    """
    started: list[NodeProcess] = []

    def factory(prefix: str, script: str, *args: str) -> NodeProcess:
        command = f'{prefix} exec "$0" --inspect=127.0.0.1:0 "$@"'
        proc = subprocess.Popen(["sh", "-c", command, NODE, str(APPS / script), *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        node = NodeProcess(proc=proc, ws_url="", port=0)
        started.append(node)
        threading.Thread(target=_pump, args=(node,), daemon=True).start()
        wait_listening(node)
        wait_output(node, "ready")
        return node

    yield factory
    for node in started:
        node.stop()
