"""``cdpclient watch`` as a user runs it: JSON lines, Ctrl-C and SIGTERM during a triggered capture,
bad input as one line and an exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from nodeproc import run_cli, wait_output  # type: ignore[attr-defined]

import cdpclient
from cdpclient.store import Store
from cdpclient.watch import read_recording

ROOT = Path(__file__).parent.parent.parent


async def cpu_profiler_running(endpoint: str) -> bool:
    """V8 runs a "v8:ProfEvntProc" thread exactly while some CPU profile is recording."""
    async with cdpclient.connect(endpoint) as other:
        threads = await other.evaluate(
            "require('fs').readdirSync('/proc/self/task').map(t => { try { return require('fs')"
            ".readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim(); } catch (e) { return '?'; } })")
        return "v8:ProfEvntProc" in threads


async def leftovers(endpoint: str) -> list[str]:
    async with cdpclient.connect(endpoint) as other:
        return list(await other.evaluate(
            "Object.getOwnPropertySymbols(globalThis).map(String).filter(s => s.includes('cdpclient.watch'))"))


def start_watch(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cdpclient_cli.app", "watch", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=os.environ.copy())


def read_until(proc: subprocess.Popen[str], t: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """JSON lines from the watch until one of type ``t``."""
    assert proc.stdout is not None
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(json.loads(line))
        if seen[-1]["t"] == t:
            return seen
    raise AssertionError(f"no {t!r} record from the watch: {seen[-3:]} {proc.stderr.read() if proc.stderr else ''}")


async def signal_during_a_triggered_profile(endpoint: str, store: Path,
                                            sig: int) -> tuple[subprocess.Popen[str], str, str]:
    """Start a watch that fires at once into a 60 s CPU profile; send ``sig`` 1 s into it; (proc, stdout, stderr)."""
    proc = start_watch(endpoint, "--every", "0.2s", "--when", "heap>1MiB", "--then", "cpu --duration 60s",
                       "--json", "--store", str(store))
    try:
        read_until(proc, "firing")
        time.sleep(1.0)
        assert await cpu_profiler_running(endpoint)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    return proc, out, err


def test_json_prints_one_object_per_record_then_the_result(node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("watch", node.endpoint, "--every", "0.2s", "--for", "1.2s", "--json", "--store", str(tmp_path))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    kinds = [line["t"] for line in lines]
    assert kinds[0] == "connected" and kinds[-1] == "result" and kinds.count("sample") >= 4
    result = lines[-1]
    assert result["reason"] == "done"
    with Store.open(tmp_path) as store:
        rec = read_recording(store.materialize(store.resolve(result["recording"])))
    assert len(rec.samples) == kinds.count("sample")


@pytest.mark.asyncio
async def test_ctrl_c_during_a_triggered_cpu_profile_saves_it_and_stops_the_profiler(node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc, out, err = await signal_during_a_triggered_profile(node.endpoint, tmp_path, signal.SIGINT)
    assert proc.returncode == 0, err
    result = json.loads(out.splitlines()[-1])
    assert result["reason"] == "stopped"
    assert [c["kind"] for c in result["captures"]] == ["cpuprofile"]
    assert not await cpu_profiler_running(node.endpoint)
    assert await leftovers(node.endpoint) == []
    with Store.open(tmp_path) as store:
        profile = store.resolve(result["captures"][0]["id"])
        assert profile.duration_s is not None and profile.duration_s < 30  # ended early, not after 60 s
        json.loads(store.materialize(profile).read_text())  # a whole profile


@pytest.mark.asyncio
async def test_sigterm_during_a_triggered_capture_discards_it_and_closes_the_recording(node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc, _, err = await signal_during_a_triggered_profile(node.endpoint, tmp_path, signal.SIGTERM)
    assert proc.returncode == 143 and err.strip().splitlines()[-1] == "cdpclient: error: terminated"
    assert not await cpu_profiler_running(node.endpoint)
    assert await leftovers(node.endpoint) == []
    with Store.open(tmp_path) as store:
        kinds = [r.kind for r in store.list()]
        (recording,) = store.list(kind="watch")
        rec = read_recording(store.materialize(recording))
    assert kinds == ["watch"]  # the profile in progress was discarded
    assert rec.end is not None and rec.end["reason"] == "cancelled" and not rec.truncated


def test_the_status_goes_to_stderr_and_the_summary_to_stdout(node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("watch", node.endpoint, "--every", "0.2s", "--when", "heap>1MiB", "--then", "report",
                "--store", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "FIRED heap>1MiB" in r.stderr and "saved report" in r.stderr
    assert r.stdout.startswith("watch ") and "ended (fired): " in r.stdout and "1 firings, 1 captures" in r.stdout


@pytest.mark.parametrize(("args", "code", "words"), [
    (["127.0.0.1:1"], 1, "refused"),
    (["--when", "heap>lots"], 2, "--when"),
    (["--when", "heap>85%", "--then", "snapshot --bogus"], 2, "--bogus"),
    (["--then", "report"], 2, "--then needs a --when"),
    (["--when", "heap>85%", "--then", "dance"], 2, "unknown action 'dance'"),
    (["--every", "0s"], 2, "--every"),
])
def test_bad_input_is_one_line_and_an_exit_code(tmp_path: Path, args: list[str], code: int, words: str) -> None:
    r = run_cli("watch", *args, "--store", str(tmp_path), timeout=60)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert words in r.stderr
    assert "Traceback" not in r.stderr
    if code == 1:
        assert len(r.stderr.strip().splitlines()) == 1


def test_plot_draws_the_watch_just_recorded(node_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import xml.etree.ElementTree as ET

    proc = node_app("leak_heap.js", str(16 * 1024 * 1024), "100")
    wait_output(proc, "ready")
    out = tmp_path / "memory.svg"
    r = run_cli("watch", proc.endpoint, "--every", "0.2s", "--when", "heap>64MiB", "--then", "report",
                "--plot", str(out), "--store", str(tmp_path / "store"))
    assert r.returncode == 0, r.stderr
    assert f"plot: {out}" in r.stdout
    assert out.stat().st_mode & 0o777 == 0o600
    svg = out.read_text()
    ET.fromstring(svg)  # well-formed
    assert "heap&gt;64MiB" in svg  # the firing's marker is labelled
