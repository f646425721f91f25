"""The targets and info commands, typed the way a user types them."""

from __future__ import annotations

import json
import socket

import pytest
from nodeproc import run_cli

from cdpclient_cli.app import app

pytestmark = pytest.mark.compat


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_targets_table_and_json(node, cli_runner) -> None:  # type: ignore[no-untyped-def]
    result = cli_runner.invoke(app, ["targets", node.endpoint])
    assert result.exit_code == 0, result.output
    assert "node.js/v" in result.stdout and "idle.js" in result.stdout and "TYPE" in result.stdout
    result = cli_runner.invoke(app, ["targets", node.endpoint, "--json"])
    rows = json.loads(result.stdout)
    assert len(rows) == 1 and rows[0]["type"] == "node" and rows[0]["browser"].startswith("node.js/v")


def test_info_json(node, cli_runner) -> None:  # type: ignore[no-untyped-def]
    result = cli_runner.invoke(app, ["info", node.endpoint, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["pid"] == node.pid and data["heap_used"] > 0 and data["rss"] > 0
    assert data["target"]["endpoint"] == node.endpoint
    assert "memory_limit" in data
    text = cli_runner.invoke(app, ["info", node.endpoint]).stdout
    assert f"pid:          {node.pid}" in text and "memory limit:" in text


def test_errors_are_one_line(node) -> None:  # type: ignore[no-untyped-def]
    closed = run_cli("info", f"127.0.0.1:{free_port()}")
    assert closed.returncode == 1
    assert closed.stderr.strip().count("\n") == 0 and "connection refused" in closed.stderr
    assert "Traceback" not in closed.stderr

    bad = run_cli("info", "https://nope:1")
    assert bad.returncode == 2 and "unsupported endpoint" in bad.stderr and bad.stderr.count("\n") == 1

    usage = run_cli("info", "--no-such-flag")
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1 and "No such option" in usage.stderr

    debug = run_cli("--debug", "info", f"127.0.0.1:{free_port()}")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_help_shows_examples() -> None:
    top = run_cli("--help")
    assert top.returncode == 0 and "cdpclient targets" in top.stdout
    for command in ("targets", "info"):
        out = run_cli(command, "--help")
        assert out.returncode == 0 and f"cdpclient {command}" in out.stdout and "--pod" in out.stdout


def test_sigterm_cancels_the_command_so_cleanup_runs(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A long CPU profile killed with SIGTERM: the command is cancelled (its finally blocks run),
    # exits 143 with one line, and the target's profiler is stopped (the session is closed cleanly).
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    out = tmp_path / "cut.cpuprofile"
    proc = subprocess.Popen([sys.executable, "-m", "cdpclient_cli.app", "cpu", node.endpoint, "--duration", "60s",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parents[2])
    # SIGTERM once the profile is recording (V8's profiler thread exists), not after a guessed delay:
    # on a loaded machine the command may not have started yet.
    deadline = time.monotonic() + 30
    while not any((t / "comm").read_text().strip() == "v8:ProfEvntProc"
                  for t in Path(f"/proc/{node.proc.pid}/task").iterdir()):
        assert time.monotonic() < deadline and proc.poll() is None, "the profile never started"
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 143, (stdout, stderr)
    assert "terminated" in stderr and "Traceback" not in stderr
    assert not out.exists()


def test_version_and_debug_anywhere_on_the_line() -> None:
    from importlib.metadata import version

    for flag in ("--version", "-V"):
        done = run_cli(flag)
        assert done.returncode == 0 and done.stdout.startswith(f"cdpclient {version('cdpclient')} "), done
    late = run_cli("info", f"127.0.0.1:{free_port()}", "--debug")  # after the command and its argument
    assert late.returncode == 1 and "Traceback" in late.stderr and "ConnectionRefused" in late.stderr


@pytest.mark.parametrize(("args", "words"), [
    (("snapshot", "--count", "0"), "Invalid value for --count: must be 1 or more"),
    (("snapshot", "--count", "many"), "Invalid value for --count: not a whole number"),
    (("cpu", "--duration", "0"), "Invalid value for --duration: must be more than zero"),
])
def test_bad_values_in_the_projects_own_words(args: tuple[str, ...], words: str) -> None:
    done = run_cli(*args)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"cdpclient: error: {words} (see 'cdpclient {args[0]} --help')"), lines[0]
    assert "Input should" not in lines[0]


def test_ws_url_with_an_unknown_id_lists_the_ids_and_a_known_one_fills_the_url(node) -> None:  # type: ignore[no-untyped-def]
    done = run_cli("info", f"ws://127.0.0.1:{node.port}/no-such-id")
    assert done.returncode == 1
    assert f"no target 'no-such-id' at 127.0.0.1:{node.port} (targets: {node.ws_url.rsplit('/', 1)[-1]}" in done.stderr
    known = run_cli("info", node.ws_url, "--json")
    assert known.returncode == 0, known.stderr
    assert json.loads(known.stdout)["target"]["url"].endswith("idle.js")
