"""Leak suspects from a series of snapshots.

With object ids comparable across the series (one inspector session):

* three or more snapshots: the three-snapshot method.  Objects allocated between the
  first and second snapshot that are still alive in the last one are the suspects;
* two snapshots: objects allocated between them and alive in the second.

Without comparable ids: instances of the classes whose counts grew are the suspects.

Each suspect object is followed up its shortest retaining path, through other suspects
and through V8's internal backing stores, to the first *old* object that holds it: the
holder (an ``Array``, a ``Map``...), reached from its owner by a property (``sentEvents``
of a ``StreamClient``).  Suspects are grouped by that path signature (owner class,
property, holder class), the items held are counted in every snapshot of the series,
and a group is reported only when that count grew: a cache that churns at a fixed size
has new objects in every snapshot but no growth.  Groups are ranked by the retained
size of what they hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cdpclient.heap.compare import AGGREGATE_NOTE, member, new_mask
from cdpclient.heap.paths import Step, format_path, path_to
from cdpclient.heap.snapshot import INTERNAL_TYPES, HeapSnapshot

MAX_HOPS = 256            # how far up a retaining path we climb looking for the holder
_GROWN_CLASSES = 8        # aggregate mode: how many of the most-grown classes are followed
_HOLDERS_FOLLOWED = 200   # holders per group whose holdings are counted in every snapshot
_CANDIDATES = 50          # groups (largest retained first) whose growth is checked


@dataclass(frozen=True)
class Suspect:
    """One leak suspect: a retaining path signature and what it holds, over the series."""

    owner_class: str | None
    edge: str | None
    holder_class: str
    item_class: str
    counts: tuple[int, ...]           # items held, per snapshot
    holder_sizes: tuple[int, ...]     # retained size of the holders, per snapshot
    retained_size: int                # retained size of the items in the last snapshot
    holders: int                      # how many holder objects share the signature
    suspects: int                     # suspect objects under those holders (last snapshot)
    example_holder_id: int | None = None
    path: tuple[Step, ...] = ()       # the retaining path of the example holder
    path_text: str = ""

    @property
    def growth_per_snapshot(self) -> float:
        return (self.counts[-1] - self.counts[0]) / max(1, len(self.counts) - 1)

    @property
    def bytes_per_snapshot(self) -> float:
        return (self.holder_sizes[-1] - self.holder_sizes[0]) / max(1, len(self.holder_sizes) - 1)

    @property
    def title(self) -> str:
        """``StreamClient.sentEvents: Array holding 48,000 (string), +12,000 per snapshot``."""
        where = f"{self.owner_class}.{self.edge}: " if self.owner_class and self.edge else ""
        return (f"{where}{self.holder_class} holding {self.counts[-1]:,} {self.item_class}, "
                f"+{self.growth_per_snapshot:,.0f} per snapshot")

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title, "owner_class": self.owner_class, "edge": self.edge,
            "holder_class": self.holder_class, "item_class": self.item_class, "counts": list(self.counts),
            "growth_per_snapshot": self.growth_per_snapshot, "holder_sizes": list(self.holder_sizes),
            "bytes_per_snapshot": self.bytes_per_snapshot, "retained_size": self.retained_size,
            "holders": self.holders, "suspect_objects": self.suspects,
            "example_holder_id": self.example_holder_id, "path": [s.to_dict() for s in self.path],
            "path_text": self.path_text,
        }


@dataclass(frozen=True)
class LeakReport:
    """What :func:`find_leaks` found: ``method`` is ``"three-snapshot"``, ``"two-snapshot"``
    or ``"class-growth"`` (ids not comparable; ``note`` says so); ``suspect_objects`` counts
    the objects of the last snapshot that were followed; ``suspects`` are ranked by
    retained size."""

    method: str
    note: str | None
    snapshots: int
    suspect_objects: int
    suspects: tuple[Suspect, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``cdpclient leaks --json``)."""
        return {"method": self.method, "note": self.note, "snapshots": self.snapshots,
                "suspect_objects": self.suspect_objects, "suspects": [s.to_dict() for s in self.suspects]}


def find_leaks(snaps: list[HeapSnapshot], *, ids_comparable: bool, limit: int = 10,
               progress: Callable[[str], None] | None = None) -> LeakReport:
    """Leak suspects over ``snaps`` (oldest first; at least two), the first ``limit`` of them.

    ``ids_comparable`` must be true only when the snapshots come from one inspector
    session (see DESIGN.md "Series and object identity").  Raises ValueError for fewer
    than two snapshots.
    """
    import numpy as np

    if len(snaps) < 2:
        raise ValueError("leak detection needs at least two snapshots")
    say = progress or (lambda _msg: None)
    last = snaps[-1]
    note = None
    if ids_comparable:
        if len(snaps) >= 3:
            method = "three-snapshot"
            added = np.asarray(snaps[1].node_id)[new_mask(snaps[0], snaps[1])]
            mask = member(last.node_id, added)
        else:
            method = "two-snapshot"
            mask = new_mask(snaps[0], last)
        grown_classes = None
    else:
        method = "class-growth"
        note = AGGREGATE_NOTE
        grown_classes = _grown_classes(snaps)
        mask = np.isin(np.asarray(last.cls), [last.class_index(c) for c in grown_classes])
    say("following retaining paths")
    per_snapshot: list[dict[tuple[Any, ...], dict[str, Any]]] = [{} for _ in snaps]
    if ids_comparable:
        groups = _group(last, mask)
    else:
        # Class by class: the holder of a grown class's instances is the first object of
        # another class up their path (an old Array of a grown class must not swallow them).
        for name in grown_classes or []:
            for k, snap in enumerate(snaps):
                c = snap.class_index(name)
                if c >= 0:
                    found = _group(snap, np.asarray(snap.cls) == c, item_class=name)
                    per_snapshot[k].update({key + (name,): value for key, value in found.items()})
        groups = per_snapshot[-1]
    # Growth is counted for the biggest groups only: a heap has thousands of small ones.
    ranked = sorted(groups.items(), key=lambda kv: -kv[1]["retained"])[:max(_CANDIDATES, 5 * limit)]
    suspects: list[Suspect] = []
    for key, group in ranked:
        item_class = group["item_class"]
        if ids_comparable:
            counts, sizes = _holdings_by_id(snaps, last, group["holders"], item_class)
        else:
            counts, sizes = _holdings_by_signature(snaps, per_snapshot, key, item_class)
        if not _grew(counts):
            continue
        holder = group["holders"][0]
        steps = path_to(last, holder)
        suspects.append(Suspect(
            owner_class=key[0], edge=key[1], holder_class=key[2], item_class=item_class, counts=tuple(counts),
            holder_sizes=tuple(sizes), retained_size=group["retained"], holders=group["holder_count"],
            suspects=group["members"], example_holder_id=int(last.node_id[holder]),
            path=tuple(steps), path_text=format_path(steps),
        ))
    suspects.sort(key=lambda s: (-s.retained_size, -s.growth_per_snapshot))
    return LeakReport(method=method, note=note, snapshots=len(snaps), suspect_objects=int(mask.sum()),
                      suspects=tuple(suspects[:limit]))


def _transparent(snap: HeapSnapshot) -> Any:
    import numpy as np

    codes = [snap.node_type_code(t) for t in INTERNAL_TYPES if snap.node_type_code(t) >= 0]
    return np.isin(np.asarray(snap.node_type), codes)


def _group(snap: HeapSnapshot, mask: Any, item_class: str | None = None) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Suspects of ``snap`` (a boolean mask) grouped by the signature of what holds them:
    ``(owner class, property, holder class)``.  The items counted are of the class that
    retains most under each signature, or of ``item_class``."""
    import numpy as np

    from cdpclient.heap import _kernels as K

    transparent = _transparent(snap)
    reachable = np.asarray(snap.distance) >= 0
    nodes = np.flatnonzero(mask & ~transparent & reachable).astype(np.int64)
    if nodes.size == 0:
        return {}
    owner_of = snap.edge_owner
    holder, entry, holder_edge = K.walk_to_holders(nodes, mask.view(np.uint8), transparent.view(np.uint8),
                                                   np.asarray(snap.parent_edge), owner_of, MAX_HOPS)
    synthetic = snap.node_type_code("synthetic")
    node_type = np.asarray(snap.node_type)
    keep = (holder_edge >= 0) & (node_type[holder] != synthetic) & (entry >= 0)
    holder, entry, holder_edge = holder[keep], entry[keep], holder_edge[keep]
    if holder.size == 0:
        return {}
    cls = np.asarray(snap.cls).astype(np.int64)
    owner = np.asarray(owner_of)[holder_edge].astype(np.int64)
    etype = np.asarray(snap.edge_type)[holder_edge]
    ename = np.asarray(snap.edge_name)[holder_edge].astype(np.int64)
    indexed = np.isin(etype, [snap.edge_type_code("element"), snap.edge_type_code("hidden")])
    ename[indexed] = -1
    owner_cls = cls[owner]
    owner_cls[node_type[owner] == synthetic] = -1
    nc = len(snap.class_names) + 1
    key = ((owner_cls + 1) * nc + cls[holder]) * (len(snap.strings) + 1) + (ename + 1)
    retained = np.asarray(snap.retained)
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    bounds = np.concatenate(([0], np.flatnonzero(sorted_key[1:] != sorted_key[:-1]) + 1, [len(key)]))
    for g in range(len(bounds) - 1):
        members = order[bounds[g]:bounds[g + 1]]
        entries = _uniq(entry[members])
        if item_class is None:
            best = int(np.argmax(np.bincount(cls[entries], weights=retained[entries])))
        else:
            best = snap.class_index(item_class)
        items = entries[cls[entries] == best]
        holders = _uniq(holder[members])
        first = int(members[0])
        oc = int(owner_cls[first])
        edge = None if int(ename[first]) < 0 and oc < 0 else (
            "[]" if int(ename[first]) < 0 else snap.strings[int(ename[first])])
        sig = (snap.class_names[oc] if oc >= 0 else None, edge if oc >= 0 else None,
               snap.class_names[int(cls[holder[first]])])
        group = out.get(sig)
        entry_retained = int(retained[entries].sum())
        if group is None:
            out[sig] = {"holders": [int(h) for h in holders[:_HOLDERS_FOLLOWED]], "holder_count": int(holders.size),
                        "item_class": snap.class_names[best], "items": int(items.size),
                        "retained": entry_retained, "members": int(members.size)}
        else:  # same names, different string indexes (rare): merge
            group["holders"] += [int(h) for h in holders[:_HOLDERS_FOLLOWED]]
            group["holder_count"] += int(holders.size)
            group["retained"] += entry_retained
            group["members"] += int(members.size)
    return out


def _uniq(values: Any) -> Any:
    """Sorted distinct values (``np.unique`` hashes, which was the slowest step here)."""
    import numpy as np

    if len(values) == 0:
        return values
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _holdings(snap: HeapSnapshot, holders: Any, item_class: str) -> tuple[int, int]:
    """Objects of ``item_class`` the holders reference directly or through one internal
    backing store (an Array's elements, a Map's table), and the holders' retained size."""
    import numpy as np

    c = snap.class_index(item_class)
    if c < 0 or len(holders) == 0:
        return 0, int(np.asarray(snap.retained)[holders].sum()) if len(holders) else 0
    weak = snap.edge_type_code("weak")
    first = np.asarray(snap.first_edge)
    edge_to = np.asarray(snap.edge_to)
    edge_type = np.asarray(snap.edge_type)
    transparent = _transparent(snap)

    def targets(nodes: Any) -> Any:
        if len(nodes) == 0:
            return np.empty(0, np.int64)
        parts = []
        for v in nodes:
            lo, hi = int(first[v]), int(first[v + 1])
            t = edge_to[lo:hi]
            parts.append(t[edge_type[lo:hi] != weak])
        return np.concatenate(parts).astype(np.int64)

    t1 = targets(holders)
    t2 = targets(_uniq(t1[transparent[t1]]))
    found = _uniq(np.concatenate([t1, t2]))
    count = int((np.asarray(snap.cls)[found] == c).sum())
    return count, int(np.asarray(snap.retained)[holders].sum())


def _holdings_by_id(snaps: list[HeapSnapshot], last: HeapSnapshot, holders: list[int],
                    item_class: str) -> tuple[list[int], list[int]]:
    import numpy as np

    ids = np.asarray(last.node_id)[holders]
    counts, sizes = [], []
    for snap in snaps:
        found = np.flatnonzero(member(snap.node_id, ids))
        count, size = _holdings(snap, found, item_class)
        counts.append(count)
        sizes.append(size)
    return counts, sizes


def _holdings_by_signature(snaps: list[HeapSnapshot], per_snapshot: list[dict[tuple[Any, ...], dict[str, Any]]],
                           key: tuple[Any, ...], item_class: str) -> tuple[list[int], list[int]]:
    import numpy as np

    counts, sizes = [], []
    for snap, groups in zip(snaps, per_snapshot, strict=True):
        group = groups.get(key)
        if group is None:
            counts.append(0)
            sizes.append(0)
            continue
        count, size = _holdings(snap, np.array(group["holders"], dtype=np.int64), item_class)
        counts.append(count)
        sizes.append(size)
    return counts, sizes


def _grown_classes(snaps: list[HeapSnapshot]) -> list[str]:
    """Classes (not V8 internals) whose count and shallow size grew from first to last."""
    first, last = snaps[0], snaps[-1]
    internal = {f"({t})" for t in INTERNAL_TYPES} | {"(system)", "(compiled code)"}
    grown = []
    for i, name in enumerate(last.class_names):
        if name in internal:
            continue
        j = first.class_index(name)
        count0 = int(first.class_count[j]) if j >= 0 else 0
        size0 = int(first.class_shallow[j]) if j >= 0 else 0
        dcount = int(last.class_count[i]) - count0
        dsize = int(last.class_shallow[i]) - size0
        if dcount > 0 and dsize > 0:
            grown.append((dsize, name))
    grown.sort(reverse=True)
    return [name for _, name in grown[:_GROWN_CLASSES]]


def _grew(counts: list[int]) -> bool:
    """Growth, not churn: the last count is above the first and no count fell below the first."""
    return counts[-1] > counts[0] and min(counts) >= counts[0]
