"""The engine against memlab (an independent parser and dominator implementation) on
snapshots of real Node processes, plus the parser's contracts: layout from meta, cache,
bad files."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cdpclient import heap
from cdpclient.errors import InvalidCaptureFile
from cdpclient.heap.cache import VERSION

Memlab = Callable[[Path, Path], dict[str, Any]]

def assert_matches_memlab(snap: heap.HeapSnapshot, ref: dict[str, Any], top_classes: int = 20) -> None:
    assert snap.node_count == ref["node_count"]
    assert snap.edge_count == ref["edge_count"]
    assert snap.total_size == ref["total_size"]
    ours = {r.name: r for r in heap.top_classes(snap, limit=10_000)}
    # Every class: same count and shallow size.
    for name, (count, shallow, _retained) in ref["classes"].items():
        if name == "(synthetic)":
            continue  # the root's class: memlab counts the root, we leave it out (it retains everything)
        assert name in ours, name
        assert (ours[name].count, ours[name].shallow_size) == (count, shallow), name
    # The biggest classes by retained size: equal retained sizes.
    biggest = sorted((c for c in ref["classes"] if c != "(synthetic)"), key=lambda c: -ref["classes"][c][2])
    for name in biggest[:top_classes]:
        assert ours[name].retained_size == ref["classes"][name][2], name
    # The single objects with the largest retained sizes: equal retained sizes.
    for node_id, retained, cls in ref["objects"]:
        n = snap.ordinal_of_id(node_id)
        assert n >= 0
        assert snap.class_of(n) == cls or cls == "(synthetic)"
        assert int(snap.retained[n]) == retained, (node_id, cls)


@pytest.mark.compat
def test_snapshot_matches_memlab(memlab: Memlab, app_snapshot: Path, tmp_path: Path) -> None:
    ref = memlab(app_snapshot, tmp_path / "ref.json")
    snap = heap.load(app_snapshot)
    assert_matches_memlab(snap, ref)
    assert ref["classes"]["Session"][0] == 20000


@pytest.mark.compat
def test_heaptimeline_matches_memlab(memlab: Memlab, timeline_file: Path, tmp_path: Path) -> None:
    ref = memlab(timeline_file, tmp_path / "ref.json")
    snap = heap.load(timeline_file)
    assert "trace_node_id" in snap.meta["node_fields"]
    assert_matches_memlab(snap, ref)


def test_series_snapshot_matches_memlab(memlab: Memlab, demo_series: dict[str, Any], tmp_path: Path) -> None:
    last = demo_series["paths"][-1]
    assert_matches_memlab(heap.load(last), memlab(last, tmp_path / "ref.json"))


def test_devtools_class_names(app_snapshot: Path) -> None:
    snap = heap.load(app_snapshot)
    names = set(snap.class_names)
    for expected in ("(string)", "(closure)", "(system)", "(compiled code)", "(array)", "(concatenated string)",
                     "Session", "Map", "WeakMap", "Object"):
        assert expected in names, expected
    # Types become classes in parentheses; objects keep their constructor names.
    assert heap.class_name_for_type("hidden") == "(system)"
    assert heap.class_name_for_type("code") == "(compiled code)"
    assert heap.class_name_for_type("sliced string") == "(sliced string)"
    session = snap.class_index("Session")
    assert int(snap.class_count[session]) == 20000
    # distances: user objects are a few steps from the roots
    members = [n for n in range(snap.node_count) if snap.cls[n] == session][:5]
    assert all(0 < int(snap.distance[n]) < 10 for n in members)


def test_field_layout_comes_from_meta(tmp_path: Path, write_snapshot: Callable[[Path, str], Path]) -> None:
    """A snapshot whose node and edge fields are in another order parses to the same result."""
    original = write_snapshot(tmp_path / "small.heapsnapshot", "globalThis.x = [1, 2, 3].map(String)")
    doc = json.loads(original.read_text())
    meta = doc["snapshot"]["meta"]
    nf, ef = meta["node_fields"], meta["edge_fields"]
    node_perm = list(reversed(range(len(nf))))
    edge_perm = [2, 0, 1]
    nodes, edges = doc["nodes"], doc["edges"]
    doc["nodes"] = [nodes[i + j] for i in range(0, len(nodes), len(nf)) for j in node_perm]
    doc["edges"] = [edges[i + j] for i in range(0, len(edges), len(ef)) for j in edge_perm]
    meta["node_fields"] = [nf[j] for j in node_perm]
    meta["node_types"] = [meta["node_types"][j] for j in node_perm]
    meta["edge_fields"] = [ef[j] for j in edge_perm]
    meta["edge_types"] = [meta["edge_types"][j] for j in edge_perm]
    # to_node stays a multiple of the node field count (unchanged here)
    moved = tmp_path / "moved.heapsnapshot"
    moved.write_text(json.dumps(doc, indent=1))  # whitespace and newlines everywhere
    a, b = heap.load(original), heap.load(moved)
    assert heap.top_classes(a, 50) == heap.top_classes(b, 50)
    assert a.edge_count == b.edge_count and a.total_size == b.total_size


def test_cache_makes_second_look_instant(app_snapshot: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    stages: list[str] = []
    first = heap.load(app_snapshot, cache_dir=cache_dir, progress=stages.append)
    assert "dominators" in stages
    stages.clear()
    second = heap.load(app_snapshot, cache_dir=cache_dir, progress=stages.append)
    assert stages == []  # nothing parsed or computed
    assert heap.top_classes(first, 30) == heap.top_classes(second, 30)
    assert heap.top_objects(first, 10) == heap.top_objects(second, 10)
    where = cache_dir / f"heap-v{VERSION}"
    assert stat.S_IMODE(where.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in list(where.iterdir()))
    # A changed file invalidates the cache.
    os.utime(app_snapshot, ns=(app_snapshot.stat().st_atime_ns, app_snapshot.stat().st_mtime_ns + 10**9))
    heap.load(app_snapshot, cache_dir=cache_dir, progress=stages.append)
    assert "dominators" in stages


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.999])
def test_truncated_file_is_an_invalid_capture(app_snapshot: Path, tmp_path: Path, cut: float) -> None:
    data = app_snapshot.read_bytes()
    broken = tmp_path / "cut.heapsnapshot"
    broken.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(InvalidCaptureFile):
        heap.load(broken)


def test_not_a_snapshot(tmp_path: Path) -> None:
    for text in ("", "[]", '{"a": 1}', '{"snapshot": {"meta": {}}, "nodes": [1,2]}', "not json"):
        path = tmp_path / "x.heapsnapshot"
        path.write_text(text)
        with pytest.raises(InvalidCaptureFile):
            heap.load(path)


def test_public_names_are_exported() -> None:
    for name in heap.__all__:
        assert getattr(heap, name) is not None, name
    assert {"load", "top_classes", "top_objects", "compare", "retainers", "find_leaks"} <= set(heap.__all__)


def test_two_snapshots_of_one_session_find_both_leaks(demo_series: dict[str, Any]) -> None:
    first, last = (heap.load(demo_series["paths"][i]) for i in (0, 2))
    result = heap.find_leaks([first, last], ids_comparable=True)
    assert result.method == "two-snapshot"
    found = {(s.owner_class, s.edge, s.holder_class): s for s in result.suspects}
    assert ("StreamClient", "sentEvents", "Array") in found
    contexts = found[("ContextRegistry", "contexts", "Map")]
    assert contexts.item_class == "CallContext" and contexts.counts[1] > contexts.counts[0]
    assert not any(key[0] == "LruCache" for key in found)
    assert contexts.path[-1].class_name == "Map" and contexts.path[-1].edge == "contexts"


def test_devtools_dominance_makes_global_dominate(app_snapshot: Path) -> None:
    """DevTools' rule (owned = reachable from the user roots): the global object retains most."""
    devtools = heap.load(app_snapshot, dominance="user-roots")
    memlab_rule = heap.load(app_snapshot)
    share = {snap.meta["dominance"]: int(snap.class_retained[snap.class_index("global")]) / snap.total_size
             for snap in (devtools, memlab_rule)}
    assert share["user-roots"] > 0.5 and share["user-roots"] > share["gc-roots"]
    assert devtools.total_size == memlab_rule.total_size
