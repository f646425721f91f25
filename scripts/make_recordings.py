"""Regenerate the recordings of ``recordings/``: real inspector sessions of ``recordings/app.js`` on Node 20
(the machine's node), Node 22 and Node 18 (from the npm registry, as the test suite installs its
compatibility Node).

For each Node major, these recordings and what their capture wrote:

  node<N>-info.cdprec             ``cdpclient info``: discovery, the process and memory readings
  node<N>-cpu.cdprec, .cpuprofile ``cdpclient cpu --duration 0.5s``: a CPU profile session and its file
  node<N>-slow-reply.cdprec       a ``Runtime.evaluate`` whose reply came 1.5 s after the command

    .venv/bin/python scripts/make_recordings.py             # every major, into recordings/
    .venv/bin/python scripts/make_recordings.py --node 20   # one

The files replace the ones there; recordings/README.md says what each is for.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "recordings"


def npm_node(major: str) -> str:
    """A node binary of ``major`` from the npm registry (scripts/setup.sh's ensure_compat_node)."""
    done = subprocess.run(["bash", "-c", "source scripts/setup.sh; ensure_compat_node"], cwd=ROOT,
                          capture_output=True, text=True, check=True,
                          env={**os.environ, "CDPCLIENT_COMPAT_NODE_MAJOR": major})
    return done.stdout.strip().splitlines()[-1]


def start(node: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([node, "--inspect=127.0.0.1:0", str(OUT / "app.js")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    endpoint = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        found = re.search(r"ws://(127\.0\.0\.1:\d+)/", line)
        if found:
            endpoint = found.group(1)
        if line.strip() == "ready" and endpoint:
            return proc, endpoint
    proc.kill()
    raise SystemExit(f"{node}: the app did not start")


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "cdpclient_cli.app", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


async def slow_reply(endpoint: str, path: Path) -> None:
    import cdpclient
    from cdpclient.recording import recording_to

    with recording_to(path, description={"made_by": "scripts/make_recordings.py", "what": "slow reply"},
                      overwrite=True):
        async with cdpclient.connect(endpoint) as target:
            assert await target.evaluate("slowAnswer(1500)", await_promise=True) == 1500


def make(major: str, node: str) -> None:
    for stale in OUT.glob(f"node{major}-*"):
        stale.unlink()
    proc, endpoint = start(node)
    try:
        cli("info", endpoint, "--record", str(OUT / f"node{major}-info.cdprec"))
        cli("cpu", endpoint, "--duration", "0.5s", "--record", str(OUT / f"node{major}-cpu.cdprec"),
            "--out", str(OUT / f"node{major}-cpu.cpuprofile"))
        asyncio.run(slow_reply(endpoint, OUT / f"node{major}-slow-reply.cdprec"))
    finally:
        proc.kill()
        proc.wait(10)
    for path in sorted(OUT.glob(f"node{major}-*")):
        os.chmod(path, 0o644)  # example data of a toy app: no secrets, readable in a checkout
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size:,} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--node", choices=("18", "20", "22"), action="append", help="only this major (repeatable)")
    majors = parser.parse_args().node or ["18", "20", "22"]
    for major in majors:
        node = "node" if major == "20" else npm_node(major)
        version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
        if not version.startswith(f"v{major}."):
            raise SystemExit(f"{node} is {version}, not Node {major}")
        make(major, node)


if __name__ == "__main__":
    main()
