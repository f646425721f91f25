"""DevTools' Summary view: per class counts and sizes, and the largest single retainers."""

from __future__ import annotations

from typing import Any

from cdpclient.heap.snapshot import HeapSnapshot


def top_classes(snap: HeapSnapshot, limit: int = 30) -> list[dict[str, Any]]:
    """Classes sorted by retained size: ``class, count, shallow_size, retained_size``.

    Sizes are bytes; ``retained_size`` counts each object once even when objects of the
    same class nest (DevTools' rule).  The synthetic root's class is left out: it
    retains the whole heap and says nothing.
    """
    import numpy as np

    retained = np.asarray(snap.class_retained)
    order = np.argsort(-retained, kind="stable")
    rows = []
    root_class = int(snap.cls[snap.root])
    for i in order:
        i = int(i)
        if i == root_class and int(snap.class_count[i]) == 1:
            continue
        rows.append({
            "class": snap.class_names[i],
            "count": int(snap.class_count[i]),
            "shallow_size": int(snap.class_shallow[i]),
            "retained_size": int(retained[i]),
        })
        if len(rows) >= limit:
            break
    return rows


def top_objects(snap: HeapSnapshot, limit: int = 30) -> list[dict[str, Any]]:
    """The single objects with the largest retained sizes (synthetic nodes left out)."""
    import numpy as np

    retained = np.asarray(snap.retained)
    synthetic = snap.node_type_code("synthetic")
    want = min(snap.node_count, limit * 4 + 64)
    cand = np.argpartition(-retained, want - 1)[:want] if want < snap.node_count else np.arange(snap.node_count)
    cand = cand[np.argsort(-retained[cand], kind="stable")]
    rows = []
    for n in cand:
        if int(snap.node_type[n]) == synthetic:
            continue
        rows.append(snap.describe(int(n)))
        if len(rows) >= limit:
            break
    return rows


def overview(snap: HeapSnapshot) -> dict[str, Any]:
    """Counts and total size of a snapshot."""
    return {"nodes": snap.node_count, "edges": snap.edge_count, "total_size": snap.total_size,
            "classes": len(snap.class_names)}
