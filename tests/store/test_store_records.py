"""What records say about each other (id comparability, series order) and where a timeline's events are."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from cdpclient.store import CaptureRecord, Store, ids_comparable, order_series

Put = Callable[..., CaptureRecord]


def test_ids_compare_only_within_one_session(put: Put) -> None:
    a, b = put(meta={"session": "S1"}), put(meta={"session": "S1"})
    other, imported = put(meta={"session": "S2"}), put()
    assert ids_comparable([a, b])
    assert not ids_comparable([a, other])
    assert not ids_comparable([a, imported])  # no session recorded: nothing to compare by
    assert not ids_comparable([])


def test_one_series_comes_back_in_its_own_order(put: Put, tmp_path: Path) -> None:
    third, first, second = (put(meta={"series": "X", "series_index": i}) for i in (2, 0, 1))
    assert order_series([third, first, second]) == [first, second, third]
    pairs = [(third, tmp_path / "c"), (first, tmp_path / "a"), (second, tmp_path / "b")]
    assert order_series(pairs, key=lambda rp: rp[0]) == [pairs[1], pairs[2], pairs[0]]


def test_anything_but_one_whole_series_keeps_the_order_given(put: Put) -> None:
    x1, y0 = put(meta={"series": "X", "series_index": 1}), put(meta={"series": "Y", "series_index": 0})
    loose = put()
    unnumbered = put(meta={"series": "X"})
    assert order_series([x1, y0]) == [x1, y0]
    assert order_series([x1, loose]) == [x1, loose]
    assert order_series([x1, unnumbered]) == [x1, unnumbered]
    assert order_series([]) == []


def test_a_stored_timeline_finds_its_events_side_file(store: Store) -> None:
    with store.new_capture("heaptimeline") as pending:
        pending.path.write_text("{}")
        pending.side_path(".events.json").write_text('{"events":[]}')
    assert pending.record is not None
    events = Store.events_file(pending.record)
    assert events is not None and events.read_text() == '{"events":[]}'
    assert events == store.side_file(pending.record, ".events.json")
    with store.new_capture("heaptimeline") as bare:
        bare.path.write_text("{}")
    assert bare.record is not None and Store.events_file(bare.record) is None


def test_a_timeline_file_finds_the_events_beside_it(store: Store, node_files: dict[str, Path],
                                                    tmp_path: Path) -> None:
    timeline = tmp_path / "x.heaptimeline"
    shutil.copy(node_files["heaptimeline"], timeline)
    assert Store.events_file(store.resolve(str(timeline))) is None
    short = tmp_path / "x.events.json"  # the name a tool that drops the extension would use
    short.write_text("{}")
    assert Store.events_file(store.resolve(str(timeline))) == short
    written = tmp_path / "x.heaptimeline.events.json"  # as `cdpclient timeline --out x.heaptimeline` writes it
    written.write_text("{}")
    assert Store.events_file(store.resolve(str(timeline))) == written
    assert not store.exists  # looking never creates the store
