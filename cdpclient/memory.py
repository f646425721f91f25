"""A Node process's memory and the limits it runs under, as the process itself sees them.

One probe, read by :meth:`cdpclient.Target.process_info` (``cdpclient info``)
and by the heap snapshot guard (:mod:`cdpclient.captures.guard`), so the two
always name the same limit.

The limits that can kill a target are its container's memory limit (cgroup v2
or v1, in the target's own namespace and mounts), ``process.constrainedMemory()``,
its own address-space and data limits (``ulimit -v``/``-d``, ``prlimit``: past
them malloc fails and V8 aborts) and the host's available memory; V8's heap
limit is reported beside them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

__all__ = ["UNLIMITED", "CgroupMemory", "MemoryReading", "ProcessLimit", "read_memory", "parse_reading"]

UNLIMITED = 2**60
"""A limit at or above this means none: cgroup v1 says 2^63 rounded to a page, constrainedMemory() 2^64."""

# Evaluated in the target: it is the target's view of its cgroup that matters (its
# own namespace and mounts).  The cgroup path from /proc/self/cgroup is tried
# first, then every ancestor up to the mount root (a container without a cgroup
# namespace has its own cgroup mounted at the root), and the tightest limit wins.
# `require` is reachable only with includeCommandLineAPI.
PROBE_JS = r"""
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
  try {
    if (typeof process.constrainedMemory === 'function') out.constrained = process.constrainedMemory();
  } catch (e) {}
  // ulimit -v / -d (prlimit --as / --data): malloc fails past them and V8 aborts with std::bad_alloc.
  const limits = read('/proc/self/limits') || '', status = read('/proc/self/status') || '';
  const softLimit = (label) => {
    const m = limits.match(new RegExp('^' + label + '\\s+(\\d+|unlimited)', 'm'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  };
  const statusKb = (key) => {
    const m = status.match(new RegExp('^' + key + ':\\s+(\\d+) kB$', 'm'));
    return m ? Number(m[1]) * 1024 : null;
  };
  out.rlimits = [
    { name: 'address space', limit: softLimit('Max address space'), used: statusKb('VmSize') },
    { name: 'data', limit: softLimit('Max data size'), used: statusKb('VmData') },
  ].filter((r) => r.limit !== null && r.used !== null);
  const lines = (read('/proc/self/cgroup') || '').split('\n').filter(Boolean);
  const candidates = [];
  for (const line of lines) {
    const [, controllers, path] = line.split(':');
    if (controllers === '') candidates.push({ version: 2, base: '/sys/fs/cgroup', path, limit: 'memory.max',
      usage: 'memory.current', stat: 'memory.stat', inactive: 'inactive_file' });
    else if (controllers.split(',').includes('memory')) candidates.push({ version: 1,
      base: '/sys/fs/cgroup/memory', path, limit: 'memory.limit_in_bytes', usage: 'memory.usage_in_bytes',
      stat: 'memory.stat', inactive: 'total_inactive_file' });
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
        best = { version: c.version, dir, limit, usage,
                 working_set: usage === null ? null : Math.max(0, usage - inactive) };
      }
      if (!parts.length) break;
      parts = parts.slice(0, -1);
    }
    if (best && (out.cgroup === null || best.limit < out.cgroup.limit)) out.cgroup = best;
  }
  return out;
})()
"""


class Evaluates(Protocol):
    """What the probe needs of a target: JavaScript evaluation by value."""

    async def evaluate(self, expression: str, *, await_promise: bool = False, timeout: float | None = ...,
                       include_command_line_api: bool = True) -> Any: ...


@dataclasses.dataclass
class CgroupMemory:
    """The tightest cgroup memory limit of the process, and the cgroup's use (bytes)."""

    version: int
    dir: str
    limit: int
    usage: int | None
    working_set: int | None
    """Usage less inactive file cache: what the kernel cannot reclaim before killing the process."""


@dataclasses.dataclass
class ProcessLimit:
    """A soft resource limit on the process's memory: ``name`` ("address space", "data"), bytes."""

    name: str
    limit: int
    used: int
    """What the limit counts now: ``VmSize`` for the address space, ``VmData`` for data."""

    @property
    def source(self) -> str:
        flag = {"address space": "ulimit -v", "data": "ulimit -d"}.get(self.name, "ulimit")
        return f"{self.name} limit ({flag})"


@dataclasses.dataclass
class MemoryReading:
    """One reading of the target's memory (bytes); a limit that is not known or not set is None."""

    heap_used: int
    heap_total: int
    rss: int
    heap_limit: int | None
    """V8's heap limit (``--max-old-space-size``); a heap snapshot is built outside it."""
    constrained: int | None
    """``process.constrainedMemory()``."""
    cgroup: CgroupMemory | None
    host_available: int | None
    host_total: int | None
    rlimits: list[ProcessLimit] = dataclasses.field(default_factory=list)
    """The process's own soft limits on its memory (``ulimit -v``, ``ulimit -d``) that are set."""

    @property
    def memory_limit(self) -> int | None:
        """The tightest known limit on the process's memory (cgroup, constrainedMemory), or None."""
        limits = [v for v in (self.constrained, self.cgroup.limit if self.cgroup else None) if v]
        return min(limits) if limits else None


def _limit(value: Any) -> int | None:
    return int(value) if value and value < UNLIMITED else None


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def parse_reading(data: dict[str, Any]) -> MemoryReading:
    """A :class:`MemoryReading` from what :data:`PROBE_JS` returned."""
    cgroup = data.get("cgroup")
    return MemoryReading(
        heap_used=int(data["heap_used"]), heap_total=int(data["heap_total"]), rss=int(data["rss"]),
        heap_limit=int(data["heap_limit"]) if data.get("heap_limit") else None,
        constrained=_limit(data.get("constrained")),
        cgroup=CgroupMemory(version=int(cgroup["version"]), dir=str(cgroup["dir"]), limit=int(cgroup["limit"]),
                            usage=_int(cgroup.get("usage")), working_set=_int(cgroup.get("working_set")))
        if cgroup else None,
        host_available=int(data["host_available"]) if data.get("host_available") else None,
        host_total=int(data["host_total"]) if data.get("host_total") else None,
        rlimits=[ProcessLimit(name=str(r["name"]), limit=int(r["limit"]), used=int(r["used"]))
                 for r in data.get("rlimits") or () if r.get("limit") is not None and r["limit"] < UNLIMITED])


async def read_memory(target: Evaluates, *, timeout: float = 15.0) -> MemoryReading:
    """Ask the target for its heap, RSS and memory limits."""
    return parse_reading(await target.evaluate(PROBE_JS, timeout=timeout))
