"""Capture files appear complete or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cdpclient.captures._output import stream_file, write_whole

from .conftest import leftovers


def test_commit_renames_into_place_0600_and_a_parent_0700(tmp_path: Path) -> None:
    path = tmp_path / "new" / "a.json"
    with stream_file(path) as out:
        out.write('{"a":')
        assert leftovers(path.parent)[0].endswith(".partial") and not path.exists()
        out.write(b"1}")
        assert out.commit() == 7
    assert path.read_text() == '{"a":1}' and leftovers(path.parent) == ["a.json"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_no_commit_no_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), stream_file(tmp_path / "a.json") as out:
        out.write("half")
        raise RuntimeError("interrupted")
    with stream_file(tmp_path / "b.json") as out:
        out.write("never committed")
    assert leftovers(tmp_path) == []


def test_compressed_file_roundtrips(tmp_path: Path) -> None:
    import zstandard

    data = '{"nodes":[' + ",".join(["1,2,3"] * 10000) + "]}"
    size = write_whole(tmp_path / "a.heapsnapshot.zst", data, compress=True)
    assert size < len(data) / 10
    with open(tmp_path / "a.heapsnapshot.zst", "rb") as fh:
        assert zstandard.ZstdDecompressor().stream_reader(fh).read().decode() == data


def test_compress_streams_into_a_volume_smaller_than_the_content(node_app, tmpfs) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    import json

    import zstandard
    from nodeproc import run_cli  # type: ignore[attr-defined]

    app = node_app("heap_of_size.js", "10")  # a ~16 MB snapshot, ~2 MB compressed
    root = tmpfs("6m") / "rec"
    plain = run_cli("snapshot", app.endpoint, "--store", str(root))
    assert plain.returncode != 0 and "no space left" in plain.stderr and "Traceback" not in plain.stderr
    done = run_cli("snapshot", app.endpoint, "--store", str(root), "--compress", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)["meta"]
    assert record["compression"] == "zstd" and record["size"] > 6 * 1024 * 1024 > record["stored_size"]
    stored = root / "captures" / record["id"] / record["file"]
    with open(stored, "rb") as fh:
        content = zstandard.ZstdDecompressor().stream_reader(fh).read()
    assert hashlib.sha256(content).hexdigest() == record["sha256"] and len(content) == record["size"]
    assert content.startswith(b'{"snapshot":')
    verify = run_cli("store", "verify", "--store", str(root))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_out_creates_every_new_directory_0700_whatever_the_umask(node_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from nodeproc import run_cli  # type: ignore[attr-defined]

    app = node_app("idle.js")
    old = os.umask(0)
    try:
        for kind, extra in (("cpu", ("--duration", "0.3s")), ("report", ()), ("timeline", ("--duration", "0.3s"))):
            out = tmp_path / kind / "a" / "b" / "capture.file"
            done = run_cli(kind, app.endpoint, "--out", str(out), *extra)
            assert done.returncode == 0, done.stderr
            for d in (tmp_path / kind, tmp_path / kind / "a", out.parent):
                assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, (kind, d)
            for f in out.parent.iterdir():
                assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    finally:
        os.umask(old)
