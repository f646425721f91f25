"""A target that stops answering (issue 13.2): SIGSTOP stands in for a long GC or a blocking call.

The command says so within seconds, keeps saying it, gives up after the stall
timeout with one line, and a second Ctrl-C ends it at once.  Whatever the capture
started is gone once the target runs again: checked through an independent session.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nodeproc import wait_output  # type: ignore[attr-defined]

import cdpclient

from .conftest import cpu_profiler_running, heap_sampler_running, leftovers

ROOT = Path(__file__).resolve().parents[2]


def _start_cli(*args: str, stall: str = "6s") -> subprocess.Popen[str]:
    env = {**os.environ, "CDPCLIENT_STALL_TIMEOUT": stall}
    return subprocess.Popen([sys.executable, "-m", "cdpclient_cli.app", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_until(check: object, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not asyncio.run(check()):  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.parametrize("kind", ["cpu", "sample"])
def test_frozen_target_is_reported_and_given_up_on(node_app, tmp_path: Path, kind: str) -> None:
    app = node_app("busy.js")
    wait_output(app, "ready")
    out = tmp_path / f"a.{kind}"
    running = cpu_profiler_running if kind == "cpu" else heap_sampler_running
    proc = _start_cli(kind, app.endpoint, "--duration", "30s", "--out", str(out))
    try:
        _wait_until(lambda: running(app.endpoint), f"the {kind} capture never started")
        os.kill(app.pid, signal.SIGSTOP)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
        os.kill(app.pid, signal.SIGCONT)
    lines = stderr.strip().splitlines()
    assert proc.returncode == 1, stderr
    assert any("the target has not answered for 3s" in line and "giving up after 6s" in line for line in lines)
    assert lines[-1].startswith("cdpclient: error: the target sent nothing for 6s"), stderr
    assert "Traceback" not in stderr and leftovers(tmp_path) == []
    # Our session closed when we gave up; V8 stopped what it had started in it.
    assert not asyncio.run(running(app.endpoint))


def test_second_ctrl_c_ends_a_frozen_capture_at_once(node_app, tmp_path: Path) -> None:
    app = node_app("busy.js")
    wait_output(app, "ready")
    proc = _start_cli("cpu", app.endpoint, "--duration", "2s", "--out", str(tmp_path / "a.cpuprofile"), stall="0")
    try:
        _wait_until(lambda: cpu_profiler_running(app.endpoint), "the profiler never started")
        os.kill(app.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 30
        stderr = ""
        assert proc.stderr is not None
        while "has not answered" not in stderr:  # the stop command waits on the stopped target
            assert time.monotonic() < deadline, stderr
            stderr += proc.stderr.readline()
        assert "no limit (CDPCLIENT_STALL_TIMEOUT=0)" in stderr
        proc.send_signal(signal.SIGINT)  # stop early and save: the target cannot
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)  # abort
        rest = proc.communicate(timeout=5)[1]  # at once: no cleanup waits on a target that is not answering
    finally:
        proc.kill()
        os.kill(app.pid, signal.SIGCONT)
    assert proc.returncode == 130, stderr + rest
    assert rest.strip().splitlines()[-1] == "cdpclient: error: interrupted"
    assert leftovers(tmp_path) == []
    assert not asyncio.run(cpu_profiler_running(app.endpoint))


def test_target_that_answers_again_is_not_given_up_on(node_app, tmp_path: Path) -> None:
    app = node_app("busy.js")
    wait_output(app, "ready")
    out = tmp_path / "a.cpuprofile"
    # The stop must land inside the capture even when the profiler probe is slow on a loaded machine,
    # and last long enough for a notice: the next heartbeat may go out up to 2.5 s into it, and the
    # notice comes 3 s after that.
    proc = _start_cli("cpu", app.endpoint, "--duration", "10s", "--out", str(out), stall="20s")
    try:
        _wait_until(lambda: cpu_profiler_running(app.endpoint), "the profiler never started")
        os.kill(app.pid, signal.SIGSTOP)
        time.sleep(7)
        os.kill(app.pid, signal.SIGCONT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
        os.kill(app.pid, signal.SIGCONT)
    assert proc.returncode == 0, stderr
    assert "has not answered" in stderr and "the target answers again" in stderr
    assert out.stat().st_size > 0


def test_ctrl_c_after_the_save_does_not_kill_the_command(node_app, tmp_path: Path) -> None:
    """Issue 13.8: a second Ctrl-C landing after 'saved' killed the process by SIGINT."""
    app = node_app("busy.js")
    wait_output(app, "ready")
    out = tmp_path / "a.cpuprofile"
    proc = _start_cli("cpu", app.endpoint, "--duration", "30s", "--out", str(out))
    try:
        _wait_until(lambda: cpu_profiler_running(app.endpoint), "the profiler never started")
        proc.send_signal(signal.SIGINT)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        for _ in range(5):
            if proc.poll() is not None:
                break
            proc.send_signal(signal.SIGINT)
            time.sleep(0.01)
        rest, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert line.startswith("saved cpuprofile"), line + stderr
    assert proc.returncode == 0, stderr
    assert out.stat().st_size > 0


async def test_library_gives_up_on_a_silent_target(node_app) -> None:
    app = node_app("busy.js")
    wait_output(app, "ready")
    stalls: list[float] = []
    async with cdpclient.connect(app.endpoint) as target:
        target.connection.stall_timeout = 5
        target.connection.on_stall(lambda s: stalls.append(s.silent_s))
        os.kill(app.pid, signal.SIGSTOP)
        try:
            with pytest.raises(cdpclient.TargetUnresponsive) as caught:
                await target.send("Runtime.evaluate", {"expression": "1"}, timeout=None)
        finally:
            os.kill(app.pid, signal.SIGCONT)
        assert caught.value.method == "Runtime.evaluate" and caught.value.silent_s >= 5
        assert stalls and all(3 <= s < 5.5 for s in stalls)
        assert await target.evaluate("1 + 1") == 2  # the session itself is still usable


def test_a_snapshot_that_keeps_v8_busy_is_not_a_frozen_target(node_app, tmp_path: Path) -> None:
    from cdpclient.captures.heap_snapshot import snapshot_stall_timeout

    # V8 sends nothing while it builds a snapshot unless asked for progress: with a 2 s limit a
    # 60 MB heap (several seconds of work) used to be given up on as frozen.
    assert snapshot_stall_timeout(None, 10**9) is None and snapshot_stall_timeout(60, 4 * 10**9) == 300
    app = node_app("heap_of_size.js", "60")
    proc = _start_cli("snapshot", app.endpoint, "--out", str(tmp_path / "a.heapsnapshot"), stall="2s")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "giving up" not in stderr and (tmp_path / "a.heapsnapshot").stat().st_size > 50_000_000
