"""Issue 13's store faults, injected for real: a damaged capture with a lost index, a full disk under
read-only commands, concurrent rm and prune, a store root open to others, control characters in what
`ls` and `show` print."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cdpclient.store import Store
from cdpclient_cli.app import app

ROOT = Path(__file__).parent.parent.parent

Cli = Callable[..., Result]


@pytest.fixture
def cli(cli_runner: CliRunner, tmp_path: Path) -> Cli:
    """``cli(*args)`` runs cdpclient in-process with the store ``tmp_path/rec`` in $CDPCLIENT_STORE."""
    env = {"CDPCLIENT_STORE": str(tmp_path / "rec")}

    def run(*args: str) -> Result:
        return cli_runner.invoke(app, list(args), env=env)

    return run


def cdpclient(*args: str, store: Path, **popen: Any) -> subprocess.CompletedProcess[str]:
    """The real command in its own process."""
    return subprocess.run([sys.executable, "-m", "cdpclient_cli.app", *args, "--store", str(store)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, **popen)


def _index_state(root: Path) -> dict[str, tuple[int, int, str]]:
    """The index file (inode, mtime, sha256: what a rebuild, rewrite or delete would change), and any
    other index file but SQLite's WAL companions (-wal, -shm: a reader's shared memory, content unread)."""
    out = {}
    for f in sorted(root.glob("index.sqlite*")) + sorted(root.glob(".index.sqlite*")):
        if f.name in ("index.sqlite-wal", "index.sqlite-shm"):
            continue
        st = f.stat()
        out[f.name] = (st.st_ino, st.st_mtime_ns, hashlib.sha256(f.read_bytes()).hexdigest())
    return out


# --- a damaged capture and a lost index -------------------------------------------------------------------


def test_a_corrupt_meta_with_a_lost_index_is_listed_corrupt_and_fails_verify(
        cli: Cli, node_files: dict[str, Path], tmp_path: Path) -> None:
    good, bad = json.loads(cli("import", str(node_files["cpuprofile"]), str(node_files["heapprofile"]),
                               "--json").stdout)
    root = tmp_path / "rec"
    (root / "captures" / bad["id"] / f"{bad['id']}.meta.json").write_text('{"id": "' + bad["id"] + '", "kin')
    for f in root.glob("index.sqlite*"):
        f.unlink()

    listing = cli("ls")
    assert listing.exit_code == 0, listing.output
    [row] = [line for line in listing.stdout.splitlines() if bad["id"] in line]
    assert row.split()[1] == "heapprofile" and row.endswith("corrupt")  # kind from its file's name
    records = {r["id"]: r for r in json.loads(cli("ls", "--json").stdout)}
    assert records[bad["id"]]["status"] == "corrupt" and "not valid JSON" in records[bad["id"]]["problem"]
    assert records[good["id"]]["status"] == "ok"

    checked = cli("store", "verify")
    assert checked.exit_code == 1
    lines = checked.stderr.strip().splitlines()
    assert len(lines) == 1 and bad["id"] in lines[0] and "meta.json is not valid JSON" in lines[0], lines
    assert cli("store", "verify", good["id"]).exit_code == 0

    shown = cli("show", bad["id"])  # reading it: one clear line, no traceback
    assert shown.exit_code == 1 and shown.stderr.count("\n") == 1 and "is damaged" in shown.stderr
    assert "not valid JSON" in cli("top", bad["id"]).stderr
    common = os.path.commonprefix([good["id"], bad["id"]])
    assert "matches several captures" in cli("top", common).stderr  # a prefix does not skip the damaged one

    removed = cli("rm", bad["id"])
    assert removed.exit_code == 0 and removed.stdout.strip() == f"removed {bad['id']}"
    assert [r["id"] for r in json.loads(cli("ls", "--json").stdout)] == [good["id"]]
    assert cli("store", "verify").exit_code == 0


def test_verify_fails_on_an_unreadable_meta_even_when_the_index_still_has_its_row(
        cli: Cli, node_files: dict[str, Path], tmp_path: Path) -> None:
    [rec] = json.loads(cli("import", str(node_files["report"]), "--json").stdout)
    (tmp_path / "rec" / "captures" / rec["id"] / f"{rec['id']}.meta.json").write_text("[]")
    checked = cli("store", "verify")
    assert checked.exit_code == 1 and rec["id"] in checked.stderr and "does not hold an object" in checked.stderr


# --- read-only commands leave the index alone ---------------------------------------------------------------


def test_read_only_commands_never_recreate_a_lost_index_nor_replace_a_corrupt_one(
        cli: Cli, node_files: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "rec"
    cpu, report = json.loads(cli("import", str(node_files["cpuprofile"]), str(node_files["report"]),
                                 "--json").stdout)
    ids = {cpu["id"], report["id"]}
    for f in root.glob("index.sqlite*"):
        f.unlink()
    assert {r["id"] for r in json.loads(cli("ls", "--json").stdout)} == ids
    assert cli("store", "verify").exit_code == 0 and cli("show", report["id"]).exit_code == 0
    assert cli("top", cpu["id"]).exit_code == 0
    assert not list(root.glob("index.sqlite*"))  # not recreated by reading

    (root / "index.sqlite").write_bytes(b"not a database " * 200)
    before = _index_state(root)
    assert {r["id"] for r in json.loads(cli("ls", "--json").stdout)} == ids
    assert cli("store", "verify").exit_code == 0
    assert _index_state(root) == before  # not deleted, not rewritten

    assert cli("store", "reindex").stdout.strip() == "indexed 2 captures"  # writing commands rebuild it
    assert _index_state(root) != before and not list(root.glob(".index.sqlite*"))


@pytest.fixture
def small_fs(tmpfs: Callable[[str], Path]) -> Path:
    """A 24 MB tmpfs: a real volume that can be filled (needs root and permission to mount)."""
    return tmpfs("24m")


def _fill(volume: Path, name: str = "filler") -> Path:
    """Fill ``volume`` to the last byte; returns the filler file (delete it to free the space)."""
    filler = volume / name
    with open(filler, "wb", buffering=0) as fh:
        for block in (64 << 10, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * block)
    with pytest.raises(OSError):
        (volume / "probe").write_bytes(b"x" * 8192)
    (volume / "probe").unlink(missing_ok=True)
    return filler


def test_on_a_full_disk_read_only_commands_work_and_leave_the_index_as_it_was(
        small_fs: Path, node_files: dict[str, Path]) -> None:
    root = small_fs / "rec"
    done = cdpclient("import", str(node_files["heapsnapshot"]), str(node_files["cpuprofile"]), "--json", store=root)
    assert done.returncode == 0, done.stderr
    snap, cpu = json.loads(done.stdout)
    filler = _fill(small_fs)

    def read_only_commands_work(heap: bool = False) -> None:
        for args in (["ls", "--json"], ["show", snap["id"]], ["store", "verify"], ["top", cpu["id"]],
                     *([["top", snap["id"]]] if heap else [])):  # a heap analysis (its cache cannot be written)
            run = cdpclient(*args, store=root)
            assert run.returncode == 0, (args, run.stderr)
            assert "Traceback" not in run.stderr
            if args[0] == "ls":
                assert {r["id"]: r["status"] for r in json.loads(run.stdout)} == {snap["id"]: "ok", cpu["id"]: "ok"}

    before = _index_state(root)
    assert "index.sqlite" in before
    read_only_commands_work(heap=True)
    assert _index_state(root) == before

    for f in root.glob("index.sqlite*"):  # a lost index, on the full disk
        f.unlink()
    read_only_commands_work()
    assert _index_state(root) == {}  # not recreated

    (root / "index.sqlite").write_bytes(b"not a database " * 100)  # fits in the space just freed
    filler2 = _fill(small_fs, "filler2")
    before = _index_state(root)
    read_only_commands_work()
    assert _index_state(root) == before  # the corrupt file is not deleted and recreated

    # a writing command may rebuild it: on the full disk it says so in one line and leaves no partial index
    rebuilt = cdpclient("store", "reindex", store=root)
    assert rebuilt.returncode == 1 and rebuilt.stderr.count("\n") == 1, rebuilt.stderr
    assert "no space left on the device" in rebuilt.stderr
    assert _index_state(root) == before

    filler.unlink()
    filler2.unlink()
    rebuilt = cdpclient("store", "reindex", store=root)
    assert rebuilt.returncode == 0 and rebuilt.stdout.strip() == "indexed 2 captures", rebuilt.stderr
    assert list(_index_state(root)) == ["index.sqlite"]


def test_on_a_full_disk_rm_frees_the_space_and_keeps_the_index_true(small_fs: Path) -> None:
    root = small_fs / "rec"
    with Store.open(root) as st:
        ids = []
        for _ in range(3):
            with st.new_capture("heapsnapshot") as pending:
                pending.path.write_bytes(b"{" + os.urandom(2 << 20))  # what the user wants gone
            assert pending.record is not None
            ids.append(pending.record.id)
    _fill(small_fs)
    done = cdpclient("rm", ids[0], store=root)  # the index cannot even be opened for writing until it has run
    assert done.returncode == 0 and done.stdout.strip() == f"removed {ids[0]}", done.stderr
    assert os.statvfs(small_fs).f_bavail * os.statvfs(small_fs).f_frsize >= 2 << 20
    listed = json.loads(cdpclient("ls", "--json", store=root).stdout)
    assert sorted(r["id"] for r in listed) == sorted(ids[1:]) and {r["status"] for r in listed} == {"ok"}


# --- concurrent rm and prune ----------------------------------------------------------------------------------


def _many(root: Path, n: int) -> list[str]:
    with Store.open(root) as st:
        ids = []
        for i in range(n):
            with st.new_capture("cpuprofile", labels={"i": str(i)}) as pending:
                pending.path.write_text('{"nodes":[],"startTime":0,"endTime":1,"samples":[]}')
            assert pending.record is not None
            ids.append(pending.record.id)
    return ids


def _start(*args: str, store: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cdpclient_cli.app", *args, "--store", str(store)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _race(root: Path, *commands: list[str]) -> list[tuple[int, str, str]]:
    """Run ``commands`` at once so that each has looked its captures up before any removes one.

    The test holds the store's index lock (the one removals take) until every process waits on it,
    as seen in /proc/locks; then lets them go.
    """
    import fcntl

    fd = os.open(root / "index.lock", os.O_RDWR | os.O_CREAT, 0o600)
    procs = []
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        procs = [_start(*args, store=root) for args in commands]
        deadline = time.monotonic() + 45
        while not _waiting_on_a_lock({p.pid for p in procs}):
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            assert time.monotonic() < deadline, "the processes never reached the lock"
            time.sleep(0.05)
    finally:
        os.close(fd)  # releases the lock
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=60)
        out.append((proc.returncode, stdout, stderr))
    return out


def _waiting_on_a_lock(pids: set[int]) -> bool:
    """Whether every one of ``pids`` is blocked waiting for a file lock (``->`` lines of /proc/locks)."""
    waiting = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[1] == "->":
            waiting.add(int(fields[5]))
    return pids <= waiting


def test_two_concurrent_rm_of_the_same_ids_each_report_only_what_they_removed(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    ids = _many(root, 20)
    results = _race(root, ["rm", *ids], ["rm", *reversed(ids)])
    assert [code for code, _, _ in results] == [0, 0], results
    removed: list[str] = []
    already: list[str] = []
    for _, stdout, _ in results:
        for line in stdout.splitlines():
            words = line.split()
            assert words[:-1] in (["removed"], ["already", "removed"]), line
            (removed if words[0] == "removed" else already).append(words[-1])
    assert sorted(removed) == sorted(ids) and sorted(already) == sorted(ids)  # each removed once, by one of them
    assert Store.open(root).list() == []


def test_two_concurrent_prunes_count_each_capture_once(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    ids = _many(root, 24)
    results = _race(root, ["prune", "--keep", "0", "--yes"], ["prune", "--keep", "0", "--yes"])
    removed: list[str] = []
    pruned = []
    for code, stdout, stderr in results:
        assert code == 0, stderr
        removed += [line.split()[1] for line in stdout.splitlines()]
        [counted] = [line for line in stderr.splitlines() if line.startswith("pruned ")]
        pruned.append(counted)
    assert sorted(removed) == sorted(ids)
    assert sorted(int(line.split()[1]) for line in pruned) == [0, 24]
    assert any("(24 already removed by another process)" in line for line in pruned), pruned


# --- the mode of an existing store root -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o755, 0o777])
def test_a_store_root_open_to_others_is_warned_about_once_and_left_as_it_is(
        cli: Cli, node_files: dict[str, Path], tmp_path: Path, mode: int) -> None:
    root = tmp_path / "rec"
    assert cli("import", str(node_files["report"])).exit_code == 0
    assert (root.stat().st_mode & 0o777) == 0o700  # a new root is private
    assert "warning" not in cli("ls").stderr
    root.chmod(mode)
    shown = cdpclient("ls", store=root)  # its own process: "once" is per process
    assert shown.returncode == 0
    warnings = [line for line in shown.stderr.splitlines() if "warning" in line]
    assert warnings == [f"cdpclient: warning: the store {root} is open to other users (mode {mode:04o}); "
                        f"restrict it with: chmod 700 {root}"]
    assert (root.stat().st_mode & 0o777) == mode  # not changed behind the user's back


# --- control characters from captures and users ---------------------------------------------------------------

HOSTILE = "\x1b[31mred\x1b]0;title\x07"


def test_control_sequences_in_labels_and_file_names_are_escaped_in_human_output(
        cli: Cli, node_files: dict[str, Path], tmp_path: Path) -> None:
    named = tmp_path / "evil\x1b[2J\u202ename.cpuprofile"
    named.write_bytes(node_files["cpuprofile"].read_bytes())
    imported = cli("import", str(named), "--label", f"note={HOSTILE}")
    assert imported.exit_code == 0 and "\x1b" not in imported.stdout and "\u202e" not in imported.stdout
    assert "evil\\x1b[2J\\u202ename" in imported.stdout

    listing = cli("ls")
    assert listing.exit_code == 0
    assert "\x1b" not in listing.stdout and "\x07" not in listing.stdout and "\u202e" not in listing.stdout
    assert "note=\\x1b[31mred\\x1b]0;title\\x07" in listing.stdout
    [record] = json.loads(cli("ls", "--json").stdout)
    assert record["labels"] == {"note": HOSTILE}  # JSON keeps the exact value (escaped by JSON itself)
    assert record["meta"]["source"] == str(named.resolve())

    shown = cli("show", record["id"])
    assert shown.exit_code == 0 and "\x1b" not in shown.stdout and "\u202e" not in shown.stdout
    assert "\\x1b[31mred" in shown.stdout
    assert json.loads(cli("show", record["id"], "--json").stdout)["labels"] == {"note": HOSTILE}

    missing = cli("show", str(tmp_path / "no\x1b[31mfile.heapsnapshot"))  # a user's argument in an error line
    assert missing.exit_code != 0 and "\x1b" not in missing.stderr
