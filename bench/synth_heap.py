"""A synthetic V8 heap snapshot of any size, with known truth, for the top of the production range.

Writes a ``.heapsnapshot`` in Node 20's layout straight to a file, a chunk at a time (bounded
memory: the int arrays are formatted by numpy, a million rows per step), so ~8 GB takes a few
minutes. The graph, in node order:

* the synthetic root (node 0) with an element edge to ``(GC roots)`` and a shortcut to the
  global object; ``(GC roots)`` -> ``(Strong roots)`` -> the global object and every object shape
* ``global``: ``registry`` -> a ``LeakyRegistry`` (``entries`` -> ``Array`` -> ``(object elements)``
  -> N_leak ``LeakedEntry``, each with its own ``payload`` string); ``pool`` -> an Array of P
  ``SharedConfig``; ``orders`` -> an Array of T ``Order`` trees (``customer`` -> ``Customer`` ->
  name string; ``items`` -> Array -> K ``LineItem`` -> sku string)
* cross edges that leave every dominator where the tree puts it: each LeakedEntry and LineItem
  holds a SharedConfig (``meta``, ``config``; the pool array holds them too, so global dominates
  them); each Order holds the previous Order; Customer and LineItem point back at their Order;
  every object has an internal ``map`` edge to its class's shape
* a weak edge from every Order into the registry's entries (not followed by the dominator tree)

The truth (class counts, shallow sizes, the retained size of the LeakyRegistry, which dominates
its entries, and of the other classes; memlab's rules: dominance from the GC roots) is computed
from the parameters. ``--check`` runs ``cdpclient top FILE --json`` on the file (a fresh
cache directory) and compares.

    .venv/bin/python bench/synth_heap.py --out /tmp/s.heapsnapshot --nodes 2000000 --check
    nice -n 10 .venv/bin/python bench/synth_heap.py --out /work/heaps/synth8g.heapsnapshot   # ~8 GB
    .venv/bin/python bench/synth_heap.py --out /work/heaps/synth8g.heapsnapshot --check-only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Node 20's meta, as v8.writeHeapSnapshot() writes it.
NODE_TYPES = ["hidden", "array", "string", "object", "code", "closure", "regexp", "number", "native",
              "synthetic", "concatenated string", "sliced string", "symbol", "bigint", "object shape",
              "wasm object"]
EDGE_TYPES = ["context", "element", "property", "internal", "hidden", "shortcut", "weak"]
META = {
    "node_fields": ["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"],
    "node_types": [NODE_TYPES, "string", "number", "number", "number", "number", "number"],
    "edge_fields": ["type", "name_or_index", "to_node"],
    "edge_types": [EDGE_TYPES, "string_or_number", "node"],
    "trace_function_info_fields": ["function_id", "name", "script_name", "script_id", "line", "column"],
    "trace_node_fields": ["id", "function_info_index", "count", "size", "children"],
    "sample_fields": ["timestamp_us", "last_assigned_id"],
    "location_fields": ["object_index", "script_id", "line", "column"],
}
NF, EF = 7, 3
T_HIDDEN, T_ARRAY, T_STRING, T_OBJECT, T_SYNTH, T_SHAPE = 0, 1, 2, 3, 9, 14
E_ELEMENT, E_PROPERTY, E_INTERNAL, E_SHORTCUT, E_WEAK = 1, 2, 3, 5, 6

# Self sizes (bytes), chosen.
SIZE = {"global": 48, "shape": 40, "LeakyRegistry": 64, "Array": 32, "LeakedEntry": 48, "payload": 80,
        "SharedConfig": 56, "Order": 72, "Customer": 56, "cname": 32, "LineItem": 40, "sku": 24}
SHAPES = ["global", "LeakyRegistry", "Array", "LeakedEntry", "SharedConfig", "Order", "Customer", "LineItem"]
PAYLOADS, CNAMES, SKUS = 512, 256, 128  # distinct string contents (a string table of bounded size)
ROWS = 1 << 20  # rows formatted per step


def elements_size(n: int) -> int:
    return 16 + 8 * n


# --- formatting ---------------------------------------------------------------------------------


def format_rows(rows: np.ndarray, first: bool) -> bytes:
    """``rows`` (n, f) of non-negative ints as V8 writes them: ``a,b,c`` per row, rows joined by ``\\n,``
    (a row is preceded by ``\\n,`` unless it is the array's first)."""
    n, f = rows.shape
    if n == 0:
        return b""
    pieces, masks = [], []
    prefix = np.empty((n, 2), np.uint8)
    prefix[:, 0], prefix[:, 1] = ord("\n"), ord(",")
    pmask = np.ones((n, 2), bool)
    if first:
        pmask[0] = False
    pieces.append(prefix)
    masks.append(pmask)
    for c in range(f):
        v = np.ascontiguousarray(rows[:, c]).astype(np.uint64)
        top = int(v.max())
        width = len(str(top))
        digits = np.empty((n, width), np.uint8)
        lens = np.ones(n, np.int8)
        for j in range(1, width):
            lens += v >= 10 ** j
        for j in range(width - 1, -1, -1):
            digits[:, j] = (v % 10).astype(np.uint8) + 48
            if j:
                v //= 10
        pieces.append(digits)
        masks.append(np.arange(width)[None, :] >= (width - lens)[:, None])
        if c < f - 1:
            pieces.append(np.full((n, 1), ord(","), np.uint8))
            masks.append(np.ones((n, 1), bool))
    out: np.ndarray = np.concatenate(pieces, axis=1)[np.concatenate(masks, axis=1)]
    return out.tobytes()


# --- the graph ----------------------------------------------------------------------------------


@dataclass
class Plan:
    """Node indices and counts of every part of the graph, in node order."""

    n_leak: int
    n_pool: int
    n_orders: int
    items: int
    strings: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        base = ["", "(GC roots)", "(Strong roots)", "global", "(object elements)", "system / Map",
                "registry", "pool", "orders", "entries", "elements", "map", "payload", "meta", "customer",
                "items", "previous", "target", "name", "lastOrder", "sku", "config", "order", *SHAPES]
        base += [f"leaked-payload-{i:04d}-" + "x" * 40 for i in range(PAYLOADS)]
        base += [f"customer-{i}" for i in range(CNAMES)]
        base += [f"SKU-{i:05d}" for i in range(SKUS)]
        seen: dict[str, int] = {}
        for s in base:
            seen.setdefault(s, len(seen))
        self.strings, self.index = list(seen), seen
        self.payload0 = self.index["leaked-payload-0000-" + "x" * 40]
        self.cname0, self.sku0 = self.index["customer-0"], self.index["SKU-00000"]
        # fixed nodes
        self.root, self.gc_roots, self.strong, self.glob = 0, 1, 2, 3
        self.shape = {name: 4 + i for i, name in enumerate(SHAPES)}
        i = 4 + len(SHAPES)
        self.reg, self.reg_arr, self.reg_el, self.pool_arr, self.pool_el, self.ord_arr, self.ord_el = range(i, i + 7)
        self.pool0 = i + 7  # SharedConfig p: pool0 + p
        self.leak0 = self.pool0 + self.n_pool  # LeakedEntry e: leak0 + 2e, its payload leak0 + 2e + 1
        self.order0 = self.leak0 + 2 * self.n_leak  # Order t: order0 + t * per_order
        self.per_order = 5 + 2 * self.items  # Order, Customer, cname, items Array, elements, K x (LineItem, sku)
        self.node_count = self.order0 + self.n_orders * self.per_order
        self.edges_per_order = 5 + 3 + 2 + self.items + 4 * self.items
        self.edge_count = (2 + 1 + (1 + len(SHAPES)) + 4 + 2 + 2 + self.n_leak + 2 + self.n_pool + 2 + self.n_orders
                           + self.n_pool + 3 * self.n_leak + self.n_orders * self.edges_per_order)

    @classmethod
    def for_nodes(cls, nodes: int, items: int = 4, leak_share: float = 0.2, pool: int = 1000) -> Plan:
        n_leak = max(1, int(nodes * leak_share) // 2)
        fixed = 4 + len(SHAPES) + 7 + pool
        n_orders = max(1, (nodes - fixed - 2 * n_leak) // (5 + 2 * items))
        return cls(n_leak=n_leak, n_pool=pool, n_orders=n_orders, items=items)

    def s(self, name: str) -> int:
        return self.index[name]


def _chunks(count: int, per_unit: int) -> Iterator[tuple[int, int]]:
    step = max(1, ROWS // per_unit)
    for u0 in range(0, count, step):
        yield u0, min(count, u0 + step)


def node_chunks(p: Plan) -> Iterator[np.ndarray]:
    """The nodes array, (n, 7) int64 chunks in node order (ids filled in by the caller)."""
    fixed = [
        (T_SYNTH, p.s(""), 0, 2),
        (T_SYNTH, p.s("(GC roots)"), 0, 1),
        (T_SYNTH, p.s("(Strong roots)"), 0, 1 + len(SHAPES)),
        (T_OBJECT, p.s("global"), SIZE["global"], 4),
        *[(T_SHAPE, p.s("system / Map"), SIZE["shape"], 0) for _ in SHAPES],
        (T_OBJECT, p.s("LeakyRegistry"), SIZE["LeakyRegistry"], 2),
        (T_OBJECT, p.s("Array"), SIZE["Array"], 2),
        (T_ARRAY, p.s("(object elements)"), elements_size(p.n_leak), p.n_leak),
        (T_OBJECT, p.s("Array"), SIZE["Array"], 2),
        (T_ARRAY, p.s("(object elements)"), elements_size(p.n_pool), p.n_pool),
        (T_OBJECT, p.s("Array"), SIZE["Array"], 2),
        (T_ARRAY, p.s("(object elements)"), elements_size(p.n_orders), p.n_orders),
    ]
    yield _rows([list(r) for r in fixed])
    pool = np.zeros((p.n_pool, 4), np.int64)
    pool[:] = (T_OBJECT, p.s("SharedConfig"), SIZE["SharedConfig"], 1)
    yield _rows(pool)
    for u0, u1 in _chunks(p.n_leak, 2):
        u = np.arange(u0, u1, dtype=np.int64)
        a = np.zeros((len(u), 2, 4), np.int64)
        a[:, 0] = (T_OBJECT, p.s("LeakedEntry"), SIZE["LeakedEntry"], 3)
        a[:, 1] = (T_STRING, 0, SIZE["payload"], 0)
        a[:, 1, 1] = p.payload0 + u % PAYLOADS
        yield _rows(a.reshape(-1, 4))
    k = p.items
    for u0, u1 in _chunks(p.n_orders, p.per_order):
        u = np.arange(u0, u1, dtype=np.int64)
        a = np.zeros((len(u), p.per_order, 4), np.int64)
        a[:, 0] = (T_OBJECT, p.s("Order"), SIZE["Order"], 5)
        a[:, 1] = (T_OBJECT, p.s("Customer"), SIZE["Customer"], 3)
        a[:, 2] = (T_STRING, 0, SIZE["cname"], 0)
        a[:, 2, 1] = p.cname0 + u % CNAMES
        a[:, 3] = (T_OBJECT, p.s("Array"), SIZE["Array"], 2)
        a[:, 4] = (T_ARRAY, p.s("(object elements)"), elements_size(k), k)
        a[:, 5::2] = (T_OBJECT, p.s("LineItem"), SIZE["LineItem"], 4)
        a[:, 6::2] = (T_STRING, 0, SIZE["sku"], 0)
        a[:, 6::2, 1] = p.sku0 + (u[:, None] * k + np.arange(k)[None, :]) % SKUS
        yield _rows(a.reshape(-1, 4))


def _rows(quads: Any) -> np.ndarray:
    """(type, name, self_size, edge_count) rows -> the 7 node fields (id left 0)."""
    q = np.asarray(quads, np.int64).reshape(-1, 4)
    rows = np.zeros((len(q), NF), np.int64)
    rows[:, 0], rows[:, 1], rows[:, 3], rows[:, 4] = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return rows


def edge_chunks(p: Plan) -> Iterator[np.ndarray]:
    """The edges array, (m, 3) int64 chunks (to_node as a node index; the caller multiplies by 7)."""
    sh = p.shape
    e: list[tuple[int, int, int]] = [
        (E_ELEMENT, 1, p.gc_roots), (E_SHORTCUT, p.s("global"), p.glob),        # root
        (E_ELEMENT, 1, p.strong),                                              # (GC roots)
        (E_ELEMENT, 1, p.glob), *[(E_ELEMENT, 2 + i, sh[n]) for i, n in enumerate(SHAPES)],  # (Strong roots)
        (E_PROPERTY, p.s("registry"), p.reg), (E_PROPERTY, p.s("pool"), p.pool_arr),  # global
        (E_PROPERTY, p.s("orders"), p.ord_arr), (E_INTERNAL, p.s("map"), sh["global"]),
        (E_PROPERTY, p.s("entries"), p.reg_arr), (E_INTERNAL, p.s("map"), sh["LeakyRegistry"]),
        (E_INTERNAL, p.s("elements"), p.reg_el), (E_INTERNAL, p.s("map"), sh["Array"]),
    ]
    yield np.array(e, np.int64)
    yield from _fan(p.leak0, 2, p.n_leak)                       # registry elements -> LeakedEntry e
    yield np.array([(E_INTERNAL, p.s("elements"), p.pool_el), (E_INTERNAL, p.s("map"), sh["Array"])], np.int64)
    yield from _fan(p.pool0, 1, p.n_pool)                       # pool elements -> SharedConfig
    yield np.array([(E_INTERNAL, p.s("elements"), p.ord_el), (E_INTERNAL, p.s("map"), sh["Array"])], np.int64)
    yield from _fan(p.order0, p.per_order, p.n_orders)          # orders elements -> Order t
    pool = np.zeros((p.n_pool, 3), np.int64)
    pool[:] = (E_INTERNAL, p.s("map"), sh["SharedConfig"])
    yield pool
    for u0, u1 in _chunks(p.n_leak, 3):
        u = np.arange(u0, u1, dtype=np.int64)
        a = np.zeros((len(u), 3, 3), np.int64)
        a[:, 0] = (E_PROPERTY, p.s("payload"), 0)
        a[:, 0, 2] = p.leak0 + 2 * u + 1
        a[:, 1] = (E_PROPERTY, p.s("meta"), 0)
        a[:, 1, 2] = p.pool0 + u % p.n_pool
        a[:, 2] = (E_INTERNAL, p.s("map"), sh["LeakedEntry"])
        yield a.reshape(-1, 3)
    k, per = p.items, p.per_order
    for u0, u1 in _chunks(p.n_orders, p.edges_per_order):
        u = np.arange(u0, u1, dtype=np.int64)
        base = p.order0 + u * per
        a = np.zeros((len(u), p.edges_per_order, 3), np.int64)
        # Order: customer, items, previous, map, weak -> a LeakedEntry
        a[:, 0] = (E_PROPERTY, p.s("customer"), 0)
        a[:, 0, 2] = base + 1
        a[:, 1] = (E_PROPERTY, p.s("items"), 0)
        a[:, 1, 2] = base + 3
        a[:, 2] = (E_PROPERTY, p.s("previous"), 0)
        a[:, 2, 2] = p.order0 + ((u - 1) % p.n_orders) * per
        a[:, 3] = (E_INTERNAL, p.s("map"), sh["Order"])
        a[:, 4] = (E_WEAK, p.s("target"), 0)
        a[:, 4, 2] = p.leak0 + 2 * ((u * 7919) % p.n_leak)
        # Customer: name, lastOrder (back to its Order), map
        a[:, 5] = (E_PROPERTY, p.s("name"), 0)
        a[:, 5, 2] = base + 2
        a[:, 6] = (E_PROPERTY, p.s("lastOrder"), 0)
        a[:, 6, 2] = base
        a[:, 7] = (E_INTERNAL, p.s("map"), sh["Customer"])
        # items Array: elements, map
        a[:, 8] = (E_INTERNAL, p.s("elements"), 0)
        a[:, 8, 2] = base + 4
        a[:, 9] = (E_INTERNAL, p.s("map"), sh["Array"])
        # elements: K element edges
        j = np.arange(k)
        a[:, 10:10 + k, 0] = E_ELEMENT
        a[:, 10:10 + k, 1] = j
        a[:, 10:10 + k, 2] = base[:, None] + 5 + 2 * j
        # LineItem j: sku, config (a SharedConfig), order (back), map
        li = a[:, 10 + k:].reshape(len(u), k, 4, 3)
        li[:, :, 0, 0], li[:, :, 0, 1] = E_PROPERTY, p.s("sku")
        li[:, :, 0, 2] = base[:, None] + 6 + 2 * j
        li[:, :, 1, 0], li[:, :, 1, 1] = E_PROPERTY, p.s("config")
        li[:, :, 1, 2] = p.pool0 + (u[:, None] * k + j + 17) % p.n_pool
        li[:, :, 2, 0], li[:, :, 2, 1] = E_PROPERTY, p.s("order")
        li[:, :, 2, 2] = base[:, None]
        li[:, :, 3] = (E_INTERNAL, p.s("map"), sh["LineItem"])
        a[:, 10 + k:] = li.reshape(len(u), 4 * k, 3)  # a no-op when reshape gave a view
        yield a.reshape(-1, 3)


def _fan(first: int, stride: int, count: int) -> Iterator[np.ndarray]:
    for u0, u1 in _chunks(count, 1):
        i = np.arange(u0, u1, dtype=np.int64)
        yield np.stack([np.full_like(i, E_ELEMENT), i, first + stride * i], axis=1)


# --- the truth ----------------------------------------------------------------------------------


def truth(p: Plan) -> dict[str, Any]:
    """What ``cdpclient top --json`` must say: counts, shallow and retained sizes per class (memlab's rules)."""
    k = p.items
    entry = SIZE["LeakedEntry"] + SIZE["payload"]
    line = SIZE["LineItem"] + SIZE["sku"]
    customer = SIZE["Customer"] + SIZE["cname"]
    items_array = SIZE["Array"] + elements_size(k) + k * line
    order = SIZE["Order"] + customer + items_array
    registry = SIZE["LeakyRegistry"] + SIZE["Array"] + elements_size(p.n_leak) + p.n_leak * entry
    arrays_retained = ((SIZE["Array"] + elements_size(p.n_leak) + p.n_leak * entry)        # the registry's
                       + (SIZE["Array"] + elements_size(p.n_pool))                         # the pool's
                       + (SIZE["Array"] + elements_size(p.n_orders) + p.n_orders * order)  # the orders'
                       + 0)  # the items Arrays are dominated by their Orders, not by an Array
    n_arrays = 3 + p.n_orders
    classes = {
        "LeakyRegistry": (1, SIZE["LeakyRegistry"], registry),
        "LeakedEntry": (p.n_leak, p.n_leak * SIZE["LeakedEntry"], p.n_leak * entry),
        "SharedConfig": (p.n_pool, p.n_pool * SIZE["SharedConfig"], p.n_pool * SIZE["SharedConfig"]),
        "Order": (p.n_orders, p.n_orders * SIZE["Order"], p.n_orders * order),
        "Customer": (p.n_orders, p.n_orders * SIZE["Customer"], p.n_orders * customer),
        "LineItem": (p.n_orders * k, p.n_orders * k * SIZE["LineItem"], p.n_orders * k * line),
        "Array": (n_arrays, n_arrays * SIZE["Array"], arrays_retained),
        "(array)": (n_arrays, elements_size(p.n_leak) + elements_size(p.n_pool) + elements_size(p.n_orders)
                    + p.n_orders * elements_size(k), None),
        "(string)": (p.n_leak + p.n_orders * (1 + k),
                     p.n_leak * SIZE["payload"] + p.n_orders * (SIZE["cname"] + k * SIZE["sku"]), None),
        "(object shape)": (len(SHAPES), len(SHAPES) * SIZE["shape"], len(SHAPES) * SIZE["shape"]),
    }
    total = sum(shallow for _, shallow, _ in classes.values()) + SIZE["global"]
    rows = {name: {"count": c, "shallow_size": s, "retained_size": r} for name, (c, s, r) in classes.items()}
    return {"nodes": p.node_count, "edges": p.edge_count, "total_size": total, "classes": rows}


# --- writing ------------------------------------------------------------------------------------


def write(path: Path, p: Plan, progress: Callable[[str], None] | None = None) -> float:
    """Write the snapshot of ``p`` to ``path``; returns the seconds it took."""
    start = time.perf_counter()
    head = {"meta": META, "node_count": p.node_count, "edge_count": p.edge_count, "trace_function_count": 0}
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb", buffering=16 << 20) as fh:
        fh.write(b'{"snapshot":' + json.dumps(head, separators=(",", ":")).encode() + b',\n"nodes":[')
        done, first = 0, True
        for rows in node_chunks(p):
            rows[:, 2] = 2 * np.arange(done, done + len(rows), dtype=np.int64) + 1  # ids: odd, as V8's
            fh.write(format_rows(rows, first))
            done, first = done + len(rows), False
        assert done == p.node_count, (done, p.node_count)
        if progress:
            progress(f"nodes written ({done:,}, {time.perf_counter() - start:.0f} s, {fh.tell() / 2**30:.2f} GiB)")
        fh.write(b'],\n"edges":[')
        done, first = 0, True
        for rows in edge_chunks(p):
            rows[:, 2] *= NF
            fh.write(format_rows(rows, first))
            done, first = done + len(rows), False
        assert done == p.edge_count, (done, p.edge_count)
        fh.write(b'],\n"trace_function_infos":[],\n"trace_tree":[],\n"samples":[],\n"locations":[],\n"strings":[')
        fh.write(",\n".join(json.dumps(s) for s in p.strings).encode())
        fh.write(b"]}")
    os.replace(tmp, path)
    return time.perf_counter() - start


# --- checking -----------------------------------------------------------------------------------


def run_top(path: Path, cache: Path) -> tuple[dict[str, Any] | None, float, float, float, str]:
    """``cdpclient top PATH --json`` in a fresh process: (json or None, wall s, CPU s, peak RSS MB, stderr)."""
    cmd = [sys.executable, "-m", "cdpclient_cli.app", "top", str(path), "--json", "--limit", "100000"]
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode(errors="replace")
    result = json.loads(stdout) if proc.returncode == 0 else None
    return result, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stderr


def compare(result: dict[str, Any], want: dict[str, Any]) -> list[tuple[str, bool, Any, Any]]:
    """(fact, ok, expected, got) for every fact of the truth."""
    facts = []
    for key in ("nodes", "edges", "total_size"):
        facts.append((key, result.get(key) == want[key], want[key], result.get(key)))
    rows = {row["class"]: row for row in result.get("classes", [])}
    for name, exp in want["classes"].items():
        got = rows.get(name, {})
        for key, value in exp.items():
            if value is not None:
                facts.append((f"{name} {key}", got.get(key) == value, value, got.get(key)))
    return facts


def check(path: Path, p: Plan) -> bool:
    file_mb = path.stat().st_size / 2**20
    cache = Path(tempfile.mkdtemp(prefix="synth-heap-cache-"))
    try:
        result, wall, cpu, rss, stderr = run_top(path, cache)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    print(f"cdpclient top: wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {rss:.0f} MB, "
          f"RSS/file {rss / file_mb:.2f} ({file_mb:.0f} MB file)")
    if result is None:
        print("FAIL cdpclient top exited non-zero:\n" + "\n".join(stderr.strip().splitlines()[-15:]))
        return False
    ok = True
    for fact, good, want, got in compare(result, truth(p)):
        ok &= good
        print(f"{'PASS' if good else 'FAIL'} {fact}: expected {want}" + ("" if good else f", got {got}"))
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the .heapsnapshot to write")
    parser.add_argument("--nodes", type=int, default=140_000_000,
                        help="about how many nodes (default 140 M: a file of about 8 GB, 7.4 GiB)")
    parser.add_argument("--items", type=int, default=4, help="LineItems per Order (default 4)")
    parser.add_argument("--leak-share", type=float, default=0.2,
                        help="share of the nodes that are leaked entries and their payloads (default 0.2)")
    parser.add_argument("--check", action="store_true", help="then run cdpclient top on it and compare")
    parser.add_argument("--check-only", action="store_true", help="only check an existing file of these options")
    args = parser.parse_args()
    p = Plan.for_nodes(args.nodes, items=args.items, leak_share=args.leak_share)
    out = Path(args.out)
    print(f"plan: {p.node_count:,} nodes, {p.edge_count:,} edges; {p.n_leak:,} LeakedEntry, "
          f"{p.n_orders:,} Order trees of {p.per_order} nodes, {p.n_pool} SharedConfig", flush=True)
    if not args.check_only:
        seconds = write(out, p, progress=lambda s: print(s, file=sys.stderr, flush=True))
        size = out.stat().st_size
        print(f"wrote {out}: {size / 2**30:.2f} GiB in {seconds:.0f} s ({size / 2**20 / seconds:.0f} MB/s)",
              flush=True)
    if args.check or args.check_only:
        sys.exit(0 if check(out, p) else 1)


if __name__ == "__main__":
    main()
