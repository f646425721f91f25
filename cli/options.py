"""The options of the capture commands, as the commands and fleet runs pass them on."""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass
class SaveOptions:
    """Where and how a capture is kept: a file (``out``) or the store."""

    out: Path | None = None
    store: str | None = None
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    compress: bool = False
    progress: bool = True


@dataclasses.dataclass
class SnapshotOptions(SaveOptions):
    gc: bool = False
    force: bool = False
    count: int = 1
    every: float = 0.0


@dataclasses.dataclass
class TimedOptions(SaveOptions):
    duration: float = 30.0
    interval: float | int | None = None
    include_collected: bool = False
    force: bool = False
