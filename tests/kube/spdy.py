"""SPDY/3.1 framing, server side, as far as ``kubectl port-forward`` needs it.

kubectl 1.31+ tunnels SPDY over a WebSocket (subprotocol
``SPDY/3.1+portforward.k8s.io``, client-go ``tools/portforward/tunneling_*.go``):
the WebSocket binary messages are just a byte stream carrying SPDY frames, and
the Go framer writes every field with its own ``Write``, so one frame arrives
split over many messages.  :class:`FrameReader` reassembles frames from that
stream; :class:`FrameWriter` encodes the frames the server side sends.

Header blocks are zlib streams (one per direction, for the whole connection)
primed with the SPDY/3 dictionary below, the protocol constant from the SPDY
draft 3 specification.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01

_DICT_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base content-encoding "
    "content-language content-length content-location content-md5 content-range content-type date etag "
    "expect expires from host if-match if-modified-since if-none-match if-range if-unmodified-since "
    "last-modified location max-forwards pragma proxy-authenticate proxy-authorization range referer "
    "retry-after server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate "
    "method get status"
).split()
_DICT_TAIL_WORDS = ("version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin")
_DICT_TEXT = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)


def _length_prefixed(words: tuple[str, ...] | list[str]) -> bytes:
    return b"".join(struct.pack(">I", len(w)) + w.encode() for w in words)


DICTIONARY = (_length_prefixed(_DICT_WORDS) + _length_prefixed(["200 OK"]) + _length_prefixed(_DICT_TAIL_WORDS)
              + _DICT_TEXT.encode())
assert len(DICTIONARY) == 1423, len(DICTIONARY)


@dataclass
class Frame:
    control: bool
    type: int = 0              # control frames
    stream_id: int = 0
    flags: int = 0
    data: bytes = b""          # data frames: payload; control frames: the raw body
    headers: dict[str, str] = field(default_factory=dict)
    ping_id: int = 0


class FrameReader:
    """Feed bytes in, take whole frames out; decodes header blocks."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames = []
        while len(self._buf) >= 8:
            length = int.from_bytes(self._buf[5:8], "big")
            if len(self._buf) < 8 + length:
                break
            head, body = bytes(self._buf[:8]), bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            frames.append(self._decode(head, body))
        return frames

    def _decode(self, head: bytes, body: bytes) -> Frame:
        first, = struct.unpack(">I", head[:4])
        flags = head[4]
        if not first & 0x80000000:
            return Frame(control=False, stream_id=first & 0x7FFFFFFF, flags=flags, data=body)
        ftype = first & 0xFFFF
        frame = Frame(control=True, type=ftype, flags=flags, data=body)
        if ftype in (SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE):
            frame.stream_id = struct.unpack(">I", body[:4])[0] & 0x7FFFFFFF
        if ftype == SYN_STREAM:
            frame.headers = self._headers(body[10:])
        elif ftype in (SYN_REPLY, HEADERS):
            frame.headers = self._headers(body[4:])
        elif ftype == PING:
            frame.ping_id = struct.unpack(">I", body[:4])[0]
        return frame

    def _headers(self, block: bytes) -> dict[str, str]:
        raw = self._inflate.decompress(block)
        count, = struct.unpack(">I", raw[:4])
        pos, headers = 4, {}
        for _ in range(count):
            n, = struct.unpack(">I", raw[pos:pos + 4])
            name = raw[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            n, = struct.unpack(">I", raw[pos:pos + 4])
            headers[name] = raw[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
        return headers


class FrameWriter:
    """Encodes the frames the server sends."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(9, zdict=DICTIONARY)

    def _control(self, ftype: int, flags: int, body: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | 3, ftype, (flags << 24) | len(body)) + body

    def _header_block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers)) + b"".join(
            struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
            for k, v in headers.items())
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None, fin: bool = False) -> bytes:
        body = struct.pack(">I", stream_id) + self._header_block(headers or {})
        return self._control(SYN_REPLY, FLAG_FIN if fin else 0, body)

    def rst_stream(self, stream_id: int, status: int = 5) -> bytes:
        return self._control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    def ping(self, ping_id: int) -> bytes:
        return self._control(PING, 0, struct.pack(">I", ping_id))

    def goaway(self, last_stream_id: int) -> bytes:
        return self._control(GOAWAY, 0, struct.pack(">II", last_stream_id, 0))

    @staticmethod
    def data(stream_id: int, payload: bytes, fin: bool = False) -> bytes:
        return struct.pack(">II", stream_id, ((FLAG_FIN if fin else 0) << 24) | len(payload)) + payload
