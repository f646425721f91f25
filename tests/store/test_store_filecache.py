"""The cache of plain files (``cdpclient top ./x.heapsnapshot``): bounded, listed, cleared, never in the way.

Real snapshots Node wrote (tests/store/conftest.py ``node_files``), analysed by the real command
in a subprocess with ``XDG_CACHE_HOME`` pointing at the test's own directory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nodeproc import run_cli  # type: ignore[attr-defined]

from cdpclient.heap.cache import VERSION

HEAP_DIR = f"heap-v{VERSION}"  # the heap analysis's directory in an entry

DAY = 86400.0


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "CDPCLIENT_CACHE_MAX": "", "CDPCLIENT_STORE": str(tmp_path / "rec")}


def _root(env: dict[str, str]) -> Path:
    return Path(env["XDG_CACHE_HOME"]) / "cdpclient" / "files"


def _copies(node_files: dict[str, Path], tmp_path: Path, *names: str) -> list[Path]:
    out = []
    for name in names:
        path = tmp_path / f"{name}.heapsnapshot"
        shutil.copyfile(node_files["heapsnapshot"], path)
        out.append(path)
    return out


def _top(path: Path, env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    done = run_cli("top", str(path), "--limit", "3", env={**env, **extra})
    assert done.returncode == 0, done.stderr
    return done


def _entries(env: dict[str, str]) -> dict[str, Path]:
    """source file -> entry directory."""
    root = _root(env)
    if not root.is_dir():
        return {}
    return {json.loads((d / "source.json").read_text())["path"]: d for d in root.iterdir()
            if not d.name.startswith(".")}


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _entry_json(source: Path, entry: Path) -> dict[str, Any]:
    return {"key": entry.name, "path": str(entry), "source": str(source), "source_present": True,
            "size": _size(entry), "last_used": _iso(entry.stat().st_mtime)}


def _age(entry: Path, days: float) -> None:
    when = time.time() - days * DAY
    os.utime(entry, (when, when))


def test_a_plain_file_gets_one_private_entry_and_the_first_says_where(
        node_files: dict[str, Path], tmp_path: Path, env: dict[str, str]) -> None:
    (a,) = _copies(node_files, tmp_path, "a")
    first = _top(a, env)
    root = _root(env)
    notes = [line for line in first.stderr.splitlines() if "cdpclient cache clear" in line]
    assert len(notes) == 1 and str(root) in notes[0], first.stderr
    entries = _entries(env)
    assert list(entries) == [str(a)]
    entry = entries[str(a)]
    assert stat.S_IMODE(entry.stat().st_mode) == 0o700
    assert (entry / HEAP_DIR / "meta.json").is_file()
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in entry.rglob("*") if f.is_file())

    _age(entry, 3)
    second = _top(a, env)
    assert second.stdout == first.stdout
    assert "cdpclient cache clear" not in second.stderr and "analysing" not in second.stderr  # from the cache
    assert _entries(env) == entries
    assert time.time() - entry.stat().st_mtime < DAY  # marked as used again


def test_cache_ls_lists_path_bounds_entries_exactly(node_files: dict[str, Path], tmp_path: Path,
                                                     env: dict[str, str]) -> None:
    a, b = _copies(node_files, tmp_path, "a", "b")
    _top(a, env)
    _top(b, env)
    entries = _entries(env)
    _age(entries[str(a)], 2)
    done = run_cli("cache", "ls", "--json", env={**env, "CDPCLIENT_CACHE_MAX": "3GiB"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "path": str(_root(env)),
        "budget": {"size": 3 << 30, "source": "CDPCLIENT_CACHE_MAX", "max_age_s": 14 * DAY},
        "total_size": _size(entries[str(a)]) + _size(entries[str(b)]),
        "entries": [_entry_json(b, entries[str(b)]), _entry_json(a, entries[str(a)])],  # last used first
    }
    b.unlink()
    human = run_cli("cache", "ls", env=env)
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert lines[0] == f"cache of plain files: {_root(env)}"
    assert "10 GiB or 20% of the free space" in lines[1] and "14 days" in lines[1]
    assert lines[2].startswith("2 entries, ")
    assert f"{b}  (gone or changed)" in lines[-2] and lines[-1].endswith(str(a))


def test_a_small_budget_evicts_the_least_recently_used_after_a_new_entry(
        node_files: dict[str, Path], tmp_path: Path, env: dict[str, str]) -> None:
    a, b, c = _copies(node_files, tmp_path, "a", "b", "c")
    _top(a, env)
    _top(b, env)
    entries = _entries(env)
    one = _size(entries[str(a)])
    _age(entries[str(a)], 1)  # a was used more recently than b: b goes first
    _age(entries[str(b)], 2)
    _top(c, env, CDPCLIENT_CACHE_MAX=str(int(one * 2.5)))
    assert sorted(_entries(env)) == sorted([str(a), str(c)])
    assert not [p for p in _root(env).iterdir() if p.name.startswith(".")]  # no trash left
    _top(b, env, CDPCLIENT_CACHE_MAX="0")  # the entry just written stays, even alone over the budget
    assert list(_entries(env)) == [str(b)]


def test_entries_unused_for_14_days_go_whatever_the_size(node_files: dict[str, Path], tmp_path: Path,
                                                        env: dict[str, str]) -> None:
    a, b, c = _copies(node_files, tmp_path, "a", "b", "c")
    _top(a, env)
    _top(b, env)
    entries = _entries(env)
    _age(entries[str(a)], 15)
    _age(entries[str(b)], 13)
    _top(c, env)
    assert sorted(_entries(env)) == sorted([str(b), str(c)])


def test_cache_clear_older_than_and_all_say_what_they_freed(node_files: dict[str, Path], tmp_path: Path,
                                                           env: dict[str, str]) -> None:
    a, b = _copies(node_files, tmp_path, "a", "b")
    _top(a, env)
    _top(b, env)
    entries = _entries(env)
    _age(entries[str(a)], 8)
    expected_a = _entry_json(a, entries[str(a)])
    done = run_cli("cache", "clear", "--older-than", "7d", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"path": str(_root(env)), "freed": expected_a["size"],
                                       "removed": [expected_a], "in_use": []}
    assert list(_entries(env)) == [str(b)]

    size_b = _size(entries[str(b)])
    done = run_cli("cache", "clear", env=env)
    assert done.returncode == 0, done.stderr
    from cdpclient.units import format_bytes

    assert done.stdout == f"freed {format_bytes(size_b)}: 1 entry removed from {_root(env)}\n"
    assert _entries(env) == {}
    assert run_cli("cache", "clear", env=env).stdout.startswith("freed 0 B: 0 entries")


HOLDER = """
import sys
from pathlib import Path
from cdpclient import filecache
print(filecache.open_entry(Path(sys.argv[1])), flush=True)
sys.stdin.readline()
"""


def test_an_entry_another_process_is_using_is_never_evicted(node_files: dict[str, Path], tmp_path: Path,
                                                           env: dict[str, str]) -> None:
    a, b = _copies(node_files, tmp_path, "a", "b")
    _top(a, env)
    entry = _entries(env)[str(a)]
    _age(entry, 30)
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(a)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True, env={**os.environ, **env}) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        try:
            assert holder.stdout.readline().strip() == str(entry)  # it holds the entry now
            _top(b, env, CDPCLIENT_CACHE_MAX="0")  # over budget and too old, but in use
            assert sorted(_entries(env)) == sorted([str(a), str(b)])
            done = run_cli("cache", "clear", "--json", env=env)
            cleared = json.loads(done.stdout)
            assert [e["source"] for e in cleared["removed"]] == [str(b)]
            assert [e["source"] for e in cleared["in_use"]] == [str(a)]
            assert (entry / HEAP_DIR / "meta.json").is_file()
            human = run_cli("cache", "clear", env=env)
            assert "1 in use by a running cdpclient, kept" in human.stderr
        finally:
            holder.stdin.write("\n")
            holder.stdin.close()
            assert holder.wait(timeout=30) == 0
    assert json.loads(run_cli("cache", "clear", "--json", env=env).stdout)["in_use"] == []
    assert _entries(env) == {}


def test_a_damaged_or_vanished_entry_is_rebuilt_never_an_error(node_files: dict[str, Path], tmp_path: Path,
                                                              env: dict[str, str]) -> None:
    (a,) = _copies(node_files, tmp_path, "a")
    first = _top(a, env)
    entry = _entries(env)[str(a)]
    npy = sorted((entry / HEAP_DIR).glob("*.npy"))
    with open(npy[0], "r+b") as fh:  # cut short
        fh.truncate(npy[0].stat().st_size // 2)
    (entry / HEAP_DIR / "strings.json").write_bytes(b"")
    again = _top(a, env)
    assert again.stdout == first.stdout and "analysing" in again.stderr  # rebuilt
    (entry / HEAP_DIR / "meta.json").write_text("{not json")
    assert _top(a, env).stdout == first.stdout
    shutil.rmtree(entry)
    assert _top(a, env).stdout == first.stdout
    assert (entry / HEAP_DIR / "meta.json").is_file() and (entry / "source.json").is_file()
    assert _top(a, env).stderr.count("analysing") == 0  # and read back from the cache again


def test_a_compressed_plain_file_keeps_its_copy_in_the_entry(node_files: dict[str, Path], tmp_path: Path,
                                                            env: dict[str, str]) -> None:
    import zstandard

    src = node_files["cpuprofile"]
    zst = tmp_path / "cpu.cpuprofile.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(src.read_bytes()))
    first = _top(zst, env)
    entry = _entries(env)[str(zst)]
    assert (entry / "cpu.cpuprofile").read_bytes() == src.read_bytes()
    assert _top(zst, env).stdout == first.stdout
    listed = json.loads(run_cli("cache", "ls", "--json", env=env).stdout)
    assert listed["entries"] == [_entry_json(zst, entry)]


def test_a_bad_cache_max_is_one_line_and_never_stops_an_analysis(node_files: dict[str, Path], tmp_path: Path,
                                                                 env: dict[str, str]) -> None:
    (a,) = _copies(node_files, tmp_path, "a")
    done = run_cli("cache", "ls", env={**env, "CDPCLIENT_CACHE_MAX": "lots"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "cdpclient: error: CDPCLIENT_CACHE_MAX='lots' is not a size (e.g. 2GiB, 500M, 0)\n"
    analysed = _top(a, env, CDPCLIENT_CACHE_MAX="lots")
    warnings = [line for line in analysed.stderr.splitlines() if "CDPCLIENT_CACHE_MAX" in line]
    assert len(warnings) == 1 and warnings[0].startswith("cdpclient: warning: "), analysed.stderr
    bad = run_cli("cache", "clear", "--older-than", "soon", env=env)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and "--older-than" in bad.stderr


def test_rm_and_prune_remove_the_caches_of_the_captures_they_remove(node_files: dict[str, Path], tmp_path: Path,
                                                                   env: dict[str, str]) -> None:
    store = Path(env["CDPCLIENT_STORE"])
    done = run_cli("import", str(node_files["heapsnapshot"]), str(node_files["heapsnapshot"]), "--compress",
                   "--json", env=env)
    assert done.returncode == 0, done.stderr
    first, second = (r["id"] for r in json.loads(done.stdout))
    for capture in (first, second):
        _top(Path(capture), env)
        cache = store / "cache" / capture
        assert (cache / HEAP_DIR / "meta.json").is_file()
        assert (cache / f"{capture}.heapsnapshot").is_file()  # the decompressed copy
    assert _entries(env) == {}  # stored captures use the store's cache, not the user's
    assert run_cli("rm", first, env=env).returncode == 0
    assert not (store / "cache" / first).exists()
    pruned = run_cli("prune", "--keep", "0", "--yes", env=env)
    assert pruned.returncode == 0, pruned.stderr
    assert not (store / "cache" / second).exists()
    assert list((store / "cache").iterdir()) == []
