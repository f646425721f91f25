"""`top`, `diff` and `export` on profile files, as a user types them (dispatch lives in cli/analyze.py
and cli/store.py; the tables and formats come from this part)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nodeproc import run_cli  # type: ignore[attr-defined]


def test_top_diff_export_on_profile_files(cpu_profiles, heap_profiles, timeline_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = ["--store", str(tmp_path / "store")]
    done = run_cli("top", str(cpu_profiles.base), "--by", "package", "--json", *store)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"][0]["key"] == "@acme/hog"

    done = run_cli("diff", str(cpu_profiles.base), str(cpu_profiles.grow), "--limit", "3", *store)
    assert done.returncode == 0, done.stderr
    assert "growingHotPath" in done.stdout.splitlines()[3]

    done = run_cli("top", str(heap_profiles.small), "--limit", "3", *store)
    assert done.returncode == 0 and "allocationHotSpot" in done.stdout.splitlines()[3], done.stderr

    done = run_cli("top", str(timeline_files.timeline), "--limit", "3", "--json", *store)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"][0]["name"] == "allocationHotSpot"

    out = tmp_path / "cpu.pb.gz"
    done = run_cli("export", str(cpu_profiles.base), "--format", "pprof", "-o", str(out), *store)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:2] == b"\x1f\x8b"

    done = run_cli("top", str(cpu_profiles.base), "--by", "nonsense", *store)
    assert done.returncode == 2 and done.stderr.strip() == (
        "cdpclient: error: Invalid value for --by: 'nonsense': a CPU profile groups by function, file, package or "
        "line (see 'cdpclient top --help')")
    assert not (tmp_path / "store").exists()


def test_pprof_selections_on_the_command_line(cpu_profiles, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = ["--store", str(tmp_path / "store")]
    done = run_cli("top", str(cpu_profiles.base), "--by", "package", "--focus", "@acme/hog", "--json", *store)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["header"]["selection"]["focus"] == "@acme/hog" and "plain-dep" not in {r["key"] for r in data["rows"]}
    done = run_cli("top", str(cpu_profiles.base), "--hide-idle", "--sort", "total", "--limit", "5", *store)
    assert done.returncode == 0, done.stderr
    assert "without (idle) and (program):" in done.stdout and "(idle)" not in done.stdout.split("(program):")[1]
    done = run_cli("diff", str(cpu_profiles.base), str(cpu_profiles.grow), "--ignore", "growingHotPath", *store)
    assert done.returncode == 0 and "growingHotPath" not in done.stdout, done.stderr
    for bad, words in ((("--sort", "size"), "Invalid value for --sort: 'size': sort by self or total"),
                       (("--focus", "(x"), "--focus '(x' is not a regular expression")):
        done = run_cli("top", str(cpu_profiles.base), *bad, *store)
        assert done.returncode == 2 and words in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_stored_timeline_finds_its_events_side_file(timeline_files, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A timeline kept in the store, with its .events.json side file, as `cdpclient timeline` keeps it."""
    from cdpclient.store import Store
    from cdpclient_cli import profile_views

    store = Store.open(tmp_path / "store")
    for compress in (False, True):
        with store.new_capture("heaptimeline", compress=compress) as pending:
            pending.path.write_bytes(timeline_files.timeline.read_bytes())
            pending.side_path(".events.json").write_bytes(timeline_files.events.read_bytes())
        record = pending.record
        profile_views.top(record, store.materialize(record), None, 3, True)
        data = json.loads(capsys.readouterr().out)
        assert data["capture"] == record.id and data["rows"][0]["name"] == "allocationHotSpot"
        assert len(data["heap_over_time"]) >= 2, compress

    done = run_cli("flame", record.id[:12], "-o", str(tmp_path / "tl.svg"), "--store", str(tmp_path / "store"))
    assert done.returncode == 0, done.stderr
    assert "allocationHotSpot" in (tmp_path / "tl.svg").read_text()


def test_top_by_line_puts_a_functions_time_on_its_lines(cpu_profiles, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``--by line``: V8's positionTicks spread each function's own time over its lines; the lines of a
    function add up to its self time, and a heap profile has no lines to group by."""
    store = ["--store", str(tmp_path / "store")]
    done = run_cli("top", str(cpu_profiles.base), "--by", "line", "--focus", "crunch", "--limit", "1000",
                   "--json", *store)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["by"] == "line"
    crunch = [r for r in data["rows"] if r["name"] == "crunch"]
    lines = {int(r["location"].rsplit(":", 1)[1]) for r in crunch}
    from cdpclient.profiles import load_profile

    profile = load_profile(cpu_profiles.base)
    seen = {line for node, pairs in profile.line_ticks.items()  # type: ignore[union-attr]
            if profile.tree.frames[int(profile.tree.frame[node])].name == "crunch" for line, n in pairs if n}
    assert lines == seen and 3 not in lines  # the lines V8 saw it on, not the function's first line (3)
    by_function = run_cli("top", str(cpu_profiles.base), "--focus", "crunch", "--limit", "1000", "--json", *store)
    whole = next(r for r in json.loads(by_function.stdout)["rows"] if r["name"] == "crunch")
    assert sum(r["self"]["time"] for r in crunch) == pytest.approx(whole["self"]["time"], rel=1e-9)
    assert sum(r["self"]["samples"] for r in crunch) == pytest.approx(whole["self"]["samples"], rel=1e-9)
    shown = run_cli("top", str(cpu_profiles.base), "--by", "line", "--limit", "5", *store)
    assert shown.returncode == 0 and "crunch" in shown.stdout, shown.stderr
