"""Benchmark: heap snapshot analysis by cdpclient against memlab, on real Node heaps.

One run fills real Node heaps of about 50 MB and 300 MB (and about 1 GB of snapshot file
with --gb), writes two snapshots of each (the second after 5% more growth, for ``diff``),
then times, as separate processes on the same files:

* ``cdpclient top FILE --json``      cold: parse, dominators, retained sizes, cache written
* ``cdpclient top FILE --json``      warm: from the cache
* ``cdpclient diff A B --json``      cold: both snapshots analysed, compared by class
* memlab ``getFullHeapFromFile``      parse, shortest paths, dominators, retained sizes

and prints wall time and peak RSS with the ratios.  memlab is installed into
``.cache/memlab`` from the npm registry when missing.

    .venv/bin/python bench/heap_analysis.py                  # 50 MB and 300 MB heaps
    .venv/bin/python bench/heap_analysis.py --sizes 50       # just the small one
    .venv/bin/python bench/heap_analysis.py --gb             # adds a ~1 GB snapshot file

Needs several GB of RAM and disk; the 300 MB heap takes a few minutes, mostly Node
writing its snapshots.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEMLAB_PREFIX = REPO / ".cache" / "memlab"
NODE = os.environ.get("CDPCLIENT_TEST_NODE", "node")

# Fills the heap with a server-like mix (sessions with nested objects and maps, cached
# payload strings, closures), writes snapshot A, grows 5% more, writes snapshot B.
FILL_JS = r"""
'use strict';
const v8 = require('v8');
const [outA, outB, targetMb] = [process.argv[2], process.argv[3], Number(process.argv[4])];
class Session {
  constructor(i) {
    this.id = `s-${i}`;
    this.user = { name: `user${i}`, roles: ['reader', 'writer'] };
    this.created = Date.now();
    this.tags = new Map([[`k${i}`, i]]);
  }
}
class Cache { constructor() { this.items = new Map(); } }
const keep = globalThis.keep = { sessions: [], cache: new Cache(), handlers: [] };
let i = 0;
function fill(bytes) {
  while (process.memoryUsage().heapUsed < bytes) {
    for (let j = 0; j < 1000; j++, i++) {
      keep.sessions.push(new Session(i));
      keep.cache.items.set(`key-${i}`, { v: i, payload: 'x'.repeat(20 + (i % 50)) + i });
      if (i % 10 === 0) keep.handlers.push(() => i + j);
    }
  }
}
fill(targetMb * 1024 * 1024);
v8.writeHeapSnapshot(outA);
fill(targetMb * 1.05 * 1024 * 1024);
v8.writeHeapSnapshot(outB);
"""

MEMLAB_JS = r"""
'use strict';
const { getFullHeapFromFile } = require('@memlab/heap-analysis');
getFullHeapFromFile(process.argv[2]).then((heap) => {
  let top = 0;
  heap.nodes.forEach((n) => { if (n.retainedSize > top && n.type !== 'synthetic') top = n.retainedSize; });
  process.stderr.write(`memlab: ${heap.nodes.length} nodes, largest retained ${top}\n`);
}).catch((e) => { console.error(e); process.exit(1); });
"""


def install_memlab() -> Path | None:
    modules = MEMLAB_PREFIX / "node_modules"
    if (modules / "@memlab" / "heap-analysis").is_dir():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        return None
    MEMLAB_PREFIX.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(MEMLAB_PREFIX), "memlab"],
                   check=True, env={**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"}, stdout=subprocess.DEVNULL)
    return modules


def measure(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``cmd``; wall seconds, peak RSS in MB (of that process tree's largest process), stdout."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env={**os.environ, **(env or {})}, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {stderr[-2000:]}")
    return wall, usage.ru_maxrss / 1024, stdout


def best(old: tuple[float, float, str] | None, new: tuple[float, float, str]) -> tuple[float, float, str]:
    return new if old is None or new[0] < old[0] else old


def make_heaps(workdir: Path, size_mb: int) -> tuple[Path, Path, float]:
    a, b = workdir / f"heap{size_mb}-a.heapsnapshot", workdir / f"heap{size_mb}-b.heapsnapshot"
    if a.exists() and b.exists():
        return a, b, 0.0
    script = workdir / "fill.js"
    script.write_text(FILL_JS)
    start = time.perf_counter()
    subprocess.run([NODE, f"--max-old-space-size={max(4096, size_mb * 6)}", str(script), str(a), str(b),
                    str(size_mb)], check=True)
    return a, b, time.perf_counter() - start


def counts(path: Path) -> tuple[int, int]:
    with open(path, "rb") as fh:
        head = fh.read(4096).decode("utf-8", "replace")
    def grab(key: str) -> int:
        i = head.find(f'"{key}":')
        j = i + len(key) + 3
        k = j
        while k < len(head) and head[k].isdigit():
            k += 1
        return int(head[j:k]) if i >= 0 else 0
    return grab("node_count"), grab("edge_count")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50,300", help="heap sizes in MB (default 50,300)")
    parser.add_argument("--gb", action="store_true", help="also a heap whose snapshot file is about 1 GB")
    parser.add_argument("--workdir", default=None, help="keep the snapshots here (reused when present)")
    parser.add_argument("--no-memlab", action="store_true", help="skip memlab")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest is kept")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.gb:
        sizes.append(620)  # a 620 MB heap of this mix writes a snapshot file of about 1 GB
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="cdpclient-heap-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    modules = None if args.no_memlab else install_memlab()
    cli = [sys.executable, "-m", "cdpclient_cli.app"]
    # Warm numba's on-disk cache once so no run below pays the JIT compile.
    warm = workdir / "warm.heapsnapshot"
    subprocess.run([NODE, "-e", f"require('v8').writeHeapSnapshot({json.dumps(str(warm))})"], check=True)
    measure([*cli, "top", str(warm), "--json"], env={"XDG_CACHE_HOME": str(workdir / "xdg-warm")})
    rows = []
    for size in sizes:
        a, b, made = make_heaps(workdir, size)
        file_mb = a.stat().st_size / 2**20
        nodes, edges = counts(a)
        print(f"heap {size} MB: {file_mb:.0f} MB file, {nodes:,} nodes, {edges:,} edges"
              + (f" (made in {made:.0f} s)" if made else ""), file=sys.stderr, flush=True)
        cache = workdir / f"xdg-{size}"
        shutil.rmtree(cache, ignore_errors=True)
        env = {"XDG_CACHE_HOME": str(cache)}
        top_cold = top_warm = diff_cold = mem = None
        script = workdir / "memlab_bench.js"
        script.write_text(MEMLAB_JS)
        for _ in range(max(1, args.repeat)):  # interleaved, so a busy moment hits both tools alike
            shutil.rmtree(cache, ignore_errors=True)
            top_cold = best(top_cold, measure([*cli, "top", str(a), "--json"], env=env))
            top_warm = best(top_warm, measure([*cli, "top", str(a), "--json"], env=env))
            shutil.rmtree(cache, ignore_errors=True)
            diff_cold = best(diff_cold, measure([*cli, "diff", str(a), str(b), "--json"], env=env))
            shutil.rmtree(cache, ignore_errors=True)
            if modules is not None:
                mem = best(mem, measure([NODE, "--max-old-space-size=20000", str(script), str(a)],
                                        env={"NODE_PATH": str(modules)}))
        assert top_cold and top_warm and diff_cold
        rows.append((size, file_mb, nodes, edges, top_cold, top_warm, diff_cold, mem))
        print(f"  top {top_cold[0]:.1f} s {top_cold[1]:.0f} MB; cached {top_warm[0]:.2f} s; diff {diff_cold[0]:.1f} s"
              + (f"; memlab {mem[0]:.1f} s {mem[1]:.0f} MB" if mem else ""), file=sys.stderr, flush=True)
    header = ("| heap | file | nodes / edges | cdpclient top (cold) | top (cached) | diff A B (cold) "
              "| memlab | speed-up vs memlab | top RSS / file |")
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for size, file_mb, nodes, edges, top_cold, top_warm, diff_cold, mem in rows:
        memlab_cell = f"{mem[0]:.1f} s, {mem[1]:.0f} MB" if mem else "-"
        ratio = f"{mem[0] / top_cold[0]:.1f}x time, {mem[1] / top_cold[1]:.1f}x less RSS" if mem else "-"
        print(f"| {size} MB | {file_mb:.0f} MB | {nodes / 1e6:.2f} M / {edges / 1e6:.1f} M "
              f"| {top_cold[0]:.1f} s, {top_cold[1]:.0f} MB | {top_warm[0]:.2f} s, {top_warm[1]:.0f} MB "
              f"| {diff_cold[0]:.1f} s, {diff_cold[1]:.0f} MB | {memlab_cell} | {ratio} "
              f"| {top_cold[1] / file_mb:.2f} |")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
