"""Finding the Node process in a container and its inspector, by reading /proc through ``kubectl exec``.

One ``sh -c`` script prints, for every process, its pid, comm and raw cmdline;
for Node processes also their working directory and NODE_OPTIONS (the rest of the environment is dropped
here, never kept); then the listening TCP sockets of the pod's network namespace
(/proc/net/tcp and tcp6, as the pod sees them).  Parsing happens here, in Python,
so the container needs only ``sh`` and ``cat``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from cdpclient.errors import KubeError

NODE_DEFAULT_INSPECT_PORT = 9229

# \036 (record separator) marks records: NULs and newlines inside cmdline/environ cannot be confused with it.
SCAN_SCRIPT = r"""
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  [ "$p" = "$$" ] && continue
  c=$(cat "$d/comm" 2>/dev/null) || continue
  printf '\036P %s %s\n' "$p" "$c"
  cat "$d/cmdline" 2>/dev/null
  case "$c" in node*|nodejs*)
    printf '\036C %s\n' "$(cd "$d/cwd" 2>/dev/null && pwd -P)"
    printf '\036E\n'; cat "$d/environ" 2>/dev/null;; esac
done
printf '\036T\n'
cat /proc/net/tcp /proc/net/tcp6 2>/dev/null
"""

LISTEN_SCRIPT = "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null"

_TCP_LISTEN = "0A"


@dataclass
class InspectFlags:
    """What a process's command line and NODE_OPTIONS say about its inspector."""

    open_at_start: bool = False      # --inspect / --inspect-brk / --inspect-wait
    port: int | None = None          # from any of those or --inspect-port / --debug-port; None: Node's default
    host: str | None = None


@dataclass
class Proc:
    pid: int
    comm: str
    argv: list[str]
    node_options: str = ""
    cwd: str = ""             # Node processes only (where their diagnostic files land by default)

    @property
    def is_node(self) -> bool:
        base = self.argv[0].rsplit("/", 1)[-1] if self.argv else ""
        return self.comm.startswith("node") or base.startswith("node")

    @property
    def command_line(self) -> str:
        return " ".join(self.argv)

    def inspect_flags(self) -> InspectFlags:
        flags = InspectFlags()
        tokens = list(self.argv[1:])
        try:
            tokens += shlex.split(self.node_options)
        except ValueError:
            tokens += self.node_options.split()
        for tok in tokens:
            m = re.fullmatch(r"--(inspect|inspect-brk|inspect-wait|inspect-port|debug-port)(?:=(.*))?", tok)
            if not m:
                continue
            if m.group(1) not in ("inspect-port", "debug-port"):
                flags.open_at_start = True
            if m.group(2):
                host, _, port = m.group(2).rpartition(":")
                if port.isdigit():
                    flags.port = int(port)
                    flags.host = host.strip("[]") or flags.host
        return flags


@dataclass
class Scan:
    procs: list[Proc] = field(default_factory=list)
    listening: set[int] = field(default_factory=set)

    @property
    def node_procs(self) -> list[Proc]:
        return [p for p in self.procs if p.is_node]


def parse_scan(raw: bytes) -> Scan:
    """Parse the output of :data:`SCAN_SCRIPT`."""
    scan = Scan()
    for record in raw.split(b"\036")[1:]:
        kind = record[:1]
        if kind == b"P":
            head, _, rest = record.partition(b"\n")
            parts = head.decode(errors="replace").split(" ", 2)
            if len(parts) < 3 or not parts[1].isdigit():
                continue
            argv = [a.decode(errors="replace") for a in rest.split(b"\0") if a]
            scan.procs.append(Proc(pid=int(parts[1]), comm=parts[2].strip(), argv=argv))
        elif kind == b"C" and scan.procs:
            scan.procs[-1].cwd = record[2:].decode(errors="replace").strip()
        elif kind == b"E" and scan.procs:
            for var in record[2:].split(b"\0"):
                if var.startswith(b"NODE_OPTIONS="):
                    scan.procs[-1].node_options = var.split(b"=", 1)[1].decode(errors="replace")
        elif kind == b"T":
            scan.listening = parse_listening(record[2:])
    return scan


def parse_listening(raw: bytes) -> set[int]:
    """Listening TCP ports from /proc/net/tcp{,6} text."""
    ports = set()
    for line in raw.decode(errors="replace").splitlines():
        cols = line.split()
        if len(cols) > 3 and cols[3] == _TCP_LISTEN and ":" in cols[1]:
            try:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
            except ValueError:
                continue
    return ports


def pick_node_process(scan: Scan, pid: int | None, *, pod: str, container: str, inspect_port: int) -> Proc:
    """The process to attach to: ``pid`` if given, else the only Node process, else the one with an inspector."""
    if pid is not None:
        for proc in scan.procs:
            if proc.pid == pid:
                return proc
        raise KubeError(f"no process {pid} in container {container} of pod {pod}",
                        hint="omit {pid} to let cdpclient find the Node process", pod=pod,
                        options=("pid",))
    nodes = scan.node_procs
    if not nodes:
        seen = ", ".join(f"{p.pid} {p.comm}" for p in scan.procs[:8]) or "none"
        raise KubeError(f"no Node.js process in container {container} of pod {pod} (processes: {seen})",
                        hint="pick the container with {container}, or the process with {pid}", pod=pod,
                        options=("container", "pid"))
    if len(nodes) == 1:
        return nodes[0]
    with_inspector = [p for p in nodes
                      if (p.inspect_flags().port or inspect_port) in scan.listening and p.inspect_flags().open_at_start]
    if len(with_inspector) == 1:
        return with_inspector[0]
    listing = "; ".join(f"{p.pid}: {p.command_line[:60]}" for p in nodes)
    raise KubeError(f"several Node.js processes in container {container} of pod {pod} ({listing})",
                    hint="pick one with {pid}", pod=pod, options=("pid",))
