"""Node diagnostic reports (``process.report.getReport()``) and the summary an on-call engineer reads first."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

from cdpclient import hostport
from cdpclient.captures._output import write_whole
from cdpclient.captures._session import process_identity, utc_now
from cdpclient.captures.result import CaptureResult
from cdpclient.captures.state import CaptureTarget
from cdpclient.errors import CaptureError

__all__ = ["take_diagnostic_report", "ReportSummary", "summarize_report"]

# Reverse DNS of every socket's peer runs on the target's main thread and can stall
# it for seconds per unreachable resolver: excludeNetwork (Node 20.13+/22) skips
# it (hosts become IP addresses) and drops the network interface list.  The old
# setting is restored.
_REPORT_JS = r"""
(() => {
  if (!process.report || typeof process.report.getReport !== 'function')
    throw new Error('process.report is not available in this Node version');
  const had = 'excludeNetwork' in process.report;
  const old = had ? process.report.excludeNetwork : undefined;
  try {
    if (had) process.report.excludeNetwork = true;
    const r = process.report.getReport();
    return typeof r === 'string' ? r : JSON.stringify(r);
  } finally {
    if (had) process.report.excludeNetwork = old;
  }
})()
"""

_CROWDED_ENDPOINT = 20  # this many sockets to one peer is worth a line of its own
_LOW_OPEN_FILES = 4096


@dataclasses.dataclass
class ReportSummary:
    """What stands out in a diagnostic report.

    ``sockets`` maps a remote ``ip:port`` (or ``listening ip:port``) to the
    number of sockets, per protocol: ``[{"protocol", "endpoint", "count"}]``
    sorted by count.  ``highlights`` are the sentences to print first.
    """

    pid: int | None
    node_version: str | None
    heap_used: int | None
    heap_total: int | None
    heap_limit: int | None
    rss: int | None
    constrained_memory: int | None
    open_files_soft: int | str | None
    open_files_hard: int | str | None
    handles: dict[str, int]
    active_handles: int
    sockets: list[dict[str, Any]]
    highlights: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _endpoint(ep: dict[str, Any] | None) -> str | None:
    if not ep:
        return None
    host = ep.get("ip4") or ep.get("ip6") or ep.get("host") or "?"
    return hostport.join(str(host), str(ep.get("port")))


def _limit(value: Any) -> int | str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else int(value)


def summarize_report(report: dict[str, Any]) -> ReportSummary:
    """Heap and RSS, the open files limit, libuv handles by type, sockets by peer; and highlights."""
    header = report.get("header") or {}
    heap = report.get("javascriptHeap") or {}
    usage = report.get("resourceUsage") or {}
    limits = (report.get("userLimits") or {}).get("open_files") or {}
    handles: collections.Counter[str] = collections.Counter()
    peers: collections.Counter[tuple[str, str]] = collections.Counter()
    active = 0
    for handle in report.get("libuv") or ():
        kind = str(handle.get("type", "?"))
        if kind == "loop":
            continue
        handles[kind] += 1
        active += bool(handle.get("is_active"))
        if kind in ("tcp", "udp", "pipe"):
            remote = _endpoint(handle.get("remoteEndpoint"))
            local = _endpoint(handle.get("localEndpoint"))
            if remote:
                peers[(kind.upper(), remote)] += 1
            elif local and kind == "tcp":
                peers[(kind.upper(), f"listening {local}")] += 1
    sockets = [{"protocol": proto, "endpoint": ep, "count": n}
               for (proto, ep), n in sorted(peers.items(), key=lambda item: (-item[1], item[0]))]
    constrained = usage.get("constrained_memory")
    constrained = int(constrained) if constrained and float(constrained) < 2**60 else None
    rss = usage.get("rss")
    summary = ReportSummary(
        pid=header.get("processId"), node_version=header.get("nodejsVersion"),
        heap_used=heap.get("usedMemory"), heap_total=heap.get("totalMemory"), heap_limit=heap.get("memoryLimit"),
        rss=int(rss) if rss is not None else None, constrained_memory=constrained,
        open_files_soft=_limit(limits.get("soft")), open_files_hard=_limit(limits.get("hard")),
        handles=dict(handles.most_common()), active_handles=active, sockets=sockets, highlights=[])
    summary.highlights = _highlights(summary)
    return summary


def _highlights(s: ReportSummary) -> list[str]:
    out = []
    for sock in s.sockets:
        if sock["count"] >= _CROWDED_ENDPOINT and not sock["endpoint"].startswith("listening"):
            out.append(f"{sock['count']} {sock['protocol']} sockets to {sock['endpoint']}")
    soft = s.open_files_soft
    if isinstance(soft, int):
        total = sum(s.handles.values())
        if soft <= _LOW_OPEN_FILES or total >= soft * 0.8:
            out.append(f"open files limit {soft} (hard {s.open_files_hard}); {total} libuv handles open")
    if s.heap_used and s.heap_limit and s.heap_used >= 0.8 * s.heap_limit:
        out.append(f"heap at {s.heap_used / s.heap_limit:.0%} of V8's heap limit")
    if s.rss and s.constrained_memory and s.rss >= 0.8 * s.constrained_memory:
        out.append(f"RSS at {s.rss / s.constrained_memory:.0%} of the memory limit")
    return out


async def take_diagnostic_report(target: CaptureTarget, path: str | os.PathLike[str], *,
                                 compress: bool = False) -> CaptureResult:
    """Write the target's diagnostic report (JSON, 0600) to ``path`` and summarize it.

    ``result.meta["summary"]`` is :meth:`ReportSummary.to_dict`
    (``ReportSummary(**result.meta["summary"])`` gives the object back).
    The report holds the process's environment variables: treat the file as secret.
    """
    started, t0 = utc_now(), time.monotonic()
    pid, node_version = await process_identity(target)
    text = await target.evaluate(_REPORT_JS, timeout=60)
    if not isinstance(text, str):
        raise CaptureError("process.report.getReport() returned nothing")
    try:
        summary = summarize_report(json.loads(text))
    except (ValueError, TypeError, AttributeError) as exc:
        raise CaptureError(f"the diagnostic report is not valid JSON: {exc}") from exc
    size = write_whole(path, text, compress=compress)
    return CaptureResult(
        kind="report", path=Path(path), size=size, duration_s=time.monotonic() - t0, started=started,
        session=target.session_id, pid=pid, node_version=node_version,
        meta={"summary": summary.to_dict(), "compressed": compress})
