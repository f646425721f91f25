"""Recording real inspector sessions (``--record``) and replaying them (``cdpclient replay``).

Every recording here is made from a live ``node --inspect`` process; the replays are
the real ``cdpclient replay`` server, and the clients are cdpclient's own commands,
its Connection, and chrome-remote-interface from the npm registry.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from nodeproc import NODE, NodeProcess, run_cli

import cdpclient
from cdpclient.errors import ProtocolError
from cdpclient.recording import ReplayServer, read_recording, recording_to, summarize
from cdpclient.recording import format as fmt

REPO = Path(__file__).parent.parent.parent
CRI_PREFIX = REPO / ".cache" / "chrome-remote-interface"


class Replay:
    """``cdpclient replay FILE --once`` in a subprocess; ``endpoint`` is where it listens."""

    def __init__(self, path: Path, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "cdpclient_cli.app", "replay", str(path), "--once", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("replaying "), line + (self.proc.stderr.read() if self.proc.stderr else "")
        self.endpoint = line.split(" on ", 1)[1].split(" ", 1)[0]

    def finish(self, timeout: float = 10) -> tuple[int, str]:
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=5)
        return self.proc.returncode, err


@pytest.fixture
def replays() -> Iterator[list[Replay]]:
    started: list[Replay] = []
    yield started
    for replay in started:
        if replay.proc.poll() is None:
            replay.proc.kill()
            replay.proc.communicate(timeout=5)


def _record(node: NodeProcess, tmp_path: Path, name: str, *command: str) -> tuple[Path, Path]:
    rec, out = tmp_path / f"{name}.cdprec", tmp_path / f"{name}.recorded"
    done = run_cli(*command, node.endpoint, "--record", str(rec), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "recorded " in done.stderr
    return rec, out


@pytest.mark.compat
@pytest.mark.parametrize("command", [("snapshot",), ("cpu", "--duration", "0.5s")], ids=["snapshot", "cpu"])
def test_capture_against_its_replay_is_byte_identical(node, tmp_path, replays, command) -> None:  # type: ignore[no-untyped-def]
    rec, recorded = _record(node, tmp_path, command[0], *command)
    assert stat.S_IMODE(rec.stat().st_mode) == 0o600
    replay = Replay(rec, "--speed", "1" if command[0] == "cpu" else "max")
    replays.append(replay)
    replayed = tmp_path / f"{command[0]}.replayed"
    done = run_cli(*command, replay.endpoint, "--out", str(replayed))
    assert done.returncode == 0, done.stderr
    assert replayed.read_bytes() == recorded.read_bytes()
    code, err = replay.finish()
    assert code == 0, err
    # What the capture asks after its file is complete (the snapshot's follow-up: the object-id witness,
    # rss after) races the command's exit, so a replay may be asked it when the recording was not.
    follow_up = ('"objectGroup":"cdpclient-ids"', "HeapProfiler.getHeapObjectId", "Runtime.releaseObjectGroup",
                 "process.memoryUsage().rss")
    for line in err.splitlines():
        assert any(text in line for text in follow_up), err

    shown = run_cli("show", str(rec), "--json")
    assert shown.returncode == 0, shown.stderr
    import json

    info = json.loads(shown.stdout)
    assert info["complete"] and info["sessions"] == 1 and info["description"]["command"] == command[0]
    assert info["node_version"] and info["node_version"].startswith("v")
    assert info["targets"] and info["targets"][0]["url"].endswith("idle.js")
    key = "HeapProfiler.takeHeapSnapshot" if command[0] == "snapshot" else "Profiler.stop"
    assert info["commands"][key] == 1
    human = run_cli("show", str(rec))
    assert human.returncode == 0 and "commands:" in human.stdout and key in human.stdout


def test_chunks_left_out_keep_count_size_and_sha256(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    full, snapshot = _record(node, tmp_path, "full", "snapshot")
    rec, out = tmp_path / "digest.cdprec", tmp_path / "digest.heapsnapshot"
    done = run_cli("snapshot", node.endpoint, "--record", str(rec), "--record-no-chunks", "--out", str(out))
    assert done.returncode == 0, done.stderr
    runs = [r for r in read_recording(rec).records if r["t"] == fmt.CHUNKS]
    assert len(runs) == 1 and runs[0]["count"] > 1
    assert runs[0]["size"] == out.stat().st_size  # the chunks are the file, in order
    assert runs[0]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert rec.stat().st_size * 5 < full.stat().st_size
    shown = run_cli("show", str(rec))
    assert "left out" in shown.stdout


async def test_truncated_recording_reads_and_replays_up_to_the_cut(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rec = tmp_path / "session.cdprec"
    with recording_to(rec):
        async with cdpclient.connect(node.endpoint) as target:
            for n in range(6):
                assert await target.evaluate(f"{n} * 7") == n * 7
    whole = read_recording(rec)
    assert not whole.truncated
    data = rec.read_bytes()
    cut = tmp_path / "cut.cdprec"
    # A cut anywhere reads up to a complete record, and says it is cut; the middle of the file is mid-record.
    for size in range(len(data) // 2, len(data) - 1, max(1, len(data) // 40)):
        cut.write_bytes(data[:size])
        part = read_recording(cut)
        assert part.truncated and part.problem, size
        assert part.records == whole.records[:len(part.records)]
    cut.write_bytes(data[:len(data) * 3 // 4])
    part = read_recording(cut)
    sent = [r for r in part.records if r["t"] == fmt.SEND]
    replied = [r for r in part.records if r["t"] == fmt.RECV and r["text"].startswith('{"id"')]
    assert 0 < len(replied) < 6 + 1

    shown = run_cli("show", str(cut))
    assert shown.returncode == 1 and "cut short" in shown.stderr and "Runtime.evaluate" in shown.stdout

    notes: list[str] = []
    async with ReplayServer(part, speed=None, on_note=notes.append) as server:
        assert any("cut short" in n for n in notes)
        async with cdpclient.connect(server.address) as target:
            for text in [r["text"] for r in sent][:len(replied)]:
                import json

                msg = json.loads(text)
                await target.send(msg["method"], msg.get("params"))
            last = "the recording ends before the reply" if len(sent) > len(replied) else "is not in the recording"
            with pytest.raises(ProtocolError, match=last):
                await target.evaluate(f"{len(replied) + 5} * 7")
            with pytest.raises(ProtocolError, match="Debugger.enable is not in the recording"):
                await target.send("Debugger.enable")
    assert any("Debugger.enable is not in the recording" in n for n in notes)


def test_a_client_that_deviates_gets_a_cdp_error_and_the_replay_says_so(node, tmp_path, replays) -> None:  # type: ignore[no-untyped-def]
    rec, _ = _record(node, tmp_path, "cpu", "cpu", "--duration", "0.2s")
    replay = Replay(rec, "--speed", "max")
    replays.append(replay)
    done = run_cli("snapshot", replay.endpoint, "--out", str(tmp_path / "never.heapsnapshot"))
    assert done.returncode != 0
    assert "not in the recording" in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    replay.proc.terminate()
    _, err = replay.finish()
    assert "cdpclient replay: HeapProfiler" in err or "cdpclient replay: Runtime" in err, err


def test_record_by_environment_on_a_discovery_command_and_never_overwrite(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rec = tmp_path / "targets.cdprec"
    done = run_cli("targets", node.endpoint, "--json", env={"CDPCLIENT_RECORD": str(rec)})
    assert done.returncode == 0, done.stderr
    paths = [r["path"] for r in read_recording(rec).records if r["t"] == fmt.HTTP]
    assert "/json/list" in paths and "/json/version" in paths
    again = run_cli("targets", node.endpoint, "--record", str(rec))
    assert again.returncode != 0 and "exists" in again.stderr and "Traceback" not in again.stderr


async def test_recording_off_writes_nothing_and_holds_no_recorder(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    before = set(os.listdir(tmp_path))
    async with cdpclient.connect(node.endpoint) as target:
        assert target.connection._recorder is None
        assert await target.evaluate("1 + 1") == 2
    assert set(os.listdir(tmp_path)) == before
    done = run_cli("targets", node.endpoint, "--json", env={"CDPCLIENT_RECORD": ""})
    assert done.returncode == 0 and "recorded" not in done.stderr


def test_replay_refuses_a_non_loopback_address(tmp_path) -> None:
    rec = tmp_path / "empty.cdprec"
    with recording_to(rec):
        pass
    assert summarize(read_recording(rec))["sessions"] == 0
    done = run_cli("replay", str(rec), "--listen", "0.0.0.0:0")
    assert done.returncode != 0 and "loopback" in done.stderr and "--allow-remote" in done.stderr


def test_pod_path_inserts_the_pod_name() -> None:
    from cdpclient.recording import pod_path

    assert pod_path("run/incident.cdprec", "api-7f9c").as_posix() == "run/incident.api-7f9c.cdprec"
    assert pod_path("incident", "a/b").as_posix() == "incident.a_b"


def _cri() -> Path:
    modules = CRI_PREFIX / "node_modules"
    if (modules / "chrome-remote-interface").is_dir():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: chrome-remote-interface cannot be installed")
    CRI_PREFIX.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(CRI_PREFIX),
                           "chrome-remote-interface"], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"npm install chrome-remote-interface failed: {proc.stderr[-2000:]}")
    return modules


_CRI_JS = """
const CDP = require('chrome-remote-interface');
(async () => {
  const [host, port] = [process.argv[2], Number(process.argv[3])];
  const targets = await CDP.List({host, port});
  const client = await CDP({host, port, local: true});
  const reply = await client.Runtime.evaluate({expression: '6 * 7', returnByValue: true});
  let error = null;
  try { await client.Debugger.enable(); } catch (e) { error = e.message || String(e); }
  await client.close();
  console.log(JSON.stringify({targets: targets.map(t => t.id), value: reply.result.value, error}));
})().catch(e => { console.error(e); process.exit(1); });
"""


async def test_chrome_remote_interface_attaches_to_a_replay(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    modules = _cri()
    rec = tmp_path / "cri.cdprec"
    with recording_to(rec):
        async with cdpclient.connect(node.endpoint) as target:
            await target.send("Runtime.evaluate", {"expression": "6 * 7", "returnByValue": True})
    script = tmp_path / "cri.js"
    script.write_text(_CRI_JS)
    import asyncio
    import json

    notes: list[str] = []
    async with ReplayServer(read_recording(rec), speed=None, on_note=notes.append) as server:
        proc = await asyncio.create_subprocess_exec(
            NODE, str(script), server.host, str(server.port), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "NODE_PATH": str(modules)})
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)
    assert result["value"] == 42
    assert result["targets"] == [_listed_id(rec)]
    assert "Debugger.enable is not in the recording" in result["error"]
    assert any("Debugger.enable" in n for n in notes)


def _listed_id(rec: Path) -> str:
    import json

    body = next(r["body"] for r in read_recording(rec).records if r["t"] == fmt.HTTP and r["path"] == "/json/list")
    return str(json.loads(body)[0]["id"])


async def test_speed_1_keeps_the_recorded_delay_and_max_drops_it(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import time

    rec = tmp_path / "slow.cdprec"
    slow = "new Promise(resolve => setTimeout(() => resolve(5), 400))"
    with recording_to(rec):
        async with cdpclient.connect(node.endpoint) as target:
            assert await target.evaluate(slow, await_promise=True) == 5
    recording = read_recording(rec)
    took = {}
    for speed in (1.0, None):
        async with ReplayServer(recording, speed=speed) as server:
            async with cdpclient.connect(server.address) as target:
                start = time.monotonic()
                assert await target.evaluate(slow, await_promise=True) == 5
                took[speed] = time.monotonic() - start
    assert took[1.0] >= 0.35 and took[None] < 0.2, took


def test_a_killed_recorder_leaves_a_readable_recording(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import signal
    import time

    rec = tmp_path / "killed.cdprec"
    proc = subprocess.Popen([sys.executable, "-m", "cdpclient_cli.app", "cpu", node.endpoint, "--duration", "30s",
                             "--record", str(rec), "--out", str(tmp_path / "never.cpuprofile")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if rec.exists() and any('"method":"Profiler.start"' in r.get("text", "")
                                    for r in read_recording(rec).records):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the recording never showed Profiler.start")
        time.sleep(0.2)  # its reply
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    recording = read_recording(rec)
    assert recording.truncated and "stopped" in (recording.problem or "")
    kinds = [r["t"] for r in recording.records]
    assert kinds[0] == fmt.HTTP and fmt.OPEN in kinds and fmt.CLOSE not in kinds
    assert summarize(recording)["commands"]["Profiler.start"] == 1


@pytest.mark.parametrize("command", ["targets", "info", "snapshot", "cpu", "sample", "timeline", "report", "watch"])
def test_every_target_command_takes_record(cli_runner, command) -> None:  # type: ignore[no-untyped-def]
    from cdpclient_cli.app import app

    result = cli_runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--record" in result.output and "CDPCLIENT_RECORD" in result.output and "--record-no-chunks" in result.output


def test_watch_of_one_target_is_recorded(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rec = tmp_path / "watch.cdprec"
    done = run_cli("watch", node.endpoint, "--every", "0.2s", "--for", "0.6s", "--record", str(rec),
                   "--store", str(tmp_path / "store"))
    assert done.returncode == 0, done.stderr
    info = summarize(read_recording(rec))
    assert info["complete"] and info["description"]["command"] == "watch" and info["commands"]["Runtime.evaluate"] >= 2


def test_a_recording_is_a_store_kind_and_replays_by_id(node, tmp_path, replays) -> None:  # type: ignore[no-untyped-def]
    import json

    rec, recorded = _record(node, tmp_path, "stored", "cpu", "--duration", "0.2s")
    store = str(tmp_path / "store")
    done = run_cli("import", str(rec), "--store", store)
    assert done.returncode == 0 and "(recording," in done.stdout, done.stdout + done.stderr
    listed = json.loads(run_cli("ls", "--kind", "recording", "--store", store, "--json").stdout)
    assert [r["kind"] for r in listed] == ["recording"]
    ref = listed[0]["id"]
    assert listed[0]["meta"]["records"]["send"] >= 5 if "meta" in listed[0] else True
    shown = run_cli("show", ref, "--store", store)
    assert shown.returncode == 0 and "Profiler.stop" in shown.stdout and ref in shown.stdout, shown.stderr
    replay = Replay(Path(ref), "--store", store, "--speed", "max")
    replays.append(replay)
    again = tmp_path / "again.cpuprofile"
    done = run_cli("cpu", replay.endpoint, "--duration", "0.2s", "--out", str(again))
    assert done.returncode == 0, done.stderr
    assert again.read_bytes() == recorded.read_bytes()
    assert replay.finish()[0] == 0


async def test_replies_carry_the_clients_own_ids(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rec = tmp_path / "ids.cdprec"
    with recording_to(rec):
        async with cdpclient.connect(node.endpoint) as target:
            values = [await target.evaluate(f"{n} + 0.5") for n in range(3)]
    async with ReplayServer(read_recording(rec), speed=None) as server:
        import aiohttp

        async with aiohttp.ClientSession() as http:  # a plain GET of the websocket path uses no session up
            listed = await (await http.get(f"http://{server.address}/json/list")).json()
            path = listed[0]["webSocketDebuggerUrl"].split(server.address, 1)[1]
            assert (await http.get(f"http://{server.address}{path}")).status == 400
            assert (await http.get(f"http://{server.address}/json/protocol")).status == 404
        async with cdpclient.connect(server.address, command_timeout=5) as target:
            with pytest.raises(ProtocolError):
                await target.send("Debugger.enable")  # takes id 1: every later id is one past the recorded one
            assert [await target.evaluate(f"{n} + 0.5") for n in (0, 1, 2)] == values


async def test_a_command_asked_before_its_turn_is_held_and_said(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    rec = tmp_path / "order.cdprec"
    with recording_to(rec):
        async with cdpclient.connect(node.endpoint) as target:
            assert [await target.evaluate(f"{n} * 3") for n in (1, 2)] == [3, 6]
    notes: list[str] = []
    async with ReplayServer(read_recording(rec), speed=None, on_note=notes.append) as server:
        async with cdpclient.connect(server.address) as target:
            second = asyncio.ensure_future(target.evaluate("2 * 3"))  # before its turn: held
            await asyncio.sleep(0.2)
            assert not second.done()
            assert any("waits for Runtime.evaluate" in n for n in notes), notes
            assert await target.evaluate("1 * 3") == 3  # its turn comes, and so does the held reply
            assert await asyncio.wait_for(second, 5) == 6


def test_the_package_exports_resolve() -> None:
    import cdpclient.recording as package

    for name in package.__all__:
        assert getattr(package, name) is not None, name
    with pytest.raises(AttributeError):
        package.nonsense  # noqa: B018


def test_the_sync_facade_records_what_the_callers_thread_asked_for(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # its loop runs in a thread of its own: each call carries the caller's context (the active recorder)
    import cdpclient.sync

    rec = tmp_path / "sync.cdprec"
    with recording_to(rec), cdpclient.sync.connect(node.endpoint) as target:
        assert target.evaluate("6 * 7") == 42
    summary = summarize(read_recording(rec))
    assert "Runtime.evaluate" in json_text(summary)


def json_text(value: object) -> str:
    import json

    return json.dumps(value, default=str)
