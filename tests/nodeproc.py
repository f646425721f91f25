"""Real Node processes for the tests, with their inspector on a free loopback port.

Import from here (``from nodeproc import start_node``): every test directory may have a
``conftest.py``, so ``from conftest import`` is ambiguous.

``CDPCLIENT_TEST_NODE`` names the node binary to test against (default: ``node``
on PATH), so the suite can run against several Node majors.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

APPS = Path(__file__).parent / "apps"
NODE = os.environ.get("CDPCLIENT_TEST_NODE", "node")
_LISTENING = re.compile(r"Debugger listening on (ws://[^\s]+)")


@dataclass
class NodeProcess:
    """A running ``node --inspect=127.0.0.1:0`` process."""

    proc: subprocess.Popen[str]
    ws_url: str
    port: int
    output: list[str] = field(default_factory=list)
    pump: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_pipe()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self.pump is not None:
            self.pump.join(5)
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.proc.stdout.close()


def start_node(script: str | Path, *args: str, node_args: tuple[str, ...] = (), inspect: bool = True,
               env: dict[str, str] | None = None, timeout: float = 20.0) -> NodeProcess:
    """Start ``node [--inspect=127.0.0.1:0] [node_args] script args`` and wait for its inspector.

    ``script`` is a path or the name of a file under ``tests/apps`` (``"idle.js"``).
    Without ``inspect`` the process starts without an inspector; ``port`` is 0 and
    ``ws_url`` empty until it is opened (SIGUSR1 prints the listening line too: see
    :func:`wait_listening`).
    """
    path = Path(script)
    if not path.is_absolute() and not path.exists():
        path = APPS / script
    cmd = [NODE, *(["--inspect=127.0.0.1:0"] if inspect else []), *node_args, str(path), *args]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, **(env or {})})
    node = NodeProcess(proc=proc, ws_url="", port=0)
    node.pump = threading.Thread(target=_pump, args=(node,), daemon=True)
    node.pump.start()
    if inspect:
        wait_listening(node, timeout)
    else:
        wait_output(node, "ready", timeout)
    return node


def _pump(node: NodeProcess) -> None:
    assert node.proc.stdout is not None
    for line in node.proc.stdout:
        node.output.append(line.rstrip("\n"))
        match = _LISTENING.search(line)
        if match:
            node.ws_url = match.group(1)
            node.port = int(node.ws_url.split(":")[2].split("/")[0])


def wait_listening(node: NodeProcess, timeout: float = 20.0) -> None:
    """Wait until the process prints its ``Debugger listening on ws://...`` line."""
    deadline = time.monotonic() + timeout
    while not node.ws_url:
        if node.proc.poll() is not None:
            raise RuntimeError(f"node exited ({node.proc.returncode}): {' | '.join(node.output)}")
        if time.monotonic() > deadline:
            node.kill()
            raise RuntimeError(f"node inspector did not start: {' | '.join(node.output)}")
        time.sleep(0.02)


def wait_output(node: NodeProcess, text: str, timeout: float = 20.0) -> None:
    """Wait until a line containing ``text`` appears in the process output."""
    deadline = time.monotonic() + timeout
    while not any(text in line for line in node.output):
        if node.proc.poll() is not None:
            raise RuntimeError(f"node exited ({node.proc.returncode}): {' | '.join(node.output)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {text!r} from node: {' | '.join(node.output)}")
        time.sleep(0.02)


def run_cli(*args: str, timeout: float = 120, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``cdpclient`` command in a subprocess (as a user types it)."""
    return subprocess.run([sys.executable, "-m", "cdpclient_cli.app", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, input=input,
                          cwd=Path(__file__).parent.parent)
