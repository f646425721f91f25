"""The library in a real Jupyter kernel (ipykernel, driven by nbclient / jupyter_client).

A kernel runs every cell while its event loop runs, so ``asyncio.run`` refuses;
top-level ``await`` and the blocking facade (``cdpclient.sync``) both work, and the
kernel's interrupt (what the notebook's stop button sends) cancels a capture.
"""

from __future__ import annotations

import json
import queue
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jupyter_client.manager
import nbclient
import nbformat
import pytest
from nodeproc import wait_output  # type: ignore[attr-defined]

from .test_sync_facade import cpu_profiler_running, readme_block

CELL_TIMEOUT = 120  # a bound on a hung kernel, not a measure of speed


@pytest.fixture(autouse=True)
def jupyter_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel's runtime files and IPython's history go under the test's own directory."""
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core warns without it
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # the debugger's note about frozen modules


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _outputs(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")


def test_a_notebook_uses_top_level_await_and_the_sync_facade(node_app, tmp_path: Path) -> None:
    app = node_app("busy.js")
    wait_output(app, "ready")
    out = tmp_path / "captures"
    out.mkdir()
    cells = [
        f"import asyncio, json\nimport cdpclient.sync\nENDPOINT = {app.endpoint!r}\nOUT = {str(out)!r}",
        # What the README used to show: refused, because the kernel's loop is running.
        "async def main():\n    async with cdpclient.connect(ENDPOINT) as target:\n"
        "        await target.process_info()\n"
        "coro = main()\ntry:\n    asyncio.run(coro)\nexcept RuntimeError as exc:\n    coro.close()\n"
        "    print('asyncio.run:', exc)",
        # Top-level await: the README's notebook example as written, then one of our own.
        readme_block("notebook", app.endpoint) + "print(json.dumps({'pid': info.pid}))",
        "async with cdpclient.connect(ENDPOINT) as target:\n"
        "    snap = await target.heap_snapshot(OUT + '/async.heapsnapshot')\n"
        "print(json.dumps({'size': snap.size}))",
        # The blocking facade, inside the same running loop.
        "running = asyncio.get_event_loop().is_running()\n"
        "with cdpclient.sync.connect(ENDPOINT) as target:\n    info = target.process_info()\n"
        "    snap = target.heap_snapshot(OUT + '/sync.heapsnapshot')\n"
        "    cpu = target.cpu_profile(OUT + '/sync.cpuprofile', duration=0.3)\n"
        "print(json.dumps({'running': running, 'pid': info.pid, 'size': snap.size, 'cpu': cpu.kind,"
        " 'closed': target.closed}))",
        # The same error from both faces.
        f"BAD = '127.0.0.1:{_free_port()}'\ntry:\n    cdpclient.sync.connect(BAD)\n"
        "except cdpclient.ConnectionRefused as exc:\n    print('sync:', type(exc).__name__)\n"
        "try:\n    async with cdpclient.connect(BAD):\n        pass\n"
        "except cdpclient.ConnectionRefused as exc:\n    print('async:', type(exc).__name__)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    refused, readme, awaited, facade, errors = (_outputs(c) for c in nb.cells[1:])
    assert refused.startswith("asyncio.run: asyncio.run() cannot be called from a running event loop"), refused
    assert json.loads(readme)["pid"] == app.pid and (tmp_path / "before.heapsnapshot").stat().st_size > 100_000
    assert json.loads(awaited)["size"] > 100_000
    got = json.loads(facade)
    assert got == {"running": True, "pid": app.pid, "size": got["size"], "cpu": "cpuprofile", "closed": True}, got
    assert errors.splitlines() == ["sync: ConnectionRefused", "async: ConnectionRefused"], errors
    assert sorted(p.name for p in out.iterdir()) == ["async.heapsnapshot", "sync.cpuprofile", "sync.heapsnapshot"]


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_interrupting_the_kernel_stops_the_profiler_in_the_target(node_app, kernel, tmp_path: Path) -> None:
    km, kc = kernel
    app = node_app("busy.js")
    wait_output(app, "ready")
    out = tmp_path / "a.cpuprofile"
    msg_id = kc.execute(f"import cdpclient.sync\nwith cdpclient.sync.connect({app.endpoint!r}) as target:\n"
                        f"    target.cpu_profile({str(out)!r}, duration=30)\nprint('not reached')")
    deadline = time.monotonic() + 30
    while not cpu_profiler_running(app.endpoint):
        assert time.monotonic() < deadline, "the profiler never started in the kernel"
        time.sleep(0.1)
    km.interrupt_kernel()  # the notebook's stop button: SIGINT to the kernel
    reply = kc.get_shell_msg(timeout=CELL_TIMEOUT)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=CELL_TIMEOUT)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt", reply
    printed = []
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            break
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])
    assert "not reached" not in "".join(printed)
    assert not out.exists()
    assert not cpu_profiler_running(app.endpoint)
    # The kernel goes on: the next cell runs.
    kc.execute_interactive("import threading; print([t.name for t in threading.enumerate() if 'cdpclient' in t.name])",
                           timeout=CELL_TIMEOUT, output_hook=lambda m: printed.append(m["content"].get("text", ""))
                           if m["msg_type"] == "stream" else None)
    assert printed[-1].strip() == "[]", printed  # no loop thread left behind
