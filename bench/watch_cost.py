"""What does ``cdpclient watch`` cost?  The target's CPU per sample and what stays in its heap; the
watcher's own memory over a long run.  Against named peers, in the same run.

Part 1, the target (a Node process holding ``--heap-mb`` of small objects):

  (a) cdpclient's sample: one ``Runtime.evaluate`` round trip over the inspector, as a watch takes it;
  (b) prom-client's default metrics (``collectDefaultMetrics`` + ``register.metrics()``; npm, installed
      under .cache/ on first use): the in-app monitor Node teams run, collecting about the same figures
      (heap spaces, RSS, external, fds, handles, event-loop lag) inside the process, no protocol at all;
  (c) ``process.report.getReport()`` in the process: the other way to read the limits and handles.

  Each runs ``--samples`` times back to back; the target's CPU time (utime + stime of all its threads,
  from /proc) less an idle baseline of the same wall time, divided by the samples, is the cost of one.
  Then: the target's used heap after a full GC, before and after the (a) samples: what a long watch leaves.

Part 2, the watcher: ``cdpclient watch ENDPOINT --every 50ms --for MINUTES --json > /dev/null`` (the real
CLI), its RSS read from /proc every 2 s; against (d) a chrome-remote-interface poller (npm) evaluating
the same expression at the same interval, the hand-written external monitor.  Printed: RSS at 10 % of
the run and at the end, and the growth per hour of each (a linear fit); the recording's bytes per sample.

    .venv/bin/python bench/watch_cost.py                        # two 10-minute watcher runs: about 22 minutes
    .venv/bin/python bench/watch_cost.py --minutes 1 --samples 500   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from snapshot_capture import Target  # noqa: E402

CACHE = ROOT / ".cache" / "bench-watch"

_PROM_JS = r"""
((n) => {
  const client = require(%s);
  const register = new client.Registry();
  client.collectDefaultMetrics({ register });
  globalThis.__promRegister = register;
  return true;
})()
"""

_CRI_POLLER_JS = r"""
const CDP = require('chrome-remote-interface');
const [port, everyMs, seconds, expr] = process.argv.slice(2);
(async () => {
  const client = await CDP({ host: '127.0.0.1', port: Number(port) });
  const end = Date.now() + Number(seconds) * 1000;
  while (Date.now() < end) {
    const r = await client.send('Runtime.evaluate',
      { expression: expr, returnByValue: true, includeCommandLineAPI: true });
    process.stdout.write(JSON.stringify(r.result.value) + '\n');
    await new Promise((ok) => setTimeout(ok, Number(everyMs)));
  }
  await client.close();
})().catch((e) => { console.error(e); process.exit(1); });
"""


def ensure_npm(*packages: str) -> Path:
    missing = [p for p in packages if not (CACHE / "node_modules" / p).exists()]
    if missing:
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(CACHE), *missing],
                       check=True, stdout=subprocess.DEVNULL)
    return CACHE / "node_modules"


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def target_cost(heap_mb: int, samples: int) -> dict[str, float]:
    import cdpclient
    from cdpclient.watch import Sampler

    modules = ensure_npm("prom-client")
    target = Target(heap_mb)
    out: dict[str, float] = {}
    try:
        async with cdpclient.connect(target.endpoint) as t:
            async def idle_cpu(seconds: float) -> float:
                before = target.cpu_seconds()
                await asyncio.sleep(seconds)
                return target.cpu_seconds() - before

            async def gc_heap() -> int:
                await t.send("HeapProfiler.collectGarbage")
                return int(await t.evaluate("process.memoryUsage().heapUsed"))

            sampler = Sampler(t)
            await sampler.install()
            await sampler.sample()
            heap_before = await gc_heap()
            # (a) cdpclient's sample
            cpu0, wall0 = target.cpu_seconds(), time.monotonic()
            for _ in range(samples):
                await sampler.sample()
            cpu, wall = target.cpu_seconds() - cpu0, time.monotonic() - wall0
            base = await idle_cpu(min(wall, 10.0)) * wall / min(wall, 10.0)
            out["a_cdpclient_us"] = max(cpu - base, 0.0) / samples * 1e6
            out["a_round_trip_ms"] = wall / samples * 1000
            out["heap_left_bytes"] = await gc_heap() - heap_before
            # As many again: what stays grows with the samples only if something accumulates.
            for _ in range(samples):
                await sampler.sample()
            out["heap_left_2x_bytes"] = await gc_heap() - heap_before
            await sampler.remove()
            # (b) prom-client in the process
            await t.evaluate(_PROM_JS % json.dumps(str(modules / "prom-client")))
            await t.evaluate("globalThis.__promRegister.metrics()", await_promise=True)
            script = ("(async (n) => { for (let i = 0; i < n; i++) await globalThis.__promRegister.metrics(); "
                      f"return n; }})({samples})")
            cpu0, wall0 = target.cpu_seconds(), time.monotonic()
            await t.evaluate(script, await_promise=True, timeout=600)
            cpu = target.cpu_seconds() - cpu0
            out["b_prom_client_us"] = cpu / samples * 1e6
            # (c) process.report.getReport()
            n = max(10, samples // 20)
            cpu0 = target.cpu_seconds()
            await t.evaluate(f"(() => {{ for (let i = 0; i < {n}; i++) process.report.getReport(); return 0; }})()",
                             timeout=600)
            out["c_report_us"] = (target.cpu_seconds() - cpu0) / n * 1e6
    finally:
        target.stop()
    return out


def watcher_rss(minutes: float, every_ms: int) -> dict[str, float]:
    from cdpclient.watch.sample import _SAMPLE_JS

    modules = ensure_npm("chrome-remote-interface")
    seconds = minutes * 60
    poller = CACHE / "cri_poller.js"
    poller.write_text(_CRI_POLLER_JS)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as store:
        for name in ("cdpclient", "cri"):
            target = Target(50)
            try:
                if name == "cdpclient":
                    cmd = [sys.executable, "-m", "cdpclient_cli.app", "watch", target.endpoint,
                           "--every", f"{every_ms}ms", "--for", f"{seconds:.0f}s", "--json", "--store", store]
                    env = os.environ.copy()
                else:
                    # The same figures: install our sampler's state once, then evaluate its sample expression.
                    import cdpclient
                    from cdpclient.watch import Sampler

                    async def install(endpoint: str) -> str:
                        async with cdpclient.connect(endpoint) as t:
                            s = Sampler(t, key="bench", orphan_after=seconds + 120)
                            await s.install()
                            return _SAMPLE_JS % json.dumps(s.symbol)

                    expr = asyncio.run(install(target.endpoint))
                    cmd = ["node", str(poller), str(target.port), str(every_ms), str(seconds), expr]
                    env = {**os.environ, "NODE_PATH": str(modules)}
                proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
                points: list[tuple[float, int]] = []
                start = time.monotonic()
                while proc.poll() is None:
                    time.sleep(2.0)
                    try:
                        points.append((time.monotonic() - start, rss_of(proc.pid)))
                    except (FileNotFoundError, ProcessLookupError):
                        break
                if proc.wait() != 0:
                    raise RuntimeError(f"{name} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
                points = [p for p in points if p[1] > 0]
                early = points[max(0, len(points) // 10)][1]
                late = points[-1][1]
                slope = _slope(points[len(points) // 10:]) * 3600
                out[f"{name}_rss_early_mb"] = early / 1e6
                out[f"{name}_rss_end_mb"] = late / 1e6
                out[f"{name}_growth_mb_per_h"] = slope / 1e6
            finally:
                target.stop()
        recordings = list(Path(store).rglob("*.watch*"))
        if recordings:
            from cdpclient.watch import read_recording

            rec = read_recording(recordings[0])
            out["recording_bytes_per_sample"] = recordings[0].stat().st_size / max(1, len(rec.samples))
            out["samples"] = len(rec.samples)
    return out


def _slope(points: list[tuple[float, int]]) -> float:
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    den = sum((p[0] - mx) ** 2 for p in points)
    return sum((p[0] - mx) * (p[1] - my) for p in points) / den if den else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--heap-mb", type=int, default=100)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--every-ms", type=int, default=50)
    args = ap.parse_args()
    cost = asyncio.run(target_cost(args.heap_mb, args.samples))
    print(f"target ({args.heap_mb} MB heap), CPU per sample over {args.samples} samples:")
    print(f"  (a) cdpclient sample      {cost['a_cdpclient_us']:8.0f} us   "
          f"(round trip {cost['a_round_trip_ms']:.2f} ms)")
    print(f"  (b) prom-client metrics() {cost['b_prom_client_us']:8.0f} us   a/b = "
          f"{cost['a_cdpclient_us'] / cost['b_prom_client_us']:.2f}")
    print(f"  (c) process.report        {cost['c_report_us']:8.0f} us   a/c = "
          f"{cost['a_cdpclient_us'] / cost['c_report_us']:.3f}")
    print(f"  target heap after GC, vs before: {cost['heap_left_bytes']:+.0f} bytes after {args.samples} samples, "
          f"{cost['heap_left_2x_bytes']:+.0f} bytes after {2 * args.samples}")
    rss = watcher_rss(args.minutes, args.every_ms)
    print(f"watcher RSS over {args.minutes:g} min at {args.every_ms} ms ({rss.get('samples', 0):.0f} samples):")
    for name, label in (("cdpclient", "cdpclient watch"), ("cri", "(d) chrome-remote-interface poller")):
        print(f"  {label:<36} {rss[name + '_rss_early_mb']:6.1f} MB -> {rss[name + '_rss_end_mb']:6.1f} MB, "
              f"growth {rss[name + '_growth_mb_per_h']:+.2f} MB/h")
    if "recording_bytes_per_sample" in rss:
        print(f"  recording: {rss['recording_bytes_per_sample']:.0f} bytes per sample (zstd at rest)")
    print(json.dumps({**cost, **rss}))


if __name__ == "__main__":
    main()
