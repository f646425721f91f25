"""The snapshot's string table, kept as the raw JSON bytes and decoded on demand."""

from __future__ import annotations

import json
from typing import Any


class StringTable:
    """``table[i]`` is the i-th entry of the snapshot's ``strings`` array.

    Only the strings a caller asks for are decoded (a production snapshot holds
    millions, most never looked at); decoded ones are memoised.
    """

    def __init__(self, blob: Any, starts: Any, ends: Any) -> None:
        # blob: bytes or a read-only mmap of the raw JSON strings array (both slice and find)
        self.blob = blob
        self.starts = starts
        self.ends = ends
        self._memo: dict[int, str] = {}

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def __getitem__(self, index: int) -> str:
        index = int(index)
        text = self._memo.get(index)
        if text is None:
            if not 0 <= index < len(self):
                return f"<string {index}?>"
            raw = self.blob[int(self.starts[index]):int(self.ends[index])]
            if b"\\" in raw:
                try:
                    text = json.loads(raw)
                except ValueError:
                    text = raw[1:-1].decode("utf-8", "replace")
            else:
                text = raw[1:-1].decode("utf-8", "replace")
            self._memo[index] = text
        return text

    def find(self, text: str) -> int:
        """Index of the first entry equal to ``text`` (-1 if absent); a byte search, no decode."""
        import numpy as np

        needle = json.dumps(text).encode()
        data = self.blob
        pos = data.find(needle)
        while pos >= 0:
            i = int(np.searchsorted(self.starts, pos))
            if i < len(self) and int(self.starts[i]) == pos and int(self.ends[i]) == pos + len(needle):
                return i
            pos = data.find(needle, pos + 1)
        return -1
