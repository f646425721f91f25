"""DevTools' Summary view: per class counts and sizes, and the largest single retainers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdpclient.heap.snapshot import HeapObject, HeapSnapshot


@dataclass(frozen=True)
class ClassSummary:
    """One class of a snapshot: how many objects, their shallow and retained size (bytes)."""

    name: str
    count: int
    shallow_size: int
    retained_size: int

    def to_dict(self) -> dict[str, Any]:
        return {"class": self.name, "count": self.count, "shallow_size": self.shallow_size,
                "retained_size": self.retained_size}


@dataclass(frozen=True)
class FunctionSummary:
    """One function of a snapshot: its closures (one per creation), their shallow and retained size."""

    name: str                 # ``onTick (lib/feed.js:12)``
    count: int
    shallow_size: int
    retained_size: int

    def to_dict(self) -> dict[str, Any]:
        return {"function": self.name, "count": self.count, "shallow_size": self.shallow_size,
                "retained_size": self.retained_size}


@dataclass(frozen=True)
class Overview:
    """Counts and total size of a snapshot; ``offheap_size`` is the part V8 reports as native memory
    (ArrayBuffer and Buffer contents, Node's C++ objects), outside the JS heap that ``heapUsed`` counts."""

    nodes: int
    edges: int
    total_size: int
    classes: int
    offheap_size: int = 0

    @property
    def js_heap_size(self) -> int:
        return self.total_size - self.offheap_size

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "edges": self.edges, "total_size": self.total_size, "classes": self.classes,
                "js_heap_size": self.js_heap_size, "offheap_size": self.offheap_size}


def top_classes(snap: HeapSnapshot, limit: int = 30) -> list[ClassSummary]:
    """Classes sorted by retained size.

    Sizes are bytes; ``retained_size`` counts each object once even when objects of the
    same class nest (DevTools' rule).  The synthetic root's class is left out: it
    retains the whole heap and says nothing.
    """
    import numpy as np

    retained = np.asarray(snap.class_retained)
    order = np.argsort(-retained, kind="stable")
    rows: list[ClassSummary] = []
    root_class = int(snap.cls[snap.root])
    devtools = snap.meta.get("classes") == "devtools"
    for i in order:
        i = int(i)
        count = int(snap.class_count[i])
        if count == 0 or (i == root_class and count == 1 and not devtools):
            continue  # DevTools' classes leave out objects of no size, the root among them
        rows.append(ClassSummary(name=snap.class_names[i], count=int(snap.class_count[i]),
                                 shallow_size=int(snap.class_shallow[i]), retained_size=int(retained[i])))
        if len(rows) >= limit:
            break
    return rows


def top_objects(snap: HeapSnapshot, limit: int = 30) -> list[HeapObject]:
    """The single objects with the largest retained sizes (synthetic nodes left out)."""
    import numpy as np

    retained = np.asarray(snap.retained)
    synthetic = snap.node_type_code("synthetic")
    want = min(snap.node_count, limit * 4 + 64)
    cand = np.argpartition(-retained, want - 1)[:want] if want < snap.node_count else np.arange(snap.node_count)
    cand = cand[np.argsort(-retained[cand], kind="stable")]
    rows: list[HeapObject] = []
    for n in cand:
        if int(snap.node_type[n]) == synthetic:
            continue
        rows.append(snap.object(int(n)))
        if len(rows) >= limit:
            break
    return rows


def overview(snap: HeapSnapshot) -> Overview:
    """Counts and total size of a snapshot, and how much of it is off-heap."""
    import numpy as np

    native = snap.node_type_code("native")
    offheap = int(np.asarray(snap.self_size)[np.asarray(snap.node_type) == native].sum()) if native >= 0 else 0
    return Overview(nodes=snap.node_count, edges=snap.edge_count, total_size=snap.total_size,
                    classes=len(snap.class_names), offheap_size=offheap)


def top_functions(snap: HeapSnapshot, limit: int = 30) -> list[FunctionSummary]:
    """Closures grouped by the function they are instances of (their shared function info), largest
    retained first: where ``top`` has one ``(closure)`` row, this names each function and its line."""
    import numpy as np

    from cdpclient.heap.names import function_label

    closure = snap.node_type_code("closure")
    shared = snap.strings.find("shared")
    if closure < 0 or shared < 0:
        return []
    node_type = np.asarray(snap.node_type)
    owner = np.asarray(snap.edge_owner)
    edges = np.flatnonzero((np.asarray(snap.edge_name) == shared)
                           & (np.asarray(snap.edge_type) == snap.edge_type_code("internal")))
    edges = edges[node_type[owner[edges]] == closure]
    if edges.size == 0:
        return []
    closures = owner[edges].astype(np.int64)
    fn, group = np.unique(np.asarray(snap.edge_to)[edges], return_inverse=True)
    retained = np.bincount(group, weights=np.asarray(snap.retained)[closures], minlength=len(fn))
    shallow = np.bincount(group, weights=np.asarray(snap.self_size)[closures], minlength=len(fn))
    count = np.bincount(group, minlength=len(fn))
    example = np.full(len(fn), -1, np.int64)
    example[group[::-1]] = closures[::-1]
    rows = []
    for g in np.argsort(-retained, kind="stable")[:limit]:
        rows.append(FunctionSummary(name=function_label(snap, int(example[g])), count=int(count[g]),
                                    shallow_size=int(shallow[g]), retained_size=int(retained[g])))
    return rows
