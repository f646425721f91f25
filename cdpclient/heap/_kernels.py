"""numba kernels: the byte-level JSON scanner and the graph algorithms over CSR arrays.

Everything here works on flat numpy arrays (node ordinals, edge indexes); no Python
object is made per node or edge.  The functions are compiled on first use and cached
on disk (``cache=True``), so only the first run on a machine pays the JIT cost.

Why numba: the two hot loops (turning ~500 MB of ASCII digits into integers, and the
Lengauer-Tarjan dominator algorithm, which is inherently sequential pointer chasing)
cannot be expressed as vectorised numpy; in plain Python they would take minutes.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[Any]

_NO = np.uint32(0xFFFFFFFF)  # "none" for uint32 node / edge references

# --- JSON scanning ------------------------------------------------------------------

# parse_ints status codes
MORE, CLOSED, BAD_BYTE, TOO_MANY, EOF, TOO_BIG = 0, 1, 2, 3, 4, 5


@njit(cache=True, nogil=True)
def parse_ints(buf: Array, pos: int, limit: int, fieldmap: Array, out8: Array, out_a: Array, out_b: Array,
               out_c: Array, out_d: Array, out_e: Array, index: int,
               total: int, row_base: int = 0) -> tuple[int, int, int]:  # pragma: no cover
    """Parse a run of comma-separated unsigned integers into columns.

    Value number ``index`` goes to the column ``fieldmap[index % nfields]`` names: 0..3
    for the uint32 arrays ``out_a``..``out_d``, 8 and 9 for the uint8 arrays ``out8`` and ``out_e``, -1 to drop
    it; the row is ``index // nfields - row_base`` (``row_base``: the first row the arrays hold, when
    they hold one chunk at a time).  Stops between two numbers once ``pos >= limit``
    (status MORE), after the closing ``]`` (CLOSED), or with an error status.  Returns
    ``(pos, index, status)``.
    """
    n = buf.shape[0]
    nfields = fieldmap.shape[0]
    field = index % nfields
    row = index // nfields - row_base
    while True:
        while pos < n:
            c = buf[pos]
            if c >= 48 and c <= 57:
                break
            if c == 93:
                return pos + 1, index, CLOSED
            if c == 44 or c == 32 or c == 10 or c == 13 or c == 9:
                pos += 1
                continue
            return pos, index, BAD_BYTE
        if pos >= n:
            return pos, index, EOF
        if pos >= limit:
            return pos, index, MORE
        v = np.uint64(0)
        digits = 0
        while pos < n:
            c = buf[pos]
            if c < 48 or c > 57:
                break
            v = v * np.uint64(10) + np.uint64(c - 48)
            digits += 1
            pos += 1
        if digits > 19:  # would wrap around in 64 bits
            return pos, index, TOO_BIG
        if index >= total:
            return pos, index, TOO_MANY
        code = fieldmap[field]
        if code >= 0:
            if code == 8 or code == 9:
                if v > 255:
                    return pos, index, TOO_BIG
                if code == 8:
                    out8[row] = v
                else:
                    out_e[row] = v
            elif v > 0xFFFFFFFF:
                return pos, index, TOO_BIG
            elif code == 0:
                out_a[row] = v
            elif code == 1:
                out_b[row] = v
            elif code == 2:
                out_c[row] = v
            else:
                out_d[row] = v
        index += 1
        field += 1
        if field == nfields:
            field = 0
            row += 1


@njit(cache=True, nogil=True)
def count_ints(buf: Array, pos: int) -> tuple[int, int]:  # pragma: no cover
    """Count the integers of an array whose ``[`` is just before ``pos``; returns (count, end)."""
    n = buf.shape[0]
    count = 0
    in_num = False
    while pos < n:
        c = buf[pos]
        if c >= 48 and c <= 57:
            if not in_num:
                count += 1
                in_num = True
        else:
            in_num = False
            if c == 93:
                return count, pos + 1
        pos += 1
    return count, -1


@njit(cache=True, nogil=True)
def check_nodes(node_type: Array, node_name: Array, ntypes: int, nstr: int) -> tuple[int, int]:  # pragma: no cover
    """The first node whose type is not below ``ntypes`` (reason 1) or whose name is not below ``nstr``
    (reason 2): ``(node, reason)``, ``(-1, 0)`` when all are in range."""
    for i in range(node_type.shape[0]):
        if node_type[i] >= ntypes:
            return i, 1
        if node_name[i] >= nstr:
            return i, 2
    return -1, 0


@njit(cache=True, nogil=True)
def check_edges(edge_type: Array, edge_name: Array, edge_to: Array, stringy: Array, nstr: int, limit: int,
                nfields: int) -> tuple[int, int]:  # pragma: no cover
    """The first edge that is out of range: ``(edge, reason)``, ``(-1, 0)`` when none.

    Reasons: 1 type not below ``stringy.size``; 2 a string name (``stringy[type]``) not below
    ``nstr``; 3 ``to_node`` not below ``limit``; 4 ``to_node`` not a multiple of ``nfields``.
    """
    ntypes = stringy.shape[0]
    for e in range(edge_type.shape[0]):
        t = edge_type[e]
        if t >= ntypes:
            return e, 1
        if stringy[t] and edge_name[e] >= nstr:
            return e, 2
        to = edge_to[e]
        if to >= limit:
            return e, 3
        if to % nfields != 0:
            return e, 4
    return -1, 0


@njit(cache=True, nogil=True)
def exclusive_scan(a: Array, n: int) -> int:  # pragma: no cover - jitted
    """In place: ``a[i] = a[0] + ... + a[i-1]`` for i in 0..n; returns the total."""
    total = 0
    for i in range(n):
        c = a[i]
        a[i] = total
        total += c
    a[n] = total
    return total


@njit(cache=True, nogil=True, inline="always")
def _closing_quote(buf: Array, pos: int, n: int) -> int:  # pragma: no cover - jitted
    """Offset of the quote that ends the JSON string whose contents start at ``pos`` (``n`` if none)."""
    while pos < n:
        c = buf[pos]
        if c == 92:  # backslash: the next byte is escaped
            pos += 2
            continue
        if c == 34:
            return pos
        pos += 1
    return pos


@njit(cache=True, nogil=True)
def scan_strings(buf: Array, pos: int, starts: Array, ends: Array, fill: bool) -> tuple[int, int]:  # pragma: no cover
    """Find the JSON strings of an array whose ``[`` is just before ``pos``.

    With ``fill`` the byte offsets of each string (opening quote, one past the closing
    quote) are written to ``starts`` / ``ends``.  Returns ``(count, end)``; end is -1 when
    the array is not closed.
    """
    n = buf.shape[0]
    k = 0
    while pos < n:
        c = buf[pos]
        if c == 34:
            start = pos
            pos = _closing_quote(buf, pos + 1, n) + 1
            if fill:
                starts[k] = start
                ends[k] = pos
            k += 1
            continue
        if c == 93:
            return k, pos + 1
        pos += 1
    return k, -1


@njit(cache=True, nogil=True)
def skip_value(buf: Array, pos: int) -> int:  # pragma: no cover - jitted
    """Return the offset just past the JSON value starting at ``pos`` (-1 if unterminated)."""
    n = buf.shape[0]
    depth = 0
    while pos < n:
        c = buf[pos]
        if c == 34:
            pos = _closing_quote(buf, pos + 1, n)
            if depth == 0:
                return pos + 1
        elif c == 91 or c == 123:
            depth += 1
        elif c == 93 or c == 125:
            depth -= 1
            if depth == 0:
                return pos + 1
            if depth < 0:
                return pos
        elif depth == 0 and c == 44:
            return pos
        pos += 1
    return -1


# --- graph: flags, essential edges, dominators ----------------------------------------


@njit(cache=True, nogil=True)
def mark_page_owned(first_edge: Array, edge_type: Array, edge_to: Array, root: int, shortcut_t: int,
                    weak_t: int, from_user_roots: bool) -> Array:  # pragma: no cover
    """The "page-owned" flag: nodes reachable from a set of roots without weak edges.

    Dominator edges from a node that is not page-owned into one that is are ignored.
    DevTools starts from the user roots (targets of the synthetic root's shortcut edges:
    the global objects), so every object reachable from ``global`` ends up dominated by
    it; memlab starts from the root's other edges (the GC roots), which keeps the
    dominator tree of a Node heap informative.  ``from_user_roots`` picks DevTools' rule.
    """
    n = first_edge.shape[0] - 1
    flags = np.zeros(n, np.uint8)
    stack = np.empty(n, np.uint32)
    top = 0
    for e in range(first_edge[root], first_edge[root + 1]):
        if (edge_type[e] == shortcut_t) == from_user_roots:
            t = edge_to[e]
            if flags[t] == 0:
                flags[t] = 1
                stack[top] = t
                top += 1
    while top > 0:
        top -= 1
        v = stack[top]
        for e in range(first_edge[v], first_edge[v + 1]):
            if edge_type[e] == weak_t:
                continue
            t = edge_to[e]
            if flags[t] == 0:
                flags[t] = 1
                stack[top] = t
                top += 1
    return flags


@njit(cache=True, nogil=True)
def _essential(u: int, t: int, et: int, root: int, flags: Array, shortcut_t: int,
               weak_t: int) -> bool:  # pragma: no cover
    if u == t or et == weak_t:
        return False
    if et == shortcut_t and u != root:
        return False
    if u != root and flags[t] != 0 and flags[u] == 0:
        return False
    return True


@njit(cache=True, nogil=True)
def essential_preds(first_edge: Array, edge_type: Array, edge_to: Array, flags: Array, root: int,
                    shortcut_t: int, weak_t: int) -> tuple[Array, Array, Array]:  # pragma: no cover
    """Reverse CSR of the essential edges, plus which nodes have any strong referrer.

    Returns ``(first_pred, preds, strong)``: predecessors of ``v`` are
    ``preds[first_pred[v]:first_pred[v+1]]``; ``strong[v]`` is 1 when some edge of a type
    other than weak or shortcut points at ``v`` (memlab's / DevTools' orphan test).
    """
    n = first_edge.shape[0] - 1
    first_pred = np.zeros(n + 1, np.uint32)
    strong = np.zeros(n, np.uint8)
    for u in range(n):
        for e in range(first_edge[u], first_edge[u + 1]):
            t = edge_to[e]
            et = edge_type[e]
            if et != weak_t and et != shortcut_t:
                strong[t] = 1
            if _essential(u, t, et, root, flags, shortcut_t, weak_t):
                first_pred[t + 1] += 1
    for v in range(n):
        first_pred[v + 1] += first_pred[v]
    preds = np.empty(first_pred[n], np.uint32)
    cursor = first_pred[:n].copy()
    for u in range(n):
        for e in range(first_edge[u], first_edge[u + 1]):
            t = edge_to[e]
            if _essential(u, t, edge_type[e], root, flags, shortcut_t, weak_t):
                preds[cursor[t]] = u
                cursor[t] += 1
    return first_pred, preds, strong


@njit(cache=True, nogil=True)
def _dfs(start: int, first_edge: Array, edge_type: Array, edge_to: Array, flags: Array, root: int,
         shortcut_t: int, weak_t: int, pre: Array, vertex: Array, parent: Array, semi: Array,
         cursor: Array, count: int, parent_of_start: int) -> int:  # pragma: no cover
    """Iterative DFS over essential edges, numbering nodes in preorder (1-based).

    ``pre[node]`` is the number, ``vertex[i]`` the node, ``parent[i]`` the number of the
    DFS parent; ``cursor[node]`` is the next edge to look at.
    """
    count += 1
    pre[start] = count
    vertex[count] = start
    parent[count] = parent_of_start
    semi[count] = count
    cursor[start] = first_edge[start]
    i = count
    while i != 0:
        u = vertex[i]
        end = first_edge[u + 1]
        nxt = parent[i]
        while cursor[u] < end:
            e = cursor[u]
            cursor[u] += 1
            t = edge_to[e]
            if pre[t] != 0 or not _essential(u, t, edge_type[e], root, flags, shortcut_t, weak_t):
                continue
            count += 1
            pre[t] = count
            vertex[count] = t
            parent[count] = i
            semi[count] = count
            cursor[t] = first_edge[t]
            nxt = count
            break
        i = nxt
    return count


@njit(cache=True, nogil=True)
def dominators(first_edge: Array, edge_type: Array, edge_to: Array, flags: Array, first_pred: Array,
               preds: Array, strong: Array, root: int, shortcut_t: int,
               weak_t: int) -> tuple[Array, Array]:  # pragma: no cover
    """Immediate dominators (node ordinals) with memlab's / DevTools' rules.

    Essential edges only (no weak edges, no shortcut edges except from the root, no
    self edges, none from a non-page-owned node into a page-owned one).  Nodes not
    reached from the root: first those with only weak/shortcut referrers are searched
    from (as children of the root), then whatever is left (rings of objects retaining
    each other) hangs under the root one by one.  A node without essential retainers
    is dominated by the root.

    The algorithm is semi-NCA (Lengauer-Tarjan's semidominators, then nearest common
    ancestors on the DFS tree): the same result as Lengauer-Tarjan with fewer arrays,
    which matters at 10 M nodes.  Returns ``(idom, order)`` where ``order`` lists the
    node ordinals in DFS preorder (root first; dominators precede what they dominate).
    """
    n = first_edge.shape[0] - 1
    size = n + 1
    pre = np.zeros(n, np.uint32)
    vertex = np.zeros(size, np.uint32)
    parent = np.zeros(size, np.uint32)
    semi = np.zeros(size, np.uint32)
    label = np.zeros(size, np.uint32)
    ancestor = np.zeros(size, np.uint32)
    cursor = label  # the DFS cursor (per node) lives in `label` until the search is done
    count = _dfs(root, first_edge, edge_type, edge_to, flags, root, shortcut_t, weak_t,
                 pre, vertex, parent, semi, cursor, 0, 0)
    if count < n:
        for v in range(n):
            if pre[v] == 0 and strong[v] == 0:
                count = _dfs(v, first_edge, edge_type, edge_to, flags, root, shortcut_t, weak_t,
                             pre, vertex, parent, semi, cursor, count, 1)
    if count < n:
        for v in range(n):
            if pre[v] == 0:
                count += 1
                pre[v] = count
                vertex[count] = v
                parent[count] = 1
                semi[count] = count
    for i in range(1, count + 1):
        label[i] = i
    stack = np.empty(size, np.uint32)
    for w in range(count, 1, -1):
        wo = vertex[w]
        orphan = True
        for p in range(first_pred[wo], first_pred[wo + 1]):
            orphan = False
            v = pre[preds[p]]
            if ancestor[v] == 0:
                u = v
            else:
                x = v
                sp = 0
                while ancestor[ancestor[x]] != 0:
                    sp += 1
                    stack[sp] = x
                    x = ancestor[x]
                while sp > 0:
                    y = stack[sp]
                    sp -= 1
                    if semi[label[ancestor[y]]] < semi[label[y]]:
                        label[y] = label[ancestor[y]]
                    ancestor[y] = ancestor[ancestor[y]]
                u = label[v]
            if semi[u] < semi[w]:
                semi[w] = semi[u]
        if orphan:
            semi[w] = 1
        ancestor[w] = parent[w]
    # Nearest common ancestor pass: idom (as preorder numbers) reuses `ancestor`.
    idom_pre = ancestor
    idom_pre[1] = 1
    for w in range(2, count + 1):
        d = parent[w]
        while d > semi[w]:
            d = idom_pre[d]
        idom_pre[w] = d
    # idom (by node) takes `label`'s memory and order is `vertex` itself: no new array of n at the end,
    # when all the others are still held (the peak of a 100 M node analysis)
    idom = label[:n]
    for w in range(1, count + 1):
        idom[vertex[w]] = vertex[idom_pre[w]]
    order = vertex[1:count + 1]
    return idom, order


@njit(cache=True, nogil=True)
def class_keys(node_type: Array, node_name: Array, named: Array, nstr: int) -> tuple[Array, Array]:  # pragma: no cover
    """Class index per node, and the class keys in index order.

    A node's key is its name's string index for named types (objects and natives: the
    constructor name) and ``nstr + type`` for the rest; classes are numbered in key order.
    """
    n = node_type.shape[0]
    present = np.zeros(nstr + 256, np.int32)
    for v in range(n):
        t = node_type[v]
        key = node_name[v] if named[t] else nstr + t
        present[key] = 1
    k = 0
    for i in range(present.shape[0]):
        if present[i] != 0:
            present[i] = k + 1
            k += 1
    keys = np.empty(k, np.int64)
    for i in range(present.shape[0]):
        if present[i] != 0:
            keys[present[i] - 1] = i
    cls = np.empty(n, np.int32)
    for v in range(n):
        t = node_type[v]
        key = node_name[v] if named[t] else nstr + t
        cls[v] = present[key] - 1
    return cls, keys


@njit(cache=True, nogil=True)
def retained_sizes(self_size: Array, idom: Array, order: Array) -> Array:  # pragma: no cover
    """Sum self sizes up the dominator tree, children before parents (reverse preorder)."""
    ret = self_size.astype(np.int64)
    for i in range(order.shape[0] - 1, 0, -1):
        v = order[i]
        ret[idom[v]] += ret[v]
    return ret


# --- distances and shortest retaining paths --------------------------------------------


@njit(cache=True, nogil=True)
def _bfs(queue: Array, head: int, tail: int, first_edge: Array, edge_type: Array, edge_name: Array,
         edge_to: Array, node_type: Array, node_name: Array, distance: Array, parent_edge: Array,
         weak_t: int, element_t: int, hidden_node_t: int, array_node_t: int, native_ctx_name: int,
         sloppy_name: int, map_desc_name: int) -> int:  # pragma: no cover
    while head < tail:
        v = queue[head]
        head += 1
        d = distance[v] + 1
        skip_sloppy = node_type[v] == hidden_node_t and node_name[v] == native_ctx_name
        map_desc = node_type[v] == array_node_t and node_name[v] == map_desc_name
        for e in range(first_edge[v], first_edge[v + 1]):
            et = edge_type[e]
            if et == weak_t:
                continue
            if skip_sloppy and edge_name[e] == sloppy_name and et != element_t:
                continue
            if map_desc and et == element_t:
                idx = edge_name[e]
                if idx >= 2 and idx % 3 == 1:
                    continue
            t = edge_to[e]
            if distance[t] >= 0:
                continue
            distance[t] = d
            parent_edge[t] = e
            queue[tail] = t
            tail += 1
    return tail


@njit(cache=True, nogil=True)
def distances(first_edge: Array, edge_type: Array, edge_name: Array, edge_to: Array, node_type: Array,
              node_name: Array, root: int, weak_t: int, element_t: int, synthetic_t: int,
              hidden_node_t: int, array_node_t: int, native_ctx_name: int, sloppy_name: int,
              map_desc_name: int, system_base: int) -> tuple[Array, Array]:  # pragma: no cover
    """DevTools' distances: BFS from the user roots first, then from the root for the rest.

    Weak edges are not followed, nor a native context's ``sloppy_function_map`` nor the
    value slots of ``(map descriptors)`` arrays.  Objects reached only outside the user
    roots get ``system_base`` added.  Returns ``(distance, parent_edge)``: -1 / -1 for
    unreachable nodes; ``parent_edge`` is the edge a shortest path arrives by.
    """
    n = first_edge.shape[0] - 1
    distance = np.full(n, -1, np.int32)
    parent_edge = np.full(n, -1, np.int32)  # edge indexes: the parser refuses 2**31 edges or more
    queue = np.empty(n, np.uint32)
    tail = 0
    for e in range(first_edge[root], first_edge[root + 1]):
        t = edge_to[e]
        if node_type[t] != synthetic_t and distance[t] < 0:
            distance[t] = 1
            parent_edge[t] = e
            queue[tail] = t
            tail += 1
    users = tail
    tail = _bfs(queue, 0, tail, first_edge, edge_type, edge_name, edge_to, node_type, node_name,
                distance, parent_edge, weak_t, element_t, hidden_node_t, array_node_t,
                native_ctx_name, sloppy_name, map_desc_name)
    distance[root] = system_base if users > 0 else 0
    queue[tail] = root
    _bfs(queue, tail, tail + 1, first_edge, edge_type, edge_name, edge_to, node_type, node_name,
         distance, parent_edge, weak_t, element_t, hidden_node_t, array_node_t,
         native_ctx_name, sloppy_name, map_desc_name)
    return distance, parent_edge


@njit(cache=True, nogil=True)
def edge_owner(first_edge: Array, m: int) -> Array:  # pragma: no cover
    """The node each edge leaves from."""
    owner = np.empty(m, np.uint32)
    for v in range(first_edge.shape[0] - 1):
        for e in range(first_edge[v], first_edge[v + 1]):
            owner[e] = v
    return owner


@njit(cache=True, nogil=True)
def reverse_edges(first_edge: Array, edge_to: Array) -> tuple[Array, Array]:  # pragma: no cover
    """Reverse CSR over all edges: ``(first_ret, ret_edge)``, retainer edges of v in
    ``ret_edge[first_ret[v]:first_ret[v+1]]``."""
    n = first_edge.shape[0] - 1
    m = edge_to.shape[0]
    first_ret = np.zeros(n + 1, np.int64)
    for e in range(m):
        first_ret[edge_to[e] + 1] += 1
    for v in range(n):
        first_ret[v + 1] += first_ret[v]
    ret_edge = np.empty(m, np.uint32)
    cursor = first_ret[:n].copy()
    for e in range(m):
        t = edge_to[e]
        ret_edge[cursor[t]] = e
        cursor[t] += 1
    return first_ret, ret_edge


# --- dominator-tree walks ---------------------------------------------------------------


@njit(cache=True, nogil=True)
def class_retained(idom: Array, order: Array, retained: Array, cls: Array, nclasses: int,
                   self_size: Array, skip_empty: bool) -> Array:  # pragma: no cover
    """DevTools' class retained size: an object's retained size counts for its class unless
    an object of the same class dominates it (so nested instances are not counted twice).
    With ``skip_empty`` (DevTools' Summary) objects of no shallow size neither count nor nest.
    """
    n = idom.shape[0]
    first = np.zeros(n + 1, np.uint32)
    root = order[0]
    for i in range(1, order.shape[0]):
        first[idom[order[i]] + 1] += 1
    for v in range(n):
        first[v + 1] += first[v]
    kids = np.empty(first[n], np.uint32)
    pos = np.empty(n + 1, np.uint32)
    pos[:n] = first[:n]  # first the fill cursor, then the DFS cursor
    for i in range(1, order.shape[0]):
        v = order[i]
        p = idom[v]
        kids[pos[p]] = v
        pos[p] += 1
    out = np.zeros(nclasses, np.int64)
    active = np.zeros(nclasses, np.int32)
    stack = np.empty(n + 1, np.uint32)
    nests = np.zeros(n + 1, np.bool_)
    sp = 0
    stack[0] = root
    pos[0] = first[root]
    while sp >= 0:
        v = stack[sp]
        if pos[sp] < first[v + 1]:
            c = kids[pos[sp]]
            pos[sp] += 1
            k = cls[c]
            nest = not (skip_empty and self_size[c] == 0)
            if nest:
                if active[k] == 0:
                    out[k] += retained[c]
                active[k] += 1
            sp += 1
            stack[sp] = c
            pos[sp] = first[c]
            nests[sp] = nest
        else:
            if sp > 0 and nests[sp]:
                active[cls[v]] -= 1
            sp -= 1
    return out


@njit(cache=True, nogil=True)
def walk_to_holders(nodes: Array, mask: Array, transparent: Array, parent_edge: Array,
                    edge_owner_of: Array, max_hops: int) -> tuple[Array, Array, Array]:  # pragma: no cover
    """For each node, climb its shortest retaining path to find who holds it.

    Climbs through nodes in ``mask`` (the suspects) and ``transparent`` ones (V8 internal
    backing stores).  Returns, per input node, ``holder`` (the first ancestor that is
    neither: the old object the growth hangs off), ``entry`` (the topmost non-transparent
    suspect below the holder: the item held; -1 if none) and ``holder_edge`` (the edge
    by which the holder itself is reached, -1 for roots).
    """
    k = nodes.shape[0]
    holder = np.full(k, -1, np.int64)
    entry = np.full(k, -1, np.int64)
    holder_edge = np.full(k, -1, np.int64)
    for i in range(k):
        cur = np.int64(nodes[i])
        ent = cur if (mask[cur] != 0 and transparent[cur] == 0) else np.int64(-1)
        hops = 0
        while True:
            pe = parent_edge[cur]
            if pe < 0:
                break
            p = np.int64(edge_owner_of[pe])
            if (mask[p] != 0 or transparent[p] != 0) and hops < max_hops:
                if mask[p] != 0 and transparent[p] == 0:
                    ent = p
                cur = p
                hops += 1
                continue
            cur = p
            break
        holder[i] = cur
        entry[i] = ent
        holder_edge[i] = parent_edge[cur]
    return holder, entry, holder_edge


@njit(cache=True, nogil=True)
def nearest_marked_dominator(idom: Array, mark: Array, root: int) -> Array:  # pragma: no cover - jitted
    """``out[n]``: ``mark`` of the nearest strict dominator of ``n`` whose mark is >= 0, else -1.

    Used to count what a set of holders keeps alive (everything they dominate), one
    pass for all holders: each node climbs its dominator chain until it meets a node
    already answered, and the answer is written back along the climb.
    """
    n = idom.shape[0]
    out = np.full(n, -2, np.int32)
    out[root] = -1
    stack = np.empty(n, np.int64)
    for v in range(n):
        if out[v] != -2:
            continue
        top = 0
        u = v
        answer = -1
        while True:
            if out[u] != -2:
                answer = out[u]
                break
            stack[top] = u
            top += 1
            d = idom[u]
            if d < 0 or d == u or d >= n:
                answer = -1
                break
            if mark[d] >= 0:
                answer = mark[d]
                break
            u = d
        for i in range(top - 1, -1, -1):
            w = stack[i]
            out[w] = answer
            if mark[w] >= 0:  # below a marked node, the answer is that node's mark
                answer = mark[w]
    return out


# --- DevTools' shape classes for plain objects -------------------------------------


@njit(cache=True, nogil=True)
def _mix(x: int) -> Any:  # pragma: no cover - jitted
    """splitmix64 of a string index: an order-free set hash is the sum of these."""
    z = np.uint64(x) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def property_names_used(plain: Array, first_edge: Array, edge_type: Array, edge_name: Array,
                        property_t: int, nstr: int) -> Array:  # pragma: no cover - jitted
    """Which strings name a property edge of one of the ``plain`` objects."""
    used = np.zeros(nstr, np.bool_)
    for i in range(plain.shape[0]):
        v = plain[i]
        for e in range(first_edge[v], first_edge[v + 1]):
            if edge_type[e] == property_t:
                used[edge_name[e]] = True
    return used


@njit(cache=True, nogil=True)
def shape_hashes(plain: Array, first_edge: Array, edge_type: Array, edge_name: Array, property_t: int,
                 proto: int, name_len: Array, max_len: int) -> tuple[Array, Array]:  # pragma: no cover
    """Per plain object, two hashes of its property names (DevTools' interface inference).

    ``named``: its properties in edge order, ``__proto__`` left out, stopping where the name
    ``{a, b, ...}`` would pass ``max_len`` characters (after the first); 0 when it has none.
    ``full``: the set of all its property names, order-free: what matching a definition reads.
    """
    n = plain.shape[0]
    named = np.zeros(n, np.uint64)
    full = np.zeros(n, np.uint64)
    for i in range(n):
        v = plain[i]
        h = np.uint64(14695981039346656037)
        s = np.uint64(0)
        length = 1
        count = 0
        stopped = False
        for e in range(first_edge[v], first_edge[v + 1]):
            if edge_type[e] != property_t:
                continue
            name = edge_name[e]
            s += _mix(name)
            if stopped or name == proto:
                continue
            width = name_len[name]
            if length > 1 and length + width > max_len:
                stopped = True
                continue
            if length != 1:
                length += 2
            length += width
            h = (h ^ np.uint64(name)) * np.uint64(1099511628211)
            count += 1
        named[i] = h if count > 0 else np.uint64(0)
        full[i] = s
    return named, full


# --- DevTools' Summary: detached embedder objects, shallow sizes ---------------------


@njit(cache=True, nogil=True)
def detached_natives(state: Array, node_type: Array, native_t: int, first_edge: Array, edge_type: Array,
                     edge_to: Array, skip: Array) -> Array:  # pragma: no cover - jitted
    """DevTools' DOM state propagation: which native (embedder) objects it calls ``Detached``.

    ``state`` is the snapshot's ``detachedness`` (0 unknown, 1 attached, 2 detached).  What an
    attached native object reaches (by edges whose type ``skip`` does not mark) is attached;
    what a detached one reaches and nothing attached does is detached.  JS objects stop it.
    """
    n = node_type.shape[0]
    st = state.copy()
    visited = np.zeros(n, np.bool_)
    detached = np.zeros(n, np.bool_)
    stack_a = np.empty(n, np.uint32)
    stack_d = np.empty(n, np.uint32)
    na = 0
    nd = 0
    for v in range(n):
        s = st[v]
        if s == 0 or visited[v]:
            continue
        visited[v] = True
        if node_type[v] != native_t:
            continue
        if s == 1:
            stack_a[na] = v
            na += 1
        elif s == 2:
            detached[v] = True
            stack_d[nd] = v
            nd += 1
    while na > 0:
        na -= 1
        v = stack_a[na]
        for e in range(first_edge[v], first_edge[v + 1]):
            if skip[edge_type[e]]:
                continue
            t = edge_to[e]
            if visited[t]:
                continue
            visited[t] = True
            if node_type[t] != native_t:
                continue
            st[t] = 1
            stack_a[na] = t
            na += 1
    while nd > 0:
        nd -= 1
        v = stack_d[nd]
        if st[v] == 1:
            continue
        for e in range(first_edge[v], first_edge[v + 1]):
            if skip[edge_type[e]]:
                continue
            t = edge_to[e]
            if visited[t]:
                continue
            visited[t] = True
            if node_type[t] != native_t:
                continue
            st[t] = 2
            detached[t] = True
            stack_d[nd] = t
            nd += 1
    return detached


@njit(cache=True, nogil=True)
def devtools_shallow(self_size: Array, owned_kind: Array, node_type: Array, synthetic_t: int, root: int,
                     first_edge: Array, edge_type: Array, edge_to: Array, weak_t: int) -> Array:  # pragma: no cover
    """DevTools' shallow sizes: an array or hidden object that only one object's graph reaches
    (weak edges aside) is part of that object; its size moves there and it becomes empty.

    ``owned_kind[v]`` marks the objects that can be owned (arrays, hidden objects, external
    string data); every other object owns itself and passes its ownership down.
    """
    n = self_size.shape[0]
    unvisited = np.uint32(0xFFFFFFFF)
    multiple = np.uint32(0xFFFFFFFE)
    owners = np.empty(n, np.uint32)
    work = np.empty(2 * n + 1, np.uint32)
    top = 0
    for i in range(n):
        if owned_kind[i]:
            owners[i] = unvisited
        else:
            owners[i] = i
            work[top] = i
            top += 1
    while top > 0:
        top -= 1
        v = work[top]
        owner = owners[v]
        for e in range(first_edge[v], first_edge[v + 1]):
            if edge_type[e] == weak_t:
                continue
            t = edge_to[e]
            o = owners[t]
            if o == unvisited:
                owners[t] = owner
                work[top] = t
                top += 1
            elif o == t or o == owner or o == multiple:
                continue
            else:
                owners[t] = multiple
                work[top] = t
                top += 1
    out = self_size.astype(np.int64)
    for i in range(n):
        o = owners[i]
        if o == unvisited or o == multiple or o == i:
            continue
        if node_type[o] == synthetic_t or o == root:
            continue
        out[o] += self_size[i]
        out[i] = 0
    return out


# --- the compiled cache -----------------------------------------------------------------

# The kernels a default load (parse, check, analyse) compiles, with the helpers they call.  Their
# cache index files (``_kernels.NAME-LINE.pyXY.nbi``) say whether the first analysis on a machine
# compiles them (16 s for a 4 MB snapshot on 2 cores: `cdpclient top` with NUMBA_CACHE_DIR empty)
# or loads them (well under a second).
LOAD_KERNELS = (parse_ints, scan_strings, skip_value, check_nodes, check_edges, exclusive_scan, mark_page_owned,
                class_keys, distances, dominators, _dfs, _essential, essential_preds, retained_sizes, _bfs,
                class_retained)


def _locator() -> Any:
    """numba's cache locator for this module, chosen the way numba chooses it (``NUMBA_CACHE_DIR``, else
    ``__pycache__`` beside this module when it is writable, else numba's user-wide cache); None if none works."""
    from numba.core import caching

    locator_classes: tuple[Any, ...] = (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
                                        caching.UserWideCacheLocator)
    for locator_class in locator_classes:
        locator = locator_class.from_function(parse_ints.py_func, __file__)
        if locator is not None:
            return locator
    return None


def _is_fresh(index: Path, stamp: object) -> bool:
    """Whether numba will load from the cache index ``index``: its numba version and source stamp match
    (numba's layout: a pickled version string, then a pickled ``(stamp, overloads)``)."""
    import numba

    try:
        with index.open("rb") as f:
            version = pickle.load(f)
            if version != numba.__version__:
                return False
            saved, overloads = pickle.loads(f.read())
    except FileNotFoundError:
        return False
    except Exception:  # a layout this code does not know: rather no notice than a false one on every run
        return True
    return bool(saved == stamp and overloads)


def _index_stem(py_func: Any) -> str:
    """``_kernels.NAME-LINE``: how numba names a function's cache files (module file stem, qualified name
    without angle brackets, first line)."""
    name = f"{Path(__file__).stem}.{py_func.__qualname__}".replace("<", "").replace(">", "")
    return f"{name}-{py_func.__code__.co_firstlineno}"


def compile_notice() -> str | None:
    """A line saying the kernels are about to be compiled, or None when numba will load them from its cache
    (every kernel of :data:`LOAD_KERNELS` has an index file of this numba and this source).

    Reads files only: nothing is compiled here.
    """
    try:
        locator = _locator()
        if locator is None:
            return "compiling the analysis kernels (about 15 s; numba has nowhere to cache them, so every run does)"
        where = Path(locator.get_cache_path())
        stamp = locator.get_source_stamp()
    except (AttributeError, ImportError, OSError):  # a numba whose cache locators moved: say nothing
        return None
    python = f"py{sys.version_info.major}{sys.version_info.minor}{getattr(sys, 'abiflags', '')}"
    missing = sum(not _is_fresh(where / f"{_index_stem(k.py_func)}.{python}.nbi", stamp) for k in LOAD_KERNELS)
    if missing == 0:
        return None
    estimate = "about 15 s" if missing == len(LOAD_KERNELS) else "a few seconds"
    return f"compiling the analysis kernels once ({estimate}; cached in {where})"
