"""What a recording holds, for ``cdpclient show``: target, Node version, methods, duration, sizes."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cdpclient.errors import InvalidCaptureFile
from cdpclient.recording import format as fmt
from cdpclient.recording.reader import Recording, iter_records

__all__ = ["summarize", "summarize_file"]

_METHOD = re.compile(r'"method":"([^"]+)"')


def _method(text: str) -> str | None:
    match = _METHOD.search(text[:200])
    return match.group(1) if match else None


def summarize(recording: Recording) -> dict[str, Any]:
    """A JSON-able description of ``recording``."""
    info = _count(recording.records, recording.chunks_kept)
    return _describe(recording.header, info, recording.path, recording.truncated, recording.problem,
                     recording.size, recording.expanded, len(recording.records) + 1)


def summarize_file(path: str | Path) -> dict[str, Any]:
    """:func:`summarize` of the file at ``path``, read as a stream (a recording of GBs needs no memory for it)."""
    stream = iter_records(path)
    records = iter(stream)
    first = next(records, None)
    if first is None or not fmt.is_header(first):
        raise InvalidCaptureFile(f"{stream.path} has no recording header", path=stream.path, kind="recording")
    header = fmt.header_fields(first)
    counted = [0]

    def counting() -> Iterable[dict[str, Any]]:
        for rec in records:
            counted[0] += 1
            yield rec

    info = _count(counting(), header.get("chunks", fmt.CHUNKS_FULL) == fmt.CHUNKS_FULL)
    return _describe(header, info, stream.path, stream.truncated, stream.problem, stream.size, stream.expanded,
                     counted[0] + 1)


def _count(records: Iterable[dict[str, Any]], chunks_kept: bool) -> dict[str, Any]:
    commands: Counter[str] = Counter()
    events: Counter[str] = Counter()
    replies = errors = sent_bytes = received_bytes = sessions = 0
    chunks = {"count": 0, "size": 0, "kept": chunks_kept}
    targets: list[dict[str, Any]] = []
    node_version: str | None = None
    duration = 0.0
    for rec in records:
        kind = rec.get("t")
        duration = max(duration, float(rec.get("ts", 0.0)))
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
        "targets": targets, "node_version": node_version, "sessions": sessions, "duration_s": round(duration, 3),
        "sent_bytes": sent_bytes, "received_bytes": received_bytes, "replies": replies, "error_replies": errors,
        "heap_snapshot_chunks": chunks,
        "commands": dict(commands.most_common()), "events": dict(events.most_common()),
    }


def _describe(header: dict[str, Any], counts: dict[str, Any], path: Path, truncated: bool, problem: str | None,
              size: int, expanded: int, records: int) -> dict[str, Any]:
    return {
        "kind": "recording", "path": str(path), "format": header.get("version"),
        "cdpclient": header.get("cdpclient"), "started": header.get("started"),
        "description": dict(header.get("description") or {}), "complete": not truncated, "problem": problem,
        "records": records, "file_size": size, "expanded_size": expanded, **counts,
    }
