"""Publishing captures through new_capture, records, ids, resolve and listing."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

import cdpclient.store as store_pkg
from cdpclient.errors import AmbiguousCapture, CaptureNotFound, InvalidCaptureFile, StoreError, UsageError
from cdpclient.store import CaptureRecord, Store
from cdpclient.store.ids import ID_LENGTH, id_time, new_id

Put = Callable[..., CaptureRecord]
RECORD_FIELDS = ["id", "kind", "path", "created", "size", "sha256", "duration_s", "target", "node_version", "pid",
                 "labels", "options", "session", "series", "series_index", "status", "meta", "problem"]


def test_exports_are_complete() -> None:
    for name in store_pkg.__all__:
        assert hasattr(store_pkg, name), name


def test_record_fields_are_exactly_the_contract() -> None:
    assert list(CaptureRecord.__dataclass_fields__) == RECORD_FIELDS


def test_ids_are_short_unique_and_sorted_by_time() -> None:
    made = [new_id(1_700_000_000 + i / 1000) for i in range(2000)]
    assert all(len(i) == ID_LENGTH for i in made)
    assert len(set(made)) == len(made)
    assert made == sorted(made)
    assert abs(id_time(made[0]) - 1_700_000_000) < 0.002


def test_new_capture_publishes_a_complete_private_capture(store: Store) -> None:
    assert not store.root.exists()
    with store.new_capture("heapsnapshot", target={"endpoint": "127.0.0.1:9229"}, labels={"env": "test"},
                           options={"gc": True}) as pending:
        assert stat.S_IMODE(pending.path.stat().st_mode) == 0o600
        assert pending.path.parent.parent == store.layout.tmp_dir
        pending.path.write_text('{"snapshot":{"meta":{}},"nodes":[],"edges":[],"strings":[]}')
        pending.side_path(".events.json").write_text("[]")
        pending.meta.update(node_version="v20.20.2", pid=42, session="s1", series="x", series_index=0,
                            duration_s=1.5, extra="kept", id="ignored")
        assert store.list() == []  # nothing visible before the block ends
    rec = pending.record
    assert rec is not None and rec.status == "ok"
    assert (rec.kind, rec.node_version, rec.pid, rec.session, rec.series, rec.series_index, rec.duration_s) == \
        ("heapsnapshot", "v20.20.2", 42, "s1", "x", 0, 1.5)
    assert rec.labels == {"env": "test"} and rec.options == {"gc": True}
    assert rec.target == {"endpoint": "127.0.0.1:9229"}
    assert rec.meta["extra"] == "kept" and rec.meta["id"] == rec.id
    assert rec.path.name == f"{rec.id}.heapsnapshot" and rec.path.read_text().startswith('{"snapshot"')
    assert rec.size == rec.path.stat().st_size and len(rec.sha256 or "") == 64
    assert rec.created.endswith("Z")
    side = store.side_file(rec, ".events.json")
    assert side is not None and side.read_text() == "[]"
    meta_file = store.layout.meta_path(rec.id)
    assert json.loads(meta_file.read_text())["sha256"] == rec.sha256
    for path in [store.root, store.layout.captures_dir, rec.path.parent]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for path in [rec.path, meta_file, side, store.layout.index_path]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert list(store.layout.tmp_dir.iterdir()) == []
    assert [r.id for r in store.list()] == [rec.id]


def test_an_exception_in_the_block_registers_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError):
        with store.new_capture("cpuprofile") as pending:
            pending.path.write_text("{")
            raise RuntimeError("capture failed")
    assert pending.record is None
    assert store.list() == []
    assert list(store.layout.tmp_dir.iterdir()) == []
    assert list(store.layout.captures_dir.iterdir()) == []


def test_a_capture_that_wrote_nothing_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="wrote no data"):
        with store.new_capture("cpuprofile"):
            pass
    assert store.list() == []


def test_unknown_kind_is_a_usage_error(store: Store) -> None:
    with pytest.raises(UsageError):
        with store.new_capture("coredump"):
            pass
    assert not store.root.exists()


def test_compressed_capture_round_trips(store: Store, node_files: dict[str, Path]) -> None:
    original = node_files["heapsnapshot"].read_bytes()
    with store.new_capture("heapsnapshot", compress=True) as pending:
        pending.path.write_bytes(original)
    rec = pending.record
    assert rec is not None and rec.path.name.endswith(".heapsnapshot.zst") and rec.compressed
    assert rec.size == len(original) and rec.stored_size == rec.path.stat().st_size < len(original) / 3
    plain = store.materialize(rec)
    assert plain.read_bytes() == original
    assert plain.parent == store.cache_dir(rec)
    assert stat.S_IMODE(plain.stat().st_mode) == 0o600
    assert store.materialize(rec) == plain  # cached
    assert store.verify(rec.id).status == "ok"


def test_resolve_by_id_prefix_and_path(store: Store, put: Put, node_files: dict[str, Path]) -> None:
    a = put()
    assert store.resolve(a.id).id == a.id
    assert store.resolve(a.id[:8].lower()).id == a.id
    assert store.resolve(a.path).id == a.id  # a path into the store gives the stored record
    b = put()
    common = os.path.commonprefix([a.id, b.id])
    with pytest.raises(AmbiguousCapture) as err:
        store.resolve(common)
    assert set(err.value.candidates) >= {a.id, b.id}
    with pytest.raises(CaptureNotFound):
        store.resolve("ZZZZZZZZ")
    ext = store.resolve(str(node_files["cpuprofile"]))
    assert (ext.kind, ext.status, ext.path, ext.sha256) == ("cpuprofile", "external", node_files["cpuprofile"], None)
    assert store.materialize(ext) == node_files["cpuprofile"]
    with pytest.raises(CaptureNotFound):
        store.resolve("no/such/file.heapsnapshot")


def test_resolving_never_creates_the_store(tmp_path: Path, node_files: dict[str, Path]) -> None:
    st = Store.open(tmp_path / "absent")
    assert st.resolve(node_files["report"]).kind == "report"
    with pytest.raises(CaptureNotFound, match="no store there"):
        st.resolve("01M8")
    assert st.list() == []
    assert not st.root.exists()


def test_resolving_a_bad_path_says_why(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "x.heapsnapshot"
    bad.write_text('{"snapshot":{"meta":{}},"nodes":[1,2')
    with pytest.raises(InvalidCaptureFile, match="truncated"):
        store.resolve(bad)


def test_store_location_comes_from_argument_env_or_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CDPCLIENT_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert Store.open().root == tmp_path / "xdg" / "cdpclient"  # the per-user store, not ./recordings
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Store.open().root == tmp_path / "home" / ".local" / "share" / "cdpclient"
    monkeypatch.setenv("CDPCLIENT_STORE", str(tmp_path / "env"))
    assert Store.open().root == tmp_path / "env"
    assert Store.open(tmp_path / "arg").root == tmp_path / "arg"


def test_list_filters(store: Store, put: Put) -> None:
    a = put("heapsnapshot", labels={"env": "prod", "app": "api"}, target={"endpoint": "10.0.0.1:9229"})
    b = put("cpuprofile", labels={"env": "staging"}, target={"pod": "api-7f9", "namespace": "shop"})
    c = put("heapsnapshot", labels={"env": "prod"}, created=1_000_000_000)  # an old capture (imported)
    assert [r.id for r in store.list()] == [b.id, a.id, c.id]
    assert [r.id for r in store.list(kind="heapsnapshot")] == [a.id, c.id]
    assert [r.id for r in store.list(labels={"env": "prod"})] == [a.id, c.id]
    assert [r.id for r in store.list(labels={"env": "prod", "app": "api"})] == [a.id]
    assert [r.id for r in store.list(target="api-7")] == [b.id]
    assert [r.id for r in store.list(target="shop")] == [b.id]
    assert [r.id for r in store.list(since=3600)] == [b.id, a.id]
    with pytest.raises(UsageError):
        store.list(kind="nope")


def test_remove_and_prune(store: Store, put: Put) -> None:
    old = [put(created=1_000_000_000 + i) for i in range(3)]
    new = [put() for _ in range(2)]
    store.materialize(new[0])
    store.cache_dir(new[0]).joinpath("x").write_text("cache")
    assert [r.id for r in store.prune_candidates(keep=4)] == [old[0].id]
    assert {r.id for r in store.prune_candidates(older_than=86400)} == {r.id for r in old}
    assert [r.id for r in store.prune_candidates(keep=4, older_than=86400)] == [old[0].id]
    removed = store.remove([new[0].id, old[0].id[:11]])
    assert [r.id for r in removed] == [new[0].id, old[0].id]
    assert not new[0].path.parent.exists() and not store.layout.cache_dir(new[0].id).exists()
    assert {r.id for r in store.list()} == {new[1].id, old[1].id, old[2].id}
    with pytest.raises(CaptureNotFound):  # one bad ref deletes nothing
        store.remove([new[1].id, "ZZZZZZZZZZZZ"])
    assert len(store.list()) == 3
    with pytest.raises(UsageError):
        store.prune_candidates()
