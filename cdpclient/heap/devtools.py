"""DevTools' Summary where it differs from memlab's: class names and shallow sizes.

DevTools' Memory panel (Chrome 120 and later) groups and sizes objects differently from
memlab and from its own older versions, and a user comparing the two sees it:

- functions are ``Function`` (memlab: ``(closure)``), regular expressions ``RegExp``;
- a plain object (``Object``) is named by its properties, ``{host, port}``, when enough
  objects share them: DevTools infers "interface definitions" from the most common property
  lists (each must be held by 2 objects and 1 in 1,000 plain objects; a name stops growing at
  120 characters), then names each plain object after the definition with the most
  properties that it has all of (the most common first on a tie); the rest stay ``Object``;
- a DOM node's class drops its attributes: ``<div id="a">`` is ``<div>``;
- an embedder (native) object the snapshot marks detached, and the native objects only it
  reaches, are ``Detached Node / BindingData`` (Node) or ``Detached <div>`` (browsers);
- an array or hidden (``(system)``) object that only one object's graph reaches is part of that
  object: its size moves to the owner's shallow size, and objects of no size are not counted.

DevTools also shows constructors of one name defined in different scripts as separate
rows (same name); here they are one class, the rows' sum.

The inference reads each plain object's edges once in a numba kernel and hashes its
property lists; only one object per distinct list is looked at in Python.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cdpclient.heap.parse import RawSnapshot
from cdpclient.heap.strings import StringTable

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[Any]

CLASSES = ("memlab", "devtools")
DEVTOOLS_TYPE_CLASS = {"closure": "Function", "regexp": "RegExp"}
MAX_NAME_LENGTH = 120         # DevTools' MAX_INTERFACE_NAME_LENGTH
MIN_OBJECTS = 2               # MIN_OBJECT_COUNT_PER_INTERFACE
MIN_SHARE = 1000              # MIN_OBJECT_PROPORTION_PER_INTERFACE: 1 in this many plain objects
_SPECIAL = re.compile(r"[,'\"{}]")


@dataclass(frozen=True)
class Shape:
    """One inferred interface: its name (``{host, port}``) and the properties it requires."""

    name: str
    properties: frozenset[str]
    rank: int   # position in DevTools' list: the most common first


def format_property(name: str) -> str:
    """A property name as DevTools writes it in a shape: quoted when it holds ``, ' " { }``."""
    if _SPECIAL.search(name):
        text = json.dumps({name: 0}, ensure_ascii=False, separators=(",", ":"))
        return text[1:-3]
    return name


def short_dom_name(name: str) -> str:
    """``<div id="a">`` -> ``<div>``, as DevTools groups DOM nodes (browser snapshots)."""
    for prefix in ("<", "Detached <"):
        if name.startswith(prefix):
            space = name.find(" ", len(prefix))
            return name[:space] + ">" if space != -1 else name
    return name


def devtools_classes(cls: Array, class_names: list[str], raw: RawSnapshot,
                     strings: StringTable) -> tuple[Array, list[str]]:
    """Re-class nodes as DevTools names them; returns the new ``cls`` and class names.

    ``class_names`` are memlab's (type classes such as ``(closure)`` already resolved);
    names of types DevTools calls otherwise are renamed, detached natives prefixed, DOM
    names shortened, classes that end up with one name merged, and plain objects given
    their shape's class.
    """
    import numpy as np

    node_type, node_name, node_types, edge_types = raw.node_type, raw.node_name, raw.node_types, raw.edge_types
    first_edge, edge_type, edge_name = raw.first_edge, raw.edge_type, raw.edge_name
    cls = np.asarray(cls)
    detached = _detached(raw)
    if detached is not None and detached.any():
        # Detached natives get a class of their own: "Detached " + the class name.
        base = np.unique(cls[detached])
        extra = {int(c): len(class_names) + i for i, c in enumerate(base.tolist())}
        class_names = class_names + [f"Detached {class_names[c]}" for c in extra]
        lookup = np.arange(len(class_names), dtype=np.int32)
        for c, new in extra.items():
            lookup[c] = new
        cls = cls.copy()
        cls[detached] = lookup[cls[detached]]
    renamed = [short_dom_name(name) for name in class_names]
    for type_name, devtools_name in DEVTOOLS_TYPE_CLASS.items():
        memlab_name = f"({type_name})"
        renamed = [devtools_name if name == memlab_name else name for name in renamed]
    object_t = node_types.index("object") if "object" in node_types else -1
    property_t = edge_types.index("property") if "property" in edge_types else -1
    object_name = strings.find("Object")
    plain = np.empty(0, np.int64)
    if object_t >= 0 and property_t >= 0 and object_name >= 0:
        plain = np.flatnonzero((node_type == object_t) & (node_name == object_name))
    shapes: list[Shape] = []
    plain_class: Array = np.empty(0, np.int64)
    shape_names: list[str] = []
    if plain.size:
        shapes, plain_shape = _infer_and_match(plain, first_edge, edge_type, edge_name, strings, property_t)
        shape_names = ["Object" if s < 0 else shapes[s].name for s in range(-1, len(shapes))]
        plain_class = plain_shape  # -1 = Object, else shape rank
    names = list(dict.fromkeys(renamed + shape_names))
    index = {name: i for i, name in enumerate(names)}
    remap = np.array([index[name] for name in renamed], dtype=np.int32)
    out = remap[cls]
    if plain.size:
        by_shape = np.array([index[name] for name in shape_names], dtype=np.int32)  # shape -1 at 0
        out[plain] = by_shape[plain_class + 1]
    # Classes with no node left (plain ``Object`` when every plain object has a shape) go.
    present = np.bincount(out, minlength=len(names)) > 0
    if not present.all():
        keep = np.flatnonzero(present)
        renumber = np.full(len(names), -1, np.int32)
        renumber[keep] = np.arange(keep.size, dtype=np.int32)
        out = renumber[out]
        names = [names[int(i)] for i in keep]
    return np.ascontiguousarray(out, dtype=np.int32), names


def devtools_self_sizes(raw: RawSnapshot, root: int, strings: StringTable) -> Array:
    """DevTools' shallow sizes (see the module's docstring); raw sizes when the snapshot has no
    user roots (taken with internals exposed, where DevTools shows the real allocations)."""
    import numpy as np

    from cdpclient.heap import _kernels as K

    types = raw.node_types

    def code(name: str) -> int:
        return types.index(name) if name in types else 255

    begin, end = int(raw.first_edge[root]), int(raw.first_edge[root + 1])
    if not (raw.node_type[raw.edge_to[begin:end]] != code("synthetic")).any():
        return np.asarray(raw.self_size)
    owned = (raw.node_type == code("hidden")) | (raw.node_type == code("array"))
    external = strings.find("system / ExternalStringData")
    if external >= 0:
        owned |= (raw.node_type == code("native")) & (raw.node_name == external)
    weak = raw.edge_types.index("weak") if "weak" in raw.edge_types else 255
    sizes = K.devtools_shallow(raw.self_size, owned, raw.node_type, code("synthetic"), root,
                               raw.first_edge, raw.edge_type, raw.edge_to, weak)
    limit = np.iinfo(raw.self_size.dtype).max
    return sizes.astype(raw.self_size.dtype) if int(sizes.max(initial=0)) <= limit else sizes


# V8 names the table's edge to a WeakMap value after the pair: "12 / part of key (Session @3)
# -> value (Object @5) pair in WeakMap (table @7)".
_EPHEMERON = re.compile(rb'"\d+ / part of key \(.*? @\d+\) -> value \(.*? @\d+\) pair in WeakMap '
                        rb'\(table @(\d+)\)"')


def weakmap_table_edges_as_weak(first_edge: Array, edge_type: Array, edge_name: Array, node_id: Array,
                                strings: StringTable, internal_t: int, weak_t: int) -> Array:
    """DevTools' dominator rule for WeakMaps: a value is retained by its key and the table
    together, and DevTools credits the key; so the table's edge to the value is not read
    (returned as a copy of ``edge_type`` with those edges weak; the original when none)."""
    import numpy as np

    blob = strings.blob
    found = [(m.start(), int(m.group(1))) for m in _EPHEMERON.finditer(blob)]
    if not found or internal_t == 255:
        return edge_type
    starts = np.asarray(strings.starts)
    positions = np.array([pos for pos, _ in found], dtype=np.int64)
    index = np.searchsorted(starts, positions)
    ok = (index < starts.size) & (starts[np.minimum(index, starts.size - 1)] == positions)
    names = index[ok]
    tables = np.array([table for (_, table), good in zip(found, ok.tolist(), strict=True) if good], dtype=np.int64)
    order = np.argsort(names)
    names, tables = names[order], tables[order]
    candidates = np.flatnonzero((edge_type == internal_t) & np.isin(edge_name, names))
    if not candidates.size:
        return edge_type
    owner = np.searchsorted(np.asarray(first_edge), candidates, side="right") - 1
    table_of = tables[np.searchsorted(names, np.asarray(edge_name)[candidates])]
    hits = candidates[np.asarray(node_id)[owner].astype(np.int64) == table_of]
    if not hits.size:
        return edge_type
    out = np.array(edge_type, copy=True)
    out[hits] = weak_t
    return out


def _detached(raw: RawSnapshot) -> Array | None:
    """The native objects DevTools calls detached, from the snapshot's ``detachedness`` field."""
    import numpy as np

    from cdpclient.heap import _kernels as K

    if raw.detachedness is None or "native" not in raw.node_types:
        return None
    skip = np.zeros(256, np.bool_)
    for name in ("hidden", "invisible", "weak"):
        if name in raw.edge_types:
            skip[raw.edge_types.index(name)] = True
    mask: Array = K.detached_natives(raw.detachedness, raw.node_type, raw.node_types.index("native"),
                                     raw.first_edge, raw.edge_type, raw.edge_to, skip)
    return mask


def _infer_and_match(plain: Array, first_edge: Array, edge_type: Array, edge_name: Array,
                     strings: StringTable, property_t: int) -> tuple[list[Shape], Array]:
    """DevTools' shapes of ``plain`` objects, and each object's (-1: none, plain ``Object``)."""
    import numpy as np

    from cdpclient.heap import _kernels as K

    used = K.property_names_used(plain, first_edge, edge_type, edge_name, property_t, len(strings))
    name_len = np.zeros(len(strings), np.int64)
    for i in np.flatnonzero(used):
        name_len[i] = len(format_property(strings[int(i)]))
    proto = strings.find("__proto__")
    named, full = K.shape_hashes(plain, first_edge, edge_type, edge_name, property_t,
                                 proto if proto >= 0 else -1, name_len, MAX_NAME_LENGTH)

    # Inference: the most common property lists (ties: the one seen first, as a JS Map keeps them).
    has = named != 0
    keys, first, counts = np.unique(named[has], return_index=True, return_counts=True)
    floor = max(MIN_OBJECTS, plain.size / MIN_SHARE)
    chosen = np.flatnonzero(counts >= floor)
    order = sorted(chosen.tolist(), key=lambda k: (-int(counts[k]), int(first[k])))
    holders = np.flatnonzero(has)
    shapes: list[Shape] = []
    for rank, k in enumerate(order):
        node = int(plain[holders[int(first[k])]])
        listed = _listed_properties(node, first_edge, edge_type, edge_name, strings, property_t)
        shapes.append(Shape(name="{" + ", ".join(format_property(p) for p in listed) + "}",
                            properties=frozenset(listed), rank=rank))
    del keys

    # Matching: per distinct property set, the shape with most properties it has all of.
    sets, first_set, inverse = np.unique(full, return_index=True, return_inverse=True)
    by_smallest: dict[str, list[Shape]] = {}
    for shape in shapes:
        by_smallest.setdefault(min(shape.properties), []).append(shape)
    match = np.full(sets.size, -1, np.int64)
    if shapes:
        for j in range(sets.size):
            node = int(plain[int(first_set[j])])
            have = set(_all_properties(node, first_edge, edge_type, edge_name, strings, property_t))
            best: Shape | None = None
            for prop in have:
                for shape in by_smallest.get(prop, ()):
                    if shape.properties <= have and (
                            best is None or len(shape.properties) > len(best.properties)
                            or (len(shape.properties) == len(best.properties) and shape.rank < best.rank)):
                        best = shape
            if best is not None:
                match[j] = best.rank
    return shapes, match[inverse.reshape(-1)]


def _all_properties(node: int, first_edge: Array, edge_type: Array, edge_name: Array,
                    strings: StringTable, property_t: int) -> list[str]:
    return [strings[int(edge_name[e])] for e in range(int(first_edge[node]), int(first_edge[node + 1]))
            if int(edge_type[e]) == property_t]


def _listed_properties(node: int, first_edge: Array, edge_type: Array, edge_name: Array,
                       strings: StringTable, property_t: int) -> list[str]:
    """The properties DevTools puts in a shape's name: edge order, no ``__proto__``, 120 characters."""
    listed: list[str] = []
    length = 1
    for name in _all_properties(node, first_edge, edge_type, edge_name, strings, property_t):
        if name == "__proto__":
            continue
        width = len(format_property(name))
        if length > 1 and length + width > MAX_NAME_LENGTH:
            break
        length += (2 if length != 1 else 0) + width
        listed.append(name)
    return listed
