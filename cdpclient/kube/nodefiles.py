"""The diagnostic files Node writes by itself, and where: read from its flags, listed inside the container.

Node writes, without anyone attached:

- heap snapshots for ``--heapsnapshot-near-heap-limit`` and ``--heapsnapshot-signal``
  (``Heap.<date>.<time>.<pid>.<thread>.<seq>.heapsnapshot``) into ``--diagnostic-dir``,
  else its working directory;
- reports for ``--report-on-fatalerror``, ``--report-on-signal``,
  ``--report-uncaught-exception`` (``report.<...>.json`` or ``--report-filename``) into
  ``--report-directory``, else its working directory (Node 20 does not move them to
  ``--diagnostic-dir``; later majors may, so both are searched);
- CPU and heap profiles for ``--cpu-prof`` / ``--heap-prof`` at exit (``*.cpuprofile``,
  ``*.heapprofile`` or ``--cpu-prof-name`` / ``--heap-prof-name``) into ``--cpu-prof-dir`` /
  ``--heap-prof-dir``, else ``--diagnostic-dir``, else the working directory.

The Node processes come from :data:`cdpclient.kube.procscan.SCAN_SCRIPT` (pid, working
directory, command line and NODE_OPTIONS, as ``attach`` reads them); :data:`LIST_SCRIPT` lists the files
matching the globs it is given (size, mtime), which files some process holds open for
writing, and whether the container has gzip.  The container needs only ``sh``, ``cat``,
``ls`` and ``wc``.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field

from cdpclient.kube.procscan import Proc

# \036 (record separator) marks records; paths cannot be confused with it.
# Arguments: globs, one per argument (expanded here, so a directory with spaces still works).
LIST_SCRIPT = r"""
IFS='
'
for g in "$@"; do
  for f in $g; do
    [ -f "$f" ] || continue
    s=$(wc -c < "$f" 2>/dev/null) || continue
    m=$(stat -c %Y "$f" 2>/dev/null || date -r "$f" +%s 2>/dev/null || echo 0)
    printf '\036F %s %s\n%s' "$s" "$m" "$f"
  done
done
printf '\036W\n'
ls -l /proc/[0-9]*/fd/ 2>/dev/null
printf '\036Z %s\n' "$(command -v gzip 2>/dev/null)"
"""

# What each kind of file Node writes is called (the file name decides the kind we expect).
_PATTERNS = {
    "heapsnapshot": ("*.heapsnapshot",),
    "report": ("report.*.json",),
    "cpuprofile": ("*.cpuprofile",),
    "heapprofile": ("*.heapprofile",),
}
_NODE_NAME = re.compile(r"^(?:Heap|CPU|report)\.\d{8}\.\d{6}\.(\d+)\.\d+\.\d+\.")


def flags(proc: Proc) -> dict[str, str]:
    """The ``--name=value`` (or ``--name value``) flags of a Node process's command line and NODE_OPTIONS;
    the last one wins."""
    try:
        from_env = shlex.split(proc.node_options)
    except ValueError:
        from_env = proc.node_options.split()
    found: dict[str, str] = {}
    for tokens, stop_at_script in ((from_env, False), (proc.argv[1:], True)):
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            i += 1
            if not tok.startswith("--"):
                if stop_at_script:
                    break  # the script: what follows are the application's own arguments
                continue
            name, eq, value = tok[2:].partition("=")
            name = name.replace("_", "-")
            if not eq and name in _TAKES_VALUE and i < len(tokens):
                value = tokens[i]
                i += 1
            found[name] = value
    return found


def globs(proc: Proc) -> list[str]:
    """Where a Node process's files would be, as globs: every place Node may put each kind."""
    f = flags(proc)

    def at(path: str | None) -> str | None:
        return posixpath.normpath(posixpath.join(proc.cwd or "/", path)) if path else None

    diag = at(f.get("diagnostic-dir"))
    cwd = proc.cwd or None
    where = {
        "heapsnapshot": [diag, cwd],
        "report": [at(f.get("report-directory") or f.get("report-dir")), diag, cwd],
        "cpuprofile": [at(f.get("cpu-prof-dir")), diag, cwd],
        "heapprofile": [at(f.get("heap-prof-dir")), diag, cwd],
    }
    names = {
        "report": f.get("report-filename"),
        "cpuprofile": f.get("cpu-prof-name"),
        "heapprofile": f.get("heap-prof-name"),
    }
    out: list[str] = []
    for kind, dirs in where.items():
        patterns = list(_PATTERNS[kind])
        named = names.get(kind)
        if named and named not in ("stdout", "stderr"):
            patterns.append(_glob_of_name(named))
        for d in dict.fromkeys(d for d in dirs if d):
            out += [posixpath.join(d, p) for p in patterns]
    return list(dict.fromkeys(out))


_TAKES_VALUE = {"diagnostic-dir", "report-directory", "report-dir", "report-filename", "cpu-prof-dir",
                "cpu-prof-name", "heap-prof-dir", "heap-prof-name", "heapsnapshot-signal",
                "heapsnapshot-near-heap-limit"}


def _glob_of_name(name: str) -> str:
    """A glob for a ``--*-name`` flag's files: its ``${pid}``-style placeholders match anything."""
    return re.sub(r"\$\{[^}]*\}|%[a-zA-Z]", "*", name).replace("[", "?").replace("]", "?")


def globs_for_dirs(dirs: list[str]) -> list[str]:
    """Globs for every kind of file Node writes, in directories the user named."""
    return [posixpath.join(d, p) for d in dirs for pats in _PATTERNS.values() for p in pats]


@dataclass
class RemoteFile:
    """A diagnostic file in the container."""

    path: str
    size: int
    mtime: float
    writing: bool = False     # some process holds it open for writing

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def expected_kind(self) -> str | None:
        """The store kind its name says (a report's name can be anything: then None)."""
        for kind, patterns in _PATTERNS.items():
            for pattern in patterns:
                if re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), self.name):
                    return kind
        return None

    @property
    def writer_pid(self) -> int | None:
        """The pid Node put in the file's name, if it named it."""
        m = _NODE_NAME.match(self.name)
        return int(m.group(1)) if m else None


@dataclass
class Listing:
    files: list[RemoteFile] = field(default_factory=list)
    gzip: bool = False


def parse_listing(raw: bytes) -> Listing:
    """Parse the output of :data:`LIST_SCRIPT`."""
    listing = Listing()
    open_for_writing: set[str] = set()
    by_path: dict[str, RemoteFile] = {}
    for record in raw.split(b"\036")[1:]:
        kind = record[:1]
        if kind == b"F":
            head, _, path = record.partition(b"\n")
            parts = head.decode(errors="replace").split()
            if len(parts) < 3 or not parts[1].isdigit():
                continue
            name = path.decode(errors="replace")
            try:
                mtime = float(parts[2])
            except ValueError:
                mtime = 0.0
            by_path.setdefault(name, RemoteFile(path=name, size=int(parts[1]), mtime=mtime))
        elif kind == b"W":
            for line in record[2:].decode(errors="replace").splitlines():
                mode, _, rest = line.partition(" ")
                if " -> " in rest and len(mode) >= 3 and mode[2] == "w":
                    open_for_writing.add(rest.split(" -> ", 1)[1])
        elif kind == b"Z":
            listing.gzip = bool(record[2:].strip())
    for f in by_path.values():
        f.writing = f.path in open_for_writing
    listing.files = sorted(by_path.values(), key=lambda f: (f.mtime, f.path))
    return listing
