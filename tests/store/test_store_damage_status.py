"""One status everywhere: a damage any full check finds shows in ls, show and the analysis.

A real snapshot of a real Node process, one byte of its stored file flipped (same size, so only a
hash notices), then the commands as a user types them; and a store on a read-only mount.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from nodeproc import run_cli  # type: ignore[attr-defined]


def _capture(node_app: Any, root: Path) -> tuple[str, Path]:
    app = node_app("heap_of_size.js", "3")
    done = run_cli("snapshot", app.endpoint, "--store", str(root), "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    return record["id"], Path(record["path"])


def _flip(path: Path) -> None:
    """One letter of a string near the end (the strings come last): still a valid snapshot, another hash."""
    data = bytearray(path.read_bytes())
    i = next(j for j in range(len(data) - 100, 0, -1) if data[j:j + 1] == b"e")
    data[i:i + 1] = b"E"
    path.write_bytes(bytes(data))


def _ls_status(root: Path) -> str:
    done = run_cli("ls", "--store", str(root), "--json")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)[0]["status"])


def test_a_damage_found_once_is_shown_everywhere_until_the_file_checks_ok(node_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "rec"
    capture, path = _capture(node_app, root)
    good = path.read_bytes()
    store = ("--store", str(root))
    first = run_cli("top", capture, *store)
    assert first.returncode == 0, first.stderr
    assert json.loads((path.parent / f"{capture}.meta.json").read_text())["verified"]["status"] == "ok"

    _flip(path)
    assert _ls_status(root) == "ok"  # a listing only compares sizes: nothing noticed yet
    refused = run_cli("top", capture, *store)  # the analysis checks the hash of a changed file
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 1 and len(lines) == 1, refused.stderr
    assert f"capture {capture} is corrupt: its file" in lines[0] and "--force analyses it anyway" in lines[0]
    assert _ls_status(root) == "corrupt"  # what the analysis found, ls now says
    for command in (("leaks", capture, capture), ("diff", capture, capture), ("retainers", capture, "Array")):
        done = run_cli(*command, *store)
        assert done.returncode == 1 and "is corrupt" in done.stderr, (command, done.stderr)
    shown = run_cli("show", capture, *store)
    assert shown.returncode == 1 and shown.stdout.splitlines()[0].split() == ["status", "corrupt"]
    assert shown.stderr.startswith(f"cdpclient: warning: capture {capture} is corrupt")
    forced = run_cli("top", capture, *store, "--force")
    assert forced.returncode == 0 and "analysing it anyway (--force)" in forced.stderr
    assert run_cli("store", "verify", *store).returncode == 1

    path.write_bytes(good)  # repaired (a copy restored from a backup)
    assert run_cli("store", "verify", *store).returncode == 0
    assert _ls_status(root) == "ok" and run_cli("show", capture, *store).returncode == 0


def test_a_store_on_a_read_only_mount_is_listed_shown_and_analysed(node_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "rec"
    capture, _ = _capture(node_app, src)
    run_cli("snapshot", node_app("heap_of_size.js", "3").endpoint, "--store", str(src))
    mnt = tmp_path / "ro"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(src), str(mnt)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mnt)], check=True, capture_output=True)
        before = sorted(p.name for p in mnt.rglob("*"))
        ids = [r["id"] for r in json.loads(run_cli("ls", "--store", str(mnt), "--json").stdout)]
        assert len(ids) == 2
        for command in (("ls",), ("show", capture), ("top", capture), ("leaks", *ids), ("store", "verify")):
            done = run_cli(*command, "--store", str(mnt))
            assert done.returncode == 0, (command, done.stderr)
            assert "Traceback" not in done.stderr and "Permission denied" not in done.stderr
        assert sorted(p.name for p in mnt.rglob("*")) == before
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        assert not os.path.ismount(mnt)
