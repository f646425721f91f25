"""What a replay answers, without sockets: one recorded websocket session as a script.

A client command is matched to the first recorded command not matched yet with the
same method and params (failing that, the same method: its params then differ, which
is said); an unmatched command gets a CDP error reply.  A recorded message from the
target is due once every command the client had sent before it in the recording has
been matched; with ``speed`` 1 it goes out as long after the message before it as it
did when recorded.  Replies carry the client's own ids.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from cdpclient.recording import format as fmt

__all__ = ["Script", "Outgoing", "ERROR_CODE"]

ERROR_CODE = -32601  # JSON-RPC "method not found": what the inspector answers an unknown method
_ID_PREFIX = re.compile(r'^\{"id":(\d+)')


@dataclasses.dataclass(frozen=True)
class Outgoing:
    """A message for the client, due ``delay`` seconds after ``after`` (a ``time.monotonic()`` value)."""

    text: str
    after: float
    delay: float


@dataclasses.dataclass
class _Item:
    sent: bool  # True: the client sent it (a command); False: the target did
    t: float
    text: str
    method: str | None = None
    params: str | None = None  # canonical JSON
    rec_id: int | None = None
    real: float | None = None  # when it was matched (a command) or sent (a target message)
    client_id: int | None = None


def _canonical(params: Any) -> str:
    return json.dumps(params if params is not None else {}, sort_keys=True, separators=(",", ":"))


class Script:
    """One recorded session; feed it the client's messages (:meth:`receive`), take what is due (:meth:`next_due`)."""

    def __init__(self, records: list[dict[str, Any]], session: int, *, opened: float = 0.0) -> None:
        self.items: list[_Item] = []
        self.notes: list[str] = []
        """Lines for the operator: commands the recording lacks, params that differ."""
        self.missing: list[str] = []
        self.chunks_left_out = 0
        start_t: float | None = None
        for rec in records:
            if rec.get("c") != session:
                continue
            kind = rec.get("t")
            if kind == fmt.OPEN:
                start_t = float(rec.get("ts", 0.0))
            elif kind == fmt.SEND:
                item = _Item(True, float(rec["ts"]), rec["text"])
                try:
                    msg = json.loads(item.text)
                    item.method, item.rec_id = msg.get("method"), msg.get("id")
                    item.params = _canonical(msg.get("params"))
                except (ValueError, AttributeError):
                    pass
                self.items.append(item)
            elif kind == fmt.RECV:
                item = _Item(False, float(rec["ts"]), rec["text"])
                match = _ID_PREFIX.match(item.text)
                if match:
                    item.rec_id = int(match.group(1))
                elif '"id"' in item.text[:64]:
                    try:
                        item.rec_id = json.loads(item.text).get("id")
                    except (ValueError, AttributeError):
                        pass
                self.items.append(item)
            elif kind == fmt.CHUNKS:
                self.chunks_left_out += int(rec.get("count", 0))
        self._start_t = start_t if start_t is not None else (self.items[0].t if self.items else 0.0)
        self._opened = opened
        self._next = 0  # the next target message to go out is at or after this position
        self._by_rec_id = {it.rec_id: it for it in self.items if it.sent and it.rec_id is not None}
        self._answered = {it.rec_id for it in self.items if not it.sent and it.rec_id is not None}

    @property
    def finished(self) -> bool:
        """Every recorded target message has gone out."""
        return not any(not it.sent for it in self.items[self._next:])

    def receive(self, text: str, now: float) -> str | None:
        """A message from the client; returns the error reply to send at once, or None when it was matched."""
        try:
            msg = json.loads(text)
            method, params, client_id = str(msg.get("method")), _canonical(msg.get("params")), msg.get("id")
        except (ValueError, AttributeError):
            self.notes.append(f"not a CDP command: {text[:80]!r}")
            return None
        unmatched = [it for it in self.items if it.sent and it.real is None and it.method == method]
        exact = [it for it in unmatched if it.params == params]
        if exact:
            item = exact[0]
        elif unmatched and unmatched[0].rec_id in self._answered:
            item = unmatched[0]
            self.notes.append(f"{method}: answered with the recorded reply to the same method "
                              f"(its params differ from the recording's)")
        else:
            self.missing.append(method)
            if unmatched:  # recorded, but the recording was cut before its reply
                self.notes.append(f"{method}: the recording ends before its reply (it was cut short): "
                                  "answered with a CDP error")
                text = f"cdpclient replay: the recording ends before the reply to {method}"
            else:
                shown = params if len(params) <= 100 else params[:97] + "..."
                self.notes.append(f"{method} is not in the recording (or was asked more often than recorded): "
                                  f"answered with a CDP error; its params: {shown}")
                text = f"cdpclient replay: {method} is not in the recording"
            return json.dumps({"id": client_id, "error": {"code": ERROR_CODE, "message": text}})
        item.real = now
        item.client_id = client_id if isinstance(client_id, int) else None
        earlier = next((it for it in self.items[:self.items.index(item)] if it.sent and it.real is None), None)
        if earlier is not None:  # its reply is held until the client asks what was recorded before it
            self.notes.append(f"{method}: its reply waits for {earlier.method}, which the recording has before it "
                              "and the client has not asked (yet)")
        return None

    def next_due(self) -> Outgoing | None:
        """The next target message if every command recorded before it has been matched, else None.

        Call :meth:`sent` once it has gone out.
        """
        pos = self._next
        while pos < len(self.items) and self.items[pos].sent:
            if self.items[pos].real is None:
                return None
            pos += 1
        if pos >= len(self.items):
            self._next = pos
            return None
        self._next = pos
        item = self.items[pos]
        if pos == 0:
            after, delay = self._opened, item.t - self._start_t
        else:
            before = self.items[pos - 1]
            after, delay = before.real or self._opened, item.t - before.t
        return Outgoing(self._with_client_id(item), after, max(0.0, delay))

    def sent(self, now: float) -> None:
        """The message :meth:`next_due` returned has gone out at ``now``."""
        self.items[self._next].real = now
        self._next += 1

    def _with_client_id(self, item: _Item) -> str:
        if item.rec_id is None:
            return item.text
        request = self._by_rec_id.get(item.rec_id)
        if request is None or request.client_id is None or request.client_id == item.rec_id:
            return item.text
        match = _ID_PREFIX.match(item.text)
        if match:
            return f'{{"id":{request.client_id}' + item.text[match.end():]
        msg = json.loads(item.text)
        msg["id"] = request.client_id
        return json.dumps(msg, separators=(",", ":"))
