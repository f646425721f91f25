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
class Overview:
    """Counts and total size of a snapshot."""

    nodes: int
    edges: int
    total_size: int
    classes: int

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "edges": self.edges, "total_size": self.total_size, "classes": self.classes}


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
    for i in order:
        i = int(i)
        if i == root_class and int(snap.class_count[i]) == 1:
            continue
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
    """Counts and total size of a snapshot."""
    return Overview(nodes=snap.node_count, edges=snap.edge_count, total_size=snap.total_size,
                    classes=len(snap.class_names))
