"""The record of one capture, as the store hands it out."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

# File states a record can show (``CaptureRecord.status``).
STATUS_OK = "ok"                # file present; size (and in a full check, sha256) as recorded
STATUS_MISSING = "missing"      # the capture file is gone
STATUS_CORRUPT = "corrupt"      # size or sha256 differs from what was recorded
STATUS_UNCHECKED = "unchecked"  # not looked at
STATUS_EXTERNAL = "external"    # a file outside the store, named by path

# Metadata keys that are record fields (the rest stay in ``meta`` only).
RECORD_KEYS = ("duration_s", "node_version", "pid", "session", "series", "series_index")


@dataclasses.dataclass
class CaptureRecord:
    """One capture: its file and its metadata.

    ``path`` is the stored file (it ends in ``.zst`` when the capture is
    compressed at rest: use ``Store.materialize`` for a plain file to read).
    ``size`` and ``sha256`` describe the capture's content (uncompressed).
    ``meta`` is the whole metadata as kept beside the file, including keys a
    capture added that are not fields here.
    """

    id: str
    kind: str
    path: Path
    created: str
    size: int
    sha256: str | None
    duration_s: float | None = None
    target: dict[str, Any] = dataclasses.field(default_factory=dict)
    node_version: str | None = None
    pid: int | None = None
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    session: str | None = None
    series: str | None = None
    series_index: int | None = None
    status: str = STATUS_UNCHECKED
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def compressed(self) -> bool:
        return self.meta.get("compression") is not None

    @property
    def stored_size(self) -> int:
        return int(self.meta.get("stored_size", self.size))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``path`` as a string)."""
        out = dataclasses.asdict(self)
        out["path"] = str(self.path)
        return out

    @classmethod
    def from_meta(cls, meta: dict[str, Any], path: Path, status: str = STATUS_UNCHECKED) -> CaptureRecord:
        """Build a record from a metadata dict (as written beside a capture)."""
        return cls(
            id=meta["id"], kind=meta["kind"], path=path, created=meta["created"],
            size=int(meta["size"]), sha256=meta.get("sha256"),
            target=dict(meta.get("target") or {}), labels=dict(meta.get("labels") or {}),
            options=dict(meta.get("options") or {}), status=status, meta=meta,
            **{key: meta.get(key) for key in RECORD_KEYS},
        )
