"""The fast paths of the analysis give the answers of the plain ones, on real Node snapshots.

Arrays parsed in threads and the strands of the analysis side by side (``CDPCLIENT_THREADS=1`` turns
both off), a Comparison from the classes alone (``heap.census``), the cache written in the background
(``load(background=True)``), and the limits of the 32-bit indexes refused at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cdpclient import heap
from cdpclient.errors import AnalysisError
from cdpclient.heap import cache, loader, parallel
from cdpclient.heap.cache import VERSION

_VIEWS = """
import json, sys
from cdpclient import heap
snap = heap.load(sys.argv[1], dominance=sys.argv[2], classes=sys.argv[3])
print(json.dumps({
    "classes": [c.to_dict() for c in heap.top_classes(snap, 10_000)],
    "objects": [o.to_dict() for o in heap.top_objects(snap, 50)],
    "distance": int(snap.distance.astype("int64").sum()),
    "parent_edge": int(snap.parent_edge.astype("int64").sum()),
    "idom": int(snap.idom.astype("int64").sum()),
}))
"""


def _views(path: Path, threads: str, dominance: str, classes: str) -> dict[str, Any]:
    env = {**os.environ, "CDPCLIENT_THREADS": threads}
    done = subprocess.run([sys.executable, "-c", _VIEWS, str(path), dominance, classes], env=env,
                          capture_output=True, text=True, timeout=300, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(("dominance", "classes"), [("gc-roots", "memlab"), ("user-roots", "devtools")])
def test_threads_give_the_answers_of_one_thread(app_snapshot: Path, dominance: str, classes: str) -> None:
    assert _views(app_snapshot, "2", dominance, classes) == _views(app_snapshot, "1", dominance, classes)


def test_the_census_compares_as_the_full_analysis(demo_series: dict[str, Any]) -> None:
    first, last = demo_series["paths"][0], demo_series["paths"][2]
    for classes in ("memlab", "devtools"):
        dominance = "user-roots" if classes == "devtools" else "gc-roots"
        full = [heap.load(p, dominance=dominance, classes=classes) for p in (first, last)]
        light = [heap.census(p, classes=classes) for p in (first, last)]
        assert isinstance(light[0], heap.ClassCensus)
        for comparable in (True, False):
            assert heap.compare(*light, ids_comparable=comparable) == heap.compare(*full, ids_comparable=comparable)


def test_the_census_takes_a_cached_analysis_and_writes_none(app_snapshot: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    stages: list[str] = []
    light = heap.census(app_snapshot, cache_dir=cache_dir, progress=stages.append)
    assert isinstance(light, heap.ClassCensus) and "dominators" not in stages
    assert not (cache_dir / f"heap-v{VERSION}").exists()  # a Comparison alone does not pay for a cache
    heap.load(app_snapshot, cache_dir=cache_dir)
    stages.clear()
    again = heap.census(app_snapshot, cache_dir=cache_dir, progress=stages.append)
    assert isinstance(again, heap.HeapSnapshot) and stages == []
    assert again.total_size == light.total_size and again.node_count == light.node_count


def test_the_cache_written_in_the_background_is_the_same_cache(app_snapshot: Path, tmp_path: Path) -> None:
    plain = heap.load(app_snapshot, cache_dir=tmp_path / "plain")
    snap = heap.load(app_snapshot, cache_dir=tmp_path / "later", background=True)
    answer = heap.top_classes(snap, 30)  # answered while the cache may still be written
    loader.wait_for_caches()
    assert not loader.caching()
    assert answer == heap.top_classes(plain, 30) == heap.top_classes(snap, 30)
    assert isinstance(snap.retained, np.memmap) and isinstance(snap.edge_to, np.memmap)  # mapped from the cache
    stages: list[str] = []
    cached = heap.load(app_snapshot, cache_dir=tmp_path / "later", progress=stages.append)
    assert stages == [] and heap.top_objects(cached, 20) == heap.top_objects(plain, 20)
    assert not [p for p in (tmp_path / "later").iterdir() if p.name.startswith(".heap-")]


def test_a_stale_workspace_is_removed_and_a_fresh_one_kept(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir(mode=0o700)
    stale, fresh = cache_dir / ".heap-stale", cache_dir / ".heap-fresh"
    for where in (stale, fresh):
        where.mkdir()
        (where / "node_id.npy").write_bytes(b"x")
    old = time.time() - cache.STALE_S - 60
    os.utime(stale, (old, old))
    cache.Workspace(cache_dir).discard()
    assert not stale.exists() and fresh.exists()


def _header_only(path: Path, nodes: int, edges: int) -> Path:
    meta = {"node_fields": ["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"],
            "node_types": [["hidden", "object"], "string", "number", "number", "number", "number", "number"],
            "edge_fields": ["type", "name_or_index", "to_node"],
            "edge_types": [["property", "element"], "string_or_number", "node"]}
    head = json.dumps({"meta": meta, "node_count": nodes, "edge_count": edges})
    path.write_text('{"snapshot":' + head + ',\n"nodes":[' + "1," * 1000)  # and no more: never read
    return path


@pytest.mark.parametrize(("nodes", "edges", "words"), [
    (613_566_757, 10, "at most 613,566,756 nodes"),    # 7 fields: node indexes past 2**32 - 1
    (1_000, 2_147_483_648, "at most 2,147,483,647 edges"),
])
def test_counts_past_the_32_bit_indexes_fail_at_once(tmp_path: Path, nodes: int, edges: int, words: str) -> None:
    path = _header_only(tmp_path / "huge.heapsnapshot", nodes, edges)
    started = time.perf_counter()
    with pytest.raises(AnalysisError, match=words) as caught:
        heap.load(path)
    assert "32 bits" in str(caught.value) and time.perf_counter() - started < 5


def test_together_runs_side_by_side_and_raises_the_first_error() -> None:
    if parallel.cores() < 2:
        pytest.skip("one core: the calls run one after the other")
    seen: list[str] = []
    barrier = threading.Barrier(2, timeout=10)

    def meet(name: str) -> str:
        barrier.wait()  # both are running at once, or this times out
        seen.append(name)
        return name

    assert parallel.together(lambda: meet("a"), lambda: meet("b")) == ["a", "b"]

    def fail(message: str) -> None:
        raise ValueError(message)

    with pytest.raises(ValueError, match="first"):
        parallel.together(lambda: fail("first"), lambda: fail("second"))
    with pytest.raises(ValueError, match="second"):
        parallel.together(lambda: None, lambda: fail("second"))


def test_the_census_passes_over_the_edges_but_checks_their_count(app_snapshot: Path, tmp_path: Path) -> None:
    import re

    from cdpclient.errors import InvalidCaptureFile

    text = app_snapshot.read_text()
    count = int(re.search(r'"edge_count":(\d+)', text).group(1))  # type: ignore[union-attr]
    wrong = tmp_path / "wrong.heapsnapshot"
    wrong.write_text(text.replace(f'"edge_count":{count}', f'"edge_count":{count + 1}', 1))
    with pytest.raises(InvalidCaptureFile, match=f"add up to {count}, not edge_count={count + 1}"):
        heap.census(wrong)
    cut = tmp_path / "cut.heapsnapshot"
    cut.write_text(text[: text.index('"strings"')])  # the strings never come
    with pytest.raises(InvalidCaptureFile):
        heap.census(cut)


def test_progress_is_reported_one_call_at_a_time(app_snapshot: Path, tmp_path: Path) -> None:
    """The parser's threads and the analysis's strands all report progress: a callback never runs twice at
    once (the CLI prints its 'analysing ...' line at the first stage only, once)."""
    inside, overlaps, stages = [0], [0], []

    def progress(stage: str) -> None:
        inside[0] += 1
        overlaps[0] += inside[0] > 1
        time.sleep(0.02)  # long enough that a second thread would arrive while this one runs
        stages.append(stage)
        inside[0] -= 1

    heap.load(app_snapshot, progress=progress)
    assert overlaps[0] == 0 and {"classes", "distances", "dominators"} <= set(stages)
    done = subprocess.run([sys.executable, "-m", "cdpclient_cli.app", "top", str(app_snapshot), "--json"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert done.returncode == 0, done.stderr
    assert sum(line.startswith("analysing ") for line in done.stderr.splitlines()) == 1, done.stderr
