"""Node diagnostic reports (``process.report.getReport()``) and the summary an on-call engineer reads first."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cdpclient import hostport
from cdpclient.captures._output import write_whole
from cdpclient.captures._session import process_identity, utc_now
from cdpclient.captures.result import CaptureResult
from cdpclient.captures.state import CaptureTarget
from cdpclient.errors import CaptureError

__all__ = ["take_diagnostic_report", "ReportSummary", "summarize_report", "FD_KINDS", "fd_kinds_text"]

# Reverse DNS of every socket's peer runs on the target's main thread and can stall
# it for seconds per unreachable resolver: excludeNetwork (Node 20.13+/22) skips
# it (hosts become IP addresses) and drops the network interface list.  The old
# setting is restored.
#
# The open descriptors are counted here, in the target, from /proc/self/fd: that
# works inside a pod whose /proc we cannot read from outside.  Each entry's link
# says what it is (socket:[inode], pipe:[inode], anon_inode:[eventpoll], a path).
# readdirSync opens the directory itself; that entry is closed once the listing
# returns, so its readlink fails and it is not counted.  Past _FD_READLINK_MAX
# entries only the count is taken (a readlink each would hold the loop).  `fs`
# comes from getBuiltinModule (Node 20.16+/22.3+), else the command line API's
# require, else the main module's; no /proc/self/fd (macOS) gives null, never an
# exception: the report is what was asked for.
_FD_READLINK_MAX = 100_000
_REPORT_JS = r"""
(() => {
  if (!process.report || typeof process.report.getReport !== 'function')
    throw new Error('process.report is not available in this Node version');
  const openFds = () => {
    try {
      const fs = (typeof process.getBuiltinModule === 'function' && process.getBuiltinModule('fs'))
        || (typeof require === 'function' && require('fs'))
        || (process.mainModule && process.mainModule.require('fs'));
      if (!fs) return null;
      const names = fs.readdirSync('/proc/self/fd');
      if (names.length > READLINK_MAX) return { count: names.length - 1, kinds: { unclassified: names.length - 1 } };
      const kinds = {};
      let count = 0;
      for (const name of names) {
        let link;
        try { link = fs.readlinkSync('/proc/self/fd/' + name); } catch (e) { continue; }
        count += 1;
        const kind = link.startsWith('socket:') ? 'sockets' : link.startsWith('pipe:') ? 'pipes'
          : link.startsWith('anon_inode:') ? 'anon_inodes' : link.startsWith('/dev/') ? 'devices'
          : link.startsWith('/') ? 'files' : 'other';
        kinds[kind] = (kinds[kind] || 0) + 1;
      }
      return { count, kinds };
    } catch (e) {
      return null;
    }
  };
  const fds = openFds();
  const had = 'excludeNetwork' in process.report;
  const old = had ? process.report.excludeNetwork : undefined;
  try {
    if (had) process.report.excludeNetwork = true;
    const r = process.report.getReport();
    return { report: typeof r === 'string' ? r : JSON.stringify(r), fds };
  } finally {
    if (had) process.report.excludeNetwork = old;
  }
})()
""".replace("READLINK_MAX", str(_FD_READLINK_MAX))

FD_KINDS = ("sockets", "files", "devices", "pipes", "anon_inodes", "other", "unclassified")
"""The kinds of ``ReportSummary.fds_by_kind``: ``files`` are paths (regular files, directories,
``memfd:``/deleted ones), ``devices`` paths under ``/dev/`` (``/dev/null``, ttys, ``/dev/urandom``),
``anon_inodes`` eventfd/epoll/timerfd/io_uring/inotify, ``unclassified`` the count alone (past 100k)."""

_CROWDED_ENDPOINT = 20  # this many sockets to one peer is worth a line of its own
_LOW_OPEN_FILES = 4096
_FDS_NEAR_LIMIT = 0.8


@dataclasses.dataclass
class ReportSummary:
    """What stands out in a diagnostic report.

    ``sockets`` maps a remote ``ip:port`` (or ``listening ip:port``) to the
    number of sockets, per protocol: ``[{"protocol", "endpoint", "count"}]``
    sorted by count.  ``highlights`` are the sentences to print first.

    ``open_fds`` is the number of open descriptors counted in the target from
    ``/proc/self/fd`` when the report was taken; ``None`` when it could not be
    (no ``/proc``: macOS; a report read from a file).  ``fds_by_kind`` splits it
    (keys from :data:`FD_KINDS`, largest first).  ``inbound`` groups the TCP
    connections accepted by a listening socket of the process by its local port
    (``[{"port", "count"}]``), ``outbound`` the other connected TCP sockets by
    peer (``[{"peer": "ip:port", "count"}]``), both from the report's libuv
    handles and sorted by count.
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
    open_fds: int | None = None
    fds_by_kind: dict[str, int] = dataclasses.field(default_factory=dict)
    inbound: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    outbound: list[dict[str, Any]] = dataclasses.field(default_factory=list)

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


def _by_count(counter: collections.Counter[Any]) -> list[tuple[Any, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], str(item[0])))


def _connections(libuv: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """TCP connections in (by the local port of a listening socket) and out (by peer)."""
    tcp = [h for h in libuv if h.get("type") == "tcp"]
    listening = {(h.get("localEndpoint") or {}).get("port") for h in tcp
                 if h.get("localEndpoint") and not h.get("remoteEndpoint")}
    listening.discard(None)
    inbound: collections.Counter[int] = collections.Counter()
    outbound: collections.Counter[str] = collections.Counter()
    for h in tcp:
        peer = _endpoint(h.get("remoteEndpoint"))
        if not peer:
            continue
        port = (h.get("localEndpoint") or {}).get("port")
        if port is not None and port in listening:
            inbound[int(port)] += 1
        else:
            outbound[peer] += 1
    return ([{"port": p, "count": n} for p, n in _by_count(inbound)],
            [{"peer": p, "count": n} for p, n in _by_count(outbound)])


def _fd_count(fds: Mapping[str, Any] | None) -> tuple[int | None, dict[str, int]]:
    if not isinstance(fds, Mapping) or not isinstance(fds.get("count"), int):
        return None, {}
    kinds = fds.get("kinds")
    if not isinstance(kinds, Mapping):
        kinds = {}
    by_kind = collections.Counter({str(k): int(n) for k, n in kinds.items() if n})
    return int(fds["count"]), dict(_by_count(by_kind))


def summarize_report(report: dict[str, Any], fds: Mapping[str, Any] | None = None) -> ReportSummary:
    """Heap and RSS, the open files limit and count, libuv handles by type, sockets by peer; and highlights.

    ``fds`` is what :data:`_REPORT_JS` counted in the target (``{"count", "kinds"}``);
    without it (a report read from a file) ``open_fds`` is ``None``.
    """
    header = report.get("header") or {}
    heap = report.get("javascriptHeap") or {}
    usage = report.get("resourceUsage") or {}
    limits = (report.get("userLimits") or {}).get("open_files") or {}
    libuv = [h for h in report.get("libuv") or () if isinstance(h, dict)]
    handles: collections.Counter[str] = collections.Counter()
    peers: collections.Counter[tuple[str, str]] = collections.Counter()
    active = 0
    for handle in libuv:
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
    inbound, outbound = _connections(libuv)
    open_fds, fds_by_kind = _fd_count(fds)
    constrained = usage.get("constrained_memory")
    constrained = int(constrained) if constrained and float(constrained) < 2**60 else None
    rss = usage.get("rss")
    summary = ReportSummary(
        pid=header.get("processId"), node_version=header.get("nodejsVersion"),
        heap_used=heap.get("usedMemory"), heap_total=heap.get("totalMemory"), heap_limit=heap.get("memoryLimit"),
        rss=int(rss) if rss is not None else None, constrained_memory=constrained,
        open_files_soft=_limit(limits.get("soft")), open_files_hard=_limit(limits.get("hard")),
        handles=dict(handles.most_common()), active_handles=active, sockets=sockets, highlights=[],
        open_fds=open_fds, fds_by_kind=fds_by_kind, inbound=inbound, outbound=outbound)
    summary.highlights = _highlights(summary)
    return summary


def fd_kinds_text(by_kind: Mapping[str, int]) -> str:
    """``412 sockets, 190 files, 5 pipes`` (largest first, as ``fds_by_kind`` keeps them)."""
    return ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in by_kind.items())


def _highlights(s: ReportSummary) -> list[str]:
    out = []
    soft, count = s.open_files_soft, s.open_fds
    near = False
    if isinstance(soft, int) and soft > 0 and count is not None and count >= soft * _FDS_NEAR_LIMIT:
        near = True
        kinds = fd_kinds_text(s.fds_by_kind)
        out.append(f"{count} of {soft} open files ({count / soft:.0%} of the soft limit)"
                   + (f": {kinds}" if kinds else ""))
    for sock in s.sockets:
        if sock["count"] >= _CROWDED_ENDPOINT and not sock["endpoint"].startswith("listening"):
            out.append(f"{sock['count']} {sock['protocol']} sockets to {sock['endpoint']}")
    if isinstance(soft, int) and not near:
        total = sum(s.handles.values())
        if count is not None and 0 < soft <= _LOW_OPEN_FILES:
            out.append(f"open files limit {soft} (hard {s.open_files_hard}); {count} open "
                       f"({count / soft:.0%}), {total} libuv handles")
        elif count is None and (soft <= _LOW_OPEN_FILES or total >= soft * _FDS_NEAR_LIMIT):
            # No count (a report read from a file, no /proc): the libuv handles are all there is.
            out.append(f"open files limit {soft} (hard {s.open_files_hard}); {total} libuv handles open")
    if s.heap_used and s.heap_limit and s.heap_used >= 0.8 * s.heap_limit:
        out.append(f"heap at {s.heap_used / s.heap_limit:.0%} of V8's heap limit")
    if s.rss and s.constrained_memory and s.rss >= 0.8 * s.constrained_memory:
        out.append(f"RSS at {s.rss / s.constrained_memory:.0%} of the memory limit")
    return out


async def take_diagnostic_report(target: CaptureTarget, path: str | os.PathLike[str], *,
                                 compress: bool = False) -> CaptureResult:
    """Write the target's diagnostic report (JSON, 0600) to ``path`` and summarize it.

    The open descriptors are counted in the target in the same round trip (the
    file is the report as Node wrote it; the count is in the summary only).

    ``result.meta["summary"]`` is :meth:`ReportSummary.to_dict`
    (``ReportSummary(**result.meta["summary"])`` gives the object back).
    The report holds the process's environment variables: treat the file as secret.
    """
    started, t0 = utc_now(), time.monotonic()
    pid, node_version = await process_identity(target)
    value = await target.evaluate(_REPORT_JS, timeout=60)
    text = value.get("report") if isinstance(value, dict) else None
    if not isinstance(text, str):
        raise CaptureError("process.report.getReport() returned nothing")
    try:
        summary = summarize_report(json.loads(text), fds=value.get("fds"))
    except (ValueError, TypeError, AttributeError) as exc:
        raise CaptureError(f"the diagnostic report is not valid JSON: {exc}") from exc
    size = write_whole(path, text, compress=compress)
    return CaptureResult(
        kind="report", path=Path(path), size=size, duration_s=time.monotonic() - t0, started=started,
        session=target.session_id, pid=pid, node_version=node_version,
        meta={"summary": summary.to_dict(), "compressed": compress})
