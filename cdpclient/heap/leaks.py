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
from cdpclient.heap.userpath import UserPath, is_user_object, user_path
from cdpclient.units import format_bytes

MAX_HOPS = 256            # how far up a retaining path we climb looking for the holder
_GROWN_CLASSES = 8        # aggregate mode: how many of the most-grown classes are followed
_HOLDERS_FOLLOWED = 200   # holders per group whose holdings are counted in every snapshot
_CANDIDATES = 50          # groups (largest retained first) whose growth is checked
# The noise floor: a suspect is reported only when what it holds is at least this big in the last
# snapshot and grows by at least this many items per snapshot.  Below it, a heap has hundreds of
# small retainers that wobble between snapshots (caches warming up, a few pending requests).
NOISE_FLOOR_BYTES = 16 * 1024
NOISE_FLOOR_ITEMS = 10
_LIST_RUN = 3             # a holder reached through this many objects of its own class by one edge is a linked list
MAX_LISTENERS = 10        # Node's default EventEmitter.defaultMaxListeners (MaxListenersExceededWarning)


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
    path_text: str = ""               # the path as its author would name it (:mod:`cdpclient.heap.userpath`)
    raw_path_text: str = ""           # every hop, as DevTools' Retainers view shows it
    via: str | None = None            # what the elided head of the path runs through ("the module cache")
    where: str = ""                   # the owner in the user's words: ``PriceFeed._events['tick']``
    kind: str = "collection"          # "collection", "listeners" or "timers"
    function: str | None = None       # the function most of the held closures are: ``onTick (lib/feed.js:12)``
    event: str | None = None          # listeners: the event name
    holder_retained: int = 0          # the holders' whole retained size in the last snapshot
    heap_size: int = 0                # the last snapshot's total
    offheap_bytes: int = 0            # of holder_retained: ArrayBuffer backing stores and other native memory
    folded: int = 0                   # suspects below this one (the same leak one level down) folded into it

    @property
    def growth_per_snapshot(self) -> float:
        return (self.counts[-1] - self.counts[0]) / max(1, len(self.counts) - 1)

    @property
    def bytes_per_snapshot(self) -> float:
        return (self.holder_sizes[-1] - self.holder_sizes[0]) / max(1, len(self.holder_sizes) - 1)

    @property
    def heap_share(self) -> float:
        return self.holder_retained / self.heap_size if self.heap_size else 0.0

    @property
    def offheap_share(self) -> float:
        return self.offheap_bytes / self.holder_retained if self.holder_retained else 0.0

    @property
    def item_label(self) -> str:
        return self.function if self.item_class in ("(closure)", "Function") and self.function else self.item_class

    @property
    def title(self) -> str:
        """One line that names the leak::

            StreamClient.sentEvents: Array holding 48,000 (string), +12,000 per snapshot
            PriceFeed: 9,800 listeners for 'tick' (onTick, lib/feed.js:12), +3,100 per snapshot
            5,200 Connection kept alive by active timers (keepAlive, lib/pool.js:88), +2,600 per snapshot
        """
        growth = f"+{self.growth_per_snapshot:,.0f} per snapshot"
        fn = _fn_note(self.function)
        if self.kind == "listeners":
            return f"{self.where}: {self.counts[-1]:,} listeners for {self.event!r}{fn}, {growth}"
        if self.kind == "timers":
            return f"{self.counts[-1]:,} {self.item_class} kept alive by active timers{fn}, {growth}"
        where = f"{self.where}: " if self.where else (
            f"{self.owner_class}.{self.edge}: " if self.owner_class and self.edge else "")
        return f"{where}{self.holder_class} holding {self.counts[-1]:,} {self.item_label}, {growth}"

    @property
    def size_text(self) -> str:
        """``holder retains 12.3 MiB (31% of the heap), 98% off-heap (Buffer contents)``."""
        text = f"holder retains {format_bytes(self.holder_retained)} ({self.heap_share:.0%} of the heap)"
        if self.offheap_share >= 0.5:
            text += f", {self.offheap_share:.0%} off-heap (Buffer and ArrayBuffer contents)"
        return text

    @property
    def notes(self) -> list[str]:
        out = []
        if self.kind == "listeners" and self.counts[-1] > MAX_LISTENERS:
            out.append(f"Node warns (MaxListenersExceededWarning) past {MAX_LISTENERS} listeners for one event, "
                       f"unless setMaxListeners raised it; this emitter has {self.counts[-1]:,}")
        if self.folded:
            out.append(f"{self.folded} suspect(s) below it (the same leak, one level down) folded in")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title, "kind": self.kind, "where": self.where, "owner_class": self.owner_class,
            "edge": self.edge, "event": self.event, "function": self.function,
            "holder_class": self.holder_class, "item_class": self.item_class, "counts": list(self.counts),
            "growth_per_snapshot": self.growth_per_snapshot, "holder_sizes": list(self.holder_sizes),
            "bytes_per_snapshot": self.bytes_per_snapshot, "retained_size": self.retained_size,
            "holder_retained": self.holder_retained, "heap_share": self.heap_share,
            "offheap_bytes": self.offheap_bytes, "offheap_share": self.offheap_share,
            "holders": self.holders, "suspect_objects": self.suspects, "folded": self.folded,
            "example_holder_id": self.example_holder_id, "path": [s.to_dict() for s in self.path],
            "path_text": self.path_text, "via": self.via, "raw_path_text": self.raw_path_text,
            "notes": self.notes,
        }


def _fn_note(label: str | None) -> str:
    """``onTick (lib/feed.js:12)`` -> `` (onTick, lib/feed.js:12)``."""
    if not label:
        return ""
    name, _, where = label.partition(" (")
    return f" ({name}, {where.rstrip(')')})" if where else f" ({name})"


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
    held = _dominated_holdings(snaps, last, ranked, mask) if ids_comparable else None
    suspects: list[tuple[int, Suspect]] = []
    for g, (key, group) in enumerate(ranked):
        item_class = group["item_class"]
        function = None
        if held is not None:
            item_class = held.item_class[g] or item_class
            counts, sizes = _holdings_by_id(snaps, last, group["holders"], item_class)
            # What the holders reference is the count (a Map's entries, an Array's elements); what they
            # keep alive counts only where that says nothing: a linked list, whose head holds one item.
            if not (_grew(counts) and _above_floor(counts, group["retained"])):
                dominated = held.counts(g, item_class)
                if dominated[-1] > counts[-1]:
                    counts = dominated
            function = _commonest_function(last, group["item_nodes"]) or held.function[g]
        else:
            counts, sizes = _holdings_by_signature(snaps, per_snapshot, key, item_class)
            function = _commonest_function(last, group["item_nodes"])
        if not _grew(counts) or not _above_floor(counts, group["retained"]):
            continue
        holder = group["holders"][0]
        steps = path_to(last, holder)
        up = user_path(last, steps)
        kind, where, event = _kind(last, steps, up, key)
        example = held.example[g] if held is not None else None
        if kind == "timers" and example is not None:  # show the chain through the list to what it keeps
            steps = path_to(last, example) or steps
            up = user_path(last, steps, start_at="TimersList")
            where = up.text
        holder_retained = sizes[-1]
        suspects.append((g, Suspect(
            owner_class=key[0], edge=key[1], holder_class=key[2], item_class=item_class, counts=tuple(counts),
            holder_sizes=tuple(sizes), retained_size=group["retained"], holders=group["holder_count"],
            suspects=group["members"], example_holder_id=int(last.node_id[holder]),
            path=tuple(steps), path_text=up.text, raw_path_text=format_path(steps), via=up.via, where=where,
            kind=kind, function=function, event=event, holder_retained=holder_retained,
            heap_size=last.total_size, offheap_bytes=held.offheap[g] if held is not None else 0,
        )))
    if held is not None:
        suspects = _fold(suspects, held.parent)
    ordered = sorted((s for _, s in suspects), key=lambda s: (-s.retained_size, -s.growth_per_snapshot))
    return LeakReport(method=method, note=note, snapshots=len(snaps), suspect_objects=int(mask.sum()),
                      suspects=tuple(ordered[:limit]))


def _commonest_function(snap: HeapSnapshot, items: list[int]) -> str | None:
    """The label of the function most of ``items`` are closures of (None when they are not closures)."""
    import collections

    from cdpclient.heap import names

    closures = [n for n in items if names.is_closure(snap, n)]
    if not closures:
        return None
    by_name = collections.Counter(int(snap.node_name[n]) for n in closures)
    top = by_name.most_common(1)[0][0]
    return names.function_label(snap, next(n for n in closures if int(snap.node_name[n]) == top))


def _above_floor(counts: list[int], retained: int) -> bool:
    growth = (counts[-1] - counts[0]) / max(1, len(counts) - 1)
    return retained >= NOISE_FLOOR_BYTES and growth >= NOISE_FLOOR_ITEMS


def _kind(snap: HeapSnapshot, steps: list[Step], up: UserPath, key: tuple[Any, ...]) -> tuple[str, str, str | None]:
    """What sort of leak a holder's path says it is, where it is in the user's words, and the event name."""
    classes = {s.class_name for s in steps}
    if "TimersList" in classes or key[2] in ("TimersList", "Timeout"):
        return "timers", up.text, None
    i = len(steps) - 1  # the holder is an emitter's listener array, reached as _events[event]
    if i >= 1 and steps[i - 1].edge == "_events" and steps[i].edge_type == "property":
        owner = steps[i - 2] if i >= 2 else None
        return "listeners", owner.class_name if owner else "EventEmitter", steps[i].edge
    if len(steps) >= 2 and key[0] and key[1] and is_user_object(snap, steps[-2].node):
        return "collection", f"{key[0]}.{key[1]}", None  # a property of a class the user wrote
    last_token = up.text.rsplit(" -> ", 1)[-1]
    where = last_token.rsplit(" (", 1)[0] if last_token.endswith(")") else last_token
    return "collection", where, None


def _fold(suspects: list[tuple[int, Suspect]], parent: dict[int, int]) -> list[tuple[int, Suspect]]:
    """Drop a suspect whose holder is kept alive by another suspect's holder; count it on that one."""
    import dataclasses

    kept = {g: s for g, s in suspects}
    for g in list(kept):
        p, seen = parent.get(g, -1), {g}
        while p >= 0 and p not in kept and p not in seen:
            seen.add(p)
            p = parent.get(p, -1)
        if p >= 0 and p in kept and p != g:
            kept[p] = dataclasses.replace(kept[p], folded=kept[p].folded + 1 + kept[g].folded)
            del kept[g]
    return list(kept.items())


@dataclass
class _Held:
    """What the candidate groups' holders keep alive (dominate), per snapshot of the series."""

    per_snapshot: list[dict[tuple[int, int], int]]  # (group, class index) -> objects kept alive, per snapshot
    snaps: list[HeapSnapshot]
    item_class: list[str | None]
    function: list[str | None]
    offheap: list[int]
    parent: dict[int, int]           # group -> the group whose holder dominates its example holder
    example: list[int | None]        # timer lists: one object of the user's class they keep alive

    def counts(self, g: int, item_class: str) -> list[int]:
        out = []
        for found, snap in zip(self.per_snapshot, self.snaps, strict=True):
            c = snap.class_index(item_class)
            out.append(int(found.get((g, c), 0)) if c >= 0 else 0)
        return out


def _dominated_holdings(snaps: list[HeapSnapshot], last: HeapSnapshot,
                        ranked: list[tuple[tuple[Any, ...], dict[str, Any]]], mask: Any) -> _Held:
    """One pass per snapshot: every node is assigned the candidate group whose holder dominates it nearest;
    then per group: objects of each class kept alive, off-heap bytes, the function most held closures are,
    and (for timer lists) the class a user wrote that the timers keep alive."""
    import numpy as np

    from cdpclient.heap import _kernels as K
    from cdpclient.heap import names

    if not ranked:
        return _Held([{} for _ in snaps], snaps, [], [], [], {}, [])
    # Every candidate's holder ids, sorted, each with the biggest group that has it (groups are ranked).
    ids = np.concatenate([np.asarray(last.node_id)[np.asarray(group["holders"], dtype=np.int64)]
                          for _, group in ranked]).astype(np.int64)
    groups = np.concatenate([np.full(len(group["holders"]), g, np.int32) for g, (_, group) in enumerate(ranked)])
    order = np.lexsort((groups, ids))
    ids, groups = ids[order], groups[order]
    unique = np.concatenate(([True], ids[1:] != ids[:-1]))
    ids, groups = ids[unique], groups[unique]
    per_snapshot: list[dict[tuple[int, int], int]] = []
    item_class: list[str | None] = [None] * len(ranked)
    function: list[str | None] = [None] * len(ranked)
    offheap = [0] * len(ranked)
    examples: list[int | None] = [None] * len(ranked)
    parent: dict[int, int] = {}
    for snap in snaps:
        marks = np.full(snap.node_count, -1, np.int32)
        node_id = np.asarray(snap.node_id).astype(np.int64)
        at = np.minimum(np.searchsorted(ids, node_id), len(ids) - 1)
        hit = ids[at] == node_id
        marks[hit] = groups[at[hit]]
        below = K.nearest_marked_dominator(np.asarray(snap.idom), marks, snap.root)
        inside = np.flatnonzero(below >= 0)
        cls = np.asarray(snap.cls)[inside].astype(np.int64)
        grp = below[inside].astype(np.int64)
        nc = len(snap.class_names)
        pairs, counts = np.unique(grp * nc + cls, return_counts=True)
        per_snapshot.append({(int(k // nc), int(k % nc)): int(v) for k, v in zip(pairs, counts, strict=True)})
        if snap is not last:
            continue
        native = snap.node_type_code("native")
        node_type = np.asarray(snap.node_type)[inside]
        sizes = np.asarray(snap.self_size)[inside]
        off = np.bincount(grp[node_type == native], weights=sizes[node_type == native], minlength=len(ranked))
        offheap = [int(x) for x in off[:len(ranked)]]
        for g, (_key, group) in enumerate(ranked):
            first = int(group["holders"][0])
            parent[g] = int(below[first]) if marks[first] == g else int(marks[first])
        # Among the new objects each group keeps alive: the commonest function, and a class a user wrote.
        new = np.asarray(mask)[inside]
        closure = snap.node_type_code("closure")
        sel = new & (node_type == closure)
        if sel.any():
            names_ = np.asarray(snap.node_name)[inside][sel].astype(np.int64)
            keys, counts = np.unique(grp[sel] * (len(snap.strings) + 1) + names_, return_counts=True)
            best: dict[int, tuple[int, int]] = {}
            for k, v in zip(keys, counts, strict=True):
                g = int(k // (len(snap.strings) + 1))
                if v > best.get(g, (0, 0))[0]:
                    best[g] = (int(v), int(k % (len(snap.strings) + 1)))
            nodes = inside[sel]
            for g, (_, name_index) in best.items():
                example = int(nodes[(grp[sel] == g) & (names_ == name_index)][0])
                function[g] = names.function_label(snap, example)
        for g, (key, _group) in enumerate(ranked):
            if key[2] not in ("TimersList", "Timeout"):
                continue
            in_g = new & (grp == g) & (node_type == snap.node_type_code("object"))
            if not in_g.any():
                continue
            counted = np.bincount(cls[in_g], minlength=nc)
            for c in np.argsort(-counted)[:8]:
                if counted[c] == 0:
                    break
                example = int(inside[in_g][cls[in_g] == c][0])
                script = names.class_script(snap, example)
                if script and not names.is_internal_script(script):
                    item_class[g] = snap.class_names[int(c)]
                    examples[g] = example
                    break
    return _Held(per_snapshot, snaps, item_class, function, offheap, parent, examples)


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
    holder, holder_edge = _lift_list_holders(snap, holder, holder_edge, cls)
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
                        "item_nodes": [int(i) for i in items[:_HOLDERS_FOLLOWED]],
                        "retained": entry_retained, "members": int(members.size)}
        else:  # same names, different string indexes (rare): merge
            group["holders"] += [int(h) for h in holders[:_HOLDERS_FOLLOWED]]
            group["holder_count"] += int(holders.size)
            group["retained"] += entry_retained
            group["members"] += int(members.size)
    return out


def _lift_list_holders(snap: HeapSnapshot, holder: Any, holder_edge: Any, cls: Any) -> tuple[Any, Any]:
    """A holder inside a linked list (reached from an object of its own class by the same edge, again and
    again: Node's timer list, a hand-written queue) is replaced by what holds the list's head."""
    import numpy as np

    owner_of = np.asarray(snap.edge_owner)
    parent_edge = np.asarray(snap.parent_edge)
    edge_name = np.asarray(snap.edge_name)
    listed = cls[owner_of[holder_edge]] == cls[holder]
    if not listed.any():
        return holder, holder_edge
    holder, holder_edge = holder.copy(), holder_edge.copy()
    lifted: dict[int, tuple[int, int]] = {}
    for i in np.flatnonzero(listed):
        h0 = int(holder[i])
        if h0 not in lifted:
            h, e, run = h0, int(holder_edge[i]), 0
            name = int(edge_name[e])
            while e >= 0 and run < 1_000_000:
                o = int(owner_of[e])
                if cls[o] != cls[h] or int(edge_name[e]) != name:
                    break
                h, e, run = o, int(parent_edge[o]), run + 1
            head = int(owner_of[e]) if e >= 0 else -1
            if run >= _LIST_RUN - 1 and head >= 0 and int(parent_edge[head]) >= 0:
                lifted[h0] = (head, int(parent_edge[head]))
            else:
                lifted[h0] = (h0, int(holder_edge[i]))
        holder[i], holder_edge[i] = lifted[h0]
    return holder, holder_edge


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
