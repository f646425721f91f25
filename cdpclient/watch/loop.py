"""The watch loop: sample a target every few seconds, fire on conditions, capture, reconnect; record it all.

    plan = WatchPlan(every=15, conditions=parse_conditions(["heap>85%"]),
                     actions=parse_actions(["snapshot --count 3 --every 2m --gc"]))
    result = await watch(endpoint_source("127.0.0.1:9229"), store, plan)   # cdpclient.watch.sources

One :class:`Watch` writes one recording (store kind ``watch``) and follows one
or more :class:`Source` s (a fleet: one per pod, each with its own trigger and
sampler, all into the same recording, tagged with ``pod``).  Per source:

- one inspector session; one sample (:class:`~cdpclient.watch.sample.Sampler`)
  every ``plan.every`` seconds, written to the recording as it is taken;
- the conditions (:class:`~cdpclient.watch.conditions.Trigger`) see every sample;
  a firing runs the actions (:mod:`.actions`) in the background while sampling
  goes on, with the memory guard decided at the moment of firing; no other firing
  while they run;
- a lost session (the target died or restarted, the port-forward broke) is
  reconnected with backoff (1 s doubling to ``plan.backoff_max``) and noted;
  a new pid on the same endpoint is a restart: the trend starts anew.  A first
  connection that fails raises (a wrong address is an error, not a wait).

Ways out: ``plan.duration`` elapses (``done``), every source used up its
``max_firings`` (``fired``), ``stop`` is set (``stopped``: a timed capture in
progress ends early and is saved, a series stops after the snapshot in
progress), reconnecting failed for ``plan.give_up_after`` (``lost``), or the
task is cancelled (``cancelled``: a capture in progress is discarded).  On every
one the sampler's histogram is removed from the target, the sessions close and
the recording is finished with its reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from cdpclient.errors import CDPClientError, CDPTimeout, ConnectError, ConnectionLost, KubeError
from cdpclient.watch.actions import Action, parse_actions, run_action, snapshot_refusal
from cdpclient.watch.conditions import Condition, Firing, Trigger
from cdpclient.watch.recording import WatchRecording
from cdpclient.watch.sample import Sampler

if TYPE_CHECKING:
    from cdpclient.store import CaptureRecord, Store
    from cdpclient.target import Target

__all__ = ["DEFAULT_ACTIONS", "Source", "Watch", "WatchPlan", "WatchResult", "watch", "watch_fleet"]

DEFAULT_ACTIONS = ("report", "snapshot")
"""What a firing takes when the plan names no actions: a report (cheap, shows limits and handles), then a snapshot."""

# Errors that mean "the session is gone; try again", as opposed to a bug or bad input.
_LOST = (ConnectionLost, ConnectError, CDPTimeout, KubeError, OSError)
_MISSED_BEFORE_LOST = 3  # consecutive sample timeouts, with no capture running, before the session counts as lost

Opener = Callable[[], AbstractAsyncContextManager[Any]]


@dataclasses.dataclass(frozen=True)
class Source:
    """One target to follow: ``open()`` yields a connected :class:`cdpclient.Target` (a new session each time).

    ``pod`` names it in the recording (None for a plain endpoint); ``identity`` is
    what the recording's header says of it.
    """

    open: Opener
    identity: dict[str, Any]
    pod: str | None = None


@dataclasses.dataclass(frozen=True)
class WatchPlan:
    """What a watch does.  Times in seconds; ``duration`` None: until stopped or used up.

    ``max_firings`` (per source; None: no cap) ends the watch once every source used
    them up and their captures are done.  ``cooldown``: least time between two
    firings of one source.  ``margin``: hysteresis (a share of the threshold).
    ``give_up_after``: how long reconnecting may fail before the watch ends (None:
    until ``duration``).  ``sample_timeout``: bound of one sample's round trip
    (default ``max(10, 2 * every)``).
    """

    every: float = 15.0
    duration: float | None = None
    conditions: tuple[Condition, ...] = ()
    actions: tuple[Action, ...] = ()
    cooldown: float = 300.0
    max_firings: int | None = 1
    margin: float = 0.05
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    compress: bool = True
    backoff_max: float = 30.0
    give_up_after: float | None = 600.0
    sample_timeout: float | None = None

    def __post_init__(self) -> None:
        from cdpclient.errors import UsageError

        if self.every <= 0:
            raise UsageError("{every} must be more than zero", options=("every",))
        if self.duration is not None and self.duration <= 0:
            raise UsageError("{duration} must be more than zero", options=("duration",))
        if self.max_firings is not None and self.max_firings < 1:
            raise UsageError("{max_firings} must be at least 1 (or None: no cap)", options=("max_firings",))

    @property
    def effective_actions(self) -> tuple[Action, ...]:
        return self.actions or tuple(parse_actions(DEFAULT_ACTIONS))

    @property
    def timeout(self) -> float:
        return self.sample_timeout or max(10.0, 2 * self.every)


@dataclasses.dataclass(frozen=True)
class WatchResult:
    """How a watch ended: its ``recording`` (the store record), ``reason``, and what it took."""

    recording: CaptureRecord
    reason: str
    samples: int
    firings: list[dict[str, Any]]
    captures: list[CaptureRecord]
    reconnects: int

    def to_dict(self) -> dict[str, Any]:
        return {"recording": self.recording.id, "path": str(self.recording.path), "reason": self.reason,
                "samples": self.samples, "firings": self.firings,
                "captures": [{"id": c.id, "kind": c.kind, "labels": c.labels} for c in self.captures],
                "reconnects": self.reconnects}


class _Ended(Exception):
    """A source's loop is over (``reason``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass
class _Follow:
    """What the watch keeps per source."""

    source: Source
    trigger: Trigger
    key: str
    pid: int | None = None
    connected_once: bool = False
    busy: asyncio.Task[None] | None = None
    last_sample: dict[str, Any] | None = None
    status: str = "connecting"


class Watch:
    """One watch: its recording, plan and sources.  Use :func:`watch` for one target.

    ``on_record`` sees every record as it is written (the CLI's status line and
    ``--json``).  ``stop`` ends it gracefully (see the module docstring).
    """

    def __init__(self, store: Store, plan: WatchPlan, *, target: dict[str, Any],
                 on_record: Callable[[dict[str, Any]], None] | None = None,
                 stop: asyncio.Event | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.plan = plan
        self.stop = stop or asyncio.Event()
        self.on_record = on_record
        self.clock = clock
        self.started = clock()
        self.deadline = None if plan.duration is None else self.started + plan.duration
        self.recording = WatchRecording.create(
            store, target=target, every_s=plan.every, conditions=[c.text for c in plan.conditions],
            actions=[a.text for a in plan.effective_actions], labels=plan.labels, compress=plan.compress)
        self.id = self.recording.id
        self.follows: dict[str, _Follow] = {}
        self.firings: list[dict[str, Any]] = []
        self.captures: list[CaptureRecord] = []
        self.samples = 0
        self.reconnects = 0
        self._ended = asyncio.Event()  # set when every source used up its firings
        self.capture_stop = asyncio.Event()  # ends the captures in progress early (they are saved)

    # --- records ------------------------------------------------------------------------
    def _write(self, record: dict[str, Any]) -> None:
        record = {**record, "ts": record.get("ts") or time.time()}
        self.recording.event(record)
        if self.on_record is not None:
            self.on_record(record)

    # --- the whole watch ------------------------------------------------------------------
    @property
    def over(self) -> bool:
        return self.stop.is_set() or self._ended.is_set() or (
            self.deadline is not None and self.clock() >= self.deadline)

    def used_up(self, finishing: _Follow | None = None) -> bool:
        """Every source used up its firings and no capture is running (``finishing``'s counts as done:
        it is in its last step)."""
        return bool(self.follows) and all(f.trigger.exhausted and (f.busy is None or f is finishing)
                                          for f in self.follows.values())

    async def _pause(self, seconds: float) -> None:
        """Sleep up to ``seconds``, less if the watch ends meanwhile."""
        if self.deadline is not None:
            seconds = min(seconds, self.deadline - self.clock())
        if seconds <= 0:
            return
        waits = [asyncio.ensure_future(self.stop.wait()), asyncio.ensure_future(self._ended.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    # --- one source -----------------------------------------------------------------------
    def add(self, source: Source) -> _Follow:
        """The state kept for ``source``: new, or the one it had (a fleet follows a pod again after losing it)."""
        name = source.pod or "target"
        if name in self.follows:
            known = self.follows[name]
            known.source = source
            return known
        follow = _Follow(source, Trigger(self.plan.conditions, cooldown=self.plan.cooldown,
                                         max_firings=self.plan.max_firings, margin=self.plan.margin),
                         key=f"{self.id[:8]}-{uuid.uuid4().hex[:6]}")
        self.follows[name] = follow
        return follow

    async def follow(self, source: Source, *, must_connect: bool = True) -> str:
        """Follow ``source`` until the watch is over; returns why it ended.

        ``must_connect``: a first connection that fails raises (else it is retried like a lost one).
        """
        state = self.add(source)
        backoff, lost_since = 1.0, None
        attempt = 0
        while not self.over:
            try:
                await self._session(state)
                if self.over:
                    break
                raise ConnectionLost("the session ended")
            except _Ended as ended:
                return ended.reason
            except _LOST as exc:
                if not state.connected_once and must_connect:
                    raise
                now = self.clock()
                lost_since = lost_since if lost_since is not None else now
                if self.plan.give_up_after is not None and now - lost_since >= self.plan.give_up_after:
                    self._write({"t": "gone", "pod": source.pod, "why": _line(exc), "after_s": round(now - lost_since)})
                    return "lost"
                attempt += 1
                self.reconnects += 1
                state.status = "reconnecting"
                self._write({"t": "reconnect", "pod": source.pod, "error": _line(exc), "attempt": attempt,
                             "delay_s": backoff})
                await self._pause(backoff)
                backoff = min(backoff * 2, self.plan.backoff_max)
                continue
            backoff, lost_since, attempt = 1.0, None, 0
        if self.stop.is_set():
            return "stopped"
        return "fired" if self._ended.is_set() else "done"

    async def _session(self, state: _Follow) -> None:
        """One session of a source: connect, install, sample until the session ends or the watch is over."""
        source = state.source
        async with source.open() as target:
            sampler = Sampler(target, key=state.key, orphan_after=max(600.0, 4 * self.plan.every))
            try:
                await sampler.install()
                first = await sampler.sample(timeout=self.plan.timeout)
                pid = sampler.pid
                restarted = state.connected_once and pid != state.pid
                if restarted:
                    state.trigger.forget()
                version = await _node_version(target)
                self._write({"t": "connected", "pod": source.pod, "pid": pid, "node_version": version,
                             "restarted": restarted, "target": dict(target.identity)})
                state.pid, state.connected_once, state.status = pid, True, "watching"
                await self._sampling(state, target, sampler, first)
                if state.busy is not None:  # the watch is over: a timed capture ends early and is saved
                    self.capture_stop.set()
                    await _settle(state.busy)
            except BaseException:
                if state.busy is not None:  # cancelled, or the session is gone: the capture cannot go on
                    state.busy.cancel()
                    await _settle(state.busy)
                raise
            finally:
                await asyncio.shield(sampler.remove())

    async def _sampling(self, state: _Follow, target: Target, sampler: Sampler, first: dict[str, Any]) -> None:
        sample: dict[str, Any] | None = first
        missed = 0
        next_at = self.clock()
        while not self.over:
            if sample is None:
                try:
                    sample = await sampler.sample(timeout=self.plan.timeout)
                    missed = 0
                except CDPTimeout:
                    # A snapshot freezes the target: samples wait behind it.  Otherwise it hangs, or is gone.
                    missed += 1
                    if state.busy is None and missed >= _MISSED_BEFORE_LOST:
                        raise
            if sample is not None:
                if sampler.pid != state.pid:  # a new process behind the same session's endpoint
                    state.trigger.forget()
                    state.pid = sampler.pid
                self._observe(state, target, sample)
                sample = None
            if state.trigger.exhausted and state.busy is None:
                if self.used_up():
                    self._ended.set()
                    raise _Ended("fired")
            next_at += self.plan.every
            await self._pause(next_at - self.clock())
            if next_at < self.clock() - self.plan.every:  # fell behind (a long sample): do not burst
                next_at = self.clock()

    def _observe(self, state: _Follow, target: Target, sample: dict[str, Any]) -> None:
        record = {"t": "sample", "pod": state.source.pod, **sample}
        self._write(record)
        self.samples += 1
        state.last_sample = record
        for firing in state.trigger.observe(sample, hold=state.busy is not None):
            state.busy = asyncio.ensure_future(self._fire(state, target, firing))
            state.busy.add_done_callback(functools.partial(_clear_busy, state))

    async def _fire(self, state: _Follow, target: Target, firing: Firing) -> None:
        """Run the actions for one firing; the guard is decided now, for all of them."""
        actions = self.plan.effective_actions
        refused = await snapshot_refusal(target) if any(a.snapshots for a in actions) else None
        pod = state.source.pod
        text = firing.condition.text
        action_text = "; ".join(a.text for a in actions)
        entry: dict[str, Any] = {"condition": text, "value": firing.value, "threshold": firing.threshold, "pod": pod,
                 "ts": firing.ts, "action": action_text, "skipped": refused}
        self.firings.append(entry)
        self.recording.firing(condition=text, value=firing.value, threshold=firing.threshold,
                              action=action_text, skipped=refused, pod=pod, ts=firing.ts)
        if self.on_record is not None:
            self.on_record({"t": "firing", **entry})
        labels = {**self.plan.labels, "watch": self.id, "condition": text}
        if pod:
            labels["pod"] = pod

        def captured(record: CaptureRecord) -> None:
            self.captures.append(record)
            self._write({"t": "capture", "pod": pod, "id": record.id, "kind": record.kind, "condition": text})

        fallback = True
        state.status = "capturing"
        try:
            for action in actions:
                if self.capture_stop.is_set() and action is not actions[0]:
                    break
                outcome = await run_action(target, self.store, action, labels=labels, refused=refused,
                                           fallback=fallback, stop=self.capture_stop, on_capture=captured)
                fallback = fallback and outcome.skipped is None
                if outcome.error:
                    self._write({"t": "error", "pod": pod, "action": action.text, "error": outcome.error})
        except _LOST as exc:
            self._write({"t": "error", "pod": pod, "action": entry["action"], "error": _line(exc)})
        finally:
            state.status = "watching"
        if state.trigger.exhausted and self.used_up(finishing=state):
            self._ended.set()

    # --- the end ---------------------------------------------------------------------------
    def close(self, reason: str) -> CaptureRecord:
        """Finish the recording with ``reason``; returns its store record."""
        return self.recording.close(reason)

    def result(self, reason: str) -> WatchResult:
        return WatchResult(recording=self.close(reason), reason=reason, samples=self.samples,
                           firings=list(self.firings), captures=list(self.captures), reconnects=self.reconnects)


def _clear_busy(state: _Follow, _task: object) -> None:
    state.busy = None


async def _settle(task: asyncio.Future[Any]) -> None:
    """Wait for a firing's task to finish; its errors are its own (it records them).

    ``asyncio.wait`` raises nothing of the task's, and a cancellation of the waiter still propagates.
    """
    if not task.done():
        await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved: no "never retrieved" warning


async def _node_version(target: Target) -> str | None:
    try:
        return str(await target.evaluate("process.version", timeout=10.0))
    except CDPClientError:
        return None


def _line(exc: BaseException) -> str:
    if isinstance(exc, CDPClientError):
        return exc.render()
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def watch(source: Source, store: Store, plan: WatchPlan, *,
                on_record: Callable[[dict[str, Any]], None] | None = None,
                stop: asyncio.Event | None = None) -> WatchResult:
    """Watch one target (see the module docstring); returns how it ended.

    Raises what the first connection raises (:class:`ConnectError`, :class:`KubeError`, ...)
    with the recording finished as ``error``; :class:`StoreError` when the store cannot take it.
    """
    w = Watch(store, plan, target=source.identity, on_record=on_record, stop=stop)
    try:
        reason = await w.follow(source)
    except asyncio.CancelledError:
        w.close("cancelled")
        raise
    except BaseException:
        w.close("error")
        raise
    return w.result(reason)


async def watch_fleet(list_sources: Callable[[], Awaitable[Sequence[Source]]], store: Store, plan: WatchPlan, *,
                      target: dict[str, Any], relist_every: float = 30.0,
                      on_record: Callable[[dict[str, Any]], None] | None = None,
                      stop: asyncio.Event | None = None) -> WatchResult:
    """Watch every source ``list_sources()`` returns, concurrently, into one recording.

    The list is asked again every ``relist_every`` seconds: a new source (a pod
    that appeared, or replaced another) is followed from then on; one that left
    the list is stopped and noted (``gone``).  Each fires on its own.  A source
    whose first connection fails is retried like a lost one.
    """
    w = Watch(store, plan, target=target, on_record=on_record, stop=stop)
    tasks: dict[str, asyncio.Task[str]] = {}
    reason = "done"
    try:
        while not w.over:
            try:
                current = {s.pod or "target": s for s in await list_sources()}
            except _LOST as exc:
                w._write({"t": "error", "action": "list", "error": _line(exc)})
                current = {name: w.follows[name].source for name in tasks if name in w.follows}
            for name, task in list(tasks.items()):  # a pod lost (or failed) but still listed is followed again
                if not task.done():
                    continue
                failed = None if task.cancelled() else task.exception()
                if failed is not None:
                    w._write({"t": "error", "pod": name, "action": "watch", "error": _line(failed)})
                if task.cancelled() or failed is not None or task.result() == "lost":
                    del tasks[name]
            for name, source in current.items():
                if name not in tasks:
                    tasks[name] = asyncio.ensure_future(w.follow(source, must_connect=False))
            for name in [n for n in tasks if n not in current]:
                tasks.pop(name).cancel()
                w.follows.pop(name, None)
                w._write({"t": "gone", "pod": name, "why": "no longer matches"})
            await w._pause(relist_every)
            if w.used_up():
                reason = "fired"
                break
        if w.stop.is_set():
            reason = "stopped"
        for task in tasks.values():
            if not w.stop.is_set():  # a stop lets the captures in progress finish early and be saved
                task.cancel()
            await _settle(task)
    except BaseException as exc:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        w.close("cancelled" if isinstance(exc, asyncio.CancelledError) else "error")
        raise
    return w.result(reason)
