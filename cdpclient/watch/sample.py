"""One watch sample: a single ``Runtime.evaluate`` round trip that reads what explains a memory or fd incident.

The figures (see ``WATCH.md``'s sample record; every size in bytes):
``heap_used`` / ``heap_total`` / ``heap_limit`` (``v8.getHeapStatistics()``),
``external``, ``array_buffers``, ``rss`` (``process.memoryUsage()``),
``cgroup_current`` / ``cgroup_limit`` (the cgroup the process sees, found once
by :func:`cdpclient.memory.read_memory`, the probe ``info`` and the snapshot
guard use), ``memory_limit`` (the tightest of the cgroup limit and
``process.constrainedMemory()``), ``fds`` against ``fd_limit`` (the soft limit
of ``/proc/self/limits``), ``handles`` (``process.getActiveResourcesInfo()``),
``loop_delay_ms`` (p99 of a ``perf_hooks.monitorEventLoopDelay`` histogram since
the previous sample) and ``cost_ms`` (the round trip, measured here).

The histogram is the one thing the watch installs in the target: it lives on
``globalThis[Symbol.for("cdpclient.watch.<key>")]`` with what the sample needs
between round trips.  :meth:`Sampler.remove` takes it away; the caller calls it
on every way out (:func:`sampling` does).  Should the watcher die without
removing it (SIGKILL), an unref'd timer in the target removes it once no
sample came for ``orphan_after`` seconds, so nothing stays behind either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from cdpclient.errors import CDPClientError, ProtocolError
from cdpclient.memory import Evaluates, read_memory

__all__ = ["SAMPLE_KEYS", "Sampler", "sampling", "symbol_name"]

SAMPLE_KEYS = ("heap_used", "heap_total", "heap_limit", "external", "array_buffers", "rss", "cgroup_current",
               "cgroup_limit", "memory_limit", "fds", "fd_limit", "handles", "loop_delay_ms", "cost_ms")
"""The figures of a sample record (besides ``t``, ``ts`` and ``pod``), in the order of ``WATCH.md``."""

# Installed once per session (again after a restart).  The histogram resolution of 10 ms
# keeps its own timer cheap; its p99 still separates a healthy loop from a blocked one.
# `require` is reachable only with includeCommandLineAPI; the modules are kept in the state,
# so a sample needs no require.
_INSTALL_JS = r"""
((key, cg, orphanMs) => {
  const sym = Symbol.for(key);
  const old = globalThis[sym];
  if (old) { try { old.h.disable(); clearTimeout(old.timer); } catch (e) {} }
  const { monitorEventLoopDelay } = require('perf_hooks');
  const state = { h: monitorEventLoopDelay({ resolution: 10 }), fs: require('fs'), v8: require('v8'),
                  cg, orphanMs, timer: null };
  state.h.enable();
  state.remove = () => {
    try { state.h.disable(); } catch (e) {}
    clearTimeout(state.timer);
    if (globalThis[sym] === state) delete globalThis[sym];
  };
  state.timer = setTimeout(state.remove, orphanMs);
  state.timer.unref();
  Object.defineProperty(globalThis, sym, { value: state, configurable: true, enumerable: false, writable: true });
  return true;
})(%s, %s, %d)
"""

_SAMPLE_JS = r"""
((key) => {
  const s = globalThis[Symbol.for(key)];
  if (!s) return null;
  s.timer.refresh();
  const read = (f) => { try { return s.fs.readFileSync(f, 'utf8').trim(); } catch (e) { return null; } };
  const num = (t) => (t === null || t === '' || t === 'max') ? null : Number(t);
  const hs = s.v8.getHeapStatistics(), mu = process.memoryUsage();
  let fds = null, fdLimit = null, handles = null, constrained = null, cgCurrent = null, cgLimit = null;
  // readdirSync opens the directory itself: one descriptor of the listing is its own.
  try { fds = s.fs.readdirSync('/proc/self/fd').length - 1; } catch (e) {}
  const limits = read('/proc/self/limits');
  const m = limits && limits.match(/^Max open files\s+(\d+|unlimited)/m);
  if (m && m[1] !== 'unlimited') fdLimit = Number(m[1]);
  try { handles = process.getActiveResourcesInfo().length; } catch (e) {}
  try { if (typeof process.constrainedMemory === 'function') constrained = process.constrainedMemory(); } catch (e) {}
  if (s.cg) { cgCurrent = num(read(s.cg.dir + '/' + s.cg.usage)); cgLimit = num(read(s.cg.dir + '/' + s.cg.limit)); }
  const h = s.h;
  const delay = h.count > 0 ? h.percentile(99) / 1e6 : null;
  h.reset();
  return { heap_used: hs.used_heap_size, heap_total: hs.total_heap_size, heap_limit: hs.heap_size_limit,
           external: mu.external, array_buffers: mu.arrayBuffers || 0, rss: mu.rss,
           cgroup_current: cgCurrent, cgroup_limit: cgLimit, constrained, fds, fd_limit: fdLimit, handles,
           loop_delay_ms: delay, pid: process.pid };
})(%s)
"""

_REMOVE_JS = r"""
((key) => { const s = globalThis[Symbol.for(key)]; if (!s) return false; s.remove(); return true; })(%s)
"""

_PRESENT_JS = "(Symbol.for(%s) in globalThis)"

UNLIMITED = 2**60
_INSTALL_ATTEMPTS = 6  # 50 ms .. 1.6 s apart


def symbol_name(key: str) -> str:
    """The ``Symbol.for`` name under which the watch keeps its histogram in the target."""
    return f"cdpclient.watch.{key}"


def _limit(value: Any) -> int | None:
    return int(value) if value and value < UNLIMITED else None


class Sampler:
    """Samples one target session; :meth:`install` first, :meth:`remove` on the way out.

    ``key`` names the installed state (default: a fresh one); a sampler for a
    reconnected session of the same watch may reuse it.  A sample on a target
    that lost the state (it restarted) installs it again and samples anew.
    """

    def __init__(self, target: Evaluates, *, key: str | None = None, orphan_after: float = 600.0) -> None:
        self.target = target
        self.key = key or uuid.uuid4().hex[:12]
        self.orphan_after = orphan_after
        self.pid: int | None = None
        self._installed = False

    @property
    def symbol(self) -> str:
        return symbol_name(self.key)

    async def install(self) -> None:
        """Find the cgroup (the memory probe), install the histogram; idempotent per session."""
        memory = await read_memory(self.target)
        cg: dict[str, str] | None = None
        if memory.cgroup is not None:
            v2 = memory.cgroup.version == 2
            cg = {"dir": memory.cgroup.dir, "usage": "memory.current" if v2 else "memory.usage_in_bytes",
                  "limit": "memory.max" if v2 else "memory.limit_in_bytes"}
        script = _INSTALL_JS % (json.dumps(self.symbol), json.dumps(cg), int(self.orphan_after * 1000))
        # The inspector runs us at an interrupt: should the target be half-way through loading a
        # module itself, `require('perf_hooks')` can throw ("Class extends value undefined").  The
        # target finishes its own load once we return, so a later attempt succeeds.
        for attempt in range(_INSTALL_ATTEMPTS):
            try:
                await self.target.evaluate(script)
                break
            except ProtocolError:
                if attempt == _INSTALL_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.05 * 2**attempt)
        self._installed = True

    async def sample(self, *, timeout: float | None = None) -> dict[str, Any]:
        """One sample: the dict of a sample record (without ``t`` and ``pod``); ``timeout`` bounds the round trip."""
        if not self._installed:
            await self.install()
        raw, ts, cost = await self._round_trip(timeout)
        if raw is None:  # the state is gone: the target restarted, or the orphan timer removed it
            await self.install()
            raw, ts, cost = await self._round_trip(timeout)
            if raw is None:
                raise CDPClientError("the watch's sampling state vanished from the target right after install")
        self.pid = int(raw["pid"])
        return _to_sample(raw, ts=ts, cost_ms=cost)

    async def _round_trip(self, timeout: float | None) -> tuple[dict[str, Any] | None, float, float]:
        """The sample's evaluate: (raw figures or None, unix time, round trip in ms)."""
        started, ts = time.monotonic(), time.time()
        script = _SAMPLE_JS % json.dumps(self.symbol)
        raw = await (self.target.evaluate(script) if timeout is None else self.target.evaluate(script, timeout=timeout))
        return raw, ts, (time.monotonic() - started) * 1000

    async def remove(self, *, timeout: float = 5.0) -> bool:
        """Remove what :meth:`install` put in the target; True if it was there.

        Best effort: a lost session raises nothing (a dead target has nothing
        left; a live one drops the state itself after ``orphan_after``).
        """
        self._installed = False
        try:
            return bool(await self.target.evaluate(_REMOVE_JS % json.dumps(self.symbol), timeout=timeout))
        except (TimeoutError, CDPClientError, OSError):
            return False

    async def present(self) -> bool:
        """Whether the watch's state is installed in the target (for tests and checks)."""
        return bool(await self.target.evaluate(_PRESENT_JS % json.dumps(self.symbol)))


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _to_sample(raw: dict[str, Any], *, ts: float, cost_ms: float) -> dict[str, Any]:
    cgroup_limit = _limit(raw.get("cgroup_limit"))
    limits = [v for v in (cgroup_limit, _limit(raw.get("constrained"))) if v]
    delay = raw.get("loop_delay_ms")
    return {
        "ts": ts,
        "heap_used": int(raw["heap_used"]), "heap_total": int(raw["heap_total"]),
        "heap_limit": int(raw["heap_limit"]), "external": int(raw["external"]),
        "array_buffers": int(raw["array_buffers"]), "rss": int(raw["rss"]),
        "cgroup_current": _int(raw.get("cgroup_current")), "cgroup_limit": cgroup_limit,
        "memory_limit": min(limits) if limits else None,
        "fds": _int(raw.get("fds")), "fd_limit": _int(raw.get("fd_limit")), "handles": _int(raw.get("handles")),
        "loop_delay_ms": round(float(delay), 3) if delay is not None else None,
        "cost_ms": round(cost_ms, 3),
    }


@contextlib.asynccontextmanager
async def sampling(target: Evaluates, *, key: str | None = None,
                   orphan_after: float = 600.0) -> AsyncIterator[Sampler]:
    """A :class:`Sampler` installed in ``target``, removed on every way out (error, cancellation)."""
    sampler = Sampler(target, key=key, orphan_after=orphan_after)
    await sampler.install()
    try:
        yield sampler
    finally:
        # Shielded: a cancelled watch still takes its histogram out of the target.
        await asyncio.shield(sampler.remove())
