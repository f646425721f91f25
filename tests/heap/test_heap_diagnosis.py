"""Acceptance tests for leak diagnosis, against services that know what they leak.

Each service of ``tests/apps/diagnosis`` leaks one thing the way real Node services do
(an EventEmitter listener per request, intervals never cleared, reply callbacks never
deleted, an unbounded Buffer cache, rejected promises kept for a retry, event ids never
drained) and prints its own count of it; ``steady`` leaks nothing.  The series are taken
by :func:`diagnosis.capture_series` (one inspector session: ids comparable), and
``test_the_truth_is_in_the_snapshots`` checks the services' counts against the raw
snapshots with nothing but ``json``: the truth the other tests hold the verdict to.

The verdict is what a person reading ``cdpclient leaks`` needs: rank 1 names the owner,
its property or event and the leaking function in the author's words; its growth is
the true growth; its chain is user-land (no V8 contexts, closures or timer-list
internals) and short; nothing below the noise floor, nothing contradicting itself,
nothing twice, nothing at all on the steady service.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from diagnosis import LEAKING, TRUTHS, Series, capture_series, witness_counts  # noqa: E402
from nodeproc import run_cli  # type: ignore[import-not-found]  # noqa: E402

ALL = list(TRUTHS)
FORBIDDEN_IN_CHAIN = ("system / Context", "(closure)", "_idleNext", "timerListMap")
MAX_HOPS = 6


@pytest.fixture(scope="session")
def diagnosis_series(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Series]:
    """``diagnosis_series(name)``: the service's snapshot series, captured once per session."""
    taken: dict[str, Series] = {}

    def get(name: str) -> Series:
        if name not in taken:
            taken[name] = capture_series(name, out_dir=tmp_path_factory.mktemp(f"diagnosis-{name}"))
        return taken[name]

    return get


@pytest.fixture(scope="session")
def diagnosis(diagnosis_series: Callable[[str], Series]) -> Callable[[str], dict[str, Any]]:
    """``diagnosis(name)``: ``{"series", "snaps", "report"}``: ``find_leaks`` over the series, once."""
    from cdpclient import heap

    done: dict[str, dict[str, Any]] = {}

    def get(name: str) -> dict[str, Any]:
        if name not in done:
            series = diagnosis_series(name)
            snaps = [heap.load(p) for p in series.paths]
            done[name] = {"series": series, "snaps": snaps,
                          "report": heap.find_leaks(snaps, ids_comparable=True)}
        return done[name]

    return get


def _rank_one(result: dict[str, Any]) -> Any:
    suspects = result["report"].suspects
    assert suspects, f"{result['series'].name}: no suspect at all"
    return suspects[0]


def _describe(suspect: Any) -> str:
    return f"title={suspect.title!r}\npath_text={suspect.path_text!r}"


# --- the truth -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_the_truth_is_in_the_snapshots(name: str, diagnosis_series: Callable[[str], Series]) -> None:
    """What the service says it leaked is what the raw snapshot holds, snapshot by snapshot."""
    series = diagnosis_series(name)
    truth = TRUTHS[name]
    said = [line["leaked"] for line in series.lines]
    seen = [witness_counts(p) for p in series.paths]
    assert [w[name] for w in seen] == said, (name, said, seen)
    if name == "intervals":  # one live keepAlive interval per leaked Connection
        assert [w["keepAlive"] for w in seen] == said
    if truth.leaks:
        steps = [b - a for a, b in pairwise(said)]
        expected = truth.batch * 3 // 4 if name == "promises" else truth.batch
        assert steps == [expected] * (len(said) - 1), (name, said)
    else:
        assert said == [0] * len(said)
    if truth.offheap:
        assert series.lines[-1]["bytes"] == said[-1] * 64 * 1024


# --- rank 1 is the leak, in the author's words -------------------------------------------------------------


@pytest.mark.parametrize("name", LEAKING)
def test_rank_one_names_the_owner_property_and_function(name: str, diagnosis: Callable[[str], dict[str, Any]]) -> None:
    truth = TRUTHS[name]
    top = _rank_one(diagnosis(name))
    assert isinstance(top.title, str)
    wanted = [w for w in (truth.owner, truth.prop, truth.function) if w]
    missing = [w for w in wanted if w not in top.title]
    assert not missing, f"{name}: rank 1 title lacks {missing}\n{_describe(top)}"


@pytest.mark.parametrize("name", LEAKING)
def test_rank_one_grows_as_the_service_leaks(name: str, diagnosis: Callable[[str], dict[str, Any]]) -> None:
    result = diagnosis(name)
    truth = result["series"].growth_per_snapshot
    top = _rank_one(result)
    assert abs(top.growth_per_snapshot - truth) <= 0.1 * truth, (
        f"{name}: {top.growth_per_snapshot:,.0f} per snapshot, the service leaked {truth:,.0f}\n{_describe(top)}")


@pytest.mark.parametrize("name", LEAKING)
def test_rank_one_chain_is_user_land(name: str, diagnosis: Callable[[str], dict[str, Any]]) -> None:
    top = _rank_one(diagnosis(name))
    found = [w for w in FORBIDDEN_IN_CHAIN if w in top.path_text]
    hops = top.path_text.count(" -> ")
    assert not found and hops <= MAX_HOPS, f"{name}: internals {found}, {hops} hops\n{_describe(top)}"


def test_buffers_are_reported_off_heap(diagnosis: Callable[[str], dict[str, Any]]) -> None:
    """64 KiB Buffers: almost all of what they retain is their backing stores, off the JS heap."""
    top = _rank_one(diagnosis("buffers"))
    share = top.to_dict().get("offheap_share")
    assert share is not None, f"no offheap_share in the suspect's dict\n{_describe(top)}"
    assert share >= 0.9, f"offheap_share {share}\n{_describe(top)}"


# --- no noise, no contradiction, nothing twice --------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_no_suspect_below_the_noise_floor(name: str, diagnosis: Callable[[str], dict[str, Any]]) -> None:
    from cdpclient.heap.leaks import NOISE_FLOOR_BYTES  # type: ignore[attr-defined]  # being added

    small = [s for s in diagnosis(name)["report"].suspects if s.retained_size < NOISE_FLOOR_BYTES]
    assert not small, [(s.title, s.retained_size) for s in small]


@pytest.mark.parametrize("name", ALL)
def test_no_suspect_contradicts_itself(name: str, diagnosis: Callable[[str], dict[str, Any]]) -> None:
    """A suspect that says it grows must have grown: more at the end than at the start."""
    bad = [s for s in diagnosis(name)["report"].suspects
           if not (s.counts[-1] > s.counts[0] and s.growth_per_snapshot > 0)]
    assert not bad, [(s.title, s.counts, s.growth_per_snapshot) for s in bad]


@pytest.mark.parametrize("name", ALL)
def test_the_same_leak_is_not_reported_twice(name: str, diagnosis: Callable[[str], dict[str, Any]]) -> None:
    suspects = diagnosis(name)["report"].suspects
    signatures = [(s.owner_class, s.edge) for s in suspects if s.owner_class and s.edge]
    assert len(signatures) == len(set(signatures)), [s.title for s in suspects]
    truth = TRUTHS[name]
    if truth.leaks:
        names = [truth.owner, truth.prop] if truth.prop else [truth.owner, truth.function]
        naming = [s.title for s in suspects if all(n in s.title for n in names)]
        assert len(naming) <= 1, naming


def test_steady_service_has_no_leak(diagnosis: Callable[[str], dict[str, Any]]) -> None:
    result = diagnosis("steady")
    heap_size = result["snaps"][-1].total_size
    big = [(s.title, s.retained_size) for s in result["report"].suspects if s.retained_size > 0.01 * heap_size]
    assert not big, (heap_size, big)


# --- the same, as a user types it ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LEAKING)
def test_cli_first_suspect_names_the_owner(name: str, diagnosis_series: Callable[[str], Series], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``cdpclient leaks ID ID ID`` on the series as ``cdpclient snapshot --count 3`` stores it
    (one session, so the CLI runs the three-snapshot method as the library tests do)."""
    from cdpclient.store import Store

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    series = diagnosis_series(name)
    store = Store.open(tmp_path / "store")
    ids = []
    for i, path in enumerate(series.paths):
        with store.new_capture("heapsnapshot", target={"service": name}) as pending:
            shutil.copyfile(path, pending.path)
            pending.meta.update(session=series.session, series=f"diagnosis-{name}", series_index=i)
        assert pending.record is not None
        ids.append(pending.record.id)
    proc = run_cli("leaks", *ids, "--store", str(tmp_path / "store"))
    assert proc.returncode == 0, proc.stderr
    first = next((line for line in proc.stdout.splitlines() if line.startswith("1. ")), None)
    assert first is not None, proc.stdout
    assert TRUTHS[name].owner in first, proc.stdout
