"""A retaining path as the person who wrote the code would name it.

The shortest path from the GC roots to a leaked holder mostly runs through Node's
own plumbing: the module cache, the timer list, closures of ``node:internal``
scripts and their contexts.  :func:`user_path` keeps the part the user wrote
and says in a few words what was left out::

    raw:  (GC roots) -> global / -> CustomEvent: (closure) -> context: system / Context -> process: process
          -> mainModule: Module -> children: Array -> [2]: Module -> exports: Object -> call: (closure)
          -> context: system / Context -> pendingCalls: Map
    user: lib/calls.js: pendingCalls (Map)   (via the module cache)

Rules, in order: a variable in the context of a user script's closure (a module-level
``const`` or a captured variable) is an anchor, named ``script: variable``; so is a
property of ``global``; failing those, the first object of a class a user script
defined.  The path is shown from the last anchor on.  Below it, V8's internal
objects (contexts, backing stores, shapes) are dropped, property hops join into one
``Owner._events['tick']`` token, and a run of one edge through objects of one class
(a linked list) becomes one step: ``Timeout x3,600 (linked list)`` (``via NEXT`` for a class a user wrote).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cdpclient.heap import names
from cdpclient.heap.paths import Step
from cdpclient.heap.snapshot import INTERNAL_TYPES, HeapSnapshot

_CONTEXT = "system / Context"
_NODE_GLOBALS = ("process", "Performance", "Navigator", "Crypto")  # globals Node puts there: not an anchor
_NODE_HEADS = {"TimersList": "Node's timer list"}                     # Node structures a path may start at
# What an elided stretch of Node's plumbing is, by the objects and edges it passes.
_VIA = (
    ("the timer list", ("TimersList", "Timeout", "timerListMap", "timerListQueue")),
    ("the module cache", ("Module", "mainModule", "_cache", "children")),
    ("process", ("process",)),
)


@dataclass(frozen=True)
class UserPath:
    """``text``: the path from its anchor; ``via``: what the elided head went through (or None)."""

    text: str
    via: str | None
    elided: int

    def __str__(self) -> str:
        return f"{self.text}   (via {self.via})" if self.via else self.text


@dataclass
class _Hop:
    step: Step
    count: int = 1          # > 1: a collapsed run of the same edge through one class


def collapse_runs(steps: Sequence[Step], least: int = 3) -> list[_Hop]:
    """Runs of ``least`` or more steps by the same edge name into objects of the same class become one hop."""
    hops: list[_Hop] = []
    for step in steps:
        last = hops[-1] if hops else None
        if (last is not None and step.edge_type == "property" and last.step.edge == step.edge
                and last.step.class_name == step.class_name):
            last.count += 1
            continue
        hops.append(_Hop(step))
    out: list[_Hop] = []
    for hop in hops:  # short runs (a doubly linked pair) stay as they were
        if 1 < hop.count < least:
            out.extend(_Hop(hop.step) for _ in range(hop.count))
        else:
            out.append(hop)
    return out


def _is_user_closure(snap: HeapSnapshot, n: int) -> bool:
    return names.is_closure(snap, n) and not names.is_internal_script(names.script_of_function(snap, n))


def is_user_object(snap: HeapSnapshot, n: int) -> bool:
    """An instance of a class a user script defined (not a built-in, not one of Node's)."""
    if snap.type_of(n) != "object":
        return False
    script = names.class_script(snap, n)
    return script is not None and not names.is_internal_script(script)


def _is_plumbing(snap: HeapSnapshot, step: Step) -> bool:
    return snap.type_of(step.node) in INTERNAL_TYPES or step.class_name == _CONTEXT


def _anchor(snap: HeapSnapshot, hops: list[_Hop]) -> tuple[int, str | None]:
    """Index of the hop the user-land path starts at, and the script of its closure (context anchors)."""
    best, script = -1, None
    for i, hop in enumerate(hops):
        step = hop.step
        if step.edge_type == "context" and i >= 2 and hops[i - 1].step.class_name == _CONTEXT:
            closure = hops[i - 2].step.node
            if _is_user_closure(snap, closure):
                best, script = i, names.script_of_function(snap, closure)
        elif (step.edge_type == "property" and i >= 1 and hops[i - 1].step.class_name.startswith("global")
              and not names.is_closure(snap, step.node) and step.class_name not in _NODE_GLOBALS):
            best, script = i, None
        elif is_user_object(snap, step.node) and i < len(hops) - 1:  # the object itself names nothing new
            best, script = i, None
    if best >= 0:
        return best, script
    for i, hop in enumerate(hops):
        if hop.step.class_name in _NODE_HEADS:
            return i, None
    return 0, None


def _via(hops: Sequence[_Hop]) -> str | None:
    if not hops:
        return None
    seen = {h.step.class_name for h in hops} | {h.step.edge or "" for h in hops}
    for what, marks in _VIA:
        if seen & set(marks):
            return what
    if hops[0].step.class_name.startswith("global") and all(h.step.edge_type in (None, "property")
                                                            for h in hops[1:]):
        return "global" + "".join(_edge_text(h.step) for h in hops[1:])  # global.keep.bus: say it as it is
    internal = sum(1 for h in hops if h.step.class_name != _CONTEXT)
    return f"{internal} internal hop{'s' if internal != 1 else ''}" if internal > 1 else None


def _edge_text(step: Step) -> str:
    edge = step.edge or ""
    if step.edge_type in ("element", "hidden") or (step.edge_type == "internal" and edge.isdigit()):
        return "[]"
    if edge.isidentifier():
        return f".{edge}"
    return f"[{edge!r}]" if not edge.startswith("<symbol") else f"[{edge}]"


def user_path(snap: HeapSnapshot, steps: Sequence[Step], *, start_at: str | None = None) -> UserPath:
    """The user-land form of a retaining path (see the module docstring); ``start_at`` (a class, e.g.
    ``TimersList``) starts it at the first object of that class instead, where the path has one."""
    hops = collapse_runs([s for s in steps if s.edge is not None or not s.class_name.startswith("(")])
    if not hops:
        return UserPath("(GC roots)", None, 0)
    start, script = _anchor(snap, hops)
    heads = [i for i, h in enumerate(hops) if h.step.class_name == start_at]
    if heads:
        start, script = heads[0], None
    tokens: list[str] = []
    current = ""          # the token being built: a name and the property hops that follow it
    current_cls = ""

    def flush() -> None:
        nonlocal current, current_cls
        if current:
            tokens.append(f"{current} ({current_cls})" if current_cls and current_cls not in current else current)
        current, current_cls = "", ""

    for i, hop in enumerate(hops[start:], start):
        step = hop.step
        n = step.node
        label = names.label(snap, n)
        if hop.count > 1:
            flush()
            # The edge of a user's own list says something; Node's (_idleNext or _idlePrev, whichever way the
            # shortest path ran) does not.
            along = f" via {step.edge}" if is_user_object(snap, n) else ""
            tokens.append(f"{label} x{hop.count:,} (linked list{along})")
            continue
        if i == start:
            if step.edge_type == "context" and script:
                current, current_cls = f"{names.short_script(script)}: {step.edge}", label
            elif step.edge_type == "property" and i >= 1 and hops[i - 1].step.class_name.startswith("global"):
                current, current_cls = f"global.{step.edge}", label
            elif step.class_name in _NODE_HEADS:
                ms = (step.edge or "").strip("[]")
                current = _NODE_HEADS[step.class_name] + (f" ({ms} ms)" if ms.isdigit() else "")
                current_cls = ""
            else:
                current, current_cls = label, ""
            continue
        if _is_plumbing(snap, step):
            continue
        if names.is_closure(snap, n):
            flush()
            tokens.append(label if step.edge_type != "property" else f"{step.edge}: {label}")
            continue
        if step.edge_type == "context":
            flush()
            current, current_cls = str(step.edge), label
            continue
        if current and (step.edge_type in ("property", "element", "hidden")
                        or (step.edge_type == "internal" and (step.edge or "").isdigit())):  # a Map's entry
            if _plain(hops[i - 1].step.class_name) and step.edge_type == "property" \
                    and hops[i - 1].step.edge == "_events":
                current = current.removesuffix("._events") + f"._events[{step.edge!r}]"
            else:
                current += _edge_text(step)
            current_cls = label
            continue
        flush()
        current, current_cls = f"{step.edge}: {label}" if step.edge else label, ""
    flush()
    via = None if hops[start].step.class_name in _NODE_HEADS else _via(hops[:start])
    return UserPath(" -> ".join(tokens), via, start)


def _plain(class_name: str) -> bool:
    """A plain object's class: ``Object``, or its shape ``{a, b}`` under DevTools' names."""
    return class_name == "Object" or class_name.startswith("{")
