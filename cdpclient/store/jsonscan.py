"""A streaming structural check of a JSON document, for capture files of gigabytes.

It never holds more than a chunk (plus one unfinished string) in memory.  It
checks that the document is one complete object (brackets balanced outside
strings, strings closed, nothing after the end) and notes what kind detection
needs: the top-level keys in order, the keys one level below them, which
top-level values are non-empty, and the raw text of a few small top-level
values.  Numbers and literals are not checked digit by digit: the runs between
strings and brackets go through one C-level regex match each, which keeps a
heap snapshot (mostly long runs of digits) at disk speed.
"""

from __future__ import annotations

import dataclasses
import re
from typing import BinaryIO

CHUNK = 4 << 20
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|[^"\[\]{}]+', re.S)
# Inside an array no string is a key, so strings, numbers and commas can go in one
# match: the strings table of a heap snapshot (millions of strings) then costs a
# few matches per chunk instead of two per string.
# Possessive quantifiers: nothing here ever needs to backtrack, and sre runs several
# times faster when it does not keep backtracking state.
_ARRAY_RUN = re.compile(rb'(?:"[^"\\]*+(?:\\.[^"\\]*+)*+"|[^"\[\]{}]++)++', re.S)
_SPECIAL = frozenset(b'"[]{}')
_WS = b" \t\r\n"
_MAX_SUBKEYS = 64
_MAX_CAPTURE = 4 << 20


class ScanError(Exception):
    """The document is not complete, well-formed JSON (``reason`` says how)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass
class Scan:
    """What a scan saw.  ``complete`` is False when it stopped early (``limit``)."""

    complete: bool = False
    bytes_read: int = 0
    top_keys: list[str] = dataclasses.field(default_factory=list)
    sub_keys: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    nonempty: set[str] = dataclasses.field(default_factory=set)
    values: dict[str, bytes] = dataclasses.field(default_factory=dict)


def scan(fh: BinaryIO, *, limit: int | None = None, capture: tuple[str, ...] = ()) -> Scan:
    """Scan the JSON object read from ``fh``.

    ``limit``: stop after about that many bytes (a head scan; ``complete`` is
    then False unless the document ended first).  ``capture``: top-level keys
    whose raw value text to keep (up to 4 MB each) in ``Scan.values``.
    Raises :class:`ScanError` when the text is not one JSON object, or ends early.
    """
    result = Scan()
    stack = bytearray()            # b"{" / b"[" per open container
    expect_key = False             # in an object, the next string is a key
    key1: str | None = None        # the top-level key whose value we are in
    started = finished = False
    cap_parts: list[bytes] | None = None
    cap_start = 0
    cap_size = 0
    buf = b""
    pos = 0
    offset = 0                     # absolute offset of buf[0]
    eof = False
    while True:
        if cap_parts is not None:
            cap_parts.append(buf[cap_start:pos])
            cap_size += pos - cap_start
            cap_start = 0
            if cap_size > _MAX_CAPTURE:
                cap_parts = None
        offset += pos
        if limit is not None and offset >= limit and not finished:
            result.bytes_read = offset
            return result
        data = fh.read(CHUNK)
        eof = not data
        buf = buf[pos:] + data
        pos = 0
        n = len(buf)
        while pos < n:
            in_array = bool(stack) and stack[-1] == 0x5B and not finished
            if in_array and buf[pos] not in _SPECIAL:
                # numbers and commas (most of a heap snapshot): skip to the next
                # quote or bracket at memchr speed
                nxt = _next_special(buf, pos, n)
                if len(stack) == 2 and key1 is not None and key1 not in result.nonempty \
                        and buf[pos:nxt].strip(_WS + b","):
                    result.nonempty.add(key1)
                pos = nxt
                continue
            m = (_ARRAY_RUN if in_array else _TOKEN).match(buf, pos)
            if m is None and in_array:
                m = _TOKEN.match(buf, pos)
            if m is None:
                # an unterminated string: it may end in the next chunk
                if eof:
                    raise ScanError(f"truncated JSON: a string starting at byte {offset + pos} never ends")
                break
            tok = m.group()
            end = m.end()
            first = tok[0]
            depth = len(stack)
            if in_array and first not in (0x7B, 0x5B, 0x7D, 0x5D):
                if depth == 2 and key1 is not None and tok.strip(_WS + b","):
                    result.nonempty.add(key1)
            elif finished:
                if tok.strip(_WS):
                    raise ScanError(f"extra data after the JSON document at byte {offset + pos}")
            elif first == 0x22:  # '"'
                if not started:
                    raise ScanError("not a JSON object (it starts with a string)")
                if depth <= 2:
                    if depth == 2 and key1 is not None:
                        result.nonempty.add(key1)
                    if expect_key and stack[-1] == 0x7B:
                        key = tok[1:-1].decode("utf-8", "replace")
                        if depth == 1:
                            key1 = key
                            result.top_keys.append(key)
                            if key in capture and cap_parts is None:
                                cap_parts, cap_start, cap_size = [], end, 0
                        else:
                            sub = result.sub_keys.setdefault(key1 or "", [])
                            if len(sub) < _MAX_SUBKEYS:
                                sub.append(key)
                        expect_key = False
            elif first in (0x7B, 0x5B):  # '{' '['
                if not started:
                    started = True
                    if first != 0x7B:
                        raise ScanError("not a JSON object (it starts with '[')")
                elif depth == 2 and key1 is not None:
                    result.nonempty.add(key1)
                stack.append(first)
                expect_key = first == 0x7B
            elif first in (0x7D, 0x5D):  # '}' ']'
                if not stack:
                    raise ScanError(f"unbalanced '{chr(first)}' at byte {offset + pos}")
                opener = stack.pop()
                if (opener == 0x7B) != (first == 0x7D):
                    raise ScanError(f"mismatched '{chr(first)}' at byte {offset + pos}")
                expect_key = False
                if len(stack) == 1 and cap_parts is not None:
                    cap_parts.append(buf[cap_start:end])
                    if key1 is not None:
                        result.values[key1] = b"".join(cap_parts).lstrip(b": \t\r\n")
                    cap_parts = None
                elif not stack:
                    finished = True
            else:  # a run of numbers, literals, ':', ',' and whitespace
                if not started:
                    if tok.strip(_WS):
                        raise ScanError(f"not JSON (it starts with {tok.strip(_WS)[:20]!r})")
                elif depth and stack[-1] == 0x7B and 0x2C in tok:  # ','
                    expect_key = True
                    if depth == 1 and cap_parts is not None and key1 is not None:
                        # a scalar top-level value: the text up to the comma
                        cap_parts.append(tok[:tok.index(b",")])
                        result.values[key1] = b"".join(cap_parts).lstrip(b": \t\r\n").strip()
                        cap_parts = None
                elif depth == 2 and key1 is not None and tok.strip(_WS + b","):
                    result.nonempty.add(key1)
            # a run cut by the chunk end continues as the next token: harmless, runs
            # only matter for ',' and for being non-blank
            pos = end
        if eof:
            if not started:
                raise ScanError("empty file" if offset + len(buf) == 0 else "not JSON (only whitespace)")
            if not finished:
                raise ScanError(f"truncated JSON: the file ends inside the document (depth {len(stack)})")
            result.complete = True
            result.bytes_read = offset + len(buf)
            return result


def _next_special(buf: bytes, pos: int, end: int) -> int:
    """Offset of the first quote or bracket in ``buf[pos:end]`` (``end`` if none)."""
    for ch in (b'"', b"[", b"]", b"{", b"}"):
        i = buf.find(ch, pos, end)
        if i >= 0:
            end = i
    return end
