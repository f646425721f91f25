"""Redact a heap snapshot for sharing: every JS string value replaced, structure kept.

What changes: the text of every string the heap holds as a value (nodes of
type ``string``, ``concatenated string`` and ``sliced string``) becomes ``*``
repeated to the same length.  What stays: node and edge counts, ids, sizes,
edges, class and function names, property names, locations: a redacted
snapshot diffs, dominates and ranks like the original.

V8 shares one strings-table entry between every use of the same text, so the
string value ``"Array"`` and the class name ``Array`` are one entry.  An entry
used both by a string value and by something kept (a class name, a property
name, a function name) stays, and the string nodes that used it are pointed at
a new, redacted entry appended to the table.  Note the consequence: a string
that is also an object's property name (a dictionary-mode object keyed by
tokens, for example) stays readable as that property's name.

Two streaming passes over the file, never holding it whole: the first reads
the nodes, edges and trace function tables (two small arrays per node are
kept: type and name), the second writes the copy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, BinaryIO, Callable

from cdpclient.errors import InvalidCaptureFile

CHUNK = 4 << 20
PLACEHOLDER = "*"
REDACTED_NODE_TYPES = ("string", "concatenated string", "sliced string")
# Edge types whose name_or_index is an index into the strings (the others hold numbers).
_NUMBERED_EDGE_TYPES = ("element", "hidden")
_SECTION = re.compile(rb'\s*,\s*"([A-Za-z_]+)"\s*:\s*\[')
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_SEP = re.compile(rb'[\s,]*')
_ITEM = re.compile(rb'[\s,]*+("[^"\\]*+(?:\\.[^"\\]*+)*+")')
# One JSON escape (\n, \", \uXXXX) stands for one UTF-16 unit, as JS counts string length.
_ESCAPE = re.compile(r'\\(?:u[0-9a-fA-F]{4}|.)')


def redact_heapsnapshot(src: Path, dest: Path) -> dict[str, int]:
    """Write a redacted copy of the heap snapshot ``src`` to ``dest`` (which the caller created 0600).

    Returns counts: ``strings`` in the original table, ``redacted`` in place,
    ``appended`` new redacted entries.  Raises :class:`InvalidCaptureFile` if
    ``src`` is not laid out as V8 writes heap snapshots.
    """
    import numpy as np

    plan = _Plan()
    with open(src, "rb") as fh:
        _walk(fh, src, None, plan.collect_numbers, plan.count_strings)
    plan.finish(np)
    with open(src, "rb") as fh, open(dest, "wb") as out:
        _walk(fh, src, out, plan.patch_numbers, plan.redact_strings)
    return {"strings": plan.string_count, "redacted": int(plan.in_place.sum()), "appended": len(plan.appended)}


class _Plan:
    """What pass 1 learns and pass 2 applies."""

    def __init__(self) -> None:
        self.header: dict[str, Any] = {}
        self.types: list[Any] = []
        self.names: list[Any] = []
        self.kept_names: list[Any] = []
        self.string_count = 0
        self.appended: list[int] = []          # original indices whose redacted twin is appended
        self.pending: dict[int, str] = {}      # twin placeholders, filled while copying strings

    # --- pass 1 ------------------------------------------------------------------
    def collect_numbers(self, key: str, values: Any, starts: Any, ends: Any, ordinal: int, chunk: bytes,
                        np: Any) -> bytes | None:
        meta = self.header["meta"]
        if key == "nodes":
            nf = len(meta["node_fields"])
            t, n = meta["node_fields"].index("type"), meta["node_fields"].index("name")
            field = (np.arange(len(values)) + ordinal) % nf
            self.types.append(values[field == t].astype(np.uint8))
            self.names.append(values[field == n].astype(np.int64))
        elif key == "edges":
            ef = len(meta["edge_fields"])
            t, n = meta["edge_fields"].index("type"), meta["edge_fields"].index("name_or_index")
            field = (np.arange(len(values)) + ordinal) % ef
            # a chunk holds whole edges only (see _walk), so the type and name columns line up
            etypes, enames = values[field == t], values[field == n]
            numbered = [meta["edge_types"][0].index(x) for x in _NUMBERED_EDGE_TYPES if x in meta["edge_types"][0]]
            self.kept_names.append(np.unique(enames[~np.isin(etypes, numbered)]))
        elif key == "trace_function_infos":
            fields = meta.get("trace_function_info_fields", [])
            tf = len(fields)
            if tf:
                field = (np.arange(len(values)) + ordinal) % tf
                for name in ("name", "script_name"):
                    if name in fields:
                        self.kept_names.append(values[field == fields.index(name)])
        return None

    def count_strings(self, index: int, token: bytes) -> bytes | None:
        if index >= 0:
            self.string_count = index + 1
        return None

    def finish(self, np: Any) -> None:
        meta = self.header["meta"]
        type_names = meta["node_types"][0]
        redacted_types = [type_names.index(t) for t in REDACTED_NODE_TYPES if t in type_names]
        types = np.concatenate(self.types) if self.types else np.zeros(0, np.uint8)
        names = np.concatenate(self.names) if self.names else np.zeros(0, np.int64)
        self.is_value = np.isin(types, redacted_types)
        self.types, self.names = types, names
        kept = np.concatenate([names[~self.is_value], *self.kept_names]) if len(names) else np.zeros(0, np.int64)
        count = self.string_count
        used_by_values = np.zeros(count, bool)
        used_by_values[names[self.is_value]] = True
        used_elsewhere = np.zeros(count, bool)
        used_elsewhere[kept[(kept >= 0) & (kept < count)]] = True
        self.in_place = used_by_values & ~used_elsewhere
        self.in_place_flags = self.in_place.tobytes()  # indexing bytes is much quicker than numpy scalars
        shared = np.flatnonzero(used_by_values & used_elsewhere)
        self.remap = np.full(count, -1, np.int64)
        self.remap[shared] = count + np.arange(len(shared))
        self.appended = shared.tolist()
        self.shared = set(self.appended)

    # --- pass 2 ----------------------------------------------------------------------
    def patch_numbers(self, key: str, values: Any, starts: Any, ends: Any, ordinal: int, chunk: bytes,
                      np: Any) -> bytes | None:
        if key != "nodes" or not len(self.appended):
            return None
        fields = self.header["meta"]["node_fields"]
        nf, n = len(fields), fields.index("name")
        pos = np.arange(len(values)) + ordinal
        node = pos // nf
        hit = np.flatnonzero((pos % nf == n) & self.is_value[node])
        hit = hit[self.remap[values[hit]] >= 0]
        if not len(hit):
            return None
        pieces, last = [], 0
        for i, new in zip(hit.tolist(), self.remap[values[hit]].tolist()):
            pieces += [chunk[last:starts[i]], str(new).encode()]
            last = int(ends[i])
        pieces.append(chunk[last:])
        return b"".join(pieces)

    def redact_strings(self, index: int, token: bytes) -> bytes | None:
        if index < 0:  # the end of the table: append the redacted twins
            return b"".join(b",\n" + self.pending.pop(i).encode() for i in self.appended)
        if self.in_place_flags[index]:
            return _placeholder(token).encode()
        if index in self.shared:
            self.pending[index] = _placeholder(token)
        return None


def _placeholder(token: bytes) -> str:
    """``"****"`` as long (in UTF-16 units, like JS ``length``) as the string ``token`` holds."""
    text = token[1:-1].decode("utf-8", "replace")
    if "\\" in text:
        text = _ESCAPE.sub("x", text)
    units = len(text) if text.isascii() else len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
    return '"' + PLACEHOLDER * units + '"'


NumbersHook = Callable[[str, Any, Any, Any, int, bytes, Any], "bytes | None"]
StringsHook = Callable[[int, bytes], "bytes | None"]


class _Stream:
    """A read buffer over the source, with the copy going to ``out`` (pass 2) or nowhere (pass 1)."""

    def __init__(self, fh: BinaryIO, out: BinaryIO | None, src: Path) -> None:
        self.fh, self.out, self.src = fh, out, src
        self.buf, self.pos = b"", 0

    def more(self) -> bool:
        data = self.fh.read(CHUNK)
        self.buf = self.buf[self.pos:] + data
        self.pos = 0
        return bool(data)

    def emit(self, data: bytes) -> None:
        if self.out is not None and data:
            self.out.write(data)

    def fail(self, why: str) -> InvalidCaptureFile:
        return InvalidCaptureFile(f"{self.src}: {why}", path=str(self.src))


def _walk(fh: BinaryIO, src: Path, out: BinaryIO | None, on_numbers: NumbersHook, on_strings: StringsHook) -> None:
    """Stream the snapshot section by section, copying to ``out`` what the hooks do not replace."""
    import numpy as np

    s = _Stream(fh, out, src)
    while len(s.buf) < (1 << 20) and s.more():
        pass
    m = re.match(rb'\s*\{\s*"snapshot"\s*:\s*', s.buf)
    if not m:
        raise s.fail("not a heap snapshot")
    head = s.buf[: 1 << 20].decode("utf-8", "replace")
    try:
        header, end = json.JSONDecoder().raw_decode(head, m.end())
        meta = header["meta"]
    except (ValueError, KeyError, TypeError) as exc:
        raise s.fail(f"unreadable heap snapshot header: {exc}") from exc
    plan = getattr(on_numbers, "__self__", None)
    if plan is not None:
        plan.header = header
    s.pos = len(head[:end].encode())
    s.emit(s.buf[: s.pos])
    widths = {"nodes": len(meta["node_fields"]), "edges": len(meta["edge_fields"]),
              "trace_function_infos": len(meta.get("trace_function_info_fields", ())) or 1}
    while True:
        while len(s.buf) - s.pos < 256 and s.more():
            pass
        sec = _SECTION.match(s.buf, s.pos)
        if sec is None:
            if not s.buf[s.pos:].strip().startswith(b"}"):
                raise s.fail(f"unexpected heap snapshot layout near {s.buf[s.pos:s.pos + 30]!r}")
            s.emit(s.buf[s.pos:])
            s.pos = len(s.buf)
            while s.more():
                s.emit(s.buf)
                s.pos = len(s.buf)
            return
        s.emit(s.buf[s.pos:sec.end()])
        s.pos = sec.end()
        key = sec.group(1).decode()
        if key == "strings":
            _strings(s, on_strings)
        else:
            _numbers(s, key, widths.get(key, 1), on_numbers, np)


def _numbers(s: _Stream, key: str, width: int, hook: NumbersHook, np: Any) -> None:
    """One numeric section, through its closing bracket.  Hooks see whole records only."""
    depth, ordinal = 1, 0
    while True:
        buf, pos = s.buf, s.pos
        if key == "trace_tree":  # nested arrays of numbers; nobody needs them parsed
            close = -1
            for mt in re.finditer(rb"[\[\]]", buf[pos:]):
                depth += 1 if mt.group() == b"[" else -1
                if depth == 0:
                    close = pos + mt.start()
                    break
            end = close if close >= 0 else len(buf)
            s.emit(buf[pos:end])
        else:
            close = buf.find(b"]", pos)
            end = close if close >= 0 else len(buf)
            if buf.find(b'"', pos, end) >= 0 or buf.find(b"[", pos, end) >= 0:
                raise s.fail(f"unexpected content in the {key} section")
            body = buf[pos:end]
            values, starts, ends = _ints(body, np)
            if close < 0:
                # keep only whole records; the rest waits for the next read
                count = len(values) - (1 if body[-1:].isdigit() else 0)
                count -= count % width
                end = pos + (int(ends[count - 1]) if count else 0)
                values, starts, ends = values[:count], starts[:count], ends[:count]
                body = buf[pos:end]
            if len(values):
                replaced = hook(key, values, starts, ends, ordinal, body, np)
                ordinal += len(values)
                s.emit(body if replaced is None else replaced)
            else:
                s.emit(body)
        if close >= 0:
            s.emit(b"]")
            s.pos = close + 1
            return
        s.pos = end
        if not s.more():
            raise s.fail(f"truncated heap snapshot (inside the {key} section)")


def _strings(s: _Stream, hook: StringsHook) -> None:
    """The strings table, through its closing bracket; ``hook(i, token)`` may replace string i."""
    index = 0
    while True:
        buf, pos = s.buf, s.pos
        pieces, last = [], pos
        for m in _ITEM.finditer(buf, pos):
            if m.start() != pos:
                break
            replaced = hook(index, m.group(1))
            index += 1
            if replaced is not None:
                pieces += [buf[last:m.start(1)], replaced]
                last = m.end()
            pos = m.end()
        pos = _SEP.match(buf, pos).end()  # type: ignore[union-attr]
        if pos < len(buf) and buf[pos] == 0x5D:  # ']': the end of the table
            pieces.append(buf[last:pos])
            pieces.append(hook(-1, b"") or b"")
            pieces.append(b"]")
            s.emit(b"".join(pieces))
            s.pos = pos + 1
            return
        if pos < len(buf) and buf[pos] != 0x22:
            raise s.fail(f"unexpected content in the strings section at {buf[pos:pos + 20]!r}")
        # a string cut by the read boundary: copy what is done, read on
        pieces.append(buf[last:pos])
        s.emit(b"".join(pieces))
        s.pos = pos
        if not s.more():
            raise s.fail("truncated heap snapshot (inside the strings section)")


def _ints(body: bytes, np: Any) -> tuple[Any, Any, Any]:
    """The non-negative integers in ``body`` (runs of digits), with their start and end offsets."""
    a = np.frombuffer(body, np.uint8)
    digit = (a >= 48) & (a <= 57)
    edges = np.diff(digit.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    if not len(starts):
        return np.zeros(0, np.int64), starts, ends
    lengths = ends - starts
    pos = np.flatnonzero(digit)
    exp = np.repeat(ends, lengths) - 1 - pos
    pow10 = 10 ** np.arange(19, dtype=np.int64)
    values = np.add.reduceat((a[pos] - 48).astype(np.int64) * pow10[exp], np.cumsum(lengths) - lengths)
    return values, starts, ends
