"""What a capture hands back: the file it wrote and the facts to record with it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["CaptureResult", "Progress", "ProgressCallback"]


@dataclasses.dataclass
class Progress:
    """One progress report of a running capture.

    ``phase`` is ``"heap"`` while V8 walks the heap (``done``/``total`` objects),
    ``"write"`` while the file streams to disk (``done`` bytes, ``total`` None),
    ``"wait"`` while a timed capture runs (``done``/``total`` seconds) and
    ``"series"`` between the snapshots of a series (``done`` seconds waited,
    ``total`` seconds until the next one).
    """

    phase: str
    done: float
    total: float | None = None


ProgressCallback = Callable[[Progress], Any]


@dataclasses.dataclass
class CaptureResult:
    """A capture that was written completely to ``path``.

    ``session`` names the inspector session it was taken in (object ids of two
    heap snapshots are comparable only when it is equal); ``meta`` holds the
    kind-specific facts (node count, samples, events file, ...).  ``metadata()``
    is what the store records.
    """

    kind: str
    path: Path
    size: int
    duration_s: float
    started: str
    session: str
    pid: int | None = None
    node_version: str | None = None
    series: str | None = None
    series_index: int | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """The fields a store keeps with the capture (everything but ``path`` and ``size``)."""
        out = {
            "kind": self.kind, "started": self.started, "duration_s": round(self.duration_s, 3),
            "session": self.session, "pid": self.pid, "node_version": self.node_version,
            "series": self.series, "series_index": self.series_index, "options": dict(self.options),
        }
        out.update(self.meta)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "size": self.size, **self.metadata()}
