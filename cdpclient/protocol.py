"""CDP message bookkeeping, free of sockets.

A :class:`Protocol` hands out command ids, remembers which method each pending
id belongs to, and turns incoming messages into :class:`Reply` or
:class:`Event` values.  The websocket wrapper in :mod:`cdpclient.connection`
feeds it text and acts on what comes out, so this part can be tested, or a
recorded session replayed through it, without a network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cdpclient.errors import ProtocolError

__all__ = ["Event", "Reply", "Protocol", "MalformedMessage"]


class MalformedMessage(ValueError):
    """The peer sent something that is not a CDP message."""


@dataclass(frozen=True)
class Event:
    """A notification from the target (no id)."""

    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """The answer to one command; exactly one of ``result`` and ``error`` is set."""

    id: int
    method: str
    result: dict[str, Any] | None = None
    error: ProtocolError | None = None


class Protocol:
    """Ids, pending calls and message decoding for one CDP session."""

    def __init__(self) -> None:
        self._next_id = 0
        self._pending: dict[int, str] = {}

    @property
    def pending(self) -> dict[int, str]:
        """Pending command ids and their methods (a copy)."""
        return dict(self._pending)

    def request(self, method: str, params: dict[str, Any] | None = None) -> tuple[int, str]:
        """Register a command; return its id and the text to send."""
        self._next_id += 1
        msg_id = self._next_id
        message: dict[str, Any] = {"id": msg_id, "method": method}
        if params:
            message["params"] = params
        self._pending[msg_id] = method
        return msg_id, json.dumps(message, separators=(",", ":"))

    def forget(self, msg_id: int) -> None:
        """Stop waiting for ``msg_id`` (timed out or cancelled); a late reply is then ignored."""
        self._pending.pop(msg_id, None)

    def fail_all(self) -> dict[int, str]:
        """Drop every pending command (the session ended); return what was pending."""
        pending, self._pending = self._pending, {}
        return pending

    def receive(self, data: str | bytes) -> Reply | Event | None:
        """Decode one incoming message.

        Returns ``None`` for a reply nobody waits for any more (a late answer
        to a command that timed out).  Raises :class:`MalformedMessage` for
        text that is not a CDP message.
        """
        try:
            message = json.loads(data)
        except ValueError as exc:
            raise MalformedMessage(f"not JSON: {str(data)[:80]!r}") from exc
        if not isinstance(message, dict):
            raise MalformedMessage(f"not a JSON object: {str(data)[:80]!r}")
        if "id" in message:
            msg_id = message["id"]
            method = self._pending.pop(msg_id, None)
            if method is None:
                return None
            error = message.get("error")
            if error is not None:
                return Reply(msg_id, method, error=ProtocolError(
                    method, error.get("code"), error.get("message", "unknown error"), error.get("data")))
            return Reply(msg_id, method, result=message.get("result") or {})
        if "method" in message:
            return Event(message["method"], message.get("params") or {})
        raise MalformedMessage(f"neither a reply nor an event: {str(data)[:80]!r}")
