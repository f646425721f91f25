"""Command: ``demo``, the whole story on the bundled demo service.

It starts the leaking demo service with its inspector on a free loopback
port, then runs the real ``cdpclient`` commands against it, each printed as
a user would type it: targets, info, a series of three snapshots in one
session, and the leak suspects with their retaining chains.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import typer

from . import common


def register(app: typer.Typer) -> None:
    app.command("demo", epilog="Example: bash scripts/demo   (or: cdpclient demo --every 5s)")(demo)


def demo(
    every: str = typer.Option("4s", "--every", help="Time between the three snapshots."),
    store_dir: str | None = common.StoreOption,
) -> None:
    """Start the bundled leaking demo service and find its leaks end to end (under a minute)."""
    common.run(_demo(every, store_dir))


async def _demo(every: str, store_dir: str | None) -> None:
    from cdpclient.demo import start_service

    started = time.monotonic()
    run_label = f"demo-run={uuid.uuid4().hex[:8]}"
    store_args = ["--store", store_dir] if store_dir else []
    async with start_service() as service:
        ep = service.endpoint
        common.note(f"demo service started (pid {service.pid}), inspector on {ep}; it leaks as it serves orders\n")
        _step("targets", ep)
        _step("info", ep)
        _step("snapshot", ep, "--count", "3", "--every", every, "--gc", "--label", "source=demo",
              "--label", run_label, *store_args)
    _step("ls", "--label", run_label, *store_args)
    listing = _step("ls", "--label", run_label, "--json", *store_args, show=False)
    ids = [r["id"] for r in sorted(json.loads(listing), key=lambda r: r.get("series_index") or 0)]
    _step("leaks", *ids, *store_args)
    from cdpclient.store import Store

    common.note(f"\ndone in {time.monotonic() - started:.0f}s. The snapshots stay in the store "
                f"({Store.open(store_dir).root}): "
                f"`cdpclient ls --label {run_label}`; open any .heapsnapshot in Chrome DevTools (Memory tab).")


def _step(*args: str, show: bool = True) -> str:
    """Run one real cdpclient command in a child process, echoing it like a terminal (``show``:
    the command and its output; otherwise the demo only reads its output)."""
    if show:
        typer.echo(f"\n$ cdpclient {' '.join(args)}", err=True)
    proc = subprocess.run([sys.executable, "-m", "cdpclient_cli.app", *args], text=True, env=os.environ.copy(),
                          stdout=subprocess.PIPE, stderr=None)
    if show:
        typer.echo(proc.stdout.rstrip())
    if proc.returncode != 0:
        common.fail(f"demo step `cdpclient {args[0]}` failed (exit {proc.returncode})")
    return proc.stdout
