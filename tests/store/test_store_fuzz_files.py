"""Hostile and broken files: seeded mutations of real captures of every kind, through every command that
reads files (import, top, diff, leaks, flame, export), in a worker with a capped address space.

Fails on an internal error, a traceback, a case that runs past the worker's alarm (a hang), a worker
that dies or wedges, a refusal that is not one line, or a worker whose peak memory blew up.  The
seed is fixed: the same files every run.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

WORKER = Path(__file__).parent / "fuzz_worker.py"
ROOT = Path(__file__).parent.parent.parent
SEED = 1313
MAX_RSS = 1536 << 20


# --- mutations: each returns the new file's bytes --------------------------------------------------------

def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.randrange(1, len(data) - 1)]


def _flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(8):
        out[rng.randrange(len(out))] = rng.choice(b'0123456789,[]{}":-x\x00\xff')
    return bytes(out)


def _heap_sections(data: bytes) -> tuple[dict[str, Any], int]:
    """The parsed ``{"snapshot": ...}`` head and the offset of ``"nodes":``."""
    nodes_at = data.index(b'"nodes":')
    header = json.loads(data[:nodes_at].rstrip().rstrip(b",") + b"}")
    return header, nodes_at


def _with_header(data: bytes, change: Any) -> bytes:
    header, nodes_at = _heap_sections(data)
    change(header["snapshot"])
    return json.dumps(header, separators=(",", ":")).encode()[:-1] + b",\n" + data[nodes_at:]


def _array_numbers(data: bytes, key: bytes) -> tuple[int, int]:
    start = data.index(b'"' + key + b'":[') + len(key) + 4
    return start, data.index(b"]", start)


def _set_number(data: bytes, key: bytes, rng: random.Random, value: Any = None, field: int | None = None,
                width: int | None = None) -> bytes:
    """Replace one number of the ``key`` array (``field`` of a row of ``width`` when given)."""
    start, end = _array_numbers(data, key)
    numbers = data[start:end].split(b",")
    if width:
        i = rng.randrange(len(numbers) // width) * width + (field or 0)
    else:
        i = rng.randrange(len(numbers))
    new = value(int(numbers[i])) if callable(value) else value
    numbers[i] = str(new).encode()
    return data[:start] + b",".join(numbers) + data[end:]


def _heap_mutants(data: bytes, rng: random.Random) -> dict[str, bytes]:
    header, _ = _heap_sections(data)
    meta = header["snapshot"]["meta"]
    nf, ef = len(meta["node_fields"]), len(meta["edge_fields"])
    to = meta["edge_fields"].index("to_node")
    name = meta["node_fields"].index("name")
    ec = meta["node_fields"].index("edge_count")
    return {
        "truncated": _truncate(data, rng),
        "flipped": _flip(data, rng),
        "to_node_misaligned": _set_number(data, b"edges", rng, lambda v: v + 1, to, ef),
        "to_node_past_end": _set_number(data, b"edges", rng, lambda v: v + 10**8, to, ef),
        "edge_count_off": _set_number(data, b"nodes", rng, lambda v: v + 3, ec, nf),
        "name_past_strings": _set_number(data, b"nodes", rng, 4_000_000_000, name, nf),
        "type_past_types": _set_number(data, b"nodes", rng, 200, 0, nf),
        "huge_number": _set_number(data, b"nodes", rng, 10**30, 2, nf),
        "negative_number": _set_number(data, b"edges", rng, -5, 0, ef),
        "nodes_a_string": data.replace(b'"nodes":[', b'"nodes":"x","ignored":[', 1),
        "strings_an_object": data.replace(b'"strings":[', b'"strings":{"a":[', 1)[:-1] + b"}}",
        "no_node_fields": _with_header(data, lambda s: s["meta"].pop("node_fields")),
        "node_types_a_string": _with_header(data, lambda s: s["meta"].update(node_types="object")),
        "fields_hold_numbers": _with_header(data, lambda s: s["meta"].update(edge_fields=[1, 2, 3])),
        "huge_node_count": _with_header(data, lambda s: s.update(node_count=10**12)),
        "root_index_inside_a_node": _with_header(data, lambda s: s.update(root_index=1)),
        "header_a_list": _with_header(data, lambda s: s.clear()).replace(b'"snapshot":{}', b'"snapshot":[1]', 1),
        "no_nodes_at_all": _with_header(data, lambda s: s.update(node_count=0)).replace(
            data[slice(*_array_numbers(data, b"nodes"))], b"", 1),
    }


def _json_mutants(doc: Any, kind: str, rng: random.Random) -> dict[str, bytes]:
    def dump(value: Any) -> bytes:
        return json.dumps(value).encode()

    out: dict[str, bytes] = {}
    if kind == "cpuprofile":
        nodes = doc["nodes"]
        out["nodes_a_string"] = dump({**doc, "nodes": "x"})
        out["duplicate_ids"] = dump({**doc, "nodes": nodes + [nodes[-1]]})
        out["child_missing"] = dump({**doc, "nodes": [{**nodes[0], "children": [10**9]}] + nodes[1:]})
        out["sample_missing"] = dump({**doc, "samples": [10**9] + doc["samples"][1:]})
        out["deltas_short"] = dump({**doc, "timeDeltas": doc["timeDeltas"][:-1]})
        out["samples_strings"] = dump({**doc, "samples": ["a"] * len(doc["samples"])})
        out["callframe_a_list"] = dump({**doc, "nodes": [{**nodes[0], "callFrame": [1]}] + nodes[1:]})
        out["start_an_object"] = dump({**doc, "startTime": {"a": 1}})
        out["no_keys"] = dump({k: v for k, v in doc.items() if k not in ("nodes",)})
        chain = [{"id": i + 1, "callFrame": {"functionName": f"f{i}", "url": "", "lineNumber": 0,
                                             "columnNumber": 0}, "children": [i + 2]} for i in range(20_000)]
        chain[-1]["children"] = []
        out["deep_tree"] = dump({"nodes": chain, "startTime": 0, "endTime": 10, "samples": [20_000],
                                 "timeDeltas": [1]})
    else:
        out["head_a_string"] = dump({**doc, "head": "x"})
        out["children_a_dict"] = dump({**doc, "head": {**doc["head"], "children": {"a": 1}}})
        out["sample_bad"] = dump({**doc, "samples": [{"nodeId": "x", "size": None}]})
        out["no_callframe"] = dump({**doc, "head": {"id": 1, "selfSize": 0, "children": []}})
        # json.dumps of 20,000 levels would recurse: write the nesting by hand
        opening = b'{"id":%d,"selfSize":1,"callFrame":{"functionName":"f","url":"u"},"children":['
        out["deep_tree"] = (b'{"head":' + b"".join(opening % (i + 1) for i in range(20_000))
                            + b"]}" * 20_000 + b',"samples":[]}')
    out["nested_arrays"] = b'{"' + (b"nodes" if kind == "cpuprofile" else b"head") + b'":' + b"[" * 200_000 \
        + b"]" * 200_000 + b"}"
    out["truncated"] = _truncate(dump(doc), rng)
    out["flipped"] = _flip(dump(doc), rng)
    return out


def _bombs(snapshot: bytes) -> dict[str, bytes]:
    """zstd files: a snapshot whose nodes are 400 MB of zeros, one declaring 80 MB in its frame, JSON that is
    no capture (200 MB of one string), binary garbage, and a real snapshot with a flipped byte."""
    import zstandard

    header_end = snapshot.index(b'"nodes":[') + len(b'"nodes":[')
    zc = zstandard.ZstdCompressor(level=3)
    out: dict[str, bytes] = {}
    cobj = zc.compressobj()
    parts = [snapshot[:header_end]] + [b"0," * (1 << 20)] * 200 + [b'0],"edges":[],"strings":[]}']
    out["bomb.heapsnapshot.zst"] = b"".join(cobj.compress(p) for p in parts) + cobj.flush()
    out["declared_bomb.zst"] = zc.compress(snapshot[:header_end] + b"0," * (40 << 20) + b'0],"edges":[]}')
    cobj = zc.compressobj()
    out["not_a_capture.zst"] = b"".join(cobj.compress(p) for p in [b'{"a":"'] + [b"x" * (1 << 20)] * 200
                                        + [b'"}']) + cobj.flush()
    out["garbage.zst"] = zc.compress(bytes(range(256)) * 4096)
    damaged = bytearray(zc.compress(snapshot))
    damaged[len(damaged) // 2] ^= 0xFF
    out["damaged.zst"] = bytes(damaged)
    return out


# --- the test -----------------------------------------------------------------------------------------------

COMMANDS = ("top", "diff", "leaks", "flame", "export")


def _commands(path: Path, good: Path, store: Path, out: Path, rotate: int, every: bool) -> list[list[str]]:
    by_name = {
        "top": ["top", str(path)],
        "diff": ["diff", str(good), str(path)],
        "leaks": ["leaks", str(good), str(path)],
        "flame": ["flame", str(path), "-o", str(out / f"{path.name}.svg")],
        "export": ["export", str(path), "-o", str(out)],
    }
    chosen = COMMANDS if every else (COMMANDS[rotate % len(COMMANDS)],)
    return [["import", str(path), "--store", str(store)]] + [[*by_name[c], "--store", str(store)] for c in chosen]


@pytest.mark.fuzz
def test_mutated_captures_get_one_clear_line(node_files: dict[str, Path], tmp_path: Path) -> None:
    rng = random.Random(SEED)
    files = tmp_path / "files"
    files.mkdir()
    mutants: dict[str, bytes] = {}
    snapshot = node_files["heapsnapshot"].read_bytes()
    for name, data in _heap_mutants(snapshot, rng).items():
        mutants[f"snap_{name}.heapsnapshot"] = data
    timeline = node_files["heaptimeline"].read_bytes()
    for name in ("truncated", "flipped", "to_node_misaligned", "nodes_a_string", "huge_node_count"):
        mutants[f"tl_{name}.heaptimeline"] = _heap_mutants(timeline, rng)[name]
    for kind in ("cpuprofile", "heapprofile"):
        doc = json.loads(node_files[kind].read_bytes())
        for name, data in _json_mutants(doc, kind, rng).items():
            mutants[f"{kind}_{name}.{kind}"] = data
    mutants["report_truncated.json"] = _truncate(node_files["report"].read_bytes(), rng)
    mutants.update(_bombs(snapshot))
    cases = []
    out = tmp_path / "out"
    out.mkdir()
    good = {"heapsnapshot": node_files["heapsnapshot"], "heaptimeline": node_files["heaptimeline"],
            "cpuprofile": node_files["cpuprofile"], "heapprofile": node_files["heapprofile"]}
    for i, (name, data) in enumerate(sorted(mutants.items())):
        path = files / name
        path.write_bytes(data)
        kind = next((k for k in good if name.endswith("." + k)), "heapsnapshot")
        for j, args in enumerate(_commands(path, good[kind], tmp_path / "store", out, i, every=i % 7 == 0)):
            cases.append({"name": f"{name}:{args[0]}:{j}", "args": args})
    (tmp_path / "cases.json").write_text(json.dumps(cases))

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "CDPCLIENT_DEBUG": ""}
    env.pop("CDPCLIENT_MAX_EXPAND", None)
    proc = subprocess.run([sys.executable, str(WORKER), str(tmp_path / "cases.json")], capture_output=True,
                          text=True, timeout=300, env=env, cwd=ROOT)
    lines = proc.stdout.splitlines()
    started = [ln[6:] for ln in lines if ln.startswith("START ")]
    results = [json.loads(ln) for ln in lines if ln.startswith("{")]
    done = [r for r in results if "name" in r]
    assert proc.returncode == 0 and len(done) == len(cases), (
        f"the worker died (exit {proc.returncode}) in {started[-1] if started else '?'}: {proc.stderr[-2000:]}")
    for r in done:  # what each case ended with, for the log of a failing run
        print(f"{r['name']}: exit {r['code']}, {r['seconds']} s: {r['last'][:160]}")
    bad = [r for r in done if r["internal"] or r["traceback"] or r["hang"]]
    assert not bad, "\n".join(f"{r['name']}: {r['last']} {r['trace']}" for r in bad)
    # a refusal is one line and a non-zero exit; a mutant that is still valid may succeed
    loud = [r for r in done if r["code"] != 0 and r["stderr_lines"] != 1]
    assert not loud, "\n".join(f"{r['name']}: {r['stderr_lines']} error lines" for r in loud)
    refused = {r["name"].split(":")[0] for r in done if r["name"].endswith(":import:0") and r["code"] != 0}
    must_refuse = {n for n in mutants if any(k in n for k in (
        "misaligned", "past_end", "past_strings", "past_types", "nodes_a_string", "bomb", "not_a_capture",
        "duplicate_ids", "child_missing", "sample_missing", "deltas_short", "huge_node_count", "no_nodes"))}
    assert must_refuse <= refused, f"imported although broken: {sorted(must_refuse - refused)}"
    print(f"{len(done)} runs of {len(mutants)} files; worker peak RSS {results[-1]['maxrss'] >> 20} MiB")
    assert results[-1]["maxrss"] < MAX_RSS, f"peak memory {results[-1]['maxrss'] >> 20} MiB"
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.stat().st_size > 64 << 20]
    assert not leftovers, f"expanded copies left in the cache: {leftovers}"
