"""A watch recording as one JSON document, for tools that do not read msgpack (jq, pandas, a spreadsheet).

    cdpclient export 01M8W0 --format json -o memory.json

The document (``"format": "cdpclient.watch+json"``, ``"version": 1``)::

    {"format": ..., "version": 1, "id": "01M8W0...", "header": {...},
     "samples": [{"ts": ..., "heap_used": ..., ...}], "firings": [...], "captures": [...],
     "events": [{"t": "reconnect", ...}, {"t": "end", ...}],
     "span": [first ts, last ts], "truncated": false, "truncated_bytes": 0}

``samples``, ``firings`` and ``captures`` are the records as written, without their ``"t"``
(the list says it); ``events`` keep it (reconnect, connected, end).  Values JSON cannot
hold (NaN, infinities) become null, bytes become their hex digits.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from cdpclient import fileio
from cdpclient.watch.recording import Recording

FORMAT = "cdpclient.watch+json"
VERSION = 1


def recording_document(recording: Recording, *, capture_id: str | None = None) -> dict[str, Any]:
    """The JSON document of ``recording`` (see the module's docstring); ``capture_id`` its store id."""

    def bare(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: _plain(v) for k, v in r.items() if k != "t"} for r in records]

    span = recording.span
    return {
        "format": FORMAT,
        "version": VERSION,
        "id": capture_id,
        "header": _plain(recording.header),
        "samples": bare(recording.samples),
        "firings": bare(recording.firings),
        "captures": bare(recording.captures),
        "events": [_plain(e) for e in recording.events],
        "span": list(span) if span is not None else None,
        "truncated": recording.truncated,
        "truncated_bytes": recording.truncated_bytes,
    }


def export_json(recording: Recording, dest: str | os.PathLike[str], *, capture_id: str | None = None) -> Path:
    """Write :func:`recording_document` to ``dest`` atomically as a 0600 file; returns the path.

    Raises ``OSError`` if it cannot be written (no partial file is left).
    """
    out = Path(os.fspath(dest)).expanduser()
    doc = recording_document(recording, capture_id=capture_id)
    fileio.write_atomic(out, json.dumps(doc, separators=(",", ":"), allow_nan=False).encode() + b"\n")
    return out


def _plain(value: Any) -> Any:
    """``value`` with what JSON cannot hold replaced: non-finite floats by None, bytes by hex."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return value
