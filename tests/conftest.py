"""Shared fixtures: real Node processes (see ``nodeproc.py``), the CLI runner."""

from __future__ import annotations

import gc
import os
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest
from nodeproc import APPS, NODE, NodeProcess, _pump, run_cli, start_node, wait_listening, wait_output

__all__ = ["APPS", "NODE", "NodeProcess", "_pump", "run_cli", "start_node", "wait_listening", "wait_output"]


@pytest.fixture(autouse=True, scope="session")
def _store_default_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A command or script that uses the default store (``$XDG_DATA_HOME/cdpclient``) writes into the
    session's tmp, never into the home of whoever runs the tests (tests that check the default set
    their own XDG_DATA_HOME and HOME)."""
    old = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))
    yield
    if old is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = old


@pytest.fixture
def node_app() -> Iterator[Callable[..., NodeProcess]]:
    """Factory fixture: ``node_app("idle.js", *args, node_args=(), env=None)``; all stopped after the test."""
    started: list[NodeProcess] = []

    def factory(script: str | Path, *args: str, **kwargs: object) -> NodeProcess:
        node = start_node(script, *args, **kwargs)  # type: ignore[arg-type]
        started.append(node)
        return node

    yield factory
    for node in started:
        node.stop()


@pytest.fixture
def node(node_app: Callable[..., NodeProcess]) -> NodeProcess:
    """A small idle Node process with its inspector open."""
    return node_app("idle.js")


@pytest.fixture
def cli_runner():  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    return CliRunner()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Factory fixture: ``tmpfs("4m")`` mounts a tmpfs of that size (a real volume that fills); skips without root."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        mnt = tmp_path / f"tmpfs-{len(mounted)}"
        mnt.mkdir()
        try:
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mnt)],
                                  capture_output=True, text=True, timeout=10)
        except FileNotFoundError:
            pytest.skip("no mount command here")
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): a full disk is not testable")
        mounted.append(mnt)
        return mnt

    yield mount
    gc.collect()  # drop any Store (and its open index) a failed test left behind
    for mnt in mounted:
        if subprocess.run(["umount", str(mnt)], capture_output=True, timeout=10).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=10)
        assert not os.path.ismount(mnt)
