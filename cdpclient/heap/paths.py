"""Shortest retaining paths: from the GC roots to an object, as DevTools' Retainers view walks them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cdpclient.errors import AnalysisError
from cdpclient.heap.names import functions_named
from cdpclient.heap.snapshot import HeapObject, HeapSnapshot

MAX_STEPS = 64  # a linked list can make a path thousands of steps long; keep the head
_SAMPLE = 200   # how many of a class's largest objects are looked at for distinct paths


@dataclass(frozen=True)
class Step:
    """One step of a retaining path: the object reached (``node`` is its ordinal in the
    snapshot) and the edge it is reached by (None for the path's first object)."""

    edge: str | None
    edge_type: str | None
    class_name: str
    id: int
    node: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (without ``node``, which means nothing outside the snapshot)."""
        return {"edge": self.edge, "edge_type": self.edge_type, "class": self.class_name, "id": self.id}


@dataclass(frozen=True)
class RetainerPath:
    """A retaining path and its text.  For a class: ``objects`` of the sampled objects share
    the path (``example`` is the largest), holding ``retained_size`` bytes."""

    steps: tuple[Step, ...]
    text: str
    example: HeapObject | None = None
    objects: int | None = None
    retained_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"steps": [s.to_dict() for s in self.steps], "text": self.text}
        if self.example is not None:
            out.update(example=self.example.to_dict(), objects=self.objects, retained_size=self.retained_size)
        return out


@dataclass(frozen=True)
class Retainers:
    """What holds ``target``: ``kind`` is ``"object"`` (``object`` set), ``"class"`` or ``"function"``
    (a function's closures: ``class_name``, its ``count`` and ``retained_size``, and how many of its largest
    objects were ``sampled`` for paths)."""

    target: str
    kind: str
    paths: tuple[RetainerPath, ...]
    object: HeapObject | None = None
    class_name: str | None = None
    count: int = 0
    retained_size: int = 0
    sampled: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``cdpclient retainers --json``)."""
        out: dict[str, Any] = {"target": self.target, "kind": self.kind, "paths": [p.to_dict() for p in self.paths]}
        if self.object is not None:
            out["object"] = self.object.to_dict()
        else:
            out.update({"class": self.class_name, "count": self.count, "retained_size": self.retained_size,
                        "sampled": self.sampled})
        return out


def path_to(snap: HeapSnapshot, node: int, via_edge: int | None = None) -> list[Step]:
    """The shortest retaining path to ``node`` (optionally ending with edge ``via_edge``).

    Steps from the root side; the first step is the object just below the synthetic root.
    Empty when the node is not reachable from the roots (it is garbage V8 had not
    collected yet).
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
    return [Step(edge=snap.edge_label(e) if e >= 0 else None, edge_type=snap.edge_kind(e) if e >= 0 else None,
                 class_name=snap.class_of(n), id=int(snap.node_id[n]), node=n) for n, e in chain]


def format_path(steps: Sequence[Step], limit: int = MAX_STEPS) -> str:
    """``(GC roots) -> global -> client: StreamClient -> sentEvents: Array -> [3]: (string)``."""
    parts = ["(GC roots)"]
    shown: list[Step | None] = list(steps)
    if len(steps) > limit:
        shown = [*steps[: limit // 2], None, *steps[-limit // 2:]]
    for step in shown:
        if step is None:
            parts.append(f"... {len(steps) - limit} more ...")
            continue
        edge = step.edge
        cls = step.class_name.strip() or "(anonymous)"  # V8 names the global object "global / "
        if step.edge_type in ("shortcut", None) or edge is None:
            parts.append(cls)
        else:
            parts.append(f"{edge}: {cls}")
    return " -> ".join(parts)


def signature(steps: Sequence[Step]) -> tuple[str, ...]:
    """What makes two paths "the same" for grouping: classes and edge names, element indexes erased."""
    sig = []
    for step in steps:
        edge = step.edge or ""
        if step.edge_type in ("element", "hidden") or re.fullmatch(r"\d+", edge):
            edge = "[]"
        sig.append(f"{edge}:{step.class_name}")
    return tuple(sig)


def resolve_target(snap: HeapSnapshot, target: str) -> tuple[str, list[int]]:
    """``@ID`` -> that object; a class name -> its objects, largest retained size first; a function's
    name (``onMessage``) -> its closures, largest retained first.

    Returns ``(kind, ordinals)``: kind ``"object"``, ``"class"`` or ``"function"``.  Raises
    :class:`AnalysisError` when nothing matches.
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
        closures = functions_named(snap, target.split(" (", 1)[0])
        if closures:
            return "function", closures
        close = [name for name in snap.class_names if name.lower() == target.lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AnalysisError(f"no objects of class {target!r} and no function of that name in this snapshot{hint}")
    members = np.flatnonzero(np.asarray(snap.cls) == c)
    retained = np.asarray(snap.retained)[members]
    members = members[np.argsort(-retained, kind="stable")]
    return "class", [int(m) for m in members]


def retainers(snap: HeapSnapshot, target: str, paths: int = 5) -> Retainers:
    """Retaining paths for ``@ID`` or a class name.

    For an object: up to ``paths`` shortest paths, each through a different direct
    retainer.  For a class: the distinct paths (grouped by :func:`signature`) that hold its
    largest objects, with how many of the sampled objects share each.  Raises
    :class:`AnalysisError` when nothing matches ``target``.
    """
    import numpy as np

    kind, members = resolve_target(snap, target)
    found: list[RetainerPath] = []
    if kind == "object":
        n = members[0]
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
            if len(found) >= paths:
                break
            steps = path_to(snap, n, via_edge=int(edges[i]))
            if not steps:
                continue
            sig = signature(steps)
            if sig in seen:
                continue
            seen.add(sig)
            found.append(RetainerPath(tuple(steps), format_path(steps)))
        return Retainers(target=target, kind=kind, paths=tuple(found), object=snap.object(n))
    # Per signature: the first (largest) object's path, how many objects share it, their retained size.
    groups: dict[tuple[str, ...], tuple[list[Step], int, list[int]]] = {}
    for n in members[:_SAMPLE]:
        steps = path_to(snap, n)
        if not steps:
            continue
        sig = signature(steps)
        group = groups.get(sig)
        if group is None:
            if len(groups) >= paths:
                continue
            groups[sig] = (steps, n, [int(snap.retained[n])])
        else:
            group[2].append(int(snap.retained[n]))
    found = [RetainerPath(tuple(steps), format_path(steps), example=snap.object(n), objects=len(sizes),
                          retained_size=sum(sizes)) for steps, n, sizes in groups.values()]
    if kind == "function":
        total = int(np.asarray(snap.retained)[np.asarray(members, dtype=np.int64)].sum())
    else:
        total = int(snap.class_retained[snap.class_index(target)])
    return Retainers(target=target, kind=kind, paths=tuple(found), class_name=target, count=len(members),
                     retained_size=total, sampled=min(len(members), _SAMPLE))
