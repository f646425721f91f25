"""``--when`` conditions: when a watch fires, and when it may fire again.

A condition is one of (sizes as :func:`cdpclient.units.parse_size` reads them,
durations as :func:`cdpclient.units.parse_duration`):

- a threshold on a figure: ``heap>85%`` (of its own limit: the heap's is V8's
  heap limit), ``rss>90%limit`` (of the tightest memory limit), ``external>512MiB``,
  ``fds>80%`` (of the soft open-files limit), ``handles>1000``, ``loop>200ms``;
- growth over a window: ``heap+100MiB/10m`` (the figure rose by that much above
  its lowest point within the last 10 minutes), ``fds+500/5m``;
- projected time to the memory limit: ``oom<30m`` (a linear fit over the last
  10 minutes, or ``oom<30m/20m`` for another window, of each figure that has a
  limit: RSS to the memory limit, the cgroup's use to its limit, the heap to V8's
  heap limit; the soonest one counts).

Figures: ``heap`` (used), ``heap_total``, ``rss``, ``external``, ``array_buffers``
(``buffers``), ``cgroup``, ``fds``, ``handles``, ``loop`` (event-loop delay p99).

:class:`Trigger` applies them to a stream of samples with hysteresis (after
firing, a condition re-arms only once its figure is back below the threshold by
``margin``), a cooldown between firings and a maximum number of firings.
This module is pure logic: no I/O, no clock (time is the samples' ``ts``).
"""

from __future__ import annotations

import collections
import dataclasses
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from cdpclient.errors import UsageError
from cdpclient.units import parse_duration, parse_size

__all__ = ["FIGURES", "Condition", "Reading", "Firing", "Trigger", "parse_condition", "parse_conditions"]

Sample = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Figure:
    key: str
    """The sample's key."""
    limit: str | None
    """The sample key of the limit a bare ``N%`` is a share of."""
    unit: Literal["bytes", "count", "ms"]


FIGURES: dict[str, Figure] = {
    "heap": Figure("heap_used", "heap_limit", "bytes"),
    "heap_total": Figure("heap_total", "heap_limit", "bytes"),
    "rss": Figure("rss", "memory_limit", "bytes"),
    "external": Figure("external", "memory_limit", "bytes"),
    "array_buffers": Figure("array_buffers", "memory_limit", "bytes"),
    "cgroup": Figure("cgroup_current", "cgroup_limit", "bytes"),
    "fds": Figure("fds", "fd_limit", "count"),
    "handles": Figure("handles", None, "count"),
    "loop": Figure("loop_delay_ms", None, "ms"),
}
_ALIASES = {"heap_used": "heap", "buffers": "array_buffers", "arraybuffers": "array_buffers", "memory": "rss",
            "cgroup_current": "cgroup", "delay": "loop", "loop_delay": "loop"}

# Pairs (figure, its limit) an `oom` projection follows.
_OOM_PAIRS = (("rss", "memory_limit"), ("cgroup_current", "cgroup_limit"), ("heap_used", "heap_limit"))
DEFAULT_OOM_WINDOW = 600.0
MIN_FIT_SAMPLES = 3

_THRESHOLD = re.compile(r"^(?P<figure>[a-z_]+)\s*(?P<op>[<>])\s*(?P<value>[0-9.]+\s*[a-zµ]*)\s*"
                        r"(?P<pct>%\s*(?P<of>[a-z_]+)?)?$")
_GROWTH = re.compile(r"^(?P<figure>[a-z_]+)\s*\+\s*(?P<value>[0-9.]+\s*[a-z]*)\s*/\s*(?P<window>[0-9.]+\s*[a-zµ]*)$")
_OOM = re.compile(r"^oom\s*<\s*(?P<value>[0-9.]+\s*[a-zµ]*)\s*(?:/\s*(?P<window>[0-9.]+\s*[a-zµ]*))?$")


@dataclasses.dataclass(frozen=True)
class Reading:
    """A condition's view of the latest sample: its ``value`` against its ``threshold`` (same units)."""

    value: float
    threshold: float
    met: bool


@dataclasses.dataclass(frozen=True)
class Condition:
    """One parsed ``--when`` condition; :meth:`read` evaluates it over the recent samples."""

    text: str
    """As the user typed it (recorded in firings)."""
    kind: Literal["threshold", "growth", "oom"]
    figure: str
    """The sample key it reads (``heap_used``, ...; ``oom`` for a projection)."""
    op: Literal[">", "<"]
    amount: float
    """Bytes, a count, milliseconds, seconds (``oom``), or a percentage when ``of`` is set."""
    of: str | None = None
    """For a share: the sample key of the limit (``heap_limit``, ``memory_limit``, ``fd_limit``, ...)."""
    window: float | None = None
    """Seconds of history a growth or a projection looks at."""

    def read(self, history: Sequence[Sample]) -> Reading | None:
        """The reading on the last sample of ``history`` (oldest first); None if it cannot be evaluated yet
        (a figure or a limit the target does not report, too little history for a projection)."""
        if not history:
            return None
        last = history[-1]
        if self.kind == "oom":
            eta = projected_seconds_to_limit(history, self.window or DEFAULT_OOM_WINDOW)
            if eta is None:
                return None
            return Reading(value=eta, threshold=self.amount, met=eta < self.amount)
        value = last.get(self.figure)
        if value is None:
            return None
        if self.kind == "growth":
            assert self.window is not None
            since = last["ts"] - self.window
            low = min(s[self.figure] for s in history if s["ts"] >= since and s.get(self.figure) is not None)
            growth = float(value - low)
            return Reading(value=growth, threshold=self.amount, met=growth > self.amount)
        threshold = self.amount
        if self.of is not None:
            limit = last.get(self.of)
            if not limit:
                return None
            threshold = self.amount / 100.0 * limit
        met = value > threshold if self.op == ">" else value < threshold
        return Reading(value=float(value), threshold=float(threshold), met=met)

    def rearmed(self, reading: Reading, margin: float) -> bool:
        """Whether the figure is back past the threshold by ``margin`` (a share of it): the condition may fire again."""
        if self.op == ">":
            return reading.value < reading.threshold * (1.0 - margin)
        return reading.value > reading.threshold * (1.0 + margin)

    def __str__(self) -> str:
        return self.text


def _bad(text: str, why: str) -> UsageError:
    return UsageError(f"invalid condition {text!r} for {{when}}: {why}", options=("when",))


_FORMS = ("use a threshold (heap>85%, rss>90%limit, external>512MiB, fds>80%, loop>200ms), "
          "growth over a window (heap+100MiB/10m) or a projection (oom<30m)")


def _figure(text: str, name: str) -> tuple[str, Figure]:
    name = _ALIASES.get(name, name)
    try:
        return name, FIGURES[name]
    except KeyError:
        raise _bad(text, f"unknown figure {name!r} (figures: {', '.join(FIGURES)})") from None


def _amount(text: str, figure: Figure, value: str) -> float:
    try:
        if figure.unit == "bytes":
            return float(parse_size(value))
        if figure.unit == "ms":
            return parse_duration(value) * 1000.0
    except UsageError as exc:
        raise _bad(text, str(exc)) from None
    try:
        return float(value)
    except ValueError:
        raise _bad(text, f"{value!r} is not a number") from None


def _window(text: str, value: str) -> float:
    try:
        window = parse_duration(value)
    except UsageError as exc:
        raise _bad(text, str(exc)) from None
    if window <= 0:
        raise _bad(text, "the window must be longer than zero")
    return window


def parse_condition(text: str) -> Condition:
    """A :class:`Condition` from what the user typed; :class:`UsageError` (naming ``{when}``) if it is not one."""
    spec = text.strip().lower()
    match = _OOM.match(spec)
    if match:
        try:
            amount = parse_duration(match["value"])
        except UsageError as exc:
            raise _bad(text, str(exc)) from None
        window = _window(text, match["window"]) if match["window"] else DEFAULT_OOM_WINDOW
        return Condition(text=text.strip(), kind="oom", figure="oom", op="<", amount=amount, window=window)
    match = _GROWTH.match(spec)
    if match:
        _, figure = _figure(text, match["figure"])
        return Condition(text=text.strip(), kind="growth", figure=figure.key, op=">",
                         amount=_amount(text, figure, match["value"]), window=_window(text, match["window"]))
    match = _THRESHOLD.match(spec)
    if not match:
        raise _bad(text, _FORMS)
    name, figure = _figure(text, match["figure"])
    op: Literal[">", "<"] = ">" if match["op"] == ">" else "<"
    if match["pct"] is None:
        return Condition(text=text.strip(), kind="threshold", figure=figure.key, op=op,
                         amount=_amount(text, figure, match["value"]))
    try:
        pct = float(match["value"])
    except ValueError:
        raise _bad(text, f"{match['value']!r} is not a percentage") from None
    if not 0 < pct <= 100:
        raise _bad(text, "a percentage is between 0 and 100")
    of = match["of"]
    if of is None:
        if figure.limit is None:
            raise _bad(text, f"{name} has no limit to take a share of: give a number")
        limit = figure.limit
    elif of in ("limit", "memory_limit", "memory"):
        limit = "memory_limit"
    elif of in ("heap", "heap_limit"):
        limit = "heap_limit"
    else:
        raise _bad(text, f"unknown limit {of!r} after % (use {name}>N% or {name}>N%limit)")
    if figure.unit != "bytes" and limit != figure.limit:
        raise _bad(text, f"{name} is a count: a share of its own limit only ({name}>N%)")
    return Condition(text=text.strip(), kind="threshold", figure=figure.key, op=op, amount=pct, of=limit)


def parse_conditions(texts: Iterable[str]) -> list[Condition]:
    return [parse_condition(text) for text in texts]


def _slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (t, y) points."""
    n = len(points)
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mt) * (y - my) for t, y in points) / var


def projected_seconds_to_limit(history: Sequence[Sample], window: float) -> float | None:
    """Seconds until the soonest limited figure reaches its limit, from a linear fit over ``window``.

    ``math.inf`` when none grows; None when there are fewer than
    :data:`MIN_FIT_SAMPLES` samples in the window or no figure has a limit.
    """
    last = history[-1]
    since = last["ts"] - window
    recent = [s for s in history if s["ts"] >= since]
    if len(recent) < MIN_FIT_SAMPLES:
        return None
    best: float | None = None
    for key, limit_key in _OOM_PAIRS:
        limit, current = last.get(limit_key), last.get(key)
        if not limit or current is None:
            continue
        points = [(s["ts"] - since, float(s[key])) for s in recent if s.get(key) is not None]
        if len(points) < MIN_FIT_SAMPLES:
            continue
        slope = _slope(points)
        eta = 0.0 if current >= limit else (limit - current) / slope if slope > 0 else math.inf
        best = eta if best is None else min(best, eta)
    return best


@dataclasses.dataclass(frozen=True)
class Firing:
    """A condition that fired on a sample."""

    condition: Condition
    value: float
    threshold: float
    ts: float

    def to_dict(self) -> dict[str, Any]:
        return {"condition": self.condition.text, "value": self.value, "threshold": self.threshold, "ts": self.ts}


class Trigger:
    """Feeds samples to the conditions; says which fire, with hysteresis, cooldown and a cap.

    ``cooldown`` (seconds) is the least time between two firings of the watch;
    ``max_firings`` caps them (then :attr:`exhausted`); ``margin`` is how far
    (a share of the threshold) a figure must fall back before its condition
    re-arms.  The history kept is what the longest window needs, so memory
    stays flat over a long watch.
    """

    def __init__(self, conditions: Sequence[Condition], *, cooldown: float = 0.0, max_firings: int | None = None,
                 margin: float = 0.05) -> None:
        self.conditions = list(conditions)
        self.cooldown = cooldown
        self.max_firings = max_firings
        self.margin = margin
        self.firings = 0
        self.last_fired: float | None = None
        self.armed = {c.text: True for c in self.conditions}
        self.readings: dict[str, Reading | None] = {c.text: None for c in self.conditions}
        self._keep = max([c.window or 0.0 for c in self.conditions] + [0.0])
        self.history: collections.deque[Sample] = collections.deque()

    @property
    def exhausted(self) -> bool:
        """True once ``max_firings`` firings happened: the watch is done."""
        return self.max_firings is not None and self.firings >= self.max_firings

    def observe(self, sample: Sample, *, hold: bool = False) -> list[Firing]:
        """Add a sample (with its ``ts``); return the firings it causes (at most one: the first condition met).

        ``hold``: the sample counts (history, re-arming) but nothing fires (the watch is busy capturing).
        """
        self.history.append(sample)
        while len(self.history) > 1 and self.history[0]["ts"] < sample["ts"] - self._keep:
            self.history.popleft()
        fired: list[Firing] = []
        for condition in self.conditions:
            reading = condition.read(self.history)
            self.readings[condition.text] = reading
            if reading is None:
                continue
            if not self.armed[condition.text]:
                if condition.rearmed(reading, self.margin):
                    self.armed[condition.text] = True
                continue
            if reading.met and not fired and not hold and self._may_fire(sample["ts"]):
                fired.append(Firing(condition, reading.value, reading.threshold, sample["ts"]))
                self.armed[condition.text] = False
        if fired:
            self.firings += 1
            self.last_fired = sample["ts"]
        return fired

    def forget(self) -> None:
        """Drop the history (a restarted target: its trend starts anew); the arming and the count stay."""
        self.history.clear()

    def _may_fire(self, ts: float) -> bool:
        if self.exhausted:
            return False
        return self.last_fired is None or ts - self.last_fired >= self.cooldown
