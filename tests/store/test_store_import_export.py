"""Import of real capture files of every kind, refusal of bad files, export and redaction."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from cdpclient.errors import InvalidCaptureFile, StoreError, UsageError
from cdpclient.store import KINDS, Store, detect_kind, validate_file
from cdpclient.store import kinds as kinds_mod

STRING_TYPES = ("string", "concatenated string", "sliced string")


@pytest.mark.compat
@pytest.mark.parametrize("kind", [k for k in KINDS if k not in kinds_mod.STREAM_KINDS])  # JSON kinds Node writes;
# the streams cdpclient writes (watch, recording) have their own tests
def test_import_detects_each_kind_from_content(store: Store, node_files: dict[str, Path], tmp_path: Path,
                                               kind: str) -> None:
    src = tmp_path / "renamed.bin"  # the name says nothing: the content decides
    src.write_bytes(node_files[kind].read_bytes())
    rec = store.import_file(src, labels={"incident": "4711"})
    assert rec.kind == kind
    assert rec.labels == {"incident": "4711"}
    assert rec.meta["source"] == str(src)
    assert rec.path.read_bytes() == src.read_bytes()
    assert rec.path.suffix == {"report": ".json"}.get(kind, "." + kind)
    assert abs(__import__("cdpclient.store.ids", fromlist=["id_time"]).id_time(rec.id) - src.stat().st_mtime) < 0.01
    if kind == "report":
        assert rec.node_version and rec.node_version.startswith("v") and isinstance(rec.pid, int)


def test_import_of_a_heapsnapshot_signal_file(store: Store, node_dir: Path) -> None:
    [signalled] = node_dir.glob("Heap.*.heapsnapshot")  # written by Node on SIGUSR2
    rec = store.import_file(signalled)
    assert rec.kind == "heapsnapshot" and rec.meta["source"] == str(signalled)


BAD = {
    "empty": (b"", "empty file"),
    "whitespace": (b"  \n", "only whitespace"),
    "not_json": (b"PK\x03\x04 a zip", "not JSON"),
    "array": (b"[1, 2]", "not a JSON object"),
    "other_json": (b'{"name": "package", "version": "1.0"}', "top-level keys: name, version"),
    "unbalanced": (b'{"nodes": [1, 2}', "mismatched"),
    "trailing": (b'{"header": {"reportVersion": 3}} {', "extra data"),
    "open_string": (b'{"header": {"reportVersion": "3', "truncated"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_are_refused_with_the_reason(store: Store, tmp_path: Path, name: str) -> None:
    data, reason = BAD[name]
    bad = tmp_path / f"{name}.heapsnapshot"
    bad.write_bytes(data)
    with pytest.raises(InvalidCaptureFile, match=reason):
        store.import_file(bad)
    assert store.list() == []


def test_truncated_real_files_are_refused(store: Store, node_files: dict[str, Path], tmp_path: Path) -> None:
    for kind in ("heapsnapshot", "cpuprofile", "report"):
        data = node_files[kind].read_bytes()
        cut = tmp_path / f"cut.{kind}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(InvalidCaptureFile, match="truncated"):
            validate_file(cut)
    # a heap snapshot whose sections are gone is not one
    partial = tmp_path / "partial.heapsnapshot"
    partial.write_text('{"snapshot":{"meta":{}},"nodes":[]}')
    with pytest.raises(InvalidCaptureFile, match="without edges, strings"):
        validate_file(partial)


def test_one_bad_file_imports_nothing(store: Store, node_files: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "empty.cpuprofile").write_bytes(b"")
    with pytest.raises(InvalidCaptureFile, match="empty"):
        store.import_files([node_files["cpuprofile"], tmp_path / "empty.cpuprofile"])
    assert store.list() == []
    with pytest.raises(InvalidCaptureFile, match="no such file"):
        store.import_file(tmp_path / "absent.heapsnapshot")
    with pytest.raises(InvalidCaptureFile, match="directory"):
        store.import_file(tmp_path)


def test_large_files_are_judged_by_head_and_tail(node_files: dict[str, Path], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kinds_mod, "FULL_CHECK_BELOW", 1000)
    monkeypatch.setattr(kinds_mod, "HEAD_BYTES", 64 << 10)
    assert detect_kind(node_files["heapsnapshot"]) == "heapsnapshot"
    assert detect_kind(node_files["heaptimeline"]) == "heaptimeline"  # trace_function_count in the header
    cut = tmp_path / "cut.heapsnapshot"
    cut.write_bytes(node_files["heapsnapshot"].read_bytes()[:-100])
    with pytest.raises(InvalidCaptureFile, match="truncated"):
        detect_kind(cut)


def test_import_of_a_zstd_file_and_compressed_storage(store: Store, node_files: dict[str, Path],
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zstandard

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # caches of files outside the store

    packed = tmp_path / "snap.heapsnapshot.zst"
    packed.write_bytes(zstandard.ZstdCompressor().compress(node_files["heapsnapshot"].read_bytes()))
    assert detect_kind(packed) == "heapsnapshot"
    external = store.resolve(packed)
    assert external.size == node_files["heapsnapshot"].stat().st_size and external.compressed
    assert store.materialize(external).read_bytes() == node_files["heapsnapshot"].read_bytes()
    assert store.materialize(external).is_relative_to(tmp_path / "xdg" / "cdpclient")
    rec = store.import_file(packed, compress=True)
    assert rec.kind == "heapsnapshot" and rec.compressed
    assert store.materialize(rec).read_bytes() == node_files["heapsnapshot"].read_bytes()


def test_export_writes_the_original_decompressed(store: Store, node_files: dict[str, Path], tmp_path: Path) -> None:
    rec = store.import_file(node_files["cpuprofile"], compress=True)
    out = store.export(rec.id, tmp_path / "out.cpuprofile")
    assert out.read_bytes() == node_files["cpuprofile"].read_bytes()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    outdir = tmp_path / "dir"
    outdir.mkdir()
    assert store.export(rec.id[:9], outdir) == outdir / f"{rec.id}.cpuprofile"
    with pytest.raises(UsageError, match="heap snapshots"):
        store.export(rec.id, tmp_path / "x", redact=True)


def test_export_format_delegates_to_the_profile_exporters(store: Store, node_files: dict[str, Path],
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = store.import_file(node_files["cpuprofile"])
    try:
        import cdpclient.profiles.export  # noqa: F401
    except ImportError:
        pass
    else:
        out = store.export(rec.id, tmp_path / "out.txt", fmt="collapsed")
        assert out.exists() and out.stat().st_size > 0
    monkeypatch.setitem(sys.modules, "cdpclient.profiles.export", None)  # a build without the exporters
    with pytest.raises(StoreError, match="cdpclient.profiles.export"):
        store.export(rec.id, tmp_path / "out2.txt", fmt="collapsed")


def test_a_store_path_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    st = Store.open(tmp_path / "file")
    with pytest.raises(StoreError, match="not a directory"):
        st.list()
    with pytest.raises(StoreError, match="cannot create the store"):
        with st.new_capture("report"):
            pass


def _load(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_bytes())
    return value


@pytest.mark.compat
def test_redacted_snapshot_keeps_structure_and_drops_every_string_value(store: Store, node_files: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    src = node_files["heapsnapshot"]
    assert b"SECRET-TOKEN-a1b2c3" in src.read_bytes()
    rec = store.import_file(src)
    out = store.export(rec.id, tmp_path / "shared.heapsnapshot", redact=True)
    assert b"SECRET-TOKEN-a1b2c3" not in out.read_bytes()
    assert validate_file(out) == "heapsnapshot"
    a, b = _load(src), _load(out)
    assert a["snapshot"] == b["snapshot"] and a["edges"] == b["edges"] and a["locations"] == b["locations"]
    assert len(a["nodes"]) == len(b["nodes"]) and len(b["strings"]) >= len(a["strings"])
    meta = a["snapshot"]["meta"]
    nf, types = len(meta["node_fields"]), meta["node_types"][0]
    kept_names = set()
    for i in range(0, len(a["nodes"]), nf):
        assert a["nodes"][i:i + 1] + a["nodes"][i + 2:i + nf] == b["nodes"][i:i + 1] + b["nodes"][i + 2:i + nf]
        before, after = a["strings"][a["nodes"][i + 1]], b["strings"][b["nodes"][i + 1]]
        if types[a["nodes"][i]] in STRING_TYPES:
            assert after == "*" * len(before), before
        else:
            assert after == before
            kept_names.add(after)
    assert {"Object", "Array", "system / Context"} <= kept_names  # class names stay readable
    ef = len(meta["edge_fields"])
    edge_types = meta["edge_types"][0]
    for i in range(0, len(a["edges"]), ef):  # property names stay readable
        if edge_types[a["edges"][i]] not in ("element", "hidden"):
            assert a["strings"][a["edges"][i + 1]] == b["strings"][b["edges"][i + 1]]


@pytest.mark.compat
def test_redacting_a_timeline(store: Store, node_files: dict[str, Path],
                                                              tmp_path: Path) -> None:
    out = store.export(str(node_files["heaptimeline"]), tmp_path / "t.heaptimeline", redact=True)
    a, b = _load(node_files["heaptimeline"]), _load(out)
    assert a["trace_function_infos"] == b["trace_function_infos"] and a["trace_tree"] == b["trace_tree"]
    assert a["samples"] == b["samples"] and len(a["nodes"]) == len(b["nodes"])
    assert validate_file(out) == "heaptimeline"


@pytest.mark.parametrize("chunk", [7, 997])
def test_streaming_checks_do_not_depend_on_read_boundaries(node_files: dict[str, Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    from cdpclient.store import jsonscan, redact

    # tiny reads on the small files, reads of about 1 KB (still thousands of boundaries) on the heap files
    files = {k: p for k, p in node_files.items() if chunk > 100 or p.stat().st_size < 100_000}
    whole = {}
    for kind, path in files.items():
        with open(path, "rb") as fh:
            whole[kind] = jsonscan.scan(fh, capture=("snapshot",))
    src = node_files["heaptimeline"]
    (tmp_path / "a").touch()
    redact.redact_heapsnapshot(src, tmp_path / "a")
    monkeypatch.setattr(jsonscan, "CHUNK", chunk)
    monkeypatch.setattr(redact, "CHUNK", max(chunk, 997) * 4)
    for kind, path in files.items():
        with open(path, "rb") as fh:
            assert jsonscan.scan(fh, capture=("snapshot",)) == whole[kind], kind
        assert validate_file(path) == kind
    (tmp_path / "b").touch()
    redact.redact_heapsnapshot(src, tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()
