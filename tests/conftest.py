"""Shared fixtures: real Node processes (see ``nodeproc.py``), the CLI runner."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest
from nodeproc import APPS, NODE, NodeProcess, _pump, run_cli, start_node, wait_listening, wait_output

__all__ = ["APPS", "NODE", "NodeProcess", "_pump", "run_cli", "start_node", "wait_listening", "wait_output"]


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
