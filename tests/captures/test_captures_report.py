"""Diagnostic reports: the file as Node writes it, and a summary that puts the incident first."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from nodeproc import run_cli  # type: ignore[attr-defined]

import cdpclient
from cdpclient.captures.report import summarize_report

from .conftest import load_json


@pytest.fixture
def leaky(shell_node):  # type: ignore[no-untyped-def]
    # Node raises its soft open files limit to the hard one at start: lower both.
    app = shell_node("ulimit -n 1024;", "many_sockets.js", "25")
    port = int(next(line for line in app.output if line.startswith("ready")).split()[1])
    return app, port


@pytest.mark.compat
async def test_report_written_and_summarized(leaky, tmp_path: Path) -> None:
    app, port = leaky
    async with cdpclient.connect(app.endpoint) as target:
        result = await target.diagnostic_report(tmp_path / "r.json")
    report = load_json(result.path)
    assert stat.S_IMODE(os.stat(result.path).st_mode) == 0o600
    assert report["header"]["processId"] == app.pid == result.pid
    summary = result.meta["summary"]
    assert summary["sockets"][0] == {"protocol": "TCP", "endpoint": f"127.0.0.1:{port}", "count": 25}
    assert {"protocol": "TCP", "endpoint": f"listening 127.0.0.1:{port}", "count": 1} in summary["sockets"]
    assert summary["handles"]["tcp"] >= 51  # 25 clients, 25 accepted, 1 server (+ the inspector's)
    assert summary["open_files_soft"] == 1024
    assert f"25 TCP sockets to 127.0.0.1:{port}" in summary["highlights"]
    assert any(h.startswith("open files limit 1024") for h in summary["highlights"])
    assert summary["heap_used"] > 0 and summary["rss"] > summary["heap_used"]


def test_cli_report_puts_the_incident_first(leaky, tmp_path: Path) -> None:
    app, port = leaky
    proc = run_cli("report", app.endpoint, "--out", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"saved report {tmp_path / 'r.json'}")
    assert lines[1] == f"! 25 TCP sockets to 127.0.0.1:{port}"
    assert lines[2].startswith("! open files limit 1024 (hard ")
    assert any(line.split() == ["25", "TCP", f"127.0.0.1:{port}"] for line in lines)
    as_json = run_cli("report", app.endpoint, "--out", str(tmp_path / "r2.json"), "--json")
    assert json.loads(as_json.stdout)["meta"]["summary"]["open_files_soft"] == 1024


def test_summary_of_an_older_report_shape() -> None:
    """Node 14-era reports: no resourceUsage.rss, hosts without ip4, string limits."""
    report = {
        "header": {"processId": 7, "nodejsVersion": "v14.21.3"},
        "javascriptHeap": {"usedMemory": 900, "totalMemory": 1000, "memoryLimit": 1000},
        "userLimits": {"open_files": {"soft": "unlimited", "hard": "unlimited"}},
        "libuv": [{"type": "tcp", "is_active": True, "remoteEndpoint": {"host": "db.internal", "port": 5432}}] * 30
                 + [{"type": "udp", "is_active": True, "remoteEndpoint": {"ip6": "::1", "port": 53}},
                    {"type": "loop", "is_active": True}],
    }
    summary = summarize_report(report)
    assert summary.sockets[0] == {"protocol": "TCP", "endpoint": "db.internal:5432", "count": 30}
    assert summary.sockets[1]["endpoint"] == "[::1]:53"
    assert summary.rss is None and summary.open_files_soft == "unlimited"
    assert summary.highlights == ["30 TCP sockets to db.internal:5432", "heap at 90% of V8's heap limit"]
