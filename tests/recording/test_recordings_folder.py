"""The recordings of ``recordings/`` (real sessions of recordings/app.js on Node 20 and 22, made by
scripts/make_recordings.py): what a live Node cannot be made to show on demand, offline, on a Node major
that need not be installed. They supplement the live-Node tests of test_recording_replay.py."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from nodeproc import run_cli

import cdpclient
from cdpclient.errors import CDPTimeout
from cdpclient.recording import ReplayServer, read_recording

REPO = Path(__file__).parent.parent.parent
FOLDER = REPO / "recordings"
MAJORS = ("18", "20", "22")  # 18: the events and replies of an older Node, not installed here


@pytest.mark.parametrize("major", MAJORS)
def test_each_recording_says_which_node_it_comes_from(major: str) -> None:
    for name in ("info", "cpu", "slow-reply"):
        done = run_cli("show", str(FOLDER / f"node{major}-{name}.cdprec"), "--json")
        assert done.returncode == 0, done.stderr
        text = json.dumps(json.loads(done.stdout))
        assert f"v{major}." in text, text[:400]


@pytest.mark.parametrize("major", MAJORS)
async def test_a_recorded_cpu_session_replays_to_the_same_file(major: str, tmp_path: Path) -> None:
    out = tmp_path / "replayed.cpuprofile"
    async with ReplayServer(read_recording(FOLDER / f"node{major}-cpu.cdprec"), speed=None) as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cdpclient_cli.app", "cpu", server.address, "--duration", "0.5s",
            "--out", str(out), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.read_bytes() == (FOLDER / f"node{major}-cpu.cpuprofile").read_bytes()


@pytest.mark.parametrize("major", MAJORS)
async def test_a_reply_that_came_late_times_out_a_client_that_waits_less(major: str) -> None:
    recording = read_recording(FOLDER / f"node{major}-slow-reply.cdprec")
    async with ReplayServer(recording, speed=1.0) as server, cdpclient.connect(server.address) as target:
        with pytest.raises(CDPTimeout):  # the reply comes 1.5 s after the command, as it did
            await target.evaluate("slowAnswer(1500)", await_promise=True, timeout=0.5)
    async with ReplayServer(recording, speed=None) as server, cdpclient.connect(server.address) as target:
        assert await target.evaluate("slowAnswer(1500)", await_promise=True, timeout=5) == 1500

