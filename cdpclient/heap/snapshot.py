"""``HeapSnapshot``: one parsed snapshot with DevTools' derived data, as parallel arrays.

Derived per node: class (DevTools' Summary grouping), retained size, immediate
dominator, distance from the roots, and the edge a shortest retaining path arrives by.
Everything is a numpy array indexed by node ordinal (or edge index); a node becomes a
Python object only when a human asks to read it (:meth:`HeapSnapshot.object`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cdpclient.heap.devtools import CLASSES, devtools_classes, devtools_self_sizes, weakmap_table_edges_as_weak
from cdpclient.heap.parallel import one_at_a_time, together
from cdpclient.heap.parse import Progress, RawSnapshot
from cdpclient.heap.strings import StringTable

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[Any]

# DevTools gives objects whose type is not a user-visible constructor a class name in parentheses.
_TYPE_CLASS = {"hidden": "(system)", "code": "(compiled code)"}
_NAMED_TYPES = ("object", "native")
# Object types that are V8 plumbing rather than user data: leak reports look through them.
INTERNAL_TYPES = ("hidden", "array", "code", "object shape", "synthetic")
SYSTEM_DISTANCE = 100_000_000
DOMINANCE = ("gc-roots", "user-roots")  # DevTools' base distance for objects reachable only outside user roots

ARRAYS = ("node_type", "node_name", "node_id", "self_size", "first_edge", "edge_type", "edge_name",
          "edge_to", "string_starts", "string_ends", "cls", "retained", "idom", "distance",
          "parent_edge", "class_count", "class_shallow", "class_retained", "loc_node", "loc_line")


class Spill(Protocol):
    """Where :func:`analyse` sends arrays it is done with (:class:`cdpclient.heap.cache.Workspace`)."""

    def spill(self, name: str, array: Any) -> Any: ...

    def spill_bytes(self, name: str, data: Any) -> Any: ...


def class_name_for_type(type_name: str) -> str:
    """DevTools' class name for nodes grouped by type: ``(string)``, ``(closure)``, ``(system)``..."""
    return _TYPE_CLASS.get(type_name, f"({type_name})")


class HeapSnapshot:
    """A parsed, analysed heap snapshot.

    Arrays (attributes named as in :data:`ARRAYS`) are indexed by node ordinal
    (``0..node_count-1``) or edge index.  ``class_names[cls[n]]`` is node ``n``'s class;
    ``class_count`` / ``class_shallow`` / ``class_retained`` aggregate per class (the
    retained size of a class counts objects not dominated by another of the same class).
    """

    def __init__(self, path: Path, meta: dict[str, Any], arrays: dict[str, Any], strings: StringTable,
                 class_names: list[str], root: int = 0) -> None:
        self.path = Path(path)
        self.meta = meta
        self.node_types: list[str] = list(meta["node_types"])
        self.edge_types: list[str] = list(meta["edge_types"])
        self.strings = strings
        self.class_names = class_names
        self.root = root
        self.arrays = arrays
        # Per node (ordinal):
        self.node_type: Array = arrays["node_type"]        # code into node_types
        self.node_name: Array = arrays["node_name"]        # string index
        self.node_id: Array = arrays["node_id"]            # V8's object id (``@123``)
        self.self_size: Array = arrays["self_size"]
        self.first_edge: Array = arrays["first_edge"]      # node_count + 1 entries: n's edges start here
        self.cls: Array = arrays["cls"]                    # index into class_names
        self.retained: Array = arrays["retained"]
        self.idom: Array = arrays["idom"]                  # immediate dominator
        self.distance: Array = arrays["distance"]          # from the roots; negative: unreachable
        self.parent_edge: Array = arrays["parent_edge"]    # the edge a shortest retaining path arrives by; -1: none
        # Per edge:
        self.edge_type: Array = arrays["edge_type"]        # code into edge_types
        self.edge_name: Array = arrays["edge_name"]        # string index, or the index of an element/hidden edge
        self.edge_to: Array = arrays["edge_to"]            # node ordinal
        # Per string (offsets into strings.blob) and per class:
        self.string_starts: Array = arrays["string_starts"]
        self.string_ends: Array = arrays["string_ends"]
        self.class_count: Array = arrays["class_count"]
        self.class_shallow: Array = arrays["class_shallow"]
        self.class_retained: Array = arrays["class_retained"]
        self._edge_owner: Array | None = None
        self._reverse: tuple[Array, Array] | None = None
        self._class_index: dict[str, int] | None = None

    def adopt(self, other: HeapSnapshot) -> None:
        """Take ``other``'s arrays and strings (the same analysis, mapped from its cache) in place of ours."""
        for name in ARRAYS:
            self.arrays[name] = other.arrays[name]
            setattr(self, name, other.arrays[name])
        self.strings = other.strings

    # -- sizes and lookups --------------------------------------------------------------
    @property
    def node_count(self) -> int:
        return int(self.node_type.shape[0])

    @property
    def edge_count(self) -> int:
        return int(self.edge_type.shape[0])

    @property
    def total_size(self) -> int:
        return int(self.class_shallow.sum())

    def node_type_code(self, name: str) -> int:
        return self.node_types.index(name) if name in self.node_types else -1

    def edge_type_code(self, name: str) -> int:
        return self.edge_types.index(name) if name in self.edge_types else -1

    def class_index(self, name: str) -> int:
        """Index of a class by name, -1 if no object of that class exists."""
        if self._class_index is None:
            self._class_index = {c: i for i, c in enumerate(self.class_names)}
        return self._class_index.get(name, -1)

    def ordinal_of_id(self, node_id: int) -> int:
        """Node ordinal of a snapshot object id (``@123``), -1 if absent."""
        import numpy as np

        hits = np.flatnonzero(self.node_id == node_id)
        return int(hits[0]) if hits.size else -1

    @property
    def edge_owner(self) -> Array:
        """``edge_owner[e]``: the node edge ``e`` leaves from (computed on first use)."""
        if self._edge_owner is None:
            from cdpclient.heap import _kernels as K

            self._edge_owner = K.edge_owner(self.first_edge, self.edge_count)
        return self._edge_owner

    @property
    def reverse(self) -> tuple[Array, Array]:
        """``(first_ret, ret_edge)``: all edges into each node (computed on first use)."""
        if self._reverse is None:
            from cdpclient.heap import _kernels as K

            self._reverse = K.reverse_edges(self.first_edge, self.edge_to)
        return self._reverse

    # -- names ----------------------------------------------------------------------------
    def class_of(self, n: int) -> str:
        return self.class_names[int(self.cls[n])]

    def type_of(self, n: int) -> str:
        return self.node_types[int(self.node_type[n])]

    def name_of(self, n: int) -> str:
        return self.strings[int(self.node_name[n])]

    def edge_kind(self, e: int) -> str:
        return self.edge_types[int(self.edge_type[e])]

    def edge_label(self, e: int) -> str:
        """The edge's name as DevTools prints it: ``foo``, ``[3]`` for elements and hidden slots."""
        kind = self.edge_kind(e)
        if kind in ("element", "hidden"):
            return f"[{int(self.edge_name[e])}]"
        return self.strings[int(self.edge_name[e])]

    def object(self, n: int) -> HeapObject:
        """Node ``n`` for a human to read: id, class, name, type, sizes, distance."""
        n = int(n)
        from cdpclient.heap.names import label

        distance = int(self.distance[n])
        return HeapObject(id=int(self.node_id[n]), class_name=self.class_of(n), name=_short(self.name_of(n)),
                          type=self.type_of(n), self_size=int(self.self_size[n]), retained_size=int(self.retained[n]),
                          distance=None if distance < 0 else distance, label=label(self, n))


@dataclass(frozen=True)
class HeapObject:
    """One object of a snapshot; ``distance`` from the roots is None when it is unreachable."""

    id: int
    class_name: str
    name: str
    type: str
    self_size: int
    retained_size: int
    distance: int | None
    label: str = ""           # what a person calls it: ``onTick (lib/feed.js:12)`` for a closure, else the class

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "class": self.class_name, "name": self.name, "type": self.type,
                "self_size": self.self_size, "retained_size": self.retained_size, "distance": self.distance,
                "label": self.label or self.class_name}


def _short(text: str, limit: int = 120) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- analysis --------------------------------------------------------------------------------


def analyse(raw: RawSnapshot, path: Path, progress: Progress | None = None, *,
            dominance: str = "gc-roots", classes: str = "memlab", workspace: Spill | None = None) -> HeapSnapshot:
    """Compute classes, dominators, retained sizes and distances for a parsed snapshot.

    ``dominance`` names where the "owned" region of the heap starts (see
    :func:`cdpclient.heap._kernels.mark_page_owned`): ``"gc-roots"`` (memlab's rule, the
    default) or ``"user-roots"`` (DevTools' rule: ``global`` dominates all it reaches).
    ``classes`` picks how objects are named and sized: ``"memlab"`` (``(closure)``, ``Object``,
    each object's own size; the default) or ``"devtools"`` (DevTools' Summary: ``Function``,
    ``RegExp``, plain objects by shape, arrays counted in their owner: see :mod:`.devtools`).
    ``workspace`` (a :class:`Spill`, in practice :class:`cdpclient.heap.cache.Workspace`) takes arrays out of memory
    once they are no longer needed by what follows.
    """
    import numpy as np

    from cdpclient.heap import _kernels as K

    if dominance not in DOMINANCE:
        raise ValueError(f"dominance must be one of {DOMINANCE}")
    if classes not in CLASSES:
        raise ValueError(f"classes must be one of {CLASSES}")
    say = one_at_a_time(progress)  # the two strands report from their threads
    spill = workspace.spill if workspace is not None else (lambda _name, array: array)
    strings = StringTable(raw.string_blob, raw.string_starts, raw.string_ends)
    node_types, edge_types = raw.node_types, raw.edge_types
    n = raw.node_count
    root = int(raw.extra.get("root_index", 0) or 0) // max(1, len(raw.meta["node_fields"]))

    def code(names: list[str], name: str) -> int:
        return names.index(name) if name in names else 255

    weak_t, shortcut_t = code(edge_types, "weak"), code(edge_types, "shortcut")
    element_t = code(edge_types, "element")

    # DevTools' WeakMap rule first: it reads names and ids, which the classes strand below lets go of.
    dom_edge_type: Any = raw.edge_type
    if dominance == "user-roots" and weak_t != 255:
        dom_edge_type = weakmap_table_edges_as_weak(raw.first_edge, raw.edge_type, raw.edge_name, raw.node_id,
                                                    strings, code(edge_types, "internal"), weak_t)
    # Two strands, side by side on two cores (the kernels release the GIL): the classes and the distances,
    # then out of memory with what only they read; and the dominators, which read neither.
    held = {"node_name": raw.node_name, "node_id": raw.node_id, "edge_name": raw.edge_name}
    raw.node_name = raw.node_id = raw.edge_name = None

    def classes_and_distances() -> tuple[ClassCensus, dict[str, Any], StringTable]:
        say("classes")
        strings = held_strings.pop()
        raw.node_name, raw.node_id = held["node_name"], held["node_id"]  # what _census reads of raw
        raw.edge_name = held["edge_name"]
        census = _census(raw, strings, root, classes)
        raw.node_name = raw.node_id = raw.edge_name = None
        census.node_id = None  # analyse keeps its own reference (held), spilled below
        raw.self_size = census.self_size = spill("self_size", raw.self_size)  # read again only at the end
        names = [_string_or_none(strings, text) for text in
                 ("system / NativeContext", "sloppy_function_map", "(map descriptors)")]
        # ids and strings are not read again here: out of memory before the distances take theirs
        spilled = {"node_id": spill("node_id", held.pop("node_id"))}
        table = strings
        if workspace is not None:
            spilled["string_starts"] = spill("string_starts", raw.string_starts)
            spilled["string_ends"] = spill("string_ends", raw.string_ends)
            table = StringTable(workspace.spill_bytes("strings.json", strings.blob), spilled["string_starts"],
                                spilled["string_ends"])
            raw.string_starts = raw.string_ends = raw.string_blob = None
        else:
            spilled["string_starts"], spilled["string_ends"] = raw.string_starts, raw.string_ends
        del strings
        say("distances")
        distance, parent_edge = K.distances(
            raw.first_edge, raw.edge_type, held["edge_name"], raw.edge_to, raw.node_type, held["node_name"], root,
            weak_t, element_t, code(node_types, "synthetic"), code(node_types, "hidden"),
            code(node_types, "array"), names[0], names[1], names[2], SYSTEM_DISTANCE)
        spilled["distance"] = spill("distance", distance)
        spilled["parent_edge"] = spill("parent_edge", parent_edge)
        del distance, parent_edge
        for name in ("node_name", "edge_name"):
            spilled[name] = spill(name, held.pop(name))
        return census, spilled, table

    def dominator_tree() -> tuple[Any, Any]:
        say("dominators")
        flags = K.mark_page_owned(raw.first_edge, raw.edge_type, raw.edge_to, root, shortcut_t, weak_t,
                                  dominance == "user-roots")
        first_pred, preds, strong = K.essential_preds(raw.first_edge, dom_edge_type, raw.edge_to, flags, root,
                                                      shortcut_t, weak_t)
        return K.dominators(raw.first_edge, dom_edge_type, raw.edge_to, flags, first_pred, preds, strong,
                            root, shortcut_t, weak_t)

    held_strings = [strings]  # the classes strand lets go of it once spilled, and hands back the spilled table
    del strings
    (census, arrays, strings), (idom, order) = together(classes_and_distances, dominator_tree)
    cls, class_names, class_count, class_shallow = census.cls, census.class_names, census.class_count, \
        census.class_shallow
    nclasses = len(class_names)
    del census
    graph = {"node_type": raw.node_type, "first_edge": raw.first_edge, "edge_type": raw.edge_type,
             "edge_to": raw.edge_to}
    raw.node_type = raw.first_edge = raw.edge_type = raw.edge_to = None
    dom_edge_type = None  # a WeakMap rule's copy of the edge types: done with

    def graph_out() -> dict[str, Any]:  # not read by the retained sizes: out of memory meanwhile
        return {name: spill(name, graph.pop(name)) for name in list(graph)}

    def retained_sizes() -> tuple[Any, Any]:
        retained = K.retained_sizes(raw.self_size, idom, order)
        return retained, K.class_retained(idom, order, retained, cls, nclasses, raw.self_size,
                                          classes == "devtools")

    (retained, class_retained), spilled_graph = together(retained_sizes, graph_out)
    order = None

    meta = {"node_types": node_types, "edge_types": edge_types, "node_fields": raw.meta["node_fields"],
            "edge_fields": raw.meta["edge_fields"], "root": root, "node_count": n,
            "edge_count": int(spilled_graph["edge_type"].shape[0]), "dominance": dominance, "classes": classes}
    arrays.update({
        **spilled_graph, "self_size": raw.self_size, "cls": cls, "retained": retained, "idom": idom,
        "class_count": class_count, "class_shallow": class_shallow, "class_retained": class_retained,
        "loc_node": np.ascontiguousarray(raw.locations[:, 0], dtype=np.int64),
        "loc_line": np.ascontiguousarray(raw.locations[:, 1], dtype=np.int64),
    })
    return HeapSnapshot(path, meta, arrays, strings, class_names, root)


@dataclass
class ClassCensus:
    """What the Comparison view needs of one snapshot, without dominators or distances (:func:`census`):
    per node its class, id and shallow size, and per class the counts and shallow sizes.
    A :class:`HeapSnapshot` has all of these too; :func:`cdpclient.heap.compare` takes either."""

    path: Path
    node_id: Any
    self_size: Any
    cls: Any
    class_names: list[str]
    class_count: Any
    class_shallow: Any

    @property
    def node_count(self) -> int:
        return int(self.node_id.shape[0])

    @property
    def total_size(self) -> int:
        return int(self.class_shallow.sum())


def census(raw: RawSnapshot, path: Path, *, classes: str = "memlab") -> ClassCensus:
    """Classes, counts and shallow sizes of a parsed snapshot: the part of :func:`analyse` that a
    Comparison needs (a fraction of its time: no distances, dominators or retained sizes)."""
    if classes not in CLASSES:
        raise ValueError(f"classes must be one of {CLASSES}")
    strings = StringTable(raw.string_blob, raw.string_starts, raw.string_ends)
    root = int(raw.extra.get("root_index", 0) or 0) // max(1, len(raw.meta["node_fields"]))
    result = _census(raw, strings, root, classes)
    result.path = Path(path)
    return result


def _census(raw: RawSnapshot, strings: StringTable, root: int, classes: str) -> ClassCensus:
    """Each node's class (memlab's or DevTools' names) and the per-class counts and shallow sizes; with
    DevTools' classes ``raw.self_size`` becomes DevTools' shallow sizes."""
    import numpy as np

    from cdpclient.heap import _kernels as K

    node_types = raw.node_types
    named = np.zeros(256, np.bool_)
    for t in _NAMED_TYPES:
        if t in node_types:
            named[node_types.index(t)] = True
    nstr = len(strings)
    cls, keys = K.class_keys(raw.node_type, raw.node_name, named, nstr)
    class_names = [strings[int(k)] if k < nstr else class_name_for_type(node_types[int(k) - nstr])
                   for k in keys]
    counted = None
    if classes == "devtools":
        cls, class_names = devtools_classes(cls, class_names, raw, strings)
        raw.self_size = devtools_self_sizes(raw, root, strings)
        counted = raw.self_size > 0  # DevTools' Summary leaves out objects of no size
    raw.detachedness = None
    nclasses = len(class_names)
    class_count = np.zeros(nclasses, np.int64)
    class_shallow = np.zeros(nclasses, np.int64)
    step = 1 << 23  # in slices: bincount's float64 weights would be a copy of 8 bytes per node
    for at in range(0, cls.shape[0], step):
        part = cls[at:at + step]
        class_count += np.bincount(part if counted is None else part[counted[at:at + step]], minlength=nclasses)
        class_shallow += np.bincount(part, weights=raw.self_size[at:at + step], minlength=nclasses).astype(np.int64)
    return ClassCensus(Path(), raw.node_id, raw.self_size, cls, class_names, class_count, class_shallow)


def _string_or_none(strings: StringTable, text: str) -> int:
    index = strings.find(text)
    return index if index >= 0 else 0xFFFFFFFF
