"""Hostile files, one fault at a time: a zstd bomb, --max-expand, content that is no capture, a misaligned edge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdpclient.errors import InvalidCaptureFile
from cdpclient_cli.app import app


def _zst(path: Path, parts: list[bytes]) -> Path:
    import zstandard

    cobj = zstandard.ZstdCompressor(level=3).compressobj()
    path.write_bytes(b"".join(cobj.compress(p) for p in parts) + cobj.flush())
    return path


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CDPCLIENT_MAX_EXPAND", raising=False)
    runner = CliRunner()
    return lambda *args, env=None: runner.invoke(app, [*args, "--store", str(tmp_path / "rec")], env=env)


def test_a_zstd_bomb_stops_at_the_limit_and_leaves_nothing(cli, node_files: dict[str, Path],  # type: ignore[no-untyped-def]
                                                          tmp_path: Path) -> None:
    head = node_files["heapsnapshot"].read_bytes()
    head = head[:head.index(b'"nodes":[') + 9]
    bomb = _zst(tmp_path / "bomb.heapsnapshot.zst", [head] + [b"0," * (1 << 20)] * 100 + [b"0]}"])
    for command in ("import", "top", "export"):
        args = [command, str(bomb)] + (["-o", str(tmp_path)] if command == "export" else [])
        done = cli(*args)
        lines = done.stderr.strip().splitlines()
        assert done.exit_code == 1 and len(lines) == 1, done.stderr
        assert str(bomb) in lines[0] and "KiB of zstd expanded past 64.0 MiB" in lines[0], lines[0]
        assert "--max-expand SIZE" in lines[0] and "Traceback" not in done.output
    left = [p for p in tmp_path.rglob("*") if p.is_file() and p.stat().st_size > 1 << 20 and p != bomb]
    assert not left, left  # no partial copy in the cache, the store's temp dirs or the export directory


def test_max_expand_and_its_variable_set_the_limit(cli, node_files: dict[str, Path],  # type: ignore[no-untyped-def]
                                                   tmp_path: Path) -> None:
    snap = node_files["heapsnapshot"]
    packed = _zst(tmp_path / "real.heapsnapshot.zst", [snap.read_bytes()])
    refused = cli("import", str(packed), "--max-expand", "1MiB")
    assert refused.exit_code == 1 and "(limit 1.0 MiB)" in refused.stderr, refused.stderr
    refused = cli("top", str(packed), env={"CDPCLIENT_MAX_EXPAND": "1MiB"})
    assert refused.exit_code == 1 and "(limit 1.0 MiB)" in refused.stderr, refused.stderr
    assert cli("import", str(packed)).exit_code == 0  # the default bounds: 200x, at least 64 MiB
    bad = cli("import", str(packed), "--max-expand", "lots")
    assert bad.exit_code == 2 and "--max-expand" in bad.stderr


def test_compressed_content_that_is_no_capture_is_refused_from_its_head(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = _zst(tmp_path / "notes.zst", [b'{"title":"', b"x" * (300 << 20), b'"}'])
    done = cli("import", str(text))
    assert done.exit_code == 1 and "not a capture: a JSON object whose first 65,536 bytes" in done.stderr
    binary = _zst(tmp_path / "blob.zst", [bytes(range(256)) * 1000])
    done = cli("top", str(binary))
    assert done.exit_code == 1 and "not a capture: its content starts with" in done.stderr, done.stderr


def test_a_misaligned_to_node_is_refused_naming_the_edge(node_files: dict[str, Path], tmp_path: Path) -> None:
    from cdpclient.heap.parse import parse_file

    data = node_files["heapsnapshot"].read_bytes()
    meta = json.loads(data[:data.index(b'"nodes":')].rstrip().rstrip(b",") + b"}")["snapshot"]["meta"]
    start = data.index(b'"edges":[') + 9
    width = len(meta["edge_fields"])
    values = data[start:].split(b",", width)  # the first edge's fields, then the rest
    at = meta["edge_fields"].index("to_node")
    values[at] = str(int(values[at]) + 1).encode()  # into the middle of the node it pointed at
    bad = tmp_path / "misaligned.heapsnapshot"
    bad.write_bytes(data[:start] + b",".join(values))
    with pytest.raises(InvalidCaptureFile, match=r"misaligned.heapsnapshot: not a valid heap snapshot: edge 0: it "
                                                 r"points at \d+, inside a node \(not a multiple of \d+\)"):
        parse_file(bad)
