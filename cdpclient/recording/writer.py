"""Writing a recording as it goes: one msgpack record at a time, each flushed to the file."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import msgpack
import zstandard

from cdpclient import fileio
from cdpclient.recording import format as fmt

__all__ = ["Recorder", "pod_path"]


class Recorder:
    """Writes one recording file (0600, a zstd stream); the hooks in discovery and connection feed it.

    Every method writes its record at once and hands it to the OS, so a killed
    process leaves a recording readable up to its last complete record.  With
    ``keep_chunks=False`` heap snapshot chunks are replaced by a ``chunks`` record
    (count, size, sha256) per run of chunks.  Not thread safe beyond a lock around
    each record (the CLI runs one event loop).
    """

    def __init__(self, path: str | os.PathLike[str], *, description: dict[str, Any] | None = None,
                 keep_chunks: bool = True, overwrite: bool = False) -> None:
        self.path = Path(path)
        fileio.make_private_dir(self.path.parent)
        self._file = fileio.open_private(self.path, exclusive=not overwrite)
        self._zstd = zstandard.ZstdCompressor(level=3, write_checksum=False).compressobj()
        self._packer = msgpack.Packer(use_bin_type=True)
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._sessions = 0
        self._pending: dict[int, tuple[int, int, Any, float]] = {}  # session -> chunk run (count, size, sha, t)
        self.keep_chunks = keep_chunks
        self.records = 0
        self.closed = False
        from cdpclient import __version__

        self._write(fmt.header_record({
            "cdpclient": __version__, "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
            "description": description or {}, "chunks": fmt.CHUNKS_FULL if keep_chunks else fmt.CHUNKS_DIGEST}))

    def _now(self) -> float:
        return round(time.monotonic() - self._start, 6)

    def _write(self, record: dict[str, Any]) -> None:
        data = self._packer.pack(record)
        with self._lock:
            if self.closed:
                return
            out = self._zstd.compress(data) + self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
            self._file.write(out)
            self._file.flush()
            self.records += 1

    # --- the hooks ---------------------------------------------------------------------

    def http(self, method: str, path: str, status: int, body: bytes) -> None:
        """A discovery request and its answer."""
        self._write({"t": fmt.HTTP, "ts": self._now(), "method": method, "path": path, "status": status,
                     "body": bytes(body)})

    def ws_open(self, path: str) -> int:
        """A websocket session opened; returns its number for the other ``ws_`` calls."""
        session = self._sessions
        self._sessions += 1
        self._write({"t": fmt.OPEN, "ts": self._now(), "c": session, "path": path})
        return session

    def ws_send(self, session: int, text: str | bytes) -> None:
        self._end_chunks(session)
        self._write({"t": fmt.SEND, "ts": self._now(), "c": session, "text": _text(text)})

    def ws_recv(self, session: int, text: str | bytes) -> None:
        message = _text(text)
        if not self.keep_chunks and message.startswith(fmt.CHUNK_PREFIX):
            self._chunk(session, message)
            return
        self._end_chunks(session)
        self._write({"t": fmt.RECV, "ts": self._now(), "c": session, "text": message})

    def ws_close(self, session: int, reason: str) -> None:
        self._end_chunks(session)
        self._write({"t": fmt.CLOSE, "ts": self._now(), "c": session, "reason": reason})

    # --- chunks left out ---------------------------------------------------------------

    def _chunk(self, session: int, message: str) -> None:
        try:
            chunk = str(json.loads(message)["params"]["chunk"]).encode()
        except (ValueError, KeyError, TypeError):
            chunk = message.encode()
        count, size, sha, t = self._pending.get(session) or (0, 0, hashlib.sha256(), self._now())
        sha.update(chunk)
        self._pending[session] = (count + 1, size + len(chunk), sha, t)

    def _end_chunks(self, session: int) -> None:
        run = self._pending.pop(session, None)
        if run is not None:
            count, size, sha, t = run
            self._write({"t": fmt.CHUNKS, "ts": t, "c": session, "count": count, "size": size,
                         "sha256": sha.hexdigest()})

    def close(self) -> None:
        """End the stream (a complete zstd frame) and close the file."""
        if self.closed:
            return
        for session in list(self._pending):
            self._end_chunks(session)
        with self._lock:
            self.closed = True
            try:
                self._file.write(self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))
                self._file.flush()
                os.fsync(self._file.fileno())
            finally:
                self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _text(data: str | bytes) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


def pod_path(path: str | os.PathLike[str], pod: str) -> Path:
    """The recording file of one pod of a fleet run: ``run.cdprec`` -> ``run.POD.cdprec``."""
    p = Path(path)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in pod)
    suffix = "".join(p.suffixes[-1:])
    stem = p.name[: len(p.name) - len(suffix)] if suffix else p.name
    return p.with_name(f"{stem}.{safe}{suffix}")
