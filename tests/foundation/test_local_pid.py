"""``--pid``: a local Node process without an open inspector, reached as a pod is: SIGUSR1, the port it
opened found from its own sockets in /proc, the capture, the inspector closed again; ``targets --local``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from nodeproc import run_cli

from cdpclient.local import listening_ports


def _closed(node_app, **kwargs):  # type: ignore[no-untyped-def]
    # --inspect-port=0: SIGUSR1 opens the inspector on a port of the kernel's choosing, found from /proc
    return node_app("idle.js", inspect=False, node_args=("--inspect-port=0",), **kwargs)


def test_info_and_a_snapshot_by_pid_open_the_inspector_and_close_it_again(node_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    node = _closed(node_app)
    pid = node.proc.pid
    assert listening_ports(pid) == set()
    done = run_cli("info", "--pid", str(pid), "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["pid"] == pid and info["target"]["inspector_opened"] is True
    assert "sent SIGUSR1" in done.stderr and f"closed the inspector of pid {pid}" in done.stderr
    assert listening_ports(pid) == set()  # closed: nothing listens any more

    out = tmp_path / "a.heapsnapshot"
    done = run_cli("snapshot", "--pid", str(pid), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 100_000 and out.read_bytes().endswith(b"]}")
    assert listening_ports(pid) == set() and node.proc.poll() is None  # the process goes on, closed again


def test_keep_inspector_leaves_it_open_and_an_open_one_is_used_as_it_is(node_app) -> None:  # type: ignore[no-untyped-def]
    node = _closed(node_app)
    done = run_cli("info", "--pid", str(node.proc.pid), "--keep-inspector", "--json")
    assert done.returncode == 0, done.stderr
    assert "leaving the inspector" in done.stderr and len(listening_ports(node.proc.pid)) == 1
    again = run_cli("info", "--pid", str(node.proc.pid), "--json")  # already open: used, left open
    assert again.returncode == 0 and json.loads(again.stdout)["target"]["inspector_opened"] is False
    assert "already listening" in again.stderr and len(listening_ports(node.proc.pid)) == 1

    listed = run_cli("targets", "--local", "--json")
    assert listed.returncode == 0, listed.stderr
    mine = {p["pid"]: p for p in json.loads(listed.stdout)}
    assert mine[node.proc.pid]["inspector"] is True and mine[node.proc.pid]["port"] in listening_ports(node.proc.pid)
    closed = _closed(node_app)
    listed = run_cli("targets", "--local", "--json")
    assert {p["pid"]: p for p in json.loads(listed.stdout)}[closed.proc.pid]["inspector"] is False
    assert listening_ports(closed.proc.pid) == set()  # listing opens nothing


def test_a_pid_that_is_not_node_or_not_there_is_one_line() -> None:
    for pid, words in ((os.getpid(), "is not a Node.js process"), (2**22 + 7, "no process")):
        done = run_cli("info", "--pid", str(pid))
        assert done.returncode == 1 and words in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    both = run_cli("info", "127.0.0.1:9229", "--pid", "1")
    assert both.returncode == 2 and "not both" in both.stderr
