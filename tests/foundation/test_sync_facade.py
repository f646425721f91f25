"""cdpclient.sync: the blocking facade, from a plain ``python script.py`` and inside a running loop.

Every test talks to a real ``node --inspect=127.0.0.1:0``; the scripts run in their own
interpreter, as a runbook would.  The Jupyter kernel tests are in test_sync_notebook.py.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from nodeproc import wait_output  # type: ignore[attr-defined]

import cdpclient
import cdpclient.sync
from cdpclient.captures import stored
from cdpclient.sync import SyncTarget

_THREADS_JS = r"""(() => { const fs = require('fs'); return fs.readdirSync('/proc/self/task').map((t) => {
  try { return fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim(); } catch (e) { return '?'; } }); })()"""


def cpu_profiler_running(endpoint: str) -> bool:
    """V8 runs a "v8:ProfEvntProc" thread exactly while some CPU profile records: asked in a fresh session."""
    with cdpclient.sync.connect(endpoint) as other:
        return "v8:ProfEvntProc" in other.evaluate(_THREADS_JS)


def _loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "cdpclient-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _script(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "runbook.py"
    path.write_text(textwrap.dedent(source))
    return path


def _public_coroutines(cls: type) -> dict[str, object]:
    return {name: fn for name, fn in inspect.getmembers(cls, inspect.iscoroutinefunction)
            if not name.startswith("_") and name != "close"}


def _without_first(fn: object) -> list[inspect.Parameter]:
    return list(inspect.signature(fn).parameters.values())[1:]  # type: ignore[arg-type]


def test_every_target_coroutine_has_a_typed_wrapper_with_its_signature() -> None:
    written_in_the_class = set(SyncTarget.__dict__) & set(_public_coroutines(cdpclient.Target))
    # Listed in the class body (so mypy sees it) rather than only added at import time.
    source = inspect.getsource(SyncTarget)
    for name, method in _public_coroutines(cdpclient.Target).items():
        assert name in written_in_the_class, name
        assert f"    {name} = _SyncMethod(Target.{name})" in source or f"    def {name}(self" in source, name
        assert _without_first(getattr(SyncTarget, name)) == _without_first(method), name
    for name in ("capture_to_store", "capture_to_file", "heap_snapshot_series_to_store"):
        assert _without_first(getattr(cdpclient.sync, name)) == _without_first(getattr(stored, name)), name
    assert inspect.signature(cdpclient.sync.connect).parameters == inspect.signature(cdpclient.connect).parameters


def test_a_plain_script_captures_stores_and_analyses(node_app, tmp_path: Path) -> None:
    app = node_app("busy.js")
    wait_output(app, "ready")
    script = _script(tmp_path, f"""
        import json, os, threading
        import cdpclient
        from cdpclient import heap
        from cdpclient.store import Store

        store = Store.open({str(tmp_path / "store")!r})
        with cdpclient.sync.connect({app.endpoint!r}) as target:
            info = target.process_info()
            snap = target.heap_snapshot({str(tmp_path / "a.heapsnapshot")!r}, gc=True)
            cpu = target.cpu_profile({str(tmp_path / "a.cpuprofile")!r}, duration=0.5)
            record = cdpclient.sync.capture_to_store(target, store, "heapsnapshot", labels={{"incident": "7"}})
            series = cdpclient.sync.heap_snapshot_series_to_store(target, store, count=2, every=0.2)
            uptime = target.evaluate("process.uptime()")
        top = heap.top_classes(heap.load(store.materialize(record), cache_dir=store.cache_dir(record)), limit=3)
        print(json.dumps({{
            "pid": info.pid, "snap": snap.size, "mode": oct(os.stat(snap.path).st_mode & 0o777),
            "cpu_kind": cpu.kind, "record": record.kind, "labels": record.labels,
            "series": [r.meta.get("series_index") for r in series], "uptime": uptime,
            "top": [c.name for c in top], "closed": target.closed,
            "threads": sorted(t.name for t in threading.enumerate()),
        }}))
    """)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["pid"] == app.pid and out["snap"] > 100_000 and out["mode"] == "0o600"
    assert out["cpu_kind"] == "cpuprofile" and out["record"] == "heapsnapshot" and out["labels"] == {"incident": "7"}
    assert out["series"] == [0, 1] and out["uptime"] > 0 and len(out["top"]) == 3
    assert out["closed"] is True and out["threads"] == ["MainThread"], out  # the loop thread ended with the block
    assert done.stderr == ""


def test_a_wrong_address_raises_what_the_async_api_raises() -> None:
    address = f"127.0.0.1:{_free_port()}"
    with pytest.raises(cdpclient.ConnectionRefused) as from_sync:
        cdpclient.sync.connect(address)

    async def from_async() -> None:
        async with cdpclient.connect(address):
            pass

    with pytest.raises(cdpclient.ConnectionRefused) as from_async_api:
        asyncio.run(from_async())
    assert type(from_sync.value) is type(from_async_api.value)
    assert str(from_sync.value) == str(from_async_api.value)
    assert _loop_threads() == []  # a failed connect leaves no thread behind


def test_errors_of_calls_are_the_librarys_own(node) -> None:
    with cdpclient.sync.connect(node.endpoint) as target:
        with pytest.raises(cdpclient.ProtocolError, match="JavaScript threw"):
            target.evaluate("throw new Error('boom')")
        with pytest.raises(cdpclient.UsageError, match="unknown capture kind"):
            cdpclient.sync.capture_to_file(target, "x", "nosuchkind")
        assert target.evaluate("1 + 1") == 2  # the session survives an error
    with pytest.raises(cdpclient.UsageError, match="closed"):
        target.evaluate("1")
    target.close()  # twice: a no-op
    assert _loop_threads() == []


async def test_it_works_inside_a_running_event_loop(node, tmp_path: Path) -> None:
    """What a notebook cell is: code run while a loop runs in this thread (asyncio.run would refuse)."""
    asyncio.get_running_loop()
    with cdpclient.sync.connect(node.endpoint) as target:
        info = target.process_info()
        result = target.heap_snapshot(tmp_path / "a.heapsnapshot")
    assert info.pid == node.pid and result.path.exists()
    assert _loop_threads() == []


def test_a_facade_not_closed_is_closed_when_dropped(node) -> None:
    target = cdpclient.sync.connect(node.endpoint)
    assert target.evaluate("2 * 21") == 42 and len(_loop_threads()) == 1
    del target
    import gc

    gc.collect()
    assert _loop_threads() == []


def test_ctrl_c_in_a_script_stops_the_profiler_in_the_target(node_app, tmp_path: Path) -> None:
    app = node_app("busy.js")
    wait_output(app, "ready")
    out = tmp_path / "a.cpuprofile"
    script = _script(tmp_path, f"""
        import cdpclient
        with cdpclient.sync.connect({app.endpoint!r}) as target:
            target.cpu_profile({str(out)!r}, duration=30)
        print("not reached")
    """)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not cpu_profiler_running(app.endpoint):
            assert proc.poll() is None and time.monotonic() < deadline, "the profiler never started"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    # KeyboardInterrupt's usual end: the traceback, then death by SIGINT (shells see 130).
    assert proc.returncode == -signal.SIGINT, stderr
    assert stderr.rstrip().splitlines()[-1] == "KeyboardInterrupt", stderr
    assert "not reached" not in stdout
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["runbook.py"]  # nothing half-written
    assert not cpu_profiler_running(app.endpoint)


def test_a_callback_calling_the_facade_is_refused(node, tmp_path: Path) -> None:
    with cdpclient.sync.connect(node.endpoint) as target:
        seen: list[BaseException] = []

        def progress(_p: object) -> None:
            try:
                target.evaluate("1")
            except cdpclient.UsageError as exc:
                seen.append(exc)

        target.cpu_profile(tmp_path / "a.cpuprofile", duration=0.3, progress=progress)
    assert seen and "own loop thread" in str(seen[0])


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(marker: str, endpoint: str) -> str:
    """The README's python block after ``<!-- marker: ... -->``, pointed at ``endpoint``."""
    block = re.search(rf"<!-- {marker}:[^>]*-->\n```python\n(.*?)```", README.read_text(), re.S)
    assert block, f"the README lost its {marker} block"
    assert "127.0.0.1:9229" in block.group(1)
    return block.group(1).replace("127.0.0.1:9229", endpoint)


def test_the_readme_script_example_runs_as_written(node_app, tmp_path: Path) -> None:
    app = node_app("busy.js")
    wait_output(app, "ready")
    # Only the waits are shortened: a 30 s profile and snapshots a minute apart are the example's.
    source = readme_block("script", app.endpoint).replace("duration=30", "duration=1").replace("every=60", "every=0.5")
    script = _script(tmp_path, source)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**{k: v for k, v in os.environ.items() if k != "CDPCLIENT_STORE"},
                               "XDG_DATA_HOME": str(tmp_path / "data")})
    assert done.returncode == 0, done.stderr
    heap_used, *top = done.stdout.splitlines()
    assert int(heap_used) > 0 and len(top) == 5, done.stdout
    assert all(int(line.split()[-1].replace(",", "")) > 0 for line in top), done.stdout
    assert (tmp_path / "a.heapsnapshot").exists() and (tmp_path / "app.cpuprofile").exists()
    # Store.open(): the per-user store ($XDG_DATA_HOME/cdpclient), one capture and a series of 3
    assert len(list((tmp_path / "data" / "cdpclient").glob("**/*.heapsnapshot*"))) == 4
    assert not (tmp_path / "recordings").exists()


def test_another_thread_ends_a_timed_capture_early_through_call_soon(node_app, tmp_path: Path) -> None:
    app = node_app("busy.js")
    wait_output(app, "ready")
    stop = asyncio.Event()
    with cdpclient.sync.connect(app.endpoint) as target:

        def stopper() -> None:
            while not cpu_profiler_running(app.endpoint):
                time.sleep(0.1)
            target.call_soon(stop.set)

        helper = threading.Thread(target=stopper, daemon=True)
        helper.start()
        result = target.cpu_profile(tmp_path / "a.cpuprofile", duration=30, stop=stop)
        helper.join(30)
    assert result.path.exists() and result.size > 0
    assert result.duration_s < 30  # ended by the event, and saved


def test_system_exit_in_a_callback_reaches_the_caller(node_app, tmp_path: Path) -> None:
    app = node_app("busy.js")
    wait_output(app, "ready")

    def progress(_p: object) -> None:
        raise SystemExit(3)

    target = cdpclient.sync.connect(app.endpoint)
    with pytest.raises(SystemExit):
        target.cpu_profile(tmp_path / "a.cpuprofile", duration=5, progress=progress)
    assert target.evaluate("1 + 1") == 2  # the facade goes on
    target.close()
    assert _loop_threads() == [] and list(tmp_path.iterdir()) == []
    assert not cpu_profiler_running(app.endpoint)
