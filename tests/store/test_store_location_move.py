"""Where the store lives by default (the per-user data directory), and ``cdpclient store move``.

Every command runs as the real CLI in a subprocess, in a working directory of its own, with HOME
and XDG_DATA_HOME pointed into the test's tmp_path (never the real home).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cdpclient.store import Store

from .conftest import ROOT, SMALL

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The directory the user stands in (where the old default, ./recordings, was)."""
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


@pytest.fixture
def cli(home: Path, work: Path) -> Cli:
    """``cli(*args, env={...}, cwd=work)``: the real cdpclient with HOME=home and no store named."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if k not in ("CDPCLIENT_STORE", "XDG_DATA_HOME")}
        return subprocess.run([sys.executable, "-m", "cdpclient_cli.app", *args], capture_output=True, text=True,
                              timeout=60, cwd=cwd or work, env={**base, "HOME": str(home), **(env or {})})

    return run


def fill(root: Path, count: int = 3) -> list[str]:
    """A store at ``root`` with ``count`` small captures (heap snapshots and CPU profiles); their ids."""
    made = []
    with Store.open(root) as store:
        for i in range(count):
            kind = "heapsnapshot" if i % 2 == 0 else "cpuprofile"
            with store.new_capture(kind, labels={"n": str(i)}) as pending:
                pending.path.write_text(SMALL[kind])
            assert pending.record is not None
            made.append(pending.record.id)
    return sorted(made)


def on_disk(root: Path) -> set[str]:
    """Ids of the complete capture directories in the store at ``root``."""
    folder = root / "captures"
    return {p.name for p in folder.iterdir() if (p / f"{p.name}.meta.json").is_file()} if folder.is_dir() else set()


def listed(cli: Cli, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> list[str]:
    done = cli("ls", "--json", *args, env=env, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return sorted(r["id"] for r in json.loads(done.stdout))


def assert_private(root: Path) -> None:
    for folder, _dirs, names in os.walk(root):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
        for name in names:
            assert stat.S_IMODE(os.stat(Path(folder) / name).st_mode) == 0o600, Path(folder) / name


# --- the default location ----------------------------------------------------------------------

def test_default_store_is_xdg_data_home_else_home(cli: Cli, home: Path, work: Path, tmp_path: Path) -> None:
    cpu = tmp_path / "a.cpuprofile"
    cpu.write_text(SMALL["cpuprofile"])
    xdg = tmp_path / "xdg"
    done = cli("import", str(cpu), "--json", env={"XDG_DATA_HOME": str(xdg)})
    assert done.returncode == 0, done.stderr
    row, = json.loads(done.stdout)
    assert Path(row["path"]).is_relative_to(xdg / "cdpclient")
    assert not (work / "recordings").exists()
    # from any other directory, the same store
    assert listed(cli, env={"XDG_DATA_HOME": str(xdg)}) == [row["id"]]
    assert done.stderr == ""

    # no XDG_DATA_HOME (or a relative one, which the spec says to ignore): ~/.local/share/cdpclient
    for env in ({}, {"XDG_DATA_HOME": "relative/data"}):
        done = cli("import", str(cpu), "--json", env=env)
        assert done.returncode == 0, done.stderr
        assert Path(json.loads(done.stdout)[0]["path"]).is_relative_to(home / ".local" / "share" / "cdpclient")
    assert not (work / "relative").exists()
    for missing_parent in (home / ".local", home / ".local" / "share"):  # created for the store: 0700
        assert stat.S_IMODE(missing_parent.stat().st_mode) == 0o700
    assert_private(home / ".local" / "share" / "cdpclient")
    assert len(listed(cli, env={}, cwd=tmp_path)) == 2


def test_env_and_store_option_still_win(cli: Cli, tmp_path: Path) -> None:
    xdg, env_store, opt_store = tmp_path / "xdg", tmp_path / "env-store", tmp_path / "opt-store"
    ids = {name: fill(path, 1) for name, path in (("env", env_store), ("opt", opt_store), ("xdg", xdg / "cdpclient"))}
    env = {"XDG_DATA_HOME": str(xdg), "CDPCLIENT_STORE": str(env_store)}
    assert listed(cli, env=env) == ids["env"]
    assert listed(cli, "--store", str(opt_store), env=env) == ids["opt"]
    assert listed(cli, env={"XDG_DATA_HOME": str(xdg)}) == ids["xdg"]


# --- the hint ------------------------------------------------------------------------------------

def test_a_store_in_recordings_is_hinted_at_never_moved(cli: Cli, work: Path, tmp_path: Path) -> None:
    old = fill(work / "recordings", 2)
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    done = cli("ls", env=env)
    assert done.returncode == 0
    dest = tmp_path / "xdg" / "cdpclient"
    assert done.stderr.splitlines() == [
        f"cdpclient: a store is in ./recordings (2 captures): `cdpclient store move` moves it to {dest}; "
        "--store ./recordings uses it",
        "no captures yet"]
    assert on_disk(work / "recordings") == set(old) and not dest.exists()  # nothing moved
    used = cli("ls", "--json", "--store", "./recordings", env=env)
    assert sorted(r["id"] for r in json.loads(used.stdout)) == old and used.stderr == ""
    named = cli("ls", env={**env, "CDPCLIENT_STORE": str(tmp_path / "elsewhere")})
    assert "./recordings" not in named.stderr


def test_the_hint_is_given_once_per_command_in_one_process(cli_runner, work: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from cdpclient_cli.app import app

    fill(work / "recordings", 1)
    monkeypatch.chdir(work)
    monkeypatch.delenv("CDPCLIENT_STORE", raising=False)
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    for _ in range(2):  # a test runner's commands share a process: each says it once
        done = cli_runner.invoke(app, ["ls"], env=env)
        assert done.exit_code == 0
        assert done.stderr.count("a store is in ./recordings (1 captures)") == 1


def test_a_recordings_folder_that_is_not_a_store_gets_no_hint(cli: Cli, work: Path, tmp_path: Path) -> None:
    # like the repository's recordings/: example inspector recordings and a README, no captures/
    (work / "recordings" / "fixtures").mkdir(parents=True)
    (work / "recordings" / "README.md").write_text("example recordings\n")
    (work / "recordings" / "fixtures" / "node20.cdprec").write_bytes(b"\x93\x01\x02\x03")
    done = cli("ls", env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert done.returncode == 0 and done.stderr == "no captures yet\n"
    refused = cli("store", "move", env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert refused.returncode == 1
    assert refused.stderr == (f"cdpclient: error: {work / 'recordings'} is not a store (it has no captures/ "
                              "directory); nothing moved\n")
    assert sorted(p.name for p in (work / "recordings").iterdir()) == ["README.md", "fixtures"]


# --- store move ----------------------------------------------------------------------------------

def test_move_recordings_into_the_default_store(cli: Cli, work: Path, tmp_path: Path) -> None:
    ids = fill(work / "recordings", 3)
    loose = work / "recordings" / "captures" / ids[0] / f"{ids[0]}.meta.json"
    loose.chmod(0o644)  # a laxer mode does not travel
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    done = cli("store", "move", env=env)
    assert done.returncode == 0, done.stderr
    assert [line.split()[:2] for line in done.stdout.splitlines()] == [["moved", i] for i in ids]
    dest = tmp_path / "xdg" / "cdpclient"
    assert done.stderr.startswith("moved 3 captures (") and f"to {dest} (renamed)" in done.stderr
    assert not (work / "recordings").exists()
    assert on_disk(dest) == set(ids) and listed(cli, env=env) == ids
    assert cli("store", "verify", env=env).returncode == 0
    assert_private(dest)
    again = cli("store", "move", env=env)  # nothing left to move: said in one line
    assert again.returncode == 1
    assert again.stderr == f"cdpclient: error: no store at {work / 'recordings'}: nothing to move\n"


def test_move_across_file_systems_copies_checks_then_removes(cli: Cli, work: Path,
                                                             tmpfs: Callable[[str], Path]) -> None:
    mnt = tmpfs("8m")
    ids = fill(work / "recordings", 3)
    env = {"XDG_DATA_HOME": str(mnt / "data")}
    done = cli("store", "move", "--json", env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["method"] == "copy" and result["moved"] == ids and result["left"] == []
    assert result["source_removed"] is True and not (work / "recordings").exists()
    dest = mnt / "data" / "cdpclient"
    assert result["to"] == str(dest) and on_disk(dest) == set(ids)
    assert cli("store", "verify", env=env).returncode == 0
    assert_private(dest)


def test_a_bind_mount_of_the_same_device_is_copied(cli: Cli, work: Path, tmp_path: Path) -> None:
    """One device, two mounts: the same st_dev, yet rename says EXDEV; the captures are copied instead."""
    real, bound = tmp_path / "real", tmp_path / "bound"
    real.mkdir()
    bound.mkdir()
    try:
        done = subprocess.run(["mount", "--bind", str(real), str(bound)], capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        pytest.skip("no mount command here")
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here ({done.stderr.strip() or done.returncode})")
    try:
        ids = fill(work / "recordings", 2)
        env = {"XDG_DATA_HOME": str(bound / "data")}
        moved = cli("store", "move", "--json", env=env)
        assert moved.returncode == 0, moved.stderr
        result = json.loads(moved.stdout)
        assert result["method"] == "copy" and result["moved"] == ids  # tried as one file system, copied
        assert on_disk(bound / "data" / "cdpclient") == set(ids) and not (work / "recordings").exists()
        assert cli("store", "verify", env=env).returncode == 0
        assert_private(bound / "data" / "cdpclient")
    finally:
        subprocess.run(["umount", str(bound)], capture_output=True, timeout=10)


def test_a_full_destination_stops_the_move_and_a_rerun_finishes_it(cli: Cli, work: Path,
                                                                    tmpfs: Callable[[str], Path]) -> None:
    mnt = tmpfs("2m")
    src = work / "recordings"
    with Store.open(src) as store:
        for _ in range(2):  # two captures of 500 kB
            with store.new_capture("heapsnapshot") as pending:
                pending.path.write_text(SMALL["heapsnapshot"] + " " * 500_000)
    ids = sorted(on_disk(src))
    filler = mnt / "filler"
    filler.write_bytes(b"x" * 1_300_000)  # room for one capture, not two
    env = {"XDG_DATA_HOME": str(mnt / "data")}
    dest = mnt / "data" / "cdpclient"
    full = cli("store", "move", env=env)
    assert full.returncode == 1
    assert full.stderr == (f"cdpclient: error: no space left to move {ids[1]}: it stays in the source; "
                           "free space and run the move again\n")
    assert on_disk(dest) == {ids[0]} and on_disk(src) == {ids[1]} and list((dest / "tmp").iterdir()) == []
    filler.unlink()
    done = cli("store", "move", env=env)
    assert done.returncode == 0, done.stderr
    assert on_disk(dest) == set(ids) and not src.exists()
    assert cli("store", "verify", env=env).returncode == 0


def test_move_refusals(cli: Cli, work: Path, tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    src, dest = work / "recordings", tmp_path / "xdg" / "cdpclient"
    ids = fill(src, 2)

    def refused(*args: str) -> str:
        done = cli("store", "move", *args, env=env)
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr
        return done.stderr

    assert "are the same store" in refused(str(src), "--to", str(src))
    assert "lie one inside the other" in refused(str(src), "--to", str(src / "inner"))
    assert f"no store at {work / 'nowhere'}" in refused(str(work / "nowhere"))
    theirs = fill(dest, 1)
    assert refused() == (f"cdpclient: error: {dest} already holds 1 captures; --merge adds those of {src} to them "
                         "(by id and sha256, skipping the ones it has)\n")
    assert on_disk(src) == set(ids) and on_disk(dest) == set(theirs)  # refusals move nothing

    merged = cli("store", "move", "--merge", "--json", env=env)
    assert merged.returncode == 0, merged.stderr
    assert json.loads(merged.stdout)["moved"] == ids
    assert on_disk(dest) == {*ids, *theirs} and not src.exists()


def test_merge_skips_present_captures_and_leaves_an_id_clash(cli: Cli, work: Path, tmp_path: Path) -> None:
    import shutil

    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    src, dest = work / "recordings", tmp_path / "xdg" / "cdpclient"
    same, clash, plain = fill(src, 3)
    fill(dest, 1)
    for capture_id in (same, clash):
        shutil.copytree(src / "captures" / capture_id, dest / "captures" / capture_id)
    data = next(p for p in (dest / "captures" / clash).iterdir() if not p.name.endswith(".meta.json"))
    data.write_bytes(data.read_bytes() + b" ")  # same id, other content
    Store.open(dest).reindex()
    done = cli("store", "move", "--merge", "--json", env=env)
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert (result["moved"], result["present"]) == ([plain], [same])
    assert [r["id"] for r in result["left"]] == [clash] and result["source_removed"] is False
    assert done.stderr == (f"cdpclient: error: {clash} stays in {src}: {dest} holds another capture with the id "
                           f"{clash} (another sha256); not moved\n")
    assert on_disk(src) == {clash}  # the clash stays where it was, whole


def test_a_capture_still_being_written_stays_and_keeps_the_source(cli: Cli, work: Path, tmp_path: Path) -> None:
    src, dest = work / "recordings", tmp_path / "xdg" / "cdpclient"
    done_ids = fill(src, 2)
    with Store.open(src) as store:  # a live capture whose writer (this process) still runs: a watch recording
        pending = store.begin_live("cpuprofile")
        pending.path.write_text(SMALL["cpuprofile"])
        live = store.publish_live(pending).id
    done = cli("store", "move", env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (f"cdpclient: error: {live} stays in {src}: it is still being written "
                                            "(a live capture); move it once its writer has finished")
    assert on_disk(dest) == set(done_ids) and on_disk(src) == {live} and (src / "move.json").is_file()


# --- an interrupted move, run again -----------------------------------------------------------------

_KILLER = """
import os, sys
from cdpclient.store import Store, move
move._same_filesystem = lambda a, b: False  # copy, as across file systems
mode, copies = sys.argv[3], []
if mode == "after-publish":  # killed once the first capture is in the destination, still in the source
    move._forget = lambda source, capture_id: os._exit(9)
else:  # mid-copy: killed while writing the first file of the second capture
    real = move._copy_hashing
    def partial(src, dst):
        copies.append(src)
        if len(copies) == 3:
            with open(dst, "wb") as fh:
                fh.write(src.read_bytes()[:10])
            os._exit(9)
        return real(src, dst)
    move._copy_hashing = partial
move.move_store(Store.open(sys.argv[1]), Store.open(sys.argv[2]))
"""


@pytest.mark.parametrize("mode", ["after-publish", "mid-copy"])
def test_an_interrupted_move_finishes_when_run_again(cli: Cli, work: Path, tmp_path: Path, mode: str) -> None:
    src, dest = work / "recordings", tmp_path / "xdg" / "cdpclient"
    ids = fill(src, 3)
    killed = subprocess.run([sys.executable, "-c", _KILLER, str(src), str(dest), mode], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == 9, killed.stderr
    assert on_disk(src) | on_disk(dest) == set(ids)  # every capture complete in one place at least
    if mode == "after-publish":
        assert on_disk(src) == set(ids) and on_disk(dest) == {ids[0]}  # in both: not yet removed
    else:
        assert on_disk(dest) == {ids[0]} and on_disk(src) == set(ids[1:])
        assert len(list((dest / "tmp").iterdir())) == 1  # the half-copied capture, in a dead writer's temp dir
    assert (src / "move.json").is_file()

    done = cli("store", "move", "--json", env={"XDG_DATA_HOME": str(tmp_path / "xdg")})  # no --merge needed
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["present"] == ([ids[0]] if mode == "after-publish" else [])
    assert result["moved"] == ids[1:]
    assert on_disk(dest) == set(ids) and not src.exists() and list((dest / "tmp").iterdir()) == []
    assert cli("store", "verify", env={"XDG_DATA_HOME": str(tmp_path / "xdg")}).returncode == 0
    assert_private(dest)

    elsewhere = fill(work / "other", 1)  # a pending move elsewhere is said, not split
    (work / "other" / "move.json").write_text(json.dumps({"to": str(tmp_path / "third")}))
    refused = cli("store", "move", str(work / "other"), env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert refused.returncode == 1
    assert f"an interrupted move of {work / 'other'} to {tmp_path / 'third'} is pending" in refused.stderr
    assert on_disk(work / "other") == set(elsewhere)
