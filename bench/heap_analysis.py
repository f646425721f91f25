"""Benchmark: heap snapshot analysis by cdpclient against memlab (and an earlier cdpclient), on real Node heaps.

One run fills real Node heaps of about 50 MB and 300 MB (``--sizes``; 620 is a ~1 GB file,
1240 a ~2 GB one: ``--gb``, ``--gb2``), writes two snapshots of each (the second after 5% more
growth, for ``diff``), then times, as separate processes on the same files:

* ``cdpclient top FILE --json``      cold: parse, dominators, retained sizes, cache written (the rest of it
                                      after the answer: "answer" is when stdout ended, the time the exit)
* ``cdpclient top FILE --json``      cached: from the cache the cold run wrote
* ``cdpclient diff A B --json``      cold: both snapshots' classes (an earlier tree: both analysed), by class
* memlab ``getFullHeapFromFile``      parse, shortest paths, dominators, retained sizes

``--rounds`` interleaved rounds (default 5): in each, every measurement of every tool and tree,
who goes first alternating between rounds (memlab / cdpclient, this tree / the other), so a busy
moment of the shared machine hits all alike. Wall seconds come from the clock around the
process, CPU seconds (user + system) and peak RSS from ``os.wait4``; printed: best and median
of wall and CPU, the median peak RSS. On a shared machine the best wall time and the CPU seconds
say most about the tool; the median about the load.

``--against REV`` runs the same cdpclient measurements with an earlier checkout (``git worktree
add --detach`` into a temporary directory, removed at the end; run with this .venv's interpreter
and a PYTHONPATH holding links to that tree's ``cdpclient`` and ``cli``, as bench/cli_start.py
does) and prints the ratios this / previous. Every tree has its own XDG_CACHE_HOME (removed
before each cold run) and its own NUMBA_CACHE_DIR, warmed once before timing: no timed run pays
the numba compile. memlab is installed into ``.cache/memlab`` from the npm registry when missing.

    .venv/bin/python bench/heap_analysis.py                                 # 50 MB and 300 MB heaps
    .venv/bin/python bench/heap_analysis.py --workdir /work/heaps --against HEAD~1 --rounds 3
    .venv/bin/python bench/heap_analysis.py --workdir /work/heaps --sizes 50 --gb2 --no-memlab

``--workdir DIR`` reuses the snapshots ``heap{SIZE}-{a,b}.heapsnapshot`` present there (and
writes missing ones there); a snapshot that is there but incomplete is left alone and its row
skipped. Without it they are made in a temporary directory, removed at the end. A command that
fails prints the tail of its stderr and the bench goes on with the other measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_start import package_dir  # noqa: E402  (the same links, compiled, as the start-up bench)

REPO = Path(__file__).resolve().parents[1]
MEMLAB_PREFIX = REPO / ".cache" / "memlab"
NODE = os.environ.get("CDPCLIENT_TEST_NODE", "node")
# Runs the command of one tree: that tree's packages first on sys.path (the editable install of
# .venv is a meta-path finder that comes after the path entries, so it does not shadow them).
_LAUNCH = "import sys; sys.argv[0] = 'cdpclient'; from cdpclient_cli.app import main; main()"

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

MEASURES = ("top", "cached", "diff")  # per cdpclient tree; "memlab" once per size


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


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    answer: float = 0.0  # when stdout ended: cdpclient closes it once the answer is out, before its cache is written


def measure(cmd: list[str], env: dict[str, str], timeout: float) -> Run | str:
    """Run ``cmd``: its wall and CPU seconds and peak RSS (``os.wait4``), or the tail of its stderr if it failed."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env={**os.environ, **env}, cwd=REPO)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        answered: list[float] = []

        def drain() -> None:
            assert proc.stdout is not None
            while proc.stdout.read(1 << 16):
                pass
            answered.append(time.perf_counter() - start)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        reader.join(5)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-12:]
            why = f"killed after {timeout:.0f} s" if wall >= timeout else f"exit {proc.returncode}"
            return f"{why}: " + "\n    ".join(tail)
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, min(answered or [wall]))


def complete(path: Path) -> bool:
    """A snapshot V8 finished writing (it ends with ``]}``)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(-2, os.SEEK_END)
            return fh.read(2) == b"]}"
    except OSError:
        return False


def make_heaps(workdir: Path, size_mb: int) -> tuple[Path, Path, float] | str:
    a, b = workdir / f"heap{size_mb}-a.heapsnapshot", workdir / f"heap{size_mb}-b.heapsnapshot"
    if a.exists() or b.exists():
        if complete(a) and complete(b):
            return a, b, 0.0
        return f"{a.name} / {b.name} present but not complete (still being written?): left alone"
    script = workdir / f".fill-{os.getpid()}.js"
    script.write_text(FILL_JS)
    start = time.perf_counter()
    try:
        subprocess.run([NODE, f"--max-old-space-size={max(4096, size_mb * 6)}", str(script), str(a), str(b),
                        str(size_mb)], check=True)
    except subprocess.CalledProcessError as e:
        return f"node could not write the snapshots: {e}"
    finally:
        script.unlink(missing_ok=True)
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


@dataclass
class Tree:
    name: str
    pythonpath: Path
    xdg: Path
    numba: Path

    def env(self) -> dict[str, str]:
        return {"PYTHONPATH": str(self.pythonpath), "XDG_CACHE_HOME": str(self.xdg),
                "NUMBA_CACHE_DIR": str(self.numba)}

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-c", _LAUNCH, *args]


# --- the table ----------------------------------------------------------------------------------


def best_med(values: list[float], digits: int = 1) -> str:
    return f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f}"


def cell(runs: list[Run] | str | None, cpu: bool = True, digits: int = 1) -> str:
    if runs is None:
        return "-"
    if isinstance(runs, str) or not runs:
        return "failed"
    text = f"{best_med([r.wall for r in runs], digits)} s"
    if min(r.answer for r in runs) < 0.97 * min(r.wall for r in runs):  # the cache was written after the answer
        text += f" (answer {best_med([r.answer for r in runs], digits)} s)"
    if cpu:
        text += f", CPU {best_med([r.cpu for r in runs], digits)} s"
    return text + f", {statistics.median(r.rss_mb for r in runs):.0f} MB"


def ratio(a: list[Run] | str | None, b: list[Run] | str | None, key: str = "wall") -> float | None:
    if not isinstance(a, list) or not isinstance(b, list) or not a or not b:
        return None
    if key == "rss":
        return statistics.median(r.rss_mb for r in a) / statistics.median(r.rss_mb for r in b)
    return min(getattr(r, key) for r in a) / min(getattr(r, key) for r in b)


def fmt(x: float | None, suffix: str = "x") -> str:
    return "-" if x is None else f"{x:.2f}{suffix}"


Results = dict[tuple[str, str], "list[Run] | str"]


def bench_files(a: Path, b: Path, trees: list[Tree], memlab_cmd: list[str] | None, memlab_env: dict[str, str],
                rounds: int, timeout: float) -> Results:
    """Every measurement of snapshots ``a`` (and ``b`` for diff), ``rounds`` interleaved rounds:
    {(measure, tree): runs, or the error of the first failed run (not run again)}."""
    results: Results = {}

    def record(key: tuple[str, str], cmd: list[str], env: dict[str, str]) -> None:
        runs = results.get(key)
        if isinstance(runs, str):
            return  # failed before: not again
        got = measure(cmd, env, timeout)
        if isinstance(got, str):
            print(f"  {key[1]} {key[0]} failed: {got}", file=sys.stderr, flush=True)
            results[key] = got
        else:
            results.setdefault(key, [])
            runs = results[key]
            assert isinstance(runs, list)
            runs.append(got)

    def cdpclient(tree: Tree) -> None:
        shutil.rmtree(tree.xdg, ignore_errors=True)
        record(("top", tree.name), tree.cli("top", str(a), "--json"), tree.env())
        record(("cached", tree.name), tree.cli("top", str(a), "--json"), tree.env())
        shutil.rmtree(tree.xdg, ignore_errors=True)
        record(("diff", tree.name), tree.cli("diff", str(a), str(b), "--json"), tree.env())
        shutil.rmtree(tree.xdg, ignore_errors=True)

    def memlab() -> None:
        if memlab_cmd is not None:
            record(("memlab", "memlab"), memlab_cmd, memlab_env)

    for n in range(max(1, rounds)):
        # even rounds: cdpclient first, trees in order; odd rounds: memlab first, trees reversed
        if n % 2:
            memlab()
        for tree in trees if n % 2 == 0 else trees[::-1]:
            cdpclient(tree)
        if n % 2 == 0:
            memlab()
        print(f"  round {n + 1}: top {cell(results.get(('top', 'this')), cpu=False)}"
              + "".join(f"; {t.name} {cell(results.get(('top', t.name)), cpu=False)}" for t in trees[1:])
              + (f"; memlab {cell(results.get(('memlab', 'memlab')), cpu=False)}" if memlab_cmd else ""),
              file=sys.stderr, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50,300",
                        help="heap sizes in MB (default 50,300; 620: a ~1 GB file, 1240: a ~2 GB file)")
    parser.add_argument("--gb", action="store_true", help="also the heap whose snapshot file is about 1 GB (620)")
    parser.add_argument("--gb2", action="store_true", help="also the heap whose snapshot file is about 2 GB (1240)")
    parser.add_argument("--workdir", default=None, help="reuse the snapshots here (missing ones are made here)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per measurement (default 5)")
    parser.add_argument("--against", default="none",
                        help="git revision of an earlier cdpclient to time too (e.g. HEAD~1); default none")
    parser.add_argument("--no-memlab", action="store_true", help="skip memlab")
    parser.add_argument("--memlab-max", type=int, default=1000,
                        help="skip memlab on heaps above this many MB (default 1000: it needs ~7x the file)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a command is killed")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    sizes += [620] * args.gb + [1240] * args.gb2
    sizes = list(dict.fromkeys(sizes))
    scratch = Path(tempfile.mkdtemp(prefix="cdpclient-heap-bench-"))
    workdir = Path(args.workdir) if args.workdir else scratch
    workdir.mkdir(parents=True, exist_ok=True)
    modules = None if args.no_memlab else install_memlab()
    memlab_js = scratch / "memlab_bench.js"
    memlab_js.write_text(MEMLAB_JS)
    other: Path | None = None
    trees = [Tree("this", package_dir(REPO, scratch / "path-this"), scratch / "xdg-this", scratch / "numba-this")]
    rows: list[tuple[int, float, int, int, Results]] = []
    skipped: list[str] = []
    try:
        if args.against != "none":
            other = scratch / "other"
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(other),
                            args.against], check=True)
            trees.append(Tree(args.against, package_dir(other, scratch / "path-other"), scratch / "xdg-other",
                              scratch / "numba-other"))
        # Warm every tree's numba cache once (top and diff), so no timed run pays the compile.
        warm = scratch / "warm.heapsnapshot"
        subprocess.run([NODE, "-e", f"require('v8').writeHeapSnapshot({json.dumps(str(warm))})"], check=True)
        for tree in trees:
            for cmd in (tree.cli("top", str(warm), "--json"), tree.cli("diff", str(warm), str(warm), "--json")):
                got = measure(cmd, tree.env(), args.timeout)
                if isinstance(got, str):
                    print(f"warm-up of {tree.name} failed: {got}", file=sys.stderr, flush=True)
            shutil.rmtree(tree.xdg, ignore_errors=True)
        for size in sizes:
            made = make_heaps(workdir, size)
            if isinstance(made, str):
                print(f"heap {size} MB: skipped: {made}", file=sys.stderr, flush=True)
                skipped.append(f"{size} MB: {made}")
                continue
            a, b, seconds = made
            file_mb = a.stat().st_size / 2**20
            nodes, edges = counts(a)
            print(f"heap {size} MB: {file_mb:.0f} MB file, {nodes:,} nodes, {edges:,} edges"
                  + (f" (made in {seconds:.0f} s)" if seconds else ""), file=sys.stderr, flush=True)
            memlab_cmd = ([NODE, "--max-old-space-size=20000", str(memlab_js), str(a)]
                          if modules is not None and size <= args.memlab_max else None)
            results = bench_files(a, b, trees, memlab_cmd, {"NODE_PATH": str(modules)}, args.rounds, args.timeout)
            rows.append((size, file_mb, nodes, edges, results))
    finally:
        if other is not None:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(other)], check=False)
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"\n{args.rounds} interleaved rounds; wall and CPU: best / median s; RSS: median peak; "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}\n")
    names = [t.name for t in trees]
    header = ("| heap | file | nodes / edges | tree | top (cold) | RSS / file | top (cached) | diff A B (cold) "
              "| diff / top | memlab | vs memlab (top cold) |" + (f" this / {names[1]} |" if len(names) > 1 else ""))
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for size, file_mb, nodes, edges, res in rows:
        mem = res.get(("memlab", "memlab"))
        for tree in names:
            top, cached, diff = (res.get((m, tree)) for m in MEASURES)
            rss_file = (f"{statistics.median(r.rss_mb for r in top) / file_mb:.2f}"
                        if isinstance(top, list) and top else "-")
            vs_mem = "-"
            if isinstance(mem, list) and isinstance(top, list) and top:
                vs_mem = (f"{fmt(ratio(mem, top))} wall, {fmt(ratio(mem, top, 'answer'))} answer, "
                          f"{fmt(ratio(mem, top, 'cpu'))} CPU, {fmt(ratio(mem, top, 'rss'))} RSS")
            line = (f"| {size} MB | {file_mb:.0f} MB | {nodes / 1e6:.2f} M / {edges / 1e6:.1f} M | {tree} "
                    f"| {cell(top)} | {rss_file} | {cell(cached, cpu=False, digits=2)} | {cell(diff)} "
                    f"| {fmt(ratio(diff, top))} | {cell(mem, cpu=False) if tree == 'this' else ''} | {vs_mem} |")
            if len(names) > 1:
                if tree == "this":
                    prev = {m: res.get((m, names[1])) for m in MEASURES}
                    line += (f" top {fmt(ratio(top, prev['top']))} wall, {fmt(ratio(top, prev['top'], 'cpu'))} CPU, "
                             f"{fmt(ratio(top, prev['top'], 'rss'))} RSS; cached {fmt(ratio(cached, prev['cached']))}; "
                             f"diff {fmt(ratio(diff, prev['diff']))} |")
                else:
                    line += " |"
            print(line)
    print("\n(ratios: best wall and best CPU, median RSS; vs memlab: memlab / cdpclient; "
          "this / previous: below 1 is faster)")
    for failed in [(size, k, v) for size, _, _, _, res in rows for k, v in res.items() if isinstance(v, str)]:
        print(f"failed: {failed[0]} MB {failed[1][1]} {failed[1][0]}: {failed[2].splitlines()[0]}")
    for line in skipped:
        print(f"skipped: {line}")


if __name__ == "__main__":
    main()
