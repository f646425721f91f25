"""Facts about a capture written as a msgpack record stream (a watch recording), for ``ls``/``show``.

The store does not interpret the records: it counts them by their ``"t"`` (type) field, takes
the span of their ``"ts"`` (unix seconds), the ``reason`` of an ``"end"`` record, and the bytes of a
cut tail.  Reading streams the file in constant memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cdpclient import msgstream


def facts(path: Path) -> dict[str, Any]:
    """``{"records": {type: count}, "first_ts", "last_ts", "span_s", "end_reason", "truncated_bytes"}``.

    Raises :class:`cdpclient.msgstream.NotAStream` if ``path`` is not a stream, ``OSError`` if unreadable.
    """
    counts: dict[str, int] = {}
    first: float | None = None
    last: float | None = None
    end: str | None = None
    truncated = 0
    it = msgstream.iter_records(path)
    head = next(it, None)
    if not isinstance(head, dict) or not isinstance(head.get("stream"), str):
        raise msgstream.NotAStream(f"{path}: not a msgpack stream (no header)")
    for item in it:
        if isinstance(item, int):
            truncated = item
            continue
        kind = str(item.get("t"))
        counts[kind] = counts.get(kind, 0) + 1
        ts = item.get("ts")
        if isinstance(ts, (int, float)):
            first = ts if first is None else min(first, ts)
            last = ts if last is None else max(last, ts)
        if kind == "end":
            end = str(item.get("reason"))
    return {"records": dict(sorted(counts.items())), "first_ts": first, "last_ts": last,
            "span_s": round(last - first, 3) if first is not None and last is not None else None,
            "end_reason": end, "truncated_bytes": truncated}
