"""Malformed and truncated profiles get one clear error (InvalidCaptureFile / AnalysisError)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdpclient.errors import AnalysisError, InvalidCaptureFile
from cdpclient.profiles import load_profile


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_cpu_profile(cpu_profiles, truncate, fraction: float) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidCaptureFile, match="not a valid CPU profile: (the file is empty|broken JSON)"):
        load_profile(truncate(cpu_profiles.base, fraction), "cpuprofile")


@pytest.mark.parametrize("fraction", [0.3, 0.98])
def test_truncated_heap_profile(heap_profiles, truncate, fraction: float) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidCaptureFile, match="not a valid sampling heap profile: broken JSON"):
        load_profile(truncate(heap_profiles.small, fraction), "heapprofile")


@pytest.mark.parametrize("fraction, why", [
    (0.0, "the file is empty"),
    (0.00001, "no 'nodes' section"),
    (0.2, "the 'nodes' array never ends"),
    (0.6, "allocation trace sections missing"),
    (0.9999, "broken trace tree or strings"),
])
def test_truncated_timeline(timeline_files, truncate, fraction: float, why: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidCaptureFile, match=f"not a valid allocation timeline: {why}"):
        load_profile(truncate(timeline_files.timeline, fraction), "heaptimeline")


def _write(tmp_path: Path, name: str, value: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return path


ROOT = {"functionName": "(root)", "url": "", "lineNumber": -1, "columnNumber": -1}


@pytest.mark.parametrize("doc, why", [
    ([1, 2, 3], "no 'nodes' list"),
    ({"nodes": []}, "no 'nodes' list"),
    ({"nodes": [{"id": 1}]}, "node 0 is not an object with a callFrame"),
    ({"nodes": [{"id": 1, "callFrame": ROOT, "children": [7]}]}, "node 1 names child 7, which is no node"),
    ({"nodes": [{"id": 1, "callFrame": ROOT}, {"id": 1, "callFrame": ROOT}]}, "node id 1 is used twice"),
    ({"nodes": [{"id": 1, "callFrame": ROOT, "children": [2]}, {"id": 2, "callFrame": ROOT, "children": [1]}]},
     "roots"),
    ({"nodes": [{"id": 1, "callFrame": ROOT}], "samples": [1, 1], "timeDeltas": [5]}, "'timeDeltas' does not match"),
    ({"nodes": [{"id": 1, "callFrame": ROOT}], "samples": [9], "timeDeltas": [5]}, "sample 0 names node 9, which is no node"),
])
def test_malformed_cpu_profile(tmp_path: Path, doc: object, why: str) -> None:
    with pytest.raises(InvalidCaptureFile, match=why):
        load_profile(_write(tmp_path, "bad.cpuprofile", doc))


@pytest.mark.parametrize("doc, why", [
    ({"samples": []}, "no 'head' node"),
    ({"head": {"callFrame": ROOT, "children": [{"selfSize": 1}]}}, "malformed node"),
    ({"head": {"id": 1, "callFrame": ROOT, "selfSize": 0, "children": []}, "samples": [{"nodeId": 1}]},
     "malformed sample"),
])
def test_malformed_heap_profile(tmp_path: Path, doc: object, why: str) -> None:
    with pytest.raises(InvalidCaptureFile, match=why):
        load_profile(_write(tmp_path, "bad.heapprofile", doc))


def test_not_a_profile(tmp_path: Path) -> None:
    path = _write(tmp_path, "report.json", {"header": {"nodejsVersion": "v20"}})
    with pytest.raises(AnalysisError, match="not a profile this tool recognises"):
        load_profile(path)
    with pytest.raises(AnalysisError, match="a report capture"):
        load_profile(path, "report")
    with pytest.raises(InvalidCaptureFile, match="no such file"):
        load_profile(tmp_path / "missing.cpuprofile")


@pytest.mark.parametrize("delta, why", [(-1, "more nodes than the header's node_count"),
                                        (+1, "nodes where the header promises")])
def test_timeline_node_count_must_match(timeline_files, tmp_path: Path, delta: int, why: str) -> None:  # type: ignore[no-untyped-def]
    import re

    text = timeline_files.timeline.read_text()
    count = int(re.search(r'"node_count":(\d+)', text).group(1))  # type: ignore[union-attr]
    path = tmp_path / "miscounted.heaptimeline"
    path.write_text(text.replace(f'"node_count":{count}', f'"node_count":{count + delta}', 1))
    with pytest.raises(InvalidCaptureFile, match=why):
        load_profile(path)


def test_non_numeric_nodes(timeline_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = timeline_files.timeline.read_text()
    at = text.index('"nodes":[') + 9
    path = tmp_path / "garbled.heaptimeline"
    path.write_text(text[:at] + "x" + text[at + 1:])
    with pytest.raises(InvalidCaptureFile, match="non-numeric data in 'nodes'"):
        load_profile(path)
