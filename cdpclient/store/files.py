"""Hashing and copying capture files (private, atomic writes live in :mod:`cdpclient.fileio`)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

from cdpclient import compression
from cdpclient.compression import BLOCK
from cdpclient.fileio import open_private

Progress = Callable[[int], None]  # called with bytes done so far


def digest(path: Path, progress: Progress | None = None) -> tuple[str, int]:
    """sha256 hex and size of ``path``."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            h.update(block)
            size += len(block)
            if progress:
                progress(size)
    return h.hexdigest(), size


def content_digest(path: Path) -> tuple[str, int]:
    """sha256 hex and size of the content of the zstd file ``path``, decompressed on the fly."""
    h = hashlib.sha256()
    size = 0
    with compression.open_content(path) as fh:
        while block := fh.read(BLOCK):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def copy_private(src: Path, dest: Path) -> None:
    """Copy ``src`` into a new 0600 file ``dest``."""
    with open(src, "rb") as fin, open_private(dest) as fout:
        shutil.copyfileobj(fin, fout, BLOCK)
