"""The recording format: a stream of msgpack maps, one per record, in a zstd stream.

Each record is a map whose ``t`` says what it is (the convention of the project's record
streams, :mod:`cdpclient.msgstream`) and ``ts``, seconds since the recording started
(``time.monotonic``).  Websocket records
carry ``c``, the session number (0, 1, ...: a command may open more than one).

* the header, first: ``{"stream": "cdpclient.session", "version": FORMAT, "header": {"cdpclient":
  version, "started": ISO-8601 UTC, "description": {...}, "chunks": "full" | "digest"}}``: the
  header of every msgpack record stream of the project (:mod:`cdpclient.msgstream`), so a
  recording is recognisable from its first (decompressed) bytes.
* ``http``: ``method``, ``path``, ``status``, ``body`` (bytes): a discovery request.
* ``open``: ``c``, ``path``: a websocket session opened (the URL's path, the target id).
* ``send`` / ``recv``: ``c``, ``text``: one websocket message, client to target / back, raw.
* ``chunks``: ``c``, ``count``, ``size``, ``sha256``: a run of HeapProfiler.addHeapSnapshotChunk
  events left out (``chunks: "digest"``), summarised; ``size`` and the hash cover the chunk
  strings (UTF-8) in order.
* ``close``: ``c``, ``reason``.

The writer ends a zstd block after every record, so a file cut anywhere reads up to
its last complete record.
"""

from __future__ import annotations

from typing import Any

FORMAT = 1
STREAM = "cdpclient.session"
HEAD = b"\xa6stream" + bytes([0xA0 + len(STREAM)]) + STREAM.encode()  # after the map's first byte

HTTP = "http"
OPEN = "open"
SEND = "send"
RECV = "recv"
CHUNKS = "chunks"
CLOSE = "close"

CHUNK_EVENT = "HeapProfiler.addHeapSnapshotChunk"
CHUNK_PREFIX = '{"method":"' + CHUNK_EVENT + '"'  # how Node starts the message

CHUNKS_FULL = "full"
CHUNKS_DIGEST = "digest"


def header_record(fields: dict[str, Any]) -> dict[str, Any]:
    """The first record of a recording, holding ``fields``."""
    return {"stream": STREAM, "version": FORMAT, "header": fields}


def is_header(record: dict[str, Any]) -> bool:
    return record.get("stream") == STREAM


def header_fields(record: dict[str, Any]) -> dict[str, Any]:
    """A header record's fields, with its ``version``."""
    return {**dict(record.get("header") or {}), "version": record.get("version")}
