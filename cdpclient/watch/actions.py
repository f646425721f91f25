"""``--then`` actions: the captures a watch takes when a condition fires.

An action is written as the capture command with its own options::

    snapshot [--count N --every DURATION] [--gc] [--force]
    cpu [--duration 30s] [--interval 1ms]
    sample [--duration 30s] [--interval 32768] [--include-collected]
    timeline [--duration 30s] [--force]
    report

(``--compress`` is taken by every one.)  :func:`parse_action` reads that text;
:func:`run_action` takes the capture into the store when a condition fires.

The memory guard applies at the moment of firing: a ``snapshot`` or
``timeline`` (which ends in a snapshot) that would risk the process is not
taken; a sampling heap profile and a diagnostic report are taken instead (they
cost the target next to nothing), and the outcome says why (``skipped``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import shlex
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from cdpclient.errors import CDPClientError, SnapshotRefused, UsageError
from cdpclient.units import parse_duration, parse_size

if TYPE_CHECKING:
    from cdpclient.captures.stored import StoreTarget
    from cdpclient.store import CaptureRecord, Store

__all__ = ["ACTIONS", "Action", "ActionOutcome", "FALLBACK", "parse_action", "parse_actions", "run_action",
           "snapshot_refusal"]

# command -> (store kind, {flag: (option name, type)}); type: "flag", "int", "duration", "size".
_FlagSpec = dict[str, tuple[str, str]]
ACTIONS: dict[str, tuple[str, _FlagSpec]] = {
    "snapshot": ("heapsnapshot", {"--count": ("count", "int"), "--every": ("every", "duration"),
                                  "--gc": ("gc", "flag"), "--force": ("force", "flag")}),
    "cpu": ("cpuprofile", {"--duration": ("duration", "duration"), "-d": ("duration", "duration"),
                           "--interval": ("interval", "duration")}),
    "sample": ("heapprofile", {"--duration": ("duration", "duration"), "-d": ("duration", "duration"),
                               "--interval": ("interval", "size"),
                               "--include-collected": ("include_collected", "flag")}),
    "timeline": ("heaptimeline", {"--duration": ("duration", "duration"), "-d": ("duration", "duration"),
                                  "--force": ("force", "flag")}),
    "report": ("report", {}),
}
"""The action commands: the capture commands' names, the store kind each takes, and its flags."""

# The capture commands' defaults (cli/capture.py shows the same in --help).
_DEFAULTS: dict[str, dict[str, Any]] = {
    "heapsnapshot": {"count": 1, "every": 0.0, "gc": False, "force": False},
    "cpuprofile": {"duration": 30.0, "interval": 0.001},
    "heapprofile": {"duration": 30.0, "interval": 32768, "include_collected": False},
    "heaptimeline": {"duration": 30.0, "force": False},
    "report": {},
}

FALLBACK = ("sample --duration 20s", "report")
"""What a watch takes instead of a snapshot the memory guard refuses."""


@dataclasses.dataclass(frozen=True)
class Action:
    """One ``--then`` action: ``kind`` (the store kind), its capture ``options``, ``compress``; ``text`` as typed."""

    text: str
    command: str
    kind: str
    options: dict[str, Any]
    compress: bool = False

    @property
    def snapshots(self) -> bool:
        """Whether it takes a heap snapshot (so the memory guard applies)."""
        return self.kind in ("heapsnapshot", "heaptimeline")

    def __str__(self) -> str:
        return self.text


def _bad(text: str, why: str) -> UsageError:
    commands = ", ".join(ACTIONS)
    return UsageError(f"bad action {text!r}: {why} (actions: {commands}, each with its own options, "
                      "e.g. 'snapshot --count 3 --every 2m --gc')")


def parse_action(text: str) -> Action:
    """Read one action (``"snapshot --count 3 --every 2m --gc"``); raises :class:`UsageError`."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise _bad(text, str(exc)) from None
    if not words:
        raise _bad(text, "it is empty")
    command, args = words[0], words[1:]
    if command not in ACTIONS:
        raise _bad(text, f"unknown action {command!r}")
    kind, flags = ACTIONS[command]
    options = dict(_DEFAULTS[kind])
    compress = False
    i = 0
    while i < len(args):
        word, value = args[i], None
        if "=" in word and word.startswith("--"):
            word, value = word.split("=", 1)
        if word == "--compress":
            compress = True
            i += 1
            continue
        if word not in flags:
            known = ", ".join(sorted({*flags, "--compress"}))
            raise _bad(text, f"{command} takes no option {word!r} (it takes: {known})")
        name, kind_of = flags[word]
        if kind_of == "flag":
            options[name] = True
            i += 1
            continue
        if value is None:
            if i + 1 >= len(args):
                raise _bad(text, f"{word} needs a value")
            value = args[i + 1]
            i += 1
        i += 1
        options[name] = _value(text, word, kind_of, value)
    if kind == "heapsnapshot" and options["count"] > 1 and options["every"] <= 0:
        raise _bad(text, "a series (--count > 1) needs --every, e.g. --every 2m")
    return Action(text=" ".join(words), command=command, kind=kind, options=options, compress=compress)


def _value(text: str, word: str, kind_of: str, value: str) -> float | int:
    try:
        if kind_of == "int":
            number: float | int = int(value)
        elif kind_of == "duration":
            number = parse_duration(value)
        else:
            number = parse_size(value)
    except (ValueError, UsageError):
        raise _bad(text, f"{word} {value!r} is not a valid {'number' if kind_of == 'int' else kind_of}") from None
    if number <= 0:
        raise _bad(text, f"{word} must be more than zero")
    return number


def parse_actions(texts: Sequence[str]) -> list[Action]:
    return [parse_action(t) for t in texts]


@dataclasses.dataclass(frozen=True)
class ActionOutcome:
    """What one action took: the stored ``records``; ``skipped`` says why a snapshot was not taken
    (then ``records`` holds the fallback captures); ``error`` a capture that failed (one line)."""

    action: Action
    records: list[CaptureRecord]
    skipped: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action.text, "captures": [{"id": r.id, "kind": r.kind} for r in self.records],
                "skipped": self.skipped, "error": self.error}


async def snapshot_refusal(target: StoreTarget) -> str | None:
    """Why the memory guard would refuse a heap snapshot of ``target`` now, or None if one fits."""
    from cdpclient.captures.guard import check_snapshot_budget

    try:
        await check_snapshot_budget(target)
    except SnapshotRefused as refused:
        return refused.render()
    return None


async def run_action(target: StoreTarget, store: Store, action: Action, *, labels: dict[str, str],
                     refused: str | None = None, fallback: bool = True, stop: asyncio.Event | None = None,
                     on_capture: Callable[[CaptureRecord], Any] | None = None) -> ActionOutcome:
    """Take ``action``'s capture(s) from ``target`` into ``store``, labelled with ``labels``.

    A snapshot that the memory guard refuses (``refused``: :func:`snapshot_refusal`
    at the moment of firing, or the capture's own guard on the way) is replaced by
    :data:`FALLBACK` (unless ``fallback`` is False: it was taken already) and
    ``skipped`` says why.  ``stop`` ends a timed capture early (it is still saved)
    and a series after the snapshot in progress.  ``on_capture`` sees each record
    as it is stored.  A failed capture is returned in ``error``, not raised; a lost
    connection and cancellation propagate (the watch handles them).
    """
    records: list[CaptureRecord] = []

    def stored(record: CaptureRecord) -> None:
        records.append(record)
        if on_capture is not None:
            on_capture(record)

    why = refused if action.snapshots and not action.options.get("force") else None
    error = None
    if why is None:
        try:
            error = await _take(target, store, action, labels, stop, stored)
        except SnapshotRefused as exc:  # the capture's own guard, between the snapshots of a series
            why = exc.render()
    if why is not None and fallback:
        for text in FALLBACK:
            error = error or await _take(target, store, parse_action(text), labels, stop, stored)
    return ActionOutcome(action, records, skipped=why, error=error)


async def _take(target: StoreTarget, store: Store, action: Action, labels: dict[str, str],
                stop: asyncio.Event | None, stored: Callable[[CaptureRecord], None]) -> str | None:
    """One action's capture(s); returns the error's line, or None."""
    import cdpclient
    from cdpclient.errors import CDPTimeout, ConnectionLost

    options = dict(action.options)
    try:
        if action.kind == "heapsnapshot":
            count, every = int(options.pop("count")), float(options.pop("every"))
            if count > 1:
                await cdpclient.heap_snapshot_series_to_store(
                    target, store, count=count, every=every, labels=labels, compress=action.compress,
                    stop=stop, on_capture=stored, **options)
                return None
        elif action.kind != "report":
            options["stop"] = stop
        stored(await cdpclient.capture_to_store(target, store, action.kind, labels=labels,
                                                compress=action.compress, **options))
    except (ConnectionLost, CDPTimeout, SnapshotRefused):
        raise
    except CDPClientError as exc:
        return exc.render()
    return None
