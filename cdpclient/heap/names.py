"""Names a person would use for heap objects: functions with their script and line, classes with their module.

V8 names every closure and records where each function is (the snapshot's
``locations``: script id, line, column); the script's URL hangs off the function's
``shared`` info.  So a closure reads ``onTick (lib/feed.js:12)`` rather than
``(closure)``, and an instance of a class knows the script that defined the class
(``__proto__`` -> ``constructor``), which tells a user's ``Connection`` from Node's
``Socket``.  Everything here reads a handful of edges of the objects a human is
about to see; nothing walks the heap.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cdpclient.heap.snapshot import HeapSnapshot

_SCRIPT_EDGES = ("script_or_debug_info", "script")
_ANONYMOUS = "(anonymous)"


def edge_to_named(snap: HeapSnapshot, n: int, name: str) -> int:
    """The node that ``n``'s edge called ``name`` (a property or internal edge) points to, or -1."""
    lo, hi = int(snap.first_edge[n]), int(snap.first_edge[n + 1])
    element, hidden = snap.edge_type_code("element"), snap.edge_type_code("hidden")
    for e in range(lo, hi):
        t = int(snap.edge_type[e])
        if t in (element, hidden):
            continue
        if snap.strings[int(snap.edge_name[e])] == name:
            return int(snap.edge_to[e])
    return -1


def script_of_function(snap: HeapSnapshot, n: int) -> str | None:
    """The URL (or path) of the script closure ``n`` was defined in; None for native functions."""
    shared = edge_to_named(snap, n, "shared")
    if shared < 0:
        return None
    for edge in _SCRIPT_EDGES:
        script = edge_to_named(snap, shared, edge)
        if script >= 0:
            name = snap.name_of(script)
            return name if name and not name.startswith("system /") else None
    return None


def line_of_function(snap: HeapSnapshot, n: int) -> int | None:
    """The 1-based line closure ``n``'s function starts on, from the snapshot's locations."""
    import numpy as np

    loc_node = snap.arrays.get("loc_node")
    if loc_node is None or len(loc_node) == 0:
        return None
    i = int(np.searchsorted(loc_node, n))
    if i < len(loc_node) and int(loc_node[i]) == n:
        return int(snap.arrays["loc_line"][i]) + 1
    return None


def short_script(url: str) -> str:
    """``/srv/app/lib/feed.js`` -> ``lib/feed.js``; ``.../node_modules/ws/lib/x.js`` -> ``ws/lib/x.js``;
    ``node:internal/timers`` stays as it is."""
    path = re.sub(r"^file://", "", url)
    if path.startswith("node:"):
        return path
    if "/node_modules/" in path:
        return path.rsplit("/node_modules/", 1)[1]
    parts = [p for p in path.split("/") if p]
    return posixpath.join(*parts[-2:]) if parts else url


def is_internal_script(url: str | None) -> bool:
    """Node's own code (``node:internal/...``, ``node:events``) or no script at all."""
    return not url or url.startswith("node:") or url.startswith("internal/")


def function_name(snap: HeapSnapshot, n: int) -> str:
    return snap.name_of(n) or _ANONYMOUS


def function_label(snap: HeapSnapshot, n: int) -> str:
    """``onTick (lib/feed.js:12)``; ``onTick`` when V8 recorded no script for it."""
    name = function_name(snap, n)
    script = script_of_function(snap, n)
    if not script:
        return name
    line = line_of_function(snap, n)
    return f"{name} ({short_script(script)}{f':{line}' if line else ''})"


def class_script(snap: HeapSnapshot, n: int) -> str | None:
    """The script whose class made object ``n`` (``__proto__.constructor``'s script); None for built-ins."""
    proto = edge_to_named(snap, n, "__proto__")
    if proto < 0:
        return None
    ctor = edge_to_named(snap, proto, "constructor")
    if ctor < 0 or snap.type_of(ctor) != "closure":
        return None
    return script_of_function(snap, ctor)


def is_closure(snap: HeapSnapshot, n: int) -> bool:
    return snap.type_of(n) == "closure"


def label(snap: HeapSnapshot, n: int) -> str:
    """What to call object ``n``: a function's label, else its class name."""
    if is_closure(snap, n):
        return function_label(snap, n)
    return snap.class_of(n).strip() or _ANONYMOUS


def functions_named(snap: HeapSnapshot, name: str) -> list[int]:
    """Ordinals of the closures whose function is called ``name``, largest retained first."""
    import numpy as np

    index = snap.strings.find(name)
    code = snap.node_type_code("closure")
    if index < 0 or code < 0:
        return []
    hits = np.flatnonzero((np.asarray(snap.node_type) == code) & (np.asarray(snap.node_name) == index))
    hits = hits[np.argsort(-np.asarray(snap.retained)[hits], kind="stable")]
    return [int(h) for h in hits]
