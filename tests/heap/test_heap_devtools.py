"""``classes="devtools"`` against DevTools' own heap snapshot model (chrome-devtools-frontend,
run under Node): every Summary row, by name, the same count, shallow and retained size."""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cdpclient import heap
from cdpclient.heap.devtools import format_property, short_dom_name

DevTools = Callable[[Path, Path], dict[str, Any]]

# Plain objects of many shapes, including the corners of DevTools' naming: property names it
# quotes, a name cut at 120 characters, __proto__, one shape listed in two orders, shapes
# below its floor (2 objects, 1 in 1,000), and objects that match a shape with extra keys.
SHAPES_JS = r"""
globalThis.keep = [];
for (let i = 0; i < 500; i++) keep.push({host: 'h' + i, port: {n: i}});
for (let i = 0; i < 300; i++) keep.push({port: {n: i}, host: 'h' + i});
for (let i = 0; i < 200; i++) keep.push({host: 'h' + i, port: {n: i}, extra: 'x' + i});
for (let i = 0; i < 100; i++) keep.push({'a,b': 's' + i, 'q"uote': 't' + i, '{x}': 'u' + i});
const long = {};
for (let k = 0; k < 30; k++) long['property_number_' + k] = 'v' + k;
for (let i = 0; i < 50; i++) keep.push(Object.assign({}, long));
for (let i = 0; i < 40; i++) keep.push({__proto__: {base: 'b' + i}, own: 'o' + i});
keep.push({rare: 'r1'});
keep.push({rare: 'r2'}, {rare: 'r3'});
keep.push({once: 'only'});
for (let i = 0; i < 60; i++) keep.push({re: /a+b/g, fn: function named() { return i; }, arrow: () => i});
"""


def devtools_rows(ref: dict[str, Any]) -> dict[str, list[int]]:
    """DevTools' rows summed by name (it shows one row per name and defining script)."""
    rows: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    for row in ref["classes"].values():
        agg = rows[row["name"]]
        agg[0] += row["count"]
        agg[1] += row["self"]
        agg[2] += row["retained"]
    return dict(rows)


def assert_matches_devtools(path: Path, ref: dict[str, Any]) -> heap.HeapSnapshot:
    snap = heap.load(path, dominance="user-roots", classes="devtools")
    assert snap.total_size == ref["total"]
    want = devtools_rows(ref)
    got = {name: [int(snap.class_count[i]), int(snap.class_shallow[i]), int(snap.class_retained[i])]
           for i, name in enumerate(snap.class_names) if int(snap.class_count[i])}
    assert sorted(got) == sorted(want)
    wrong = {name: (got[name], want[name]) for name in want if got[name] != want[name]}
    assert not wrong, f"{len(wrong)} rows differ, e.g. {list(wrong.items())[:5]}"
    return snap


@pytest.mark.parametrize("which", ["app", "timeline", "demo"])
def test_summary_matches_devtools(which: str, devtools_model: DevTools, app_snapshot: Path, timeline_file: Path,
                                  demo_series: dict[str, Any], tmp_path: Path) -> None:
    path = {"app": app_snapshot, "timeline": timeline_file, "demo": demo_series["paths"][-1]}[which]
    snap = assert_matches_devtools(path, devtools_model(path, tmp_path / "devtools.json"))
    names = set(snap.class_names)
    assert {"Function", "RegExp" if which == "app" else "Function", "(system)", "(compiled code)"} <= names
    assert "(closure)" not in names and "(regexp)" not in names


@pytest.mark.compat
def test_shapes_match_devtools(devtools_model: DevTools, write_snapshot: Callable[[Path, str], Path],
                               tmp_path: Path) -> None:
    path = write_snapshot(tmp_path / "shapes.heapsnapshot", SHAPES_JS)
    snap = assert_matches_devtools(path, devtools_model(path, tmp_path / "devtools.json"))
    count = {name: int(snap.class_count[i]) for i, name in enumerate(snap.class_names)}
    # The same two keys in the other order match the more common order's shape (a tie on
    # property count goes to the shape listed first); one key more is a shape of its own.
    assert count["{host, port}"] >= 800
    assert "{port, host}" not in count
    assert count["{host, port, extra}"] >= 200
    assert '{"a,b", "q\\"uote", "{x}"}' in count
    long_name = next(name for name in count if name.startswith("{property_number_"))
    assert len(long_name) <= 120 and long_name.endswith("}")
    assert "{own}" in count and "{base}" in count   # __proto__ is not a property of the shape
    assert "{re, fn, arrow}" in count
    assert count["{rare}"] == 3
    assert "{once}" not in count  # one object: no shape


def test_memlab_classes_stay_the_default(app_snapshot: Path) -> None:
    snap = heap.load(app_snapshot)
    names = set(snap.class_names)
    assert "(closure)" in names and "Function" not in names
    assert not any(name.startswith("{") for name in names)
    assert snap.meta["classes"] == "memlab"


def test_cache_keeps_one_model_per_file(app_snapshot: Path, tmp_path: Path) -> None:
    """The cache holds the last model asked for; asking for the other rebuilds, never mixes."""
    cache = tmp_path / "cache"
    dev = heap.load(app_snapshot, cache_dir=cache, dominance="user-roots", classes="devtools")
    assert "Function" in dev.class_names
    plain = heap.load(app_snapshot, cache_dir=cache)
    assert "(closure)" in plain.class_names and plain.meta["classes"] == "memlab"
    again = heap.load(app_snapshot, cache_dir=cache, dominance="user-roots", classes="devtools")
    assert again.class_names == dev.class_names
    assert int(again.class_shallow.sum()) == int(dev.class_shallow.sum())


def test_bad_classes_value(app_snapshot: Path) -> None:
    with pytest.raises(ValueError, match="classes must be one of"):
        heap.load(app_snapshot, classes="chrome")


def test_names_as_devtools_writes_them() -> None:
    assert format_property("host") == "host"
    assert format_property("a,b") == '"a,b"'
    assert format_property('q"uote') == '"q\\"uote"'
    assert format_property("{x}") == '"{x}"'
    assert short_dom_name('<div id="a" class="b">') == "<div>"
    assert short_dom_name("<div>") == "<div>"
    assert short_dom_name('Detached <span id="x">') == "Detached <span>"
    assert short_dom_name("Map") == "Map"
