"""Capture ids: 12 characters of Crockford base32, sortable by creation time.

The first 10 characters hold the creation time in milliseconds since the epoch
(48 bits), the last 2 hold 10 random bits, so ids taken in the same
millisecond by different processes rarely collide (and a collision is caught
when the capture is published: see ``Store``).  Lexical order is time order.
"""

from __future__ import annotations

import secrets
import time

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 12
_TIME_CHARS = 10


def _encode(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def new_id(when: float | None = None) -> str:
    """A fresh id for a capture created at ``when`` (epoch seconds; default now)."""
    ms = int((time.time() if when is None else when) * 1000)
    return _encode(max(ms, 0), _TIME_CHARS) + _encode(secrets.randbits(10), ID_LENGTH - _TIME_CHARS)


def id_time(capture_id: str) -> float:
    """The creation time (epoch seconds) encoded in ``capture_id``."""
    ms = 0
    for ch in capture_id[:_TIME_CHARS]:
        ms = ms * 32 + ALPHABET.index(ch)
    return ms / 1000


def looks_like_id(text: str) -> bool:
    """True if ``text`` could be an id or an id prefix (case-insensitive)."""
    return 0 < len(text) <= ID_LENGTH and all(ch in ALPHABET for ch in text.upper())
