"""The recording format: a stream of msgpack maps, one per record, in a zstd stream.

Each record is a map whose ``k`` says what it is; every record after the header has
``t``, seconds since the recording started (``time.monotonic``).  Websocket records
carry ``c``, the session number (0, 1, ...: a command may open more than one).

* ``header``: ``{"cdpclient-recording": FORMAT, "k": "header", "cdpclient": version,
  "started": ISO-8601 UTC, "description": {...}, "chunks": "full" | "digest"}``;
  the first key makes a recording recognisable from its first bytes.
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

FORMAT = 1
MAGIC_KEY = "cdpclient-recording"
HEAD = b"\xb3" + MAGIC_KEY.encode()  # the msgpack str of the first key, after the map's first byte

HEADER = "header"
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
