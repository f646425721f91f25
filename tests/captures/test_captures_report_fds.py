"""The report's open descriptors: counted in the target, split by kind, against the soft limit.

The truth is the app's own count (``leak_fds.js`` prints how many it opened) and
``/proc/PID/fd`` read from here.  The soft limit is lowered on the running process
with ``prlimit --pid`` (Node raises its soft limit to the hard one at start, so a
limit set before exec would not stay): the incident's shape, a low soft limit
under a high hard one.  ``/dev/null`` counts under ``devices``, not ``files``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from nodeproc import run_cli, wait_output  # type: ignore[attr-defined]

import cdpclient
from cdpclient.captures.report import _REPORT_JS, ReportSummary, summarize_report
from cdpclient_cli.capture import format_summary

OPENED = 560  # /dev/null descriptors the app opens: with Node's own (20-40) past 80% of 650
INCIDENT_SOFT = 650


def _opened(app: Any) -> int:
    return max(int(line.split()[1]) for line in app.output if line.startswith("open "))


def _hard_limit(pid: int) -> int:
    with open(f"/proc/{pid}/limits", encoding="ascii") as fh:
        line = next(line for line in fh if line.startswith("Max open files"))
    return int(line.split()[4])


def _set_soft_limit(pid: int, soft: int) -> None:
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={soft}:"], check=True)


@pytest.fixture
def leaking(node_app):  # type: ignore[no-untyped-def]
    app = node_app("leak_fds.js", "0", str(OPENED))
    wait_output(app, f"open {OPENED}")
    wait_output(app, "ready")
    return app


@pytest.mark.compat
async def test_open_fds_counted_in_the_target(leaking, tmp_path: Path) -> None:
    app = leaking
    assert _opened(app) == OPENED
    async with cdpclient.connect(app.endpoint) as target:
        result = await target.diagnostic_report(tmp_path / "r.json")
        outside = len(os.listdir(f"/proc/{app.pid}/fd"))
    summary = ReportSummary(**result.meta["summary"])
    assert summary.open_fds is not None
    assert OPENED < summary.open_fds <= OPENED + 60  # Node's own: stdio, epoll, eventfds, pipes, the inspector
    assert abs(summary.open_fds - outside) <= 1
    assert summary.fds_by_kind["devices"] >= OPENED  # /dev/null, and Node's stdin from DEVNULL
    assert sum(summary.fds_by_kind.values()) == summary.open_fds
    assert list(summary.fds_by_kind) == sorted(summary.fds_by_kind, key=lambda k: -summary.fds_by_kind[k])
    assert "open_fds" not in json.loads(result.path.read_text())  # the file stays the report Node wrote


@pytest.mark.compat
async def test_fds_counted_without_the_command_line_api(leaking) -> None:
    """The count needs no `require` in scope (process.getBuiltinModule, Node 20.16+/22.3+)."""
    async with cdpclient.connect(leaking.endpoint) as target:
        value = await target.evaluate(_REPORT_JS, include_command_line_api=False)
    assert value["fds"]["count"] > OPENED and value["fds"]["kinds"]["devices"] >= OPENED


@pytest.mark.compat
async def test_highlight_past_80_percent_of_the_soft_limit_first(leaking, tmp_path: Path) -> None:
    _set_soft_limit(leaking.pid, INCIDENT_SOFT)
    async with cdpclient.connect(leaking.endpoint) as target:
        summary = ReportSummary(**(await target.diagnostic_report(tmp_path / "r.json")).meta["summary"])
    n = summary.open_fds
    assert n is not None and n >= 0.8 * INCIDENT_SOFT
    assert summary.open_files_soft == INCIDENT_SOFT and summary.open_files_hard == _hard_limit(leaking.pid)
    kinds = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in summary.fds_by_kind.items())
    assert summary.highlights[0] == (f"{n} of {INCIDENT_SOFT} open files ({n / INCIDENT_SOFT:.0%} of the soft "
                                     f"limit): {kinds}")
    assert kinds.startswith(f"{summary.fds_by_kind['devices']} devices, ")
    assert not any(h.startswith("open files limit") for h in summary.highlights)  # said once


@pytest.mark.compat
async def test_no_80_percent_highlight_below_it(leaking, tmp_path: Path) -> None:
    soft = 2 * len(os.listdir(f"/proc/{leaking.pid}/fd"))  # about 50%: still a low limit
    _set_soft_limit(leaking.pid, soft)
    async with cdpclient.connect(leaking.endpoint) as target:
        summary = ReportSummary(**(await target.diagnostic_report(tmp_path / "r.json")).meta["summary"])
    n = summary.open_fds
    assert n is not None and n < 0.8 * soft
    assert not any("of the soft limit" in h for h in summary.highlights)
    assert (f"open files limit {soft} (hard {summary.open_files_hard}); {n} open ({n / soft:.0%}), "
            f"{sum(summary.handles.values())} libuv handles") in summary.highlights


@pytest.mark.compat
async def test_inbound_by_listening_port_outbound_by_peer(node_app, tmp_path: Path) -> None:
    app = node_app("many_inbound.js", "12", "5")
    wait_output(app, "ready")
    port_a, port_b = (int(p) for p in next(line for line in app.output if line.startswith("ready")).split()[1:])
    async with cdpclient.connect(app.endpoint) as target:
        summary = ReportSummary(**(await target.diagnostic_report(tmp_path / "r.json")).meta["summary"])
    # B listens on 0.0.0.0: its accepted sockets (local 127.0.0.1:B) still group under its port.
    assert summary.inbound == [{"port": port_a, "count": 12}, {"port": port_b, "count": 5}]
    assert summary.outbound == [{"peer": f"127.0.0.1:{port_a}", "count": 12},
                                {"peer": f"127.0.0.1:{port_b}", "count": 5}]
    assert summary.fds_by_kind["sockets"] >= 2 * 17 + 2
    # The old grouping is unchanged beside the new one.
    assert {"protocol": "TCP", "endpoint": f"127.0.0.1:{port_a}", "count": 12} in summary.sockets
    text = format_summary(summary.to_dict()).splitlines()
    assert f"      12 inbound on :{port_a}" in text and f"       5 inbound on :{port_b}" in text
    assert f"      12 outbound to 127.0.0.1:{port_a}" in text


def test_cli_report_says_the_fd_ceiling_first(leaking, tmp_path: Path) -> None:
    _set_soft_limit(leaking.pid, INCIDENT_SOFT)
    hard = _hard_limit(leaking.pid)
    proc = run_cli("report", leaking.endpoint, "--out", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(rf"! (\d+) of {INCIDENT_SOFT} open files \(\d+% of the soft limit\): \d+ devices, .*",
                        lines[1]), lines
    n = int(lines[1].split()[1])
    assert f"open files   {n} of {INCIDENT_SOFT} soft ({hard} hard): " + lines[1].split(": ", 1)[1] in lines
    as_json = run_cli("report", leaking.endpoint, "--out", str(tmp_path / "r2.json"), "--json")
    assert as_json.returncode == 0, as_json.stderr
    summary = json.loads(as_json.stdout)["meta"]["summary"]
    assert abs(summary["open_fds"] - n) <= 1 and summary["fds_by_kind"]["devices"] >= OPENED
    assert summary["inbound"] == [] and summary["outbound"] == []
    assert summary["highlights"][0].startswith(f"{summary['open_fds']} of {INCIDENT_SOFT} open files (")


def test_a_report_without_fd_data_still_summarizes() -> None:
    """A report read from a file (store import, kube pull) has no count: unknown, the old rules apply."""
    report = {
        "header": {"processId": 7, "nodejsVersion": "v20.20.2"},
        "userLimits": {"open_files": {"soft": 1024, "hard": 4096}},
        "libuv": [{"type": "tcp", "is_active": True, "localEndpoint": {"ip4": "0.0.0.0", "port": 8080}},
                  {"type": "tcp", "is_active": True, "localEndpoint": {"ip4": "10.0.0.2", "port": 8080},
                   "remoteEndpoint": {"ip4": "10.0.0.9", "port": 50000}},
                  {"type": "tcp", "is_active": True, "localEndpoint": {"ip4": "10.0.0.2", "port": 41000},
                   "remoteEndpoint": {"ip4": "10.0.0.5", "port": 5432}}],
    }
    summary = summarize_report(report)
    assert summary.open_fds is None and summary.fds_by_kind == {}
    assert summary.inbound == [{"port": 8080, "count": 1}]
    assert summary.outbound == [{"peer": "10.0.0.5:5432", "count": 1}]
    assert summary.highlights == ["open files limit 1024 (hard 4096); 3 libuv handles open"]
    assert ReportSummary(**summary.to_dict()) == summary
    text = format_summary(summary.to_dict())
    assert "open files   limit 1024 soft, 4096 hard; open count unknown (no /proc/self/fd)" in text.splitlines()
    # A summary stored before these fields existed reads back with them unknown.
    old = {k: v for k, v in summary.to_dict().items() if k not in ("open_fds", "fds_by_kind", "inbound", "outbound")}
    assert ReportSummary(**old).open_fds is None
    assert "open count unknown" in format_summary(old)
