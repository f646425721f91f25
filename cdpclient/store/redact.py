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
kept: type and name), the second writes the copy.  Both work a buffer at a
time with numpy (numbers through its C text parser, strings located by their
unescaped quotes), so no Python code runs per node or per string.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from cdpclient.errors import InvalidCaptureFile
from cdpclient.fileio import open_private

CHUNK = 4 << 20
PLACEHOLDER = "*"
REDACTED_NODE_TYPES = ("string", "concatenated string", "sliced string")
# Edge types whose name_or_index is an index into the strings (the others hold numbers).
_NUMBERED_EDGE_TYPES = ("element", "hidden")
_SECTION = re.compile(rb'\s*,\s*"([A-Za-z_]+)"\s*:\s*\[')
# One JSON escape (\n, \", \uXXXX) stands for one UTF-16 unit, as JS counts string length.
_ESCAPE = re.compile(r'\\(?:u[0-9a-fA-F]{4}|.)')


class Sink(Protocol):
    """Where the redacted copy goes: a binary file, or a :class:`cdpclient.fileio.AtomicFile`."""

    def write(self, data: bytes, /) -> object: ...


def redact_heapsnapshot(src: Path, dest: Path | Sink) -> dict[str, int]:
    """Write a redacted copy of the heap snapshot ``src`` to ``dest`` (a path, written 0600, or a sink).

    Returns counts: ``strings`` in the original table, ``redacted`` in place,
    ``appended`` new redacted entries.  Raises :class:`InvalidCaptureFile` if
    ``src`` is not laid out as V8 writes heap snapshots.
    """
    import numpy as np

    plan = _Plan()
    with open(src, "rb") as fh:
        _walk(fh, src, None, plan.collect_numbers, plan.count_strings, plan.strings_tail,
              wanted=("nodes", "edges", "trace_function_infos"))
    plan.finish(np)
    with open(src, "rb") as fh, contextlib.ExitStack() as stack:
        out: Sink = stack.enter_context(open_private(dest, exclusive=False)) if isinstance(dest, Path) else dest
        _walk(fh, src, out, plan.patch_numbers, plan.redact_strings, plan.strings_tail,
              wanted=("nodes",) if plan.appended else ())
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
            self.names.append(values[field == n].astype(np.int32))  # string indices fit in 31 bits
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

    def count_strings(self, first: int, a: Any, opens: Any, closes: Any, np: Any) -> bytes | None:
        self.string_count = first + len(opens)
        return None

    def finish(self, np: Any) -> None:
        """Decide which strings to redact in place and which get a redacted twin."""
        meta = self.header["meta"]
        type_names = meta["node_types"][0]
        redacted_types = [type_names.index(t) for t in REDACTED_NODE_TYPES if t in type_names]
        types = np.concatenate(self.types) if self.types else np.zeros(0, np.uint8)
        names = np.concatenate(self.names) if self.names else np.zeros(0, np.int32)
        self.types, self.names = [], []
        self.is_value = np.isin(types, redacted_types)  # pass 2 needs only this, one byte per node
        del types
        count = self.string_count
        used_by_values = np.zeros(count, bool)
        used_by_values[names[self.is_value]] = True
        used_elsewhere = np.zeros(count, bool)
        for kept in (names[~self.is_value], *self.kept_names):
            used_elsewhere[kept[(kept >= 0) & (kept < count)]] = True
        self.kept_names = []
        self.in_place = used_by_values & ~used_elsewhere
        shared = np.flatnonzero(used_by_values & used_elsewhere)
        self.remap = np.full(count, -1, np.int64)
        self.remap[shared] = count + np.arange(len(shared))
        self.appended = shared.tolist()

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
        for i, new in zip(hit.tolist(), self.remap[values[hit]].tolist(), strict=True):
            token = chunk[starts[i]:ends[i]]
            lead = len(token) - len(token.lstrip())
            pieces += [chunk[last:starts[i] + lead], str(new).encode(), token[len(token.rstrip()):]]
            last = int(ends[i])
        pieces.append(chunk[last:])
        return b"".join(pieces)

    def redact_strings(self, first: int, a: Any, opens: Any, closes: Any, np: Any) -> bytes | None:
        """The batch of strings ``first..`` (token offsets in ``a``) with the redacted ones replaced."""
        idx = np.arange(first, first + len(opens))
        inside = idx < len(self.in_place)
        for k in np.flatnonzero(inside & (self.remap[np.minimum(idx, len(self.remap) - 1)] >= 0)).tolist():
            self.pending[first + k] = _placeholder(a[opens[k]:closes[k] + 1].tobytes())
        redact = np.zeros(len(opens), bool)
        redact[inside] = self.in_place[idx[inside]]
        if not redact.any():
            return None
        o, c = opens[redact], closes[redact]
        units = (c - o - 1) - _overhead(a, o, c, np)
        n = len(a)
        star = np.cumsum(np.bincount(o + 1, minlength=n + 1) - np.bincount(o + 1 + units, minlength=n + 1))[:n] > 0
        drop = np.cumsum(np.bincount(o + 1 + units, minlength=n + 1) - np.bincount(c, minlength=n + 1))[:n] > 0
        out = a.copy()
        out[star] = 0x2A  # '*'
        return bytes(out[~drop].tobytes())

    def strings_tail(self) -> bytes:
        """The redacted twins, appended after the last original string (none in pass 1)."""
        return b"".join(b",\n" + self.pending.pop(i).encode() for i in self.appended)


def _overhead(a: Any, opens: Any, closes: Any, np: Any) -> Any:
    """Per string: its length in bytes minus its length in UTF-16 units (what JS ``length`` counts).

    An escape ``\\x`` is two bytes for one unit, ``\\uXXXX`` six for one; UTF-8
    continuation bytes add none; a 4-byte sequence is two units.
    """
    backslash = a == 0x5C
    weight = np.zeros(len(a) + 1, np.int64)
    if backslash.any():
        pos = np.flatnonzero(backslash)
        run_start = pos[np.r_[True, np.diff(pos) != 1]]
        first_of_run = run_start[np.searchsorted(run_start, pos, side="right") - 1]
        escape = pos[(pos - first_of_run) % 2 == 0]  # the backslashes that start an escape
        nxt = a[np.minimum(escape + 1, len(a) - 1)]
        weight[escape] = np.where(nxt == 0x75, 5, 1)  # 'u'
    weight[:-1] += ((a & 0xC0) == 0x80).astype(np.int64) - (a >= 0xF0).astype(np.int64)
    cs = np.concatenate(([0], np.cumsum(weight[:-1])))
    return cs[closes] - cs[opens + 1]


def _placeholder(token: bytes) -> str:
    """``"****"`` as long (in UTF-16 units, like JS ``length``) as the string ``token`` holds."""
    text = token[1:-1].decode("utf-8", "replace")
    if "\\" in text:
        text = _ESCAPE.sub("x", text)
    units = len(text) if text.isascii() else len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
    return '"' + PLACEHOLDER * units + '"'


NumbersHook = Callable[[str, Any, Any, Any, int, bytes, Any], "bytes | None"]
StringsHook = Callable[[int, Any, Any, Any, Any], "bytes | None"]


class _Stream:
    """A read buffer over the source, with the copy going to ``out`` (pass 2) or nowhere (pass 1)."""

    def __init__(self, fh: BinaryIO, out: Sink | None, src: Path) -> None:
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


def _walk(fh: BinaryIO, src: Path, out: Sink | None, on_numbers: NumbersHook, on_strings: StringsHook,
          strings_tail: Callable[[], bytes], wanted: tuple[str, ...]) -> None:
    """Stream the snapshot section by section, copying to ``out`` what the hooks do not replace.

    ``on_numbers`` sees the numbers of the ``wanted`` sections only.
    """
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
            _strings(s, on_strings, strings_tail, np)
        else:
            _numbers(s, key, widths.get(key, 1), on_numbers, np, parse=key in wanted)


def _numbers(s: _Stream, key: str, width: int, hook: NumbersHook, np: Any, parse: bool = True) -> None:
    """One numeric section, through its closing bracket.  Hooks see whole records only.

    ``parse=False`` copies the section through without reading its numbers.
    """
    depth, ordinal = 1, 0
    while True:
        buf, pos = s.buf, s.pos
        if key == "trace_tree":  # nested arrays of numbers, copied through: only brackets matter
            close = -1
            for mt in re.finditer(rb"[\[\]]", buf[pos:]):
                depth += 1 if mt.group() == b"[" else -1
                if depth == 0:
                    close = pos + mt.start()
                    break
            end = close if close >= 0 else len(buf)
            s.emit(buf[pos:end])
        elif not parse:  # a flat array copied through
            close = buf.find(b"]", pos)
            end = close if close >= 0 else len(buf)
            s.emit(buf[pos:end])
        else:
            close = buf.find(b"]", pos)
            end = close if close >= 0 else len(buf)
            if buf.find(b'"', pos, end) >= 0 or buf.find(b"[", pos, end) >= 0:
                raise s.fail(f"unexpected content in the {key} section")
            body = buf[pos:end]
            commas = np.flatnonzero(np.frombuffer(body, np.uint8) == 0x2C)
            tail = b""
            if close < 0:
                # whole records only: cut at the comma after the last complete one
                count = len(commas) - len(commas) % width
                if not count:
                    end = pos
                    body = b""
                else:
                    cut = int(commas[count - 1])
                    body, tail, commas = body[:cut], b",", commas[:count - 1]
                    end = pos + cut + 1
            if body.strip():
                # numpy's C text parser: V8 writes "1,2\n,3"; whitespace around commas is allowed
                values = np.fromstring(body, dtype=np.int64, sep=",")
                if len(values) != len(commas) + 1:
                    raise s.fail(f"malformed numbers in the {key} section")
                starts = np.r_[0, commas + 1]
                ends = np.r_[commas, len(body)]
                replaced = hook(key, values, starts, ends, ordinal, body, np)
                ordinal += len(values)
                s.emit(body if replaced is None else replaced)
            else:
                s.emit(body)
            s.emit(tail)
        if close >= 0:
            s.emit(b"]")
            s.pos = close + 1
            return
        s.pos = end
        if not s.more():
            raise s.fail(f"truncated heap snapshot (inside the {key} section)")


def _strings(s: _Stream, hook: StringsHook, tail: Callable[[], bytes], np: Any) -> None:
    """The strings table through its closing bracket, a buffer at a time, vectorised.

    Strings are found from their unescaped quotes (outside strings the table holds
    only commas and whitespace), so no Python code runs per string.
    """
    index = 0
    while True:
        a = np.frombuffer(s.buf, np.uint8)[s.pos:]
        quotes = np.flatnonzero(a == 0x22)
        if len(quotes):
            quotes = quotes[~_escaped(a, quotes, np)]
        brackets = np.flatnonzero(a == 0x5D)
        outside = brackets[np.searchsorted(quotes, brackets) % 2 == 0]  # ']' not within a string
        end = int(outside[0]) if len(outside) else -1
        if end >= 0:
            quotes = quotes[quotes < end]
        count = len(quotes) // 2
        opens, closes = quotes[0:2 * count:2], quotes[1:2 * count:2]
        stop = end if end >= 0 else (int(closes[-1]) + 1 if count else 0)
        inside = np.cumsum(np.bincount(opens, minlength=stop + 1) - np.bincount(closes + 1, minlength=stop + 1))[:stop]
        between = a[:stop][inside == 0]
        if len(between) and not np.isin(between, _SEPARATORS).all():
            raise s.fail("unexpected content in the strings section")
        region = a[:stop]
        replaced = hook(index, region, opens, closes, np) if count else None
        index += count
        s.emit(region.tobytes() if replaced is None else replaced)
        if end >= 0:
            s.emit(tail() + b"]")
            s.pos += end + 1
            return
        s.pos += stop
        if not s.more():
            raise s.fail("truncated heap snapshot (inside the strings section)")


_SEPARATORS = (0x20, 0x0A, 0x0D, 0x09, 0x2C)  # space, newline, return, tab, comma


def _escaped(a: Any, quotes: Any, np: Any) -> Any:
    """For each quote offset: is it escaped (preceded by an odd run of backslashes)?"""
    backslashes = np.flatnonzero(a == 0x5C)
    out = np.zeros(len(quotes), bool)
    if not len(backslashes):
        return out
    after = np.flatnonzero((quotes > 0) & (a[np.maximum(quotes - 1, 0)] == 0x5C))
    run_starts = backslashes[np.r_[True, np.diff(backslashes) != 1]]
    q = quotes[after]
    first = run_starts[np.searchsorted(run_starts, q - 1, side="right") - 1]
    out[after] = (q - first) % 2 == 1
    return out
