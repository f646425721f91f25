"""How long does the ``cdpclient`` command take to start?  This checkout against an earlier one, in one run.

Three commands, each a fresh Python process:

  help   ``cdpclient --help``
  ls     ``cdpclient ls --store S`` on a small store (three imported snapshots of a bare Node process)
  info   ``cdpclient info 127.0.0.1:P`` with nothing listening on P: the error path of a command that
         connects, so it pays for the network stack (aiohttp, websockets) and nothing else

and, for this checkout only, what no change to cdpclient can remove (the floor under the three):

  python      ``python -c pass``: the interpreter and site-packages
  typer       ``import typer``
  help-plain  ``TYPER_USE_RICH=0 cdpclient --help``: typer's help without rich, which the app asks for
              anyway (``rich_markup_mode=None``: rich's boxes cost 0.1 s; pyproject keeps typer below 0.29,
              which coerces every parameter through pydantic, another 0.12 s)

Each runs ``--rounds`` interleaved rounds (command by command, the trees alternating which goes first);
wall seconds come from the clock around the process, CPU seconds (user + system) from ``os.wait4``.
Printed: best and median of both, per command and tree, and the ratio this / other.  On a shared
machine the best wall time and the CPU seconds say most about the command; the median about the load.

Both trees run with their bytecode compiled first (``compileall``), as an installed wheel has it,
even where ``PYTHONDONTWRITEBYTECODE`` is set: a source compile would otherwise dominate.  The
earlier tree is checked out with ``git worktree add --detach`` into a temporary directory and
removed at the end; both run with the interpreter and the installed dependencies of ``.venv``.

    .venv/bin/python bench/cli_start.py                  # this checkout against HEAD~1, 15 rounds
    .venv/bin/python bench/cli_start.py --against main --rounds 30
    .venv/bin/python bench/cli_start.py --against none   # this checkout only
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE = os.environ.get("CDPCLIENT_TEST_NODE", "node")

# Runs the command of one tree: that tree's packages first on sys.path (the editable install of
# .venv is a meta-path finder that comes after the path entries, so it does not shadow them).
_LAUNCH = "import sys; sys.argv[0] = 'cdpclient'; from cdpclient_cli.app import main; main()"


def package_dir(tree: Path, into: Path) -> Path:
    """A directory holding ``cdpclient`` and ``cdpclient_cli`` of ``tree`` (links), for PYTHONPATH."""
    into.mkdir(parents=True, exist_ok=True)
    (into / "cdpclient").symlink_to(tree / "cdpclient")
    (into / "cdpclient_cli").symlink_to(tree / "cli")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "cdpclient"), str(tree / "cli")],
                   check=True, stdout=subprocess.DEVNULL)
    return into


def small_store(path: Path, pythonpath: Path) -> Path:
    """A store with three snapshots of a bare Node process, imported with this checkout."""
    path.mkdir(mode=0o700)
    files = []
    for i in range(3):
        file = path.parent / f"bare-{i}.heapsnapshot"
        subprocess.run([NODE, "-e", f"require('v8').writeHeapSnapshot({str(file)!r})"], check=True)
        files.append(str(file))
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    subprocess.run([sys.executable, "-c", _LAUNCH, "import", "--store", str(path), *files], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return path


def free_port() -> int:
    """A port with nothing listening on it (bound and released: the kernel does not hand it out again soon)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The floor, for this checkout only: (python -c CODE or None for the command, cdpclient args, env).
FLOOR: dict[str, tuple[str | None, list[str], dict[str, str]]] = {
    "python": ("pass", [], {}),
    "typer": ("import typer", [], {}),
    "help-plain": (None, ["--help"], {"TYPER_USE_RICH": "0"}),
}


def run_once(args: list[str], pythonpath: Path, code: str | None = None,
             extra_env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit status) of one ``cdpclient ARGS`` (or ``python -c CODE``) in a fresh
    process."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "COLUMNS": "100", **(extra_env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code or _LAUNCH, *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per command (default 15)")
    parser.add_argument("--against", default="HEAD~1",
                        help="git revision to compare with (default HEAD~1); 'none' for this checkout only")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cli-start-") as tmp_name:
        tmp = Path(tmp_name)
        trees = {"this": package_dir(ROOT, tmp / "path-this")}
        other: Path | None = None
        if opts.against != "none":
            other = tmp / "other"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(other),
                            opts.against], check=True)
            trees[opts.against] = package_dir(other, tmp / "path-other")
        try:
            store = small_store(tmp / "store", trees["this"])
            commands = {
                "help": ["--help"],
                "ls": ["ls", "--store", str(store)],
                "info": ["info", f"127.0.0.1:{free_port()}"],
            }
            results: dict[tuple[str, str], list[tuple[float, float]]] = {}
            names = list(trees)
            for n in range(opts.rounds):
                for command, args in commands.items():
                    for tree in names if n % 2 == 0 else names[::-1]:
                        wall, cpu, code = run_once(args, trees[tree])
                        expected = 1 if command == "info" else 0
                        if code != expected:
                            sys.exit(f"cli_start: {tree}: cdpclient {' '.join(args)} exited {code}")
                        results.setdefault((command, tree), []).append((wall, cpu))
                for floor, (code, args, extra_env) in FLOOR.items():
                    wall, cpu, _ = run_once(args, trees["this"], code, extra_env)
                    results.setdefault((floor, "this"), []).append((wall, cpu))
        finally:
            if other is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)], check=False)
                shutil.rmtree(other, ignore_errors=True)

    print(f"cdpclient start-up, {opts.rounds} interleaved rounds, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"{'command':8} {'tree':10} {'wall best':>10} {'median':>8} {'CPU best':>9} {'median':>8}")
    for command in commands:
        for tree in names:
            rows = results[(command, tree)]
            walls, cpus = [w for w, _ in rows], [c for _, c in rows]
            print(f"{command:8} {tree:10} {min(walls):10.3f} {statistics.median(walls):8.3f} "
                  f"{min(cpus):9.3f} {statistics.median(cpus):8.3f}")
        if len(names) == 2:
            this, base = results[(command, "this")], results[(command, names[1])]
            print(f"{'':8} {'this/' + names[1]:10} {min(w for w, _ in this) / min(w for w, _ in base):10.2f} "
                  f"{statistics.median(w for w, _ in this) / statistics.median(w for w, _ in base):8.2f} "
                  f"{min(c for _, c in this) / min(c for _, c in base):9.2f} "
                  f"{statistics.median(c for _, c in this) / statistics.median(c for _, c in base):8.2f}")
    print("the floor (this checkout):")
    for floor in FLOOR:
        walls, cpus = [w for w, _ in results[(floor, "this")]], [c for _, c in results[(floor, "this")]]
        print(f"{floor:10} {'':8} {min(walls):10.3f} {statistics.median(walls):8.3f} "
              f"{min(cpus):9.3f} {statistics.median(cpus):8.3f}")


if __name__ == "__main__":
    main()
