"""``leaks --fail-if``: thresholds a leak suspect can cross, for CI pipelines and runbooks.

    growth>1MiB/snapshot    the holders' retained size grows by more than this per snapshot
    count>1000/snapshot     the items held grow by more than this many per snapshot
    retained>50MiB          the holders retain more than this in the last snapshot
    share>10%               the holders retain more than this share of the heap
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cdpclient.errors import UsageError
from cdpclient.heap.leaks import Suspect
from cdpclient.units import parse_size

_GATE = re.compile(r"^\s*(growth|count|retained|share)\s*(>=|>)\s*([0-9.]+\s*[a-zA-Z%]*)\s*(?:/\s*snapshot)?\s*$")


@dataclass(frozen=True)
class Gate:
    text: str
    figure: str
    strict: bool
    limit: float

    def value(self, s: Suspect) -> float:
        return {"growth": s.bytes_per_snapshot, "count": s.growth_per_snapshot,
                "retained": float(s.holder_retained), "share": s.heap_share * 100}[self.figure]

    def crossed(self, s: Suspect) -> bool:
        v = self.value(s)
        return v > self.limit if self.strict else v >= self.limit


def parse_gate(text: str) -> Gate:
    """One ``--fail-if`` expression; :class:`UsageError` naming the accepted forms otherwise."""
    m = _GATE.match(text)
    if not m:
        raise UsageError(f"invalid --fail-if {text!r}: use growth>1MiB/snapshot, count>1000/snapshot, "
                         f"retained>50MiB or share>10%")
    figure, op, amount = m.group(1), m.group(2), m.group(3).replace(" ", "")
    if figure == "share":
        if not amount.endswith("%"):
            raise UsageError(f"invalid --fail-if {text!r}: a share is a percentage (share>10%)")
        limit = float(amount[:-1])
    elif figure == "count":
        if not re.fullmatch(r"[0-9.]+", amount):
            raise UsageError(f"invalid --fail-if {text!r}: a count is a number of items (count>1000/snapshot)")
        limit = float(amount)
    else:
        limit = float(parse_size(amount))
    return Gate(text=text.strip(), figure=figure, strict=op == ">", limit=limit)


def parse_gates(texts: Sequence[str]) -> list[Gate]:
    return [parse_gate(t) for t in texts]
