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
