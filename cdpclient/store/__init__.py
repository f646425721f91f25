"""The recordings store: every capture kept, findable, comparable, safe.

``Store.open()`` gives the store; captures register through
``Store.new_capture``; every command that takes a capture id goes through
``Store.resolve``.  See docs/store.md.
"""

from __future__ import annotations

from cdpclient.store.kinds import EXTENSIONS, KINDS, detect_kind, validate_file
from cdpclient.store.move import MovedCapture, MoveResult, move_store
from cdpclient.store.record import (
    STATUS_CORRUPT,
    STATUS_EXTERNAL,
    STATUS_MISSING,
    STATUS_OK,
    CaptureRecord,
    ids_comparable,
    order_by_time,
    order_series,
    series_notes,
)
from cdpclient.store.store import PendingCapture, Store, default_path

__all__ = [
    # the store
    "Store", "PendingCapture", "CaptureRecord", "default_path",
    # moving a store's captures into another (``cdpclient store move``)
    "move_store", "MoveResult", "MovedCapture",
    # what records say about each other
    "ids_comparable", "order_series", "order_by_time", "series_notes",
    # kinds and files
    "KINDS", "EXTENSIONS", "detect_kind", "validate_file",
    # record status values
    "STATUS_OK", "STATUS_MISSING", "STATUS_CORRUPT", "STATUS_EXTERNAL",
]
