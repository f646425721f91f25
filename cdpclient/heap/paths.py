"""Shortest retaining paths: from the GC roots to an object, as DevTools' Retainers view walks them."""

from __future__ import annotations

import re
from typing import Any

from cdpclient.errors import AnalysisError
from cdpclient.heap.snapshot import HeapSnapshot

MAX_STEPS = 64  # a linked list can make a path thousands of steps long; keep the head
_SAMPLE = 200   # how many of a class's largest objects are looked at for distinct paths


def path_to(snap: HeapSnapshot, node: int, via_edge: int | None = None) -> list[dict[str, Any]]:
    """The shortest retaining path to ``node`` (optionally ending with edge ``via_edge``).

    A list of steps from the root side: ``{"edge", "edge_type", "class", "id", "node"}``;
    the first step is the object just below the synthetic root.  Empty when the node is
    not reachable from the roots (it is garbage V8 had not collected yet).
    """
    chain: list[tuple[int, int]] = []  # (node, edge that reaches it)
    parent_edge = snap.parent_edge
    owner = snap.edge_owner
    if via_edge is not None:
        chain.append((node, via_edge))
        node = int(owner[via_edge])
    cur = node
    while True:
        pe = int(parent_edge[cur])
        chain.append((cur, pe))
        if pe < 0 or len(chain) > 100_000:
            break
        cur = int(owner[pe])
        if cur == snap.root:
            break
    if int(parent_edge[chain[-1][0]]) < 0 and chain[-1][0] != snap.root and snap.distance[chain[-1][0]] < 0:
        return []
    chain.reverse()
    steps = []
    for n, e in chain:
        steps.append({
            "edge": snap.edge_label(e) if e >= 0 else None,
            "edge_type": snap.edge_kind(e) if e >= 0 else None,
            "class": snap.class_of(n),
            "id": int(snap.node_id[n]),
            "node": n,
        })
    return steps


def format_path(steps: list[dict[str, Any]], limit: int = MAX_STEPS) -> str:
    """``(GC roots) -> global -> client: StreamClient -> sentEvents: Array -> [3]: (string)``."""
    parts = ["(GC roots)"]
    shown = steps if len(steps) <= limit else steps[: limit // 2] + [None] + steps[-limit // 2:]  # type: ignore[list-item]
    for step in shown:
        if step is None:
            parts.append(f"... {len(steps) - limit} more ...")
            continue
        edge = step["edge"]
        cls = step["class"].strip() or "(anonymous)"  # V8 names the global object "global / "
        if step["edge_type"] in ("shortcut", None) or edge is None:
            parts.append(cls)
        else:
            parts.append(f"{edge}: {cls}")
    return " -> ".join(parts)


def signature(steps: list[dict[str, Any]]) -> tuple[str, ...]:
    """What makes two paths "the same" for grouping: classes and edge names, element indexes erased."""
    sig = []
    for step in steps:
        edge = step["edge"] or ""
        if step["edge_type"] in ("element", "hidden") or re.fullmatch(r"\d+", edge):
            edge = "[]"
        sig.append(f"{edge}:{step['class']}")
    return tuple(sig)


def resolve_target(snap: HeapSnapshot, target: str) -> tuple[str, list[int]]:
    """``@ID`` -> that object; a class name -> its objects, largest retained size first.

    Returns ``(kind, ordinals)``.  Raises :class:`AnalysisError` when nothing matches.
    """
    import numpy as np

    target = target.strip()
    if target.startswith("@"):
        try:
            node_id = int(target[1:])
        except ValueError:
            raise AnalysisError(f"{target!r} is not a node id (expected @ followed by digits)") from None
        n = snap.ordinal_of_id(node_id)
        if n < 0:
            raise AnalysisError(f"no object {target} in this snapshot")
        return "object", [n]
    c = snap.class_index(target)
    if c < 0:
        close = [name for name in snap.class_names if name.lower() == target.lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AnalysisError(f"no objects of class {target!r} in this snapshot{hint}")
    members = np.flatnonzero(np.asarray(snap.cls) == c)
    retained = np.asarray(snap.retained)[members]
    members = members[np.argsort(-retained, kind="stable")]
    return "class", [int(m) for m in members]


def retainers(snap: HeapSnapshot, target: str, paths: int = 5) -> dict[str, Any]:
    """Retaining paths for ``@ID`` or a class name.

    For an object: up to ``paths`` shortest paths, each through a different direct
    retainer.  For a class: the distinct paths (grouped by :func:`signature`) that hold its
    largest objects, with how many of the sampled objects share each.
    """
    import numpy as np

    kind, members = resolve_target(snap, target)
    result: dict[str, Any] = {"target": target, "kind": kind, "paths": []}
    if kind == "object":
        n = members[0]
        result["object"] = snap.describe(n)
        first_ret, ret_edge = snap.reverse
        edges = np.asarray(ret_edge[int(first_ret[n]):int(first_ret[n + 1])])
        weak = snap.edge_type_code("weak")
        edges = edges[np.asarray(snap.edge_type)[edges] != weak]
        owners = np.asarray(snap.edge_owner)[edges]
        dist = np.asarray(snap.distance)[owners].astype(np.int64)
        dist[dist < 0] = 1 << 40
        order = np.argsort(dist, kind="stable")
        seen: set[tuple[str, ...]] = set()
        for i in order:
            if len(result["paths"]) >= paths:
                break
            steps = path_to(snap, n, via_edge=int(edges[i]))
            if not steps:
                continue
            sig = signature(steps)
            if sig in seen:
                continue
            seen.add(sig)
            result["paths"].append({"steps": _public(steps), "text": format_path(steps)})
        return result
    result["class"] = target
    result["count"] = len(members)
    result["retained_size"] = int(snap.class_retained[snap.class_index(target)])
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for n in members[:_SAMPLE]:
        steps = path_to(snap, n)
        if not steps:
            continue
        sig = signature(steps)
        group = groups.get(sig)
        if group is None:
            if len(groups) >= paths:
                continue
            groups[sig] = {"steps": _public(steps), "text": format_path(steps), "example": snap.describe(n),
                           "objects": 1, "retained_size": int(snap.retained[n])}
        else:
            group["objects"] += 1
            group["retained_size"] += int(snap.retained[n])
    result["sampled"] = min(len(members), _SAMPLE)
    result["paths"] = list(groups.values())
    return result


def _public(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in s.items() if k != "node"} for s in steps]
