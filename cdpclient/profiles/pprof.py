"""Writing pprof's ``profile.proto`` (github.com/google/pprof, proto/profile.proto) without a protobuf dependency.

Only the wire format is needed: varints and length-delimited fields. Field numbers follow
the published schema: Profile{sample_type=1, sample=2, location=4, function=5,
string_table=6, duration_nanos=10, period_type=11, period=12, comment=13,
default_sample_type=14}, ValueType{type=1, unit=2}, Sample{location_id=1 (leaf first),
value=2}, Location{id=1, line=4}, Line{function_id=1, line=2},
Function{id=1, name=2, system_name=3, filename=4, start_line=5}.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 negatives are ten-byte two's complement varints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint((number << 3) | wire)


def _int(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value) if value else b""


def _bytes(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def _packed(number: int, values: Iterable[int]) -> bytes:
    body = b"".join(_varint(v) for v in values)
    return _bytes(number, body) if body else b""


@dataclass
class PprofBuilder:
    """Collects strings, functions, locations and samples, then serialises a Profile message."""

    sample_types: Sequence[tuple[str, str]]
    strings: dict[str, int] = field(default_factory=lambda: {"": 0})
    functions: dict[tuple[str, str, int], int] = field(default_factory=dict)
    locations: dict[tuple[int, int], int] = field(default_factory=dict)
    samples: list[bytes] = field(default_factory=list)
    mapping_file: str = "node"  # the one mapping's file name: what ran the JavaScript

    def string(self, text: str) -> int:
        return self.strings.setdefault(text, len(self.strings))

    def location(self, name: str, filename: str, start_line: int, line: int) -> int:
        """The id of the location for a frame (one function per name/file/start line)."""
        fkey = (name, filename, start_line)
        fid = self.functions.get(fkey)
        if fid is None:
            fid = self.functions[fkey] = len(self.functions) + 1
            self.string(name)
            self.string(filename)
        lkey = (fid, line)
        lid = self.locations.get(lkey)
        if lid is None:
            lid = self.locations[lkey] = len(self.locations) + 1
        return lid

    def sample(self, location_ids_leaf_first: Sequence[int], values: Sequence[int]) -> None:
        self.samples.append(_packed(1, location_ids_leaf_first) + _packed(2, values))

    def serialize(self, *, period_type: tuple[str, str], period: int, duration_nanos: int = 0,
                  default_sample_type: str | None = None, comments: Sequence[str] = ()) -> bytes:
        parts = [_bytes(1, _int(1, self.string(t)) + _int(2, self.string(u))) for t, u in self.sample_types]
        parts += [_bytes(2, s) for s in self.samples]
        # One mapping for all the JavaScript, symbolised already: without one pprof warns "Main binary
        # filename not available" and asks for symbols it will not find.
        parts.append(_bytes(3, _int(1, 1) + _int(5, self.string(self.mapping_file)) + _int(7, 1) + _int(8, 1)
                            + _int(9, 1)))
        for (fid, line), lid in self.locations.items():
            parts.append(_bytes(4, _int(1, lid) + _int(2, 1) + _bytes(4, _int(1, fid) + _int(2, line))))
        for (name, filename, start_line), fid in self.functions.items():
            n = self.string(name)
            parts.append(_bytes(5, _int(1, fid) + _int(2, n) + _int(3, n) + _int(4, self.string(filename))
                                + _int(5, start_line)))
        period_msg = _bytes(11, _int(1, self.string(period_type[0])) + _int(2, self.string(period_type[1])))
        comment_ids = [self.string(c) for c in comments]
        default = self.string(default_sample_type) if default_sample_type else 0
        # The string table goes last: every string above must be interned before it is written.
        tail = period_msg + _int(10, duration_nanos) + _int(12, period) + _packed(13, comment_ids) + _int(14, default)
        strings = b"".join(_bytes(6, s.encode("utf-8")) for s in self.strings)
        return b"".join(parts) + strings + tail
