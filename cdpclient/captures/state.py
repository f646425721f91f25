"""What the captures need of a target, and what they remember about it between captures.

The captures depend on :class:`CaptureTarget` (send, evaluate, the connection,
the session id and a :class:`CaptureState`), not on :class:`cdpclient.Target`:
anything with those members can be captured from.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Protocol

from cdpclient.connection import DEFAULT_TIMEOUT, Connection

__all__ = ["CaptureState", "CaptureTarget"]


@dataclasses.dataclass
class CaptureState:
    """Facts the captures keep per session (one per :class:`cdpclient.Target`)."""

    identity: tuple[int | None, str | None] | None = None
    """``(pid, node_version)``, asked once per session; None until asked."""
    snapshot_retained: int = 0
    """Memory an earlier snapshot left in the process (malloc keeps it); the guard charges only beyond it."""
    pending_reply: asyncio.Future[Any] | None = None
    """The reply of a snapshot command that returned after its last chunk (see ``stream_snapshot``)."""
    follow_up: asyncio.Future[None] | None = None
    """The work after the last snapshot (witness id, retained memory); awaited by ``settle``."""
    id_epoch: int = 0
    """Generation of V8 object ids in this session: it goes up each time they were handed out anew."""
    id_witness: int | None = None
    """Object id of ``globalThis`` after the last snapshot (0: none); None before any snapshot."""


class CaptureTarget(Protocol):
    """What a capture uses of a connected target (:class:`cdpclient.Target` is one)."""

    @property
    def connection(self) -> Connection: ...

    @property
    def session_id(self) -> str: ...

    @property
    def capture_state(self) -> CaptureState: ...

    async def send(self, method: str, params: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]: ...

    async def evaluate(self, expression: str, *, await_promise: bool = False, timeout: float | None = DEFAULT_TIMEOUT,
                       include_command_line_api: bool = True) -> Any: ...
