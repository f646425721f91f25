"""Heap snapshot analysis at production scale.

Reads ``.heapsnapshot`` / ``.heaptimeline`` files (no dependency on the capture code)
into columnar arrays and computes what the DevTools heap snapshot model computes:
classes, shallow and retained sizes, the dominator tree, distances from the roots;
then the Summary, Comparison and Retainers views and leak suspects::

    from cdpclient import heap

    snap = heap.load("a.heapsnapshot", cache_dir="/tmp/cache")   # HeapSnapshot
    heap.top_classes(snap, limit=20)                             # [ClassSummary]
    heap.compare(snap_a, snap_b, ids_comparable=True)            # Comparison
    heap.retainers(snap, "StreamClient", paths=5)                # Retainers
    heap.find_leaks([s1, s2, s3], ids_comparable=True)           # LeakReport

Results are frozen dataclasses; ``result.to_dict()`` is the JSON form the CLI prints
with ``--json``.  See docs/heap-analysis.md for the semantics and the numbers.
"""

from __future__ import annotations

from cdpclient.heap.compare import Census, ClassDelta, Comparison, compare, new_mask
from cdpclient.heap.leaks import LeakReport, Suspect, find_leaks
from cdpclient.heap.loader import census, load
from cdpclient.heap.names import function_label, functions_named
from cdpclient.heap.paths import RetainerPath, Retainers, Step, format_path, path_to, retainers
from cdpclient.heap.snapshot import DOMINANCE, ClassCensus, HeapObject, HeapSnapshot, analyse, class_name_for_type
from cdpclient.heap.summary import (
    ClassSummary,
    FunctionSummary,
    Overview,
    overview,
    top_classes,
    top_functions,
    top_objects,
)
from cdpclient.heap.userpath import UserPath, user_path

__all__ = [
    # loading
    "load", "census", "analyse", "HeapSnapshot", "ClassCensus", "Census", "HeapObject", "DOMINANCE",
    "class_name_for_type",
    # views
    "overview", "Overview", "top_classes", "ClassSummary", "top_objects", "top_functions", "FunctionSummary",
    "compare", "Comparison", "ClassDelta", "new_mask",
    # paths and leaks
    "retainers", "Retainers", "RetainerPath", "Step", "path_to", "format_path",
    "find_leaks", "LeakReport", "Suspect", "user_path", "UserPath",
    # names a person would use
    "function_label", "functions_named",
]
