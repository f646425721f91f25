"""plot, export --format json and show of a watch recording, typed the way a user types them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from nodeproc import NODE, run_cli
from typer.testing import CliRunner

from cdpclient.store import Store
from cdpclient.watch import read_recording
from cdpclient.watch.recording import WatchRecording
from cdpclient_cli.app import app

MIB = 1 << 20
T0 = 1764680400.0


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "rec")


@pytest.fixture
def watch_id(store: Store) -> str:
    """A closed recording: 120 samples, a firing, its capture, a reconnect."""
    w = WatchRecording.create(store, target={"pod": "web-1", "namespace": "shop"}, every_s=1.0,
                              conditions=["heap>85%"], actions=["snapshot"], labels={"watch": "w1"})
    for i in range(120):
        w.sample({"ts": T0 + i, "pod": None, "heap_used": (40 + i) * MIB, "heap_total": (60 + i) * MIB,
                  "heap_limit": 256 * MIB, "rss": (120 + i) * MIB, "memory_limit": 512 * MIB, "fds": 20})
    w.firing(condition="heap>85%", value=0.86, threshold=0.85, action="snapshot", ts=T0 + 60)
    w.capture(id="01ABCDEFGHJK", kind="heapsnapshot", condition="heap>85%", ts=T0 + 61)
    w.event({"t": "reconnect", "ts": T0 + 90, "pod": None, "reason": "connection lost", "attempt": 1})
    w.event({"t": "connected", "ts": T0 + 95, "pod": None})
    return w.close("for elapsed").id


def env(store: Store) -> dict[str, str]:
    return {"CDPCLIENT_STORE": str(store.root)}


def test_plot_writes_an_svg_and_says_what_it_drew(store: Store, watch_id: str, tmp_path: Path) -> None:
    out = tmp_path / "memory.svg"
    done = run_cli("plot", watch_id[:8], "-o", str(out), env=env(store))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr.startswith(f"wrote {out}") and "120 samples over" in done.stderr
    root = ET.fromstring(out.read_bytes())
    assert root.findtext("{http://www.w3.org/2000/svg}title") == "Memory of shop/web-1"
    assert os.stat(out).st_mode & 0o777 == 0o600

    summary = run_cli("plot", watch_id, "-o", str(tmp_path), "--json", "--width", "800", env=env(store))
    assert summary.returncode == 0, summary.stderr
    doc = json.loads(summary.stdout)
    assert doc["capture"] == watch_id and doc["output"] == str(tmp_path / f"{watch_id}.svg")
    assert (doc["samples"], doc["firings"], doc["captures"], doc["truncated_bytes"]) == (120, 1, 1, 0)
    assert doc["span"][0] == T0 and doc["bytes"] == (tmp_path / f"{watch_id}.svg").stat().st_size
    assert ET.fromstring((tmp_path / f"{watch_id}.svg").read_bytes()).get("width") == "800"


def test_plot_refuses_other_kinds_with_one_line(store: Store, tmp_path: Path) -> None:
    subprocess.run([NODE, "--cpu-prof", f"--cpu-prof-dir={tmp_path}", "--cpu-prof-name=cpu.cpuprofile", "-e",
                    "let x = 0; for (let i = 0; i < 1e6; i++) x += i"], check=True, timeout=60)
    cpu = store.import_file(tmp_path / "cpu.cpuprofile")
    refused = run_cli("plot", cpu.id, "-o", str(tmp_path / "x.svg"), env=env(store))
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1
    assert refused.stderr == (f"cdpclient: error: {cpu.id} is a CPU profile; plot draws watch recordings "
                              "(cdpclient ls --kind watch lists them)\n")
    assert not (tmp_path / "x.svg").exists()
    missing = run_cli("plot", "ZZZZZZ", "-o", str(tmp_path / "x.svg"), env=env(store))
    assert missing.returncode == 1 and "no capture matches" in missing.stderr and missing.stderr.count("\n") == 1


def test_export_json_round_trips_the_recording(cli_runner: CliRunner, store: Store, watch_id: str,
                                               tmp_path: Path) -> None:
    done = cli_runner.invoke(app, ["export", watch_id, "--format", "json", "-o", str(tmp_path), "--json"],
                             env=env(store))
    assert done.exit_code == 0, done.output
    path = Path(json.loads(done.stdout)["path"])
    assert path == tmp_path / f"{watch_id}.watch.json" and os.stat(path).st_mode & 0o777 == 0o600
    doc = json.loads(path.read_text())
    rec = read_recording(store.materialize(store.get(watch_id)))
    assert doc["id"] == watch_id and doc["header"] == rec.header
    assert doc["samples"] == [{k: v for k, v in s.items() if k != "t"} for s in rec.samples]
    assert doc["firings"] == [{k: v for k, v in f.items() if k != "t"} for f in rec.firings]
    assert doc["captures"] == [{k: v for k, v in c.items() if k != "t"} for c in rec.captures]
    assert doc["events"] == rec.events and [e["t"] for e in doc["events"]] == ["reconnect", "connected", "end"]
    assert doc["span"] == list(rec.span or ()) and doc["truncated"] is False and doc["truncated_bytes"] == 0

    wrong = cli_runner.invoke(app, ["export", watch_id, "--format", "pprof", "-o", str(tmp_path)], env=env(store))
    assert wrong.exit_code == 2 and wrong.stderr.count("\n") == 1
    assert "--format pprof does not apply" in wrong.stderr and "exports to json only" in wrong.stderr


def test_export_json_of_a_file_outside_the_store(cli_runner: CliRunner, store: Store, watch_id: str,
                                                 tmp_path: Path) -> None:
    src = store.materialize(store.get(watch_id))
    out = tmp_path / "w.json"
    done = cli_runner.invoke(app, ["export", str(src), "-f", "json", "-o", str(out)], env=env(store))
    assert done.exit_code == 0, done.output
    assert len(json.loads(out.read_text())["samples"]) == 120


def test_show_summarises_a_watch_recording(cli_runner: CliRunner, store: Store, watch_id: str) -> None:
    shown = cli_runner.invoke(app, ["show", watch_id], env=env(store))
    assert shown.exit_code == 0, shown.output
    lines = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in shown.stdout.splitlines() if " " in line}
    assert lines["samples"] == "120, every 1.0s"
    assert lines["span"].startswith("2025-12-02 13:00:00 - ")
    assert (lines["firings"], lines["captures"], lines["reconnects"]) == ("1", "1", "1")
    assert lines["truncated"] == "no" and lines["ended"] == "for elapsed"
    as_json = json.loads(cli_runner.invoke(app, ["show", watch_id, "--json"], env=env(store)).stdout)
    assert as_json["kind"] == "watch" and as_json["meta"]["records"]["sample"] == 120


def test_show_of_a_cut_recording_says_so(cli_runner: CliRunner, store: Store, tmp_path: Path) -> None:
    script = (
        "import os, sys\n"
        "from cdpclient.store import Store\n"
        "from cdpclient.watch.recording import WatchRecording\n"
        "w = WatchRecording.create(Store.open(sys.argv[1]), target={}, every_s=1.0, conditions=[], actions=[],"
        " labels={})\n"
        "for i in range(5):\n"
        "    w.sample({'ts': 1000.0 + i, 'heap_used': i})\n"
        "os.write(w._writer._fd, b'\\x82\\xa1t')  # half a record: killed mid-write\n"
        "print(w.id, flush=True)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(store.root)], capture_output=True, text=True,
                          timeout=60, check=True)
    capture_id = proc.stdout.strip()
    shown = cli_runner.invoke(app, ["show", capture_id], env=env(store))
    assert shown.exit_code == 0, shown.output
    assert "ended         no end record (the watcher was stopped or killed)" in shown.stdout
    assert "truncated     yes: a cut record of 3 bytes at the end" in shown.stdout
    svg = run_cli("plot", capture_id, "-o", str(tmp_path / "m.svg"), env=env(store))
    assert svg.returncode == 0, svg.stderr
    assert "5 samples" in svg.stderr and "truncated" in svg.stderr
    assert "truncated: the last 3 bytes are a cut record" in (tmp_path / "m.svg").read_text()
