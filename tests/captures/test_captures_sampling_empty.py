"""A sampling heap profile whose sampled objects all died is saved, and said so, with what to do."""

from __future__ import annotations

import json
from pathlib import Path

from nodeproc import run_cli


def test_an_empty_sampling_profile_says_so_and_suggests_include_collected(node_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # busy_allocator.js drops nearly all it allocates (a ring of 1000 small objects stays): with one sample
    # per 64 MiB, what is sampled is garbage, gone by the end unless collected objects are kept
    app = node_app("busy_allocator.js")
    out = tmp_path / "empty.heapprofile"
    done = run_cli("sample", app.endpoint, "--duration", "2s", "--interval", "64MiB", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["meta"]["samples"] == 0 and out.is_file()  # saved: it is what V8 said
    warning = [line for line in done.stderr.splitlines() if "no samples" in line]
    assert len(warning) == 1 and "--include-collected" in warning[0], done.stderr
    assert "--include-collected" in row["meta"]["note"]

    kept = tmp_path / "kept.heapprofile"
    done = run_cli("sample", app.endpoint, "--duration", "1s", "--interval", "16KiB", "--include-collected",
                   "--out", str(kept), "--json")
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["meta"]["samples"] > 0 and "note" not in row["meta"] and "no samples" not in done.stderr
