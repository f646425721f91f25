"""What a recording holds, for ``cdpclient show``: target, Node version, methods, duration, sizes."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from cdpclient.recording import format as fmt
from cdpclient.recording.reader import Recording

__all__ = ["summarize"]

_METHOD = re.compile(r'"method":"([^"]+)"')


def _method(text: str) -> str | None:
    match = _METHOD.search(text[:200])
    return match.group(1) if match else None


def summarize(recording: Recording) -> dict[str, Any]:
    """A JSON-able description of ``recording``."""
    commands: Counter[str] = Counter()
    events: Counter[str] = Counter()
    replies = errors = sent_bytes = received_bytes = sessions = 0
    chunks = {"count": 0, "size": 0, "kept": recording.chunks_kept}
    targets: list[dict[str, Any]] = []
    node_version: str | None = None
    duration = 0.0
    for rec in recording.records:
        kind = rec.get("k")
        duration = max(duration, float(rec.get("t", 0.0)))
        if kind == fmt.SEND:
            sent_bytes += len(rec["text"])
            commands[_method(rec["text"]) or "?"] += 1
        elif kind == fmt.RECV:
            text = rec["text"]
            received_bytes += len(text)
            method = _method(text) if text.startswith('{"method"') else None
            if method:
                events[method] += 1
                if method == fmt.CHUNK_EVENT:
                    chunks["count"] += 1
                    chunks["size"] += len(text)
            else:
                replies += 1
                errors += '"error":' in text[:100]
        elif kind == fmt.CHUNKS:
            events[fmt.CHUNK_EVENT] += int(rec["count"])
            chunks["count"] += int(rec["count"])
            chunks["size"] += int(rec["size"])
        elif kind == fmt.OPEN:
            sessions += 1
        elif kind == fmt.HTTP:
            try:
                body = json.loads(rec["body"])
            except ValueError:
                continue
            if rec["path"] == "/json/version" and isinstance(body, dict):
                node_version = str(body.get("Browser", "")).removeprefix("node.js/") or None
            elif rec["path"] in ("/json/list", "/json") and isinstance(body, list):
                targets = [{"id": t.get("id"), "title": t.get("title"), "url": t.get("url")}
                           for t in body if isinstance(t, dict)]
    return {
        "kind": "recording", "path": str(recording.path), "format": recording.header.get(fmt.MAGIC_KEY),
        "cdpclient": recording.header.get("cdpclient"), "started": recording.header.get("started"),
        "description": recording.description, "complete": not recording.truncated, "problem": recording.problem,
        "targets": targets, "node_version": node_version, "sessions": sessions, "duration_s": round(duration, 3),
        "records": len(recording.records) + 1, "file_size": recording.size, "expanded_size": recording.expanded,
        "sent_bytes": sent_bytes, "received_bytes": received_bytes, "replies": replies, "error_replies": errors,
        "heap_snapshot_chunks": chunks,
        "commands": dict(commands.most_common()), "events": dict(events.most_common()),
    }
