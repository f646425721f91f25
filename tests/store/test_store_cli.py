"""ls, show, rm, prune, import, export and store reindex, typed the way a user types them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cdpclient_cli.app import app

ROOT = Path(__file__).parent.parent.parent

Cli = Callable[..., Result]


@pytest.fixture
def cli(cli_runner: CliRunner, tmp_path: Path) -> Cli:
    """``cli(*args)`` runs cdpclient in-process with a fresh store in $CDPCLIENT_STORE."""
    env = {"CDPCLIENT_STORE": str(tmp_path / "rec")}

    def run(*args: str, input: str | None = None) -> Result:
        return cli_runner.invoke(app, list(args), env=env, input=input)

    return run


def test_import_ls_show_export_rm(cli: Cli, node_files: dict[str, Path], tmp_path: Path) -> None:
    done = cli("import", str(node_files["heapsnapshot"]), str(node_files["cpuprofile"]), "--label", "env=prod",
               "--json")
    assert done.exit_code == 0, done.output
    snap, cpu = json.loads(done.stdout)
    assert (snap["kind"], cpu["kind"]) == ("heapsnapshot", "cpuprofile")

    listing = cli("ls")
    assert listing.exit_code == 0
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["ID", "KIND", "WHEN", "TARGET", "SIZE", "SESSION", "/", "SERIES", "LABELS", "STATUS"]
    assert any(snap["id"] in line and "env=prod" in line and "file:plain.heapsnapshot" in line and line.endswith("ok")
               for line in lines)
    assert [r["id"] for r in json.loads(cli("ls", "--kind", "cpuprofile", "--json").stdout)] == [cpu["id"]]
    assert json.loads(cli("ls", "--label", "env=dev", "--json").stdout) == []
    assert len(json.loads(cli("ls", "--since", "7d", "--target", "plain", "--json").stdout)) == 1

    shown = cli("show", snap["id"][:10])
    assert shown.exit_code == 0 and f"id            {snap['id']}" in shown.stdout and "status        ok" in shown.stdout
    assert json.loads(cli("show", snap["id"], "--json").stdout)["sha256"] == snap["sha256"]

    out = tmp_path / "copy.heapsnapshot"
    exported = cli("export", snap["id"], "-o", str(out))
    assert exported.exit_code == 0 and exported.stdout.strip() == str(out)
    assert out.read_bytes() == node_files["heapsnapshot"].read_bytes()
    red = cli("export", snap["id"], "-o", str(tmp_path / "red.heapsnapshot"), "--redact")
    assert red.exit_code == 0 and b"SECRET-TOKEN" not in (tmp_path / "red.heapsnapshot").read_bytes()

    collapsed = cli("export", cpu["id"], "-o", str(tmp_path), "--format", "collapsed")
    assert collapsed.exit_code == 0, collapsed.output
    flame = Path(collapsed.stdout.strip())
    assert flame.name == f"{cpu['id']}.collapsed.txt" and flame.stat().st_size > 0

    removed = cli("rm", snap["id"])
    assert removed.exit_code == 0 and removed.stdout.strip() == f"removed {snap['id']}"
    assert [r["id"] for r in json.loads(cli("ls", "--json").stdout)] == [cpu["id"]]


def test_bad_input_is_one_line_and_an_exit_code(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty.heapsnapshot").write_bytes(b"")
    bad = cli("import", str(tmp_path / "empty.heapsnapshot"))
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "empty file" in bad.stderr
    missing = cli("show", "ZZZZZZ")
    assert missing.exit_code == 1 and "no capture matches" in missing.stderr
    usage = cli("ls", "--label", "novalue")
    assert usage.exit_code == 2 and "key=value" in usage.stderr
    since = cli("ls", "--since", "soon")
    assert since.exit_code == 2 and "invalid duration" in since.stderr
    assert cli("export", "X", "-o", "y", "--format", "svg").exit_code == 2
    assert cli("prune").exit_code == 2
    wrong = cli("ls", "--kind", "coredump")
    assert wrong.exit_code == 2 and "heapsnapshot" in wrong.stderr
    empty = cli("ls")
    assert empty.exit_code == 0 and empty.stdout == "" and "no captures yet" in empty.stderr


def test_prune_asks_unless_yes(cli: Cli, node_files: dict[str, Path]) -> None:
    for _ in range(3):
        assert cli("import", str(node_files["cpuprofile"])).exit_code == 0
    ids = [r["id"] for r in json.loads(cli("ls", "--json").stdout)]
    dry = cli("prune", "--keep", "1", "--dry-run")
    assert dry.exit_code == 0 and dry.stdout.count("would remove") == 2
    refused = cli("prune", "--keep", "1")  # stdin is not a terminal here
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert len(json.loads(cli("ls", "--json").stdout)) == 3
    pruned = cli("prune", "--keep", "1", "--yes")
    assert pruned.exit_code == 0 and pruned.stdout.count("removed") == 2
    assert [r["id"] for r in json.loads(cli("ls", "--json").stdout)] == ids[:1]
    assert "nothing to prune" in cli("prune", "--older-than", "7d", "--yes").stderr


def test_store_reindex_and_verify(cli: Cli, node_files: dict[str, Path], tmp_path: Path) -> None:
    rec = json.loads(cli("import", str(node_files["report"]), "--json").stdout)[0]
    for f in (tmp_path / "rec").glob("index.sqlite*"):
        f.unlink()
    done = cli("store", "reindex")
    assert done.exit_code == 0 and done.stdout.strip() == "indexed 1 captures"
    assert cli("store", "verify").exit_code == 0
    path = Path(rec["path"])
    path.write_bytes(path.read_bytes().replace(b"report", b"REPORT"))
    checked = cli("store", "verify", "--json")
    assert checked.exit_code == 1 and json.loads(checked.stdout)[0]["status"] == "corrupt"
    assert json.loads(cli("show", rec["id"], "--json").stdout)["status"] == "corrupt"


def test_store_option_and_help_examples(tmp_path: Path, cli_runner: CliRunner) -> None:
    elsewhere = tmp_path / "elsewhere"
    done = subprocess.run([sys.executable, "-m", "cdpclient_cli.app", "ls", "--store", str(elsewhere), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout) == [] and not elsewhere.exists()
    for command in (["ls"], ["show"], ["rm"], ["prune"], ["import"], ["export"], ["store", "reindex"],
                    ["store", "verify"]):
        helped = cli_runner.invoke(app, [*command, "--help"])
        assert helped.exit_code == 0 and "Example" in helped.stdout and "--store" in helped.stdout, command
