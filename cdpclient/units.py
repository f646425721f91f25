"""Durations and sizes as users type them: ``500ms``, ``30s``, ``5m``, ``2h``, ``7d``; ``64KiB``, ``1GB``."""

from __future__ import annotations

import re

from cdpclient.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)


def parse_duration(text: str | float | int) -> float:
    """Seconds from ``500ms``, ``30s``, ``5m``, ``2h``, ``7d`` (a bare number is seconds).

    Raises :class:`UsageError` for anything else, or a negative value.
    """
    if isinstance(text, (int, float)):
        if text < 0:
            raise UsageError(f"duration must not be negative: {text}")
        return float(text)
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"invalid duration {text!r}: use a number with ms, s, m, h or d (e.g. 500ms, 30s, 5m)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_size(text: str | int) -> int:
    """Bytes from ``32768``, ``64KiB``, ``64k``, ``1MB``, ``2G`` (K, M, G, T are powers of 1024)."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"invalid size {text!r}: use bytes or a number with K, M, G (e.g. 32768, 64KiB)")
    unit = (match.group(2) or "b").lower()
    power = {"b": 0, "k": 1, "m": 2, "g": 3, "t": 4}[unit[0]]
    return int(float(match.group(1)) * 1024**power)


def format_duration(seconds: float) -> str:
    """``0.5`` -> ``500ms``, ``90`` -> ``1m30s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_bytes(n: float | int | None) -> str:
    """``12.3 MiB``: powers of 1024, labelled as such (KiB, MiB, GiB: never a 1024-based "MB")."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
