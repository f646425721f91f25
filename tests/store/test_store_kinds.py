"""The kinds table: one row per kind, agreeing with the files Node writes and with the detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdpclient.errors import InvalidCaptureFile
from cdpclient.store import kinds


def test_every_kind_has_one_row() -> None:
    assert kinds.KINDS == ("heapsnapshot", "heaptimeline", "cpuprofile", "heapprofile", "report", "watch",
                           "recording")
    assert kinds.STREAM_KINDS == ("watch", "recording")
    assert set(kinds.EXTENSIONS) == set(kinds.KINDS) == set(kinds.TABLE)
    assert len(set(kinds.EXTENSIONS.values())) == len(kinds.KINDS)  # an extension names one kind
    assert kinds.HEAP_KINDS == ("heapsnapshot", "heaptimeline")
    assert set(kinds.PROFILE_KINDS) == {"cpuprofile", "heapprofile", "heaptimeline"}
    for kind in kinds.PROFILE_KINDS:
        assert kinds.TABLE[kind].exports == kinds.EXPORT_FORMATS == ("collapsed", "speedscope", "pprof")
    assert kinds.title("cpuprofile") == "CPU profile" and kinds.title("nonsense") == "nonsense"


@pytest.mark.compat
@pytest.mark.parametrize("kind", [k for k in kinds.KINDS if k not in kinds.STREAM_KINDS])
def test_the_table_agrees_with_what_node_writes(node_files: dict[str, Path], kind: str) -> None:
    path = node_files[kind]
    assert path.name.endswith(kinds.EXTENSIONS[kind])
    assert kinds.detect_kind(path) == kinds.validate_file(path) == kind


def test_a_json_file_of_no_kind_is_refused_naming_every_kind(tmp_path: Path) -> None:
    other = tmp_path / "package.json"
    other.write_text('{"name": "x"}')
    with pytest.raises(InvalidCaptureFile) as info:
        kinds.detect_kind(other)
    for row in kinds.TABLE.values():
        if not row.stream:  # JSON kinds; a msgpack stream is not JSON
            assert row.title in str(info.value)
