"""A synthetic snapshot with known truth (bench/synth_heap.py, the generator of the ~8 GB one), small:
``cdpclient top --json`` must give its class counts, shallow sizes and the retained size of the
object that holds the leak, exactly."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
from nodeproc import run_cli  # type: ignore[attr-defined]

SYNTH = Path(__file__).resolve().parents[2] / "bench" / "synth_heap.py"


def synth_heap() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synth_heap", SYNTH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("synth_heap", module)  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _private_file_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def test_format_rows_is_v8s_layout() -> None:
    import numpy as np

    synth = synth_heap()
    rows = np.array([[9, 1, 1, 0, 5, 0, 0], [3, 12, 1234567, 1000000000, 0, 0, 0]])
    assert synth.format_rows(rows, first=True) == b"9,1,1,0,5,0,0\n,3,12,1234567,1000000000,0,0,0"
    assert synth.format_rows(rows[:1], first=False) == b"\n,9,1,1,0,5,0,0"


def test_top_gives_the_synthetic_truth(tmp_path: Path) -> None:
    synth = synth_heap()
    start = time.perf_counter()
    plan = synth.Plan.for_nodes(200_000)
    path = tmp_path / "synth.heapsnapshot"
    synth.write(path, plan)
    doc = json.loads(path.read_text())  # valid JSON, counts as the header says
    assert len(doc["nodes"]) == 7 * plan.node_count == 7 * doc["snapshot"]["node_count"]
    assert len(doc["edges"]) == 3 * plan.edge_count
    assert doc["snapshot"]["meta"]["node_fields"][-1] == "detachedness"
    del doc
    proc = run_cli("top", str(path), "--json", "--limit", "1000")
    assert proc.returncode == 0, proc.stderr
    want = synth.truth(plan)
    facts = synth.compare(json.loads(proc.stdout), want)
    assert [f for f in facts if not f[1]] == []
    assert len(facts) > 25
    registry = want["classes"]["LeakyRegistry"]["retained_size"]
    assert registry == 64 + 32 + 16 + 8 * plan.n_leak + plan.n_leak * (48 + 80)  # the truth, by hand
    if "compiling the analysis kernels" not in proc.stderr:  # the first analysis on a machine compiles (~16 s)
        assert time.perf_counter() - start < 15
