"""Captures taken from a live target (issue 3).

``CaptureMethods`` is mixed into :class:`cdpclient.Target`, so captures read as
``await target.heap_snapshot(path)``; each method delegates to a module here.
"""

from __future__ import annotations


class CaptureMethods:
    """Capture methods of :class:`cdpclient.Target` (filled in by the captures part)."""
