"""The memory guard: refuse a heap snapshot that would push the target past its memory limit.

Why: V8 builds the whole snapshot in native memory before the first byte is
sent, and that costs far more than the heap it describes: about 230-370 bytes
per heap object, and 1.4 KB per object held in a big ``Map``.  Measured by
``bench/snapshot_overhead.py`` on Node 20 and 22 (``docs/captures.md``) across
heap sizes (30 MB to 1 GB) and shapes: small objects 5.7-8.7x the used heap,
strings up to 10.2x, Buffers 3.5-4.7x, a heap of a few large arrays 0.1-1x, and
a Map of small objects 9.6x to 15.0x (Node 22 packs such a heap tighter, so the
same objects cost more per heap byte), plus about 120 MB whatever the heap.  The
guard cannot count objects without a snapshot, so it assumes the costly case:
``OVERHEAD_FIXED`` plus ``OVERHEAD_FACTOR`` times the used heap, which covers
every case measured with at least 12% to spare.

V8's own heap limit is reported but does not bound this: the snapshot is built
outside the JavaScript heap (a process with a 138 MB heap limit reached 845 MB
RSS while writing one).  What kills the target is the container's memory
limit (cgroup v2 or v1, as the target itself sees it), ``process.constrainedMemory()``,
its own address-space or data limit (``ulimit -v``/``-d``: malloc fails and V8
aborts with ``std::bad_alloc``), or the host running out: :mod:`cdpclient.memory`
reads them (the same probe as ``cdpclient info``).

The memory a snapshot took stays in the process (malloc keeps it) and is
reused by the next one, so a later snapshot in the same session is charged
only for what exceeds the memory the earlier one left behind.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cdpclient.captures.state import CaptureTarget
from cdpclient.errors import SnapshotRefused
from cdpclient.memory import read_memory

__all__ = ["OVERHEAD_FACTOR", "OVERHEAD_FIXED", "MemoryBudget", "read_budget", "check_snapshot_budget", "note_snapshot"]

OVERHEAD_FACTOR = 16.5
"""Expected extra target memory for a snapshot per byte of used heap (the worst measured: 15.0, a Map on Node 22)."""

OVERHEAD_FIXED = 150 * 1024 * 1024
"""Expected extra target memory for a snapshot whatever the heap's size (measured: about 120 MB)."""

SLACK = 64 * 1024 * 1024
"""Memory kept free on top of the estimate: the process keeps allocating while V8 works."""


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
    memory_limit: int | None = None
    """The tightest limit on the process's memory (cgroup, constrainedMemory), as ``cdpclient info`` shows it."""

    @property
    def fits(self) -> bool:
        return self.headroom is None or self.expected_extra + SLACK <= self.headroom

    @property
    def tightest(self) -> dict[str, Any] | None:
        return min(self.limits, key=lambda lim: lim["headroom"]) if self.limits else None

    def to_dict(self) -> dict[str, Any]:
        return {"heap_used": self.heap_used, "rss": self.rss, "heap_limit": self.heap_limit,
                "limits": self.limits, "headroom": self.headroom, "expected_extra": self.expected_extra,
                "overhead_factor": self.overhead_factor, "reusable": self.reusable,
                "memory_limit": self.memory_limit, "fits": self.fits}

    def explain(self) -> str:
        """One line: what a snapshot needs, what is left, and under which limit."""
        need = (f"a heap snapshot needs about {_mb(self.expected_extra)} more memory in the target "
                f"(~{self.overhead_factor:g}x the {_mb(self.heap_used)} heap in use, plus {_mb(OVERHEAD_FIXED)}")
        need += f", less {_mb(self.reusable)} kept from an earlier snapshot)" if self.reusable else ")"
        lim = self.tightest
        if lim is None:
            return need + "; no memory limit is known"
        return (f"{need}, but only {_mb(max(lim['headroom'], 0))} is left under the {lim['source']} "
                f"of {_mb(lim['limit'])} ({_mb(lim['used'])} in use)")


def _mb(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


async def read_budget(target: CaptureTarget, *, overhead_factor: float = OVERHEAD_FACTOR) -> MemoryBudget:
    """Ask the target for its heap, RSS and memory limits; estimate a snapshot's cost."""
    memory = await read_memory(target)
    heap_used, rss = memory.heap_used, memory.rss
    limits: list[dict[str, Any]] = []
    cgroup = memory.cgroup
    if cgroup:
        used = cgroup.working_set if cgroup.working_set is not None else rss
        limits.append({"source": f"cgroup v{cgroup.version} memory limit", "limit": cgroup.limit,
                       "used": used, "headroom": cgroup.limit - used})
    constrained = memory.constrained
    if constrained and not (cgroup and constrained == cgroup.limit):
        limits.append({"source": "process.constrainedMemory() limit", "limit": constrained, "used": rss,
                       "headroom": constrained - rss})
    for rlimit in memory.rlimits:
        limits.append({"source": rlimit.source, "limit": rlimit.limit, "used": rlimit.used,
                       "headroom": rlimit.limit - rlimit.used})
    if memory.host_available:
        total = memory.host_total or 0
        limits.append({"source": "host's available memory", "limit": total, "used": total - memory.host_available,
                       "headroom": memory.host_available})
    reusable = target.capture_state.snapshot_retained
    raw_extra = OVERHEAD_FIXED + int(heap_used * overhead_factor)
    return MemoryBudget(
        heap_used=heap_used, rss=rss, heap_limit=memory.heap_limit,
        limits=limits, headroom=min(lim["headroom"] for lim in limits) if limits else None,
        expected_extra=max(0, raw_extra - reusable), overhead_factor=overhead_factor,
        reusable=min(reusable, raw_extra), memory_limit=memory.memory_limit)


async def check_snapshot_budget(target: CaptureTarget, *, force: bool = False,
                                overhead_factor: float = OVERHEAD_FACTOR) -> MemoryBudget:
    """Read the budget; raise :class:`SnapshotRefused` when a snapshot does not fit, unless ``force``."""
    budget = await read_budget(target, overhead_factor=overhead_factor)
    if not budget.fits and not force:
        raise SnapshotRefused(
            f"refusing the heap snapshot: {budget.explain()}; the target could run out of memory and die. "
            "Free memory or raise the limit first, or force it ({force})", budget=budget, options=("force",))
    return budget


def note_snapshot(target: CaptureTarget, rss_before: int, rss_after: int) -> None:
    """Remember how much memory a snapshot left in the process, for the next estimate."""
    kept = max(0, rss_after - rss_before)
    state = target.capture_state
    state.snapshot_retained = max(state.snapshot_retained, kept)
