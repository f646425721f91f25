"""``export -o -``: a capture into a pipe, in its own format, redacted, or as another format."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nodeproc import run_cli  # type: ignore[attr-defined]

ROOT = Path(__file__).resolve().parents[2]


def test_export_to_stdout_writes_only_the_capture(node_files: dict[str, Path], tmp_path: Path) -> None:
    store = ("--store", str(tmp_path / "rec"))
    done = run_cli("import", str(node_files["heapsnapshot"]), str(node_files["cpuprofile"]), "--json", *store)
    assert done.returncode == 0, done.stderr
    snap, cpu = json.loads(done.stdout)

    def export(*args: str) -> bytes:
        proc = subprocess.run([sys.executable, "-m", "cdpclient_cli.app", "export", *args, "-o", "-", *store],
                              capture_output=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert export(snap["id"]) == node_files["heapsnapshot"].read_bytes()
    redacted = export(snap["id"], "--redact")
    to_file = tmp_path / "red.heapsnapshot"
    assert run_cli("export", snap["id"], "--redact", "-o", str(to_file), *store).returncode == 0
    assert b"SECRET-TOKEN" not in redacted and redacted == to_file.read_bytes()
    collapsed = export(cpu["id"], "--format", "collapsed").decode()
    assert collapsed and all(line.rsplit(" ", 1)[1].isdigit() for line in collapsed.splitlines())
    listing = run_cli("ls", *store)
    assert listing.stdout.splitlines()[0].split()[5:8] == ["SESSION", "/", "SERIES"]
