"""top / diff / retainers / leaks as a user types them, on real snapshots (the demo
service's leaks among them)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from nodeproc import run_cli  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _private_file_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Analysis caches of files outside a store go under XDG_CACHE_HOME: keep them in tmp."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def cli_json(*args: str) -> Any:
    proc = run_cli(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_top_by_class_and_object(app_snapshot: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    out = cli_json("top", str(app_snapshot), "--limit", "15", "--store", store)
    classes = out["classes"]
    assert len(classes) == 15
    retained = [c["retained_size"] for c in classes]
    assert retained == sorted(retained, reverse=True)
    session = next(c for c in classes if c["class"] == "Session")
    assert session["count"] == 20000 and session["retained_size"] >= session["shallow_size"] > 0
    objects = cli_json("top", str(app_snapshot), "--by", "object", "--limit", "5", "--store", store)["objects"]
    assert len(objects) == 5 and all(o["retained_size"] > 0 and o["id"] > 0 for o in objects)
    text = run_cli("top", str(app_snapshot), "--limit", "5", "--store", store)
    assert text.returncode == 0 and "retained" in text.stdout and "Session" not in text.stderr


def test_diff_one_session_uses_object_ids(demo_series: dict[str, Any]) -> None:
    a, b = demo_series["ids"][0], demo_series["ids"][2]
    out = cli_json("diff", a, b, "--store", str(demo_series["store"]))
    assert out["identity"] == "object-ids" and out["note"] is None
    rows = {r["class"]: r for r in out["classes"]}
    ctx = rows["CallContext"]
    assert ctx["new"] >= 4000 and ctx["deleted"] == 0 and ctx["delta_count"] == ctx["new"]
    assert ctx["alloc_size"] > 0 and ctx["size_delta"] == ctx["alloc_size"]
    assert out["classes"][0]["size_delta"] >= out["classes"][-1]["size_delta"]
    text = run_cli("diff", a, b, "--store", str(demo_series["store"]))
    assert "CallContext" in text.stdout and "new" in text.stdout


def test_diff_of_plain_files_compares_aggregates_and_says_so(demo_series: dict[str, Any], tmp_path: Path) -> None:
    a, b = demo_series["paths"][0], demo_series["paths"][1]
    proc = run_cli("diff", str(a), str(b), "--store", str(tmp_path / "s"))
    assert proc.returncode == 0, proc.stderr
    assert "not comparable" in proc.stderr
    out = cli_json("diff", str(a), str(b), "--store", str(tmp_path / "s"))
    assert out["identity"] == "aggregates" and "new" not in out["classes"][0]
    ctx = next(r for r in out["classes"] if r["class"] == "CallContext")
    assert ctx["delta_count"] > 0


def test_retainers_of_a_class_and_an_object(demo_series: dict[str, Any]) -> None:
    store, last = str(demo_series["store"]), demo_series["ids"][2]
    out = cli_json("retainers", last, "CallContext", "--paths", "3", "--store", store)
    assert out["kind"] == "class" and out["count"] > 4000
    first = out["paths"][0]
    assert "registry: ContextRegistry -> contexts: Map" in first["text"]
    assert first["steps"][-1]["class"] == "CallContext"
    holder = next(s for s in first["steps"] if s["class"] == "Map")
    obj = cli_json("retainers", last, f"@{holder['id']}", "--store", store)
    assert obj["kind"] == "object" and obj["object"]["class"] == "Map"
    assert obj["paths"][0]["text"].endswith("contexts: Map")
    assert first["user_text"] == "demo/service.js: registry.contexts[] (CallContext)", first["user_text"]
    text = run_cli("retainers", last, "StreamClient", "--store", store)
    assert text.returncode == 0 and "demo/service.js: client (StreamClient)" in text.stdout  # the module variable
    raw = run_cli("retainers", last, "StreamClient", "--store", store, "--raw")
    assert raw.returncode == 0 and "client: StreamClient" in raw.stdout and "(GC roots) -> " in raw.stdout


def test_leaks_three_snapshots_of_the_demo_service(demo_series: dict[str, Any]) -> None:
    """Both leaks of the demo service are named with their owners; the churning LRU cache is not."""
    store = str(demo_series["store"])
    out = cli_json("leaks", *demo_series["ids"], "--store", store)
    assert out["method"] == "three-snapshot"
    titles = [s["title"] for s in out["suspects"]]
    assert any(t.startswith("StreamClient.sentEvents: Array holding") for t in titles), titles
    assert any(t.startswith("ContextRegistry.contexts: Map holding") and "CallContext" in t for t in titles), titles
    assert not any("LruCache" in t or "Cache" in t.split(":")[0] for t in titles), titles
    for s in out["suspects"][:2]:
        assert s["counts"][0] < s["counts"][1] < s["counts"][2]
        assert s["growth_per_snapshot"] > 1000 and s["retained_size"] > 0
        assert "per snapshot" in s["title"]
    text = run_cli("leaks", *reversed(demo_series["ids"]), "--store", store)  # a series keeps its own order
    assert text.returncode == 0
    assert "StreamClient.sentEvents" in text.stdout and "ContextRegistry.contexts" in text.stdout


def test_leaks_without_a_shared_session_uses_class_growth(demo_series: dict[str, Any], tmp_path: Path) -> None:
    paths = []
    for i, p in enumerate(demo_series["paths"]):
        paths.append(tmp_path / f"copy{i}.heapsnapshot")
        shutil.copyfile(p, paths[-1])
    out = cli_json("leaks", *map(str, paths), "--store", str(tmp_path / "s"))
    assert out["method"] == "class-growth" and out["note"]
    titles = [s["title"] for s in out["suspects"]]
    assert any("StreamClient.sentEvents" in t for t in titles), titles
    assert any("ContextRegistry.contexts" in t for t in titles), titles


def test_leaks_fail_if_gates_a_pipeline(demo_series: dict[str, Any], tmp_path: Path) -> None:
    store = str(demo_series["store"])
    ids = demo_series["ids"]
    crossed = run_cli("leaks", *ids, "--store", store, "--fail-if", "count>1000/snapshot")
    assert crossed.returncode == 3, crossed.stderr
    assert "--fail-if count>1000/snapshot: StreamClient.sentEvents" in crossed.stderr
    quiet = run_cli("leaks", *ids, "--store", store, "--fail-if", "growth>1GiB/snapshot", "--json")
    assert quiet.returncode == 0 and json.loads(quiet.stdout)["failed_gates"] == []
    bad = run_cli("leaks", *ids, "--store", store, "--fail-if", "growth<1MiB")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "growth>1MiB/snapshot" in bad.stderr
    # The same files given newest first (no shared session): put in the order taken, and said so.
    paths = []
    for i, p in enumerate(demo_series["paths"]):
        paths.append(tmp_path / f"copy{i}.heapsnapshot")
        shutil.copyfile(p, paths[-1])
        os.utime(paths[-1], (1_700_000_000 + i * 60, 1_700_000_000 + i * 60))
    out = run_cli("leaks", *map(str, reversed(paths)), "--store", str(tmp_path / "s"))
    assert out.returncode == 0, out.stderr
    assert "out of order" in out.stderr


def test_heaptimeline_by_class_is_a_heap_view(timeline_file: Path, tmp_path: Path) -> None:
    out = cli_json("top", str(timeline_file), "--by", "class", "--store", str(tmp_path / "s"))
    assert out["by"] == "class" and out["nodes"] > 0


def test_bad_input_gives_one_line(app_snapshot: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "s")
    cases = [
        (("retainers", str(app_snapshot), "NoSuchClass", "--store", store), 1, "NoSuchClass"),
        (("retainers", str(app_snapshot), "@notanumber", "--store", store), 1, "node id"),
        (("leaks", str(app_snapshot), "--store", store), 2, "at least two"),
        (("top", str(tmp_path / "missing.heapsnapshot"), "--store", store), 1, "missing"),
        (("top", str(app_snapshot), "--by", "url", "--store", store), 2, "class, object or function"),
        # -n is the namespace on capture commands (as in kubectl), never a short --limit
        (("top", str(app_snapshot), "-n", "3", "--store", store), 2, "-n"),
    ]
    for args, code, text in cases:
        proc = run_cli(*args)
        assert proc.returncode == code, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert lines[-1].startswith("cdpclient: error:") and text in lines[-1], (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    truncated = tmp_path / "cut.heapsnapshot"
    truncated.write_bytes(app_snapshot.read_bytes()[:100_000])
    proc = run_cli("top", str(truncated), "--store", store)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
