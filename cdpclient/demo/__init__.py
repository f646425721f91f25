"""The bundled demo service: a small Node program that leaks like the incidents cdpclient was built for."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from cdpclient.errors import CDPClientError

SERVICE_JS = Path(__file__).with_name("service.js")
_LISTENING = re.compile(rb"Debugger listening on (ws://\S+)")


class DemoService:
    """A running demo service: ``endpoint`` is its inspector (127.0.0.1, a free port)."""

    def __init__(self, process: asyncio.subprocess.Process, ws_url: str) -> None:
        self.process = process
        self.ws_url = ws_url
        self.endpoint = ws_url.split("/")[2]

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.asynccontextmanager
async def start_service(node: str | None = None, *, rate: int = 2000) -> AsyncIterator[DemoService]:
    """Start ``node --inspect=127.0.0.1:0 service.js`` and stop it on the way out.

    ``rate`` is the simulated requests per second (each one leaks a little).
    """
    node = node or shutil.which("node")
    if not node:
        raise CDPClientError("node is not on PATH: the demo needs Node.js")
    process = await asyncio.create_subprocess_exec(
        node, "--inspect=127.0.0.1:0", str(SERVICE_JS), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "DEMO_RATE": str(rate)})
    try:
        assert process.stderr is not None
        ws_url = None
        async with asyncio.timeout(20):
            while ws_url is None:
                line = await process.stderr.readline()
                if not line:
                    raise CDPClientError(f"the demo service exited early (code {await process.wait()})")
                match = _LISTENING.search(line)
                if match:
                    ws_url = match.group(1).decode()
        drain = asyncio.ensure_future(_drain(process.stderr))
        try:
            yield DemoService(process, ws_url)
        finally:
            drain.cancel()
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(5):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass
