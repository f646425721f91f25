"""The memory guard: refuse a heap snapshot that would push the target past its memory limit.

Why: V8 builds the whole snapshot in native memory before the first byte is
sent, and that costs far more than the heap it describes.  Measured on Node 20
(``docs/captures.md``): about 330-380 bytes per heap object, i.e. 7.8x to 9.7x
the used heap for heaps of small objects (53 MB of heap took RSS from 112 MB
to 559 MB; 300 MB took it from 380 MB to 3.05 GB), and as little as 0.3x for a
heap of a few large arrays.  The guard cannot count objects without a
snapshot, so it assumes the costly case: ``OVERHEAD_FACTOR`` times the used heap.

V8's own heap limit is reported but does not bound this: the snapshot is built
outside the JavaScript heap (a process with a 138 MB heap limit reached 845 MB
RSS while writing one).  What kills the target is the container's memory
limit (cgroup v2 or v1, as the target itself sees it), ``process.constrainedMemory()``,
or the host running out.

The memory a snapshot took stays in the process (malloc keeps it) and is
reused by the next one, so a later snapshot in the same session is charged
only for what exceeds the memory the earlier one left behind.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from cdpclient.errors import SnapshotRefused

if TYPE_CHECKING:
    from cdpclient.target import Target

__all__ = ["OVERHEAD_FACTOR", "MemoryBudget", "read_budget", "check_snapshot_budget", "note_snapshot"]

OVERHEAD_FACTOR = 10.0
"""Expected extra target memory for a snapshot, in multiples of the used heap (max measured 9.7x)."""

SLACK = 64 * 1024 * 1024
"""Memory kept free on top of the estimate: the process keeps allocating while V8 works."""

_NO_LIMIT = 2**60  # cgroup v1 says 2^63 rounded to a page, constrainedMemory() 2^64 when unlimited

# Evaluated in the target: it is the target's view of its cgroup that matters (its
# own namespace and mounts).  The cgroup path from /proc/self/cgroup is tried
# first, then every ancestor up to the mount root (a container without a cgroup
# namespace has its own cgroup mounted at the root), and the tightest limit wins.
_PROBE_JS = r"""
(() => {
  // A require() can land while the target is itself half-way through loading a module
  // (the inspector runs us at an interrupt): then a module may come back incomplete.
  // Each one is optional here, and the limits come from /proc and /sys where possible.
  const load = (name) => { try { return require(name); } catch (e) { return null; } };
  const fs = load('fs'), os = load('os'), v8 = load('v8');
  const read = (f) => { try { return fs.readFileSync(f, 'utf8').trim(); } catch (e) { return null; } };
  const num = (s) => (s === null || s === '' || s === 'max') ? null : Number(s);
  const statField = (text, key) => {
    if (!text) return 0;
    const m = text.match(new RegExp('^' + key + ' (\\d+)$', 'm'));
    return m ? Number(m[1]) : 0;
  };
  const meminfo = (key) => {
    const m = (read('/proc/meminfo') || '').match(new RegExp('^' + key + ':\\s+(\\d+) kB$', 'm'));
    return m ? Number(m[1]) * 1024 : null;
  };
  const call = (f) => { try { return f(); } catch (e) { return null; } };
  const mu = process.memoryUsage();
  const out = {
    heap_used: mu.heapUsed, heap_total: mu.heapTotal, rss: mu.rss,
    heap_limit: call(() => v8.getHeapStatistics().heap_size_limit),
    constrained: null, cgroup: null,
    host_available: meminfo('MemAvailable') ?? call(() => os.freemem()),
    host_total: meminfo('MemTotal') ?? call(() => os.totalmem()),
  };
  try { if (typeof process.constrainedMemory === 'function') out.constrained = process.constrainedMemory(); } catch (e) {}
  const lines = (read('/proc/self/cgroup') || '').split('\n').filter(Boolean);
  const candidates = [];
  for (const line of lines) {
    const [, controllers, path] = line.split(':');
    if (controllers === '' ) candidates.push({ version: 2, base: '/sys/fs/cgroup', path, limit: 'memory.max',
      usage: 'memory.current', stat: 'memory.stat', inactive: 'inactive_file' });
    else if (controllers.split(',').includes('memory')) candidates.push({ version: 1, base: '/sys/fs/cgroup/memory',
      path, limit: 'memory.limit_in_bytes', usage: 'memory.usage_in_bytes', stat: 'memory.stat', inactive: 'total_inactive_file' });
  }
  for (const c of candidates) {
    let best = null;
    let parts = (c.path || '/').split('/').filter(Boolean);
    for (;;) {
      const dir = [c.base, ...parts].join('/');
      const limit = num(read(dir + '/' + c.limit));
      if (limit !== null && limit < 2 ** 60 && (best === null || limit < best.limit)) {
        const usage = num(read(dir + '/' + c.usage));
        const inactive = statField(read(dir + '/' + c.stat), c.inactive);
        best = { version: c.version, dir, limit, usage, working_set: usage === null ? null : Math.max(0, usage - inactive) };
      }
      if (!parts.length) break;
      parts = parts.slice(0, -1);
    }
    if (best && (out.cgroup === null || best.limit < out.cgroup.limit)) out.cgroup = best;
  }
  return out;
})()
"""


@dataclasses.dataclass
class MemoryBudget:
    """The target's memory as the guard sees it, and whether a snapshot fits.

    ``limits`` lists each known bound as ``{"source", "limit", "used", "headroom"}``;
    ``headroom`` is the smallest of them.  ``expected_extra`` is what a
    snapshot is expected to add, ``fits`` whether it fits with ``SLACK`` to spare.
    """

    heap_used: int
    rss: int
    heap_limit: int | None
    limits: list[dict[str, Any]]
    headroom: int | None
    expected_extra: int
    overhead_factor: float
    reusable: int = 0

    @property
    def fits(self) -> bool:
        return self.headroom is None or self.expected_extra + SLACK <= self.headroom

    @property
    def tightest(self) -> dict[str, Any] | None:
        return min(self.limits, key=lambda lim: lim["headroom"]) if self.limits else None

    def to_dict(self) -> dict[str, Any]:
        return {"heap_used": self.heap_used, "rss": self.rss, "heap_limit": self.heap_limit,
                "limits": self.limits, "headroom": self.headroom, "expected_extra": self.expected_extra,
                "overhead_factor": self.overhead_factor, "reusable": self.reusable, "fits": self.fits}

    def explain(self) -> str:
        """One line: what a snapshot needs, what is left, and under which limit."""
        need = (f"a heap snapshot needs about {_mb(self.expected_extra)} more memory in the target "
                f"(~{self.overhead_factor:g}x the {_mb(self.heap_used)} heap in use")
        need += f", less {_mb(self.reusable)} kept from an earlier snapshot)" if self.reusable else ")"
        lim = self.tightest
        if lim is None:
            return need + "; no memory limit is known"
        return (f"{need}, but only {_mb(max(lim['headroom'], 0))} is left under the {lim['source']} "
                f"of {_mb(lim['limit'])} ({_mb(lim['used'])} in use)")


def _mb(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


async def read_budget(target: Target, *, overhead_factor: float = OVERHEAD_FACTOR) -> MemoryBudget:
    """Ask the target for its heap, RSS and memory limits; estimate a snapshot's cost."""
    data = await target.evaluate(_PROBE_JS, timeout=15)
    heap_used, rss = int(data["heap_used"]), int(data["rss"])
    limits: list[dict[str, Any]] = []
    cgroup = data.get("cgroup")
    if cgroup:
        used = cgroup.get("working_set")
        used = int(used) if used is not None else rss
        limits.append({"source": f"cgroup v{cgroup['version']} memory limit", "limit": int(cgroup["limit"]),
                       "used": used, "headroom": int(cgroup["limit"]) - used})
    constrained = data.get("constrained")
    if constrained and constrained < _NO_LIMIT and not (cgroup and int(constrained) == int(cgroup["limit"])):
        limits.append({"source": "process.constrainedMemory() limit", "limit": int(constrained), "used": rss,
                       "headroom": int(constrained) - rss})
    if data.get("host_available"):
        total = int(data.get("host_total") or 0)
        available = int(data["host_available"])
        limits.append({"source": "host's available memory", "limit": total, "used": total - available,
                       "headroom": available})
    reusable = int(getattr(target, "_capture_snapshot_retained", 0) or 0)
    raw_extra = int(heap_used * overhead_factor)
    return MemoryBudget(
        heap_used=heap_used, rss=rss, heap_limit=int(data["heap_limit"]) if data.get("heap_limit") else None,
        limits=limits, headroom=min(lim["headroom"] for lim in limits) if limits else None,
        expected_extra=max(0, raw_extra - reusable), overhead_factor=overhead_factor,
        reusable=min(reusable, raw_extra))


async def check_snapshot_budget(target: Target, *, force: bool = False,
                                overhead_factor: float = OVERHEAD_FACTOR) -> MemoryBudget:
    """Read the budget; raise :class:`SnapshotRefused` when a snapshot does not fit, unless ``force``."""
    budget = await read_budget(target, overhead_factor=overhead_factor)
    if not budget.fits and not force:
        raise SnapshotRefused(
            f"refusing the heap snapshot: {budget.explain()}; the target could run out of memory and die. "
            "Free memory or raise the limit first, or force it ({force})", budget=budget, options=("force",))
    return budget


def note_snapshot(target: Target, rss_before: int, rss_after: int) -> None:
    """Remember how much memory a snapshot left in the process, for the next estimate."""
    kept = max(0, rss_after - rss_before)
    previous = int(getattr(target, "_capture_snapshot_retained", 0) or 0)
    target._capture_snapshot_retained = max(previous, kept)  # type: ignore[attr-defined]
