"""Command: ``watch``: sample a target until it misbehaves, capture at that moment, record it all.

The watch itself is :mod:`cdpclient.watch` (the loop, conditions, actions and
the recording); this module parses the options, prints the live status line
(a terminal), the records as JSON lines (``--json``) and the summary.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from . import common
from .common import StoreOption, TargetSpec, target_command

if TYPE_CHECKING:
    from cdpclient.watch import Source, WatchPlan, WatchResult

_EPILOG = """Examples:

  cdpclient watch 127.0.0.1:9229 --when 'heap>85%' --then 'snapshot --count 3 --every 2m --gc'

  cdpclient watch --pod api-7f9 -n prod --every 30s --for 6h --when 'rss>90%limit' --when 'oom<30m'

  cdpclient watch -l app=api --when 'external>512MiB' --then 'sample --duration 1m' --then report

  cdpclient watch 127.0.0.1:9229 --for 10m --json | jq -c 'select(.t == "firing")'

Conditions (any one fires): heap>85%  rss>90%limit  external>512MiB  fds>80%
  heap+100MiB/10m (growth in a window)  oom<30m (projected time to the memory limit)
Actions: snapshot [--count N --every D --gc --force], cpu [--duration D --interval D],
  sample [--duration D --interval BYTES --include-collected], timeline [--duration D], report
"""


def register(app: typer.Typer) -> None:
    app.command("watch", epilog=_EPILOG)(watch)


@target_command
def watch(
    spec: TargetSpec,
    every: str = typer.Option("15s", "--every", help="Time between samples (1s, 15s, 1m)."),
    duration: str | None = typer.Option(None, "--for", help="Stop after this long (30m, 6h); default: until "
                                        "the firings are used up or Ctrl-C."),
    when: list[str] | None = typer.Option(None, "--when", help="Condition that fires (repeatable; any one fires): "
                                          "heap>85%, rss>90%limit, external>512MiB, fds>80%, heap+100MiB/10m, "
                                          "oom<30m."),
    then: list[str] | None = typer.Option(None, "--then", help="Capture to take on a firing, with its own options "
                                          "(repeatable, in order): 'snapshot --count 3 --every 2m --gc', "
                                          "'cpu --duration 30s', 'sample', 'timeline', 'report'. "
                                          "Default: report, then snapshot."),
    max_firings: int = typer.Option(1, "--max-firings", min=0, help="Firings per target before the watch ends "
                                    "(0: no cap, watch until --for or Ctrl-C)."),
    cooldown: str = typer.Option("5m", "--cooldown", help="Least time between two firings of one target."),
    give_up_after: str = typer.Option("10m", "--give-up-after", help="End the watch when reconnecting has "
                                      "failed for this long."),
    plot: Path | None = typer.Option(None, "--plot", dir_okay=False, help="At the end, draw the recording "
                                     "as an SVG chart into FILE (as 'cdpclient plot')."),
    label: list[str] | None = typer.Option(None, "--label", help="Label the recording and its captures: "
                                           "key=value (repeatable)."),
    store: str | None = StoreOption,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per record (sample, firing, "
                                 "capture, reconnect, ...) on stdout as it happens, then the summary."),
) -> None:
    """Watch a process until it misbehaves: sample its memory, fds and event loop; capture when a condition fires.

    Every sample is one cheap round trip over one inspector session; the
    event-loop delay histogram it installs is removed on every way out.  A lost
    session or a restarted target is reconnected with backoff.  The memory guard
    is asked at the moment of firing: a snapshot that would risk the process is
    replaced by a sampling heap profile and a report.  Everything is recorded in
    the store (kind ``watch``: ``ls``, ``show``, ``plot``); the captures are
    labelled with the watch and the condition that fired.  The first Ctrl-C ends
    the watch (a timed capture in progress stops early and is saved); a second
    one aborts.
    """
    plan = _plan(every, duration, when, then, max_firings, cooldown, give_up_after, common.parse_labels(label))
    result = common.run(_watch(spec, plan, store, as_json))
    _print_result(result, as_json)
    if plot is not None:
        _plot(result, plot, as_json)


def _plan(every: str, duration: str | None, when: list[str] | None, then: list[str] | None, max_firings: int,
          cooldown: str, give_up_after: str, labels: dict[str, str]) -> WatchPlan:
    from cdpclient.errors import UsageError
    from cdpclient.units import parse_duration
    from cdpclient.watch import WatchPlan, parse_actions, parse_conditions

    def seconds(text: str, option: str, *, zero: bool = False) -> float:
        try:
            value = float(parse_duration(text))
        except UsageError as exc:
            raise typer.BadParameter(exc.render(common.flag), param_hint=option) from None
        if value < 0 or (value == 0 and not zero):
            raise typer.BadParameter("must be more than zero", param_hint=option)
        return value

    try:
        conditions = tuple(parse_conditions(when or []))
    except UsageError as exc:
        raise typer.BadParameter(exc.render(common.flag), param_hint="--when") from None
    try:
        actions = tuple(parse_actions(then or []))
    except UsageError as exc:
        raise typer.BadParameter(exc.render(common.flag), param_hint="--then") from None
    if actions and not conditions:
        raise typer.BadParameter("--then needs a --when (the condition that fires it)", param_hint="--then")
    return WatchPlan(every=seconds(every, "--every"), duration=seconds(duration, "--for") if duration else None,
                     conditions=conditions, actions=actions, cooldown=seconds(cooldown, "--cooldown", zero=True),
                     max_firings=max_firings or None, labels=labels,
                     give_up_after=seconds(give_up_after, "--give-up-after"))


async def _watch(spec: TargetSpec, plan: WatchPlan, store_dir: str | None, as_json: bool) -> WatchResult:
    from cdpclient.watch import watch, watch_fleet

    if spec.selector and spec.record:
        from cdpclient.errors import UsageError

        raise UsageError("--record with --selector is for the capture commands (one recording per pod); "
                         "watch one pod (--pod) to record it")
    status = _Status(as_json, fleet=bool(spec.selector))
    with common.open_store(store_dir) as store, common.early_stop("stopping the watch (Ctrl-C again to abort)") as stop:
        try:
            if spec.selector:
                result = await watch_fleet(_lister(spec), store, plan, stop=stop, on_record=status,
                                           target={"selector": spec.selector, "namespace": spec.namespace,
                                                   "context": spec.context})
            else:
                result = await watch(_source(spec), store, plan, stop=stop, on_record=status)
        finally:
            status.clear()
    return result


def _kube_kwargs(spec: TargetSpec) -> dict[str, Any]:
    return {"context": spec.context, "container": spec.container, "kubeconfig": spec.kubeconfig,
            "inspect_port": spec.inspect_port, "kubectl": spec.kubectl, "keep_inspector": spec.keep_inspector,
            "on_event": common.note}


def _source(spec: TargetSpec) -> Source:
    from cdpclient.watch import endpoint_source, pod_source

    if spec.pod:
        return pod_source(spec.pod, namespace=spec.namespace, pid=spec.pid, **_kube_kwargs(spec))
    return endpoint_source(spec.resolved_endpoint, target_id=spec.target_id, on_warning=common.warn)


def _lister(spec: TargetSpec) -> Any:
    from cdpclient.watch import pod_lister

    assert spec.selector is not None
    kwargs = _kube_kwargs(spec)
    return pod_lister(spec.selector, namespace=spec.namespace, context=kwargs.pop("context"),
                      kubeconfig=kwargs.pop("kubeconfig"), kubectl=kwargs.pop("kubectl"), **kwargs)


class _Status:
    """Shows the records: JSON lines (``--json``), or notes and a live status line on a terminal's stderr."""

    def __init__(self, as_json: bool, *, fleet: bool) -> None:
        self.as_json = as_json
        self.fleet = fleet
        self.live = not as_json and sys.stderr.isatty()
        self.samples = 0
        self.firings = 0
        self.captures = 0
        self.pods: dict[str, dict[str, Any]] = {}
        self._shown = False

    def __call__(self, record: dict[str, Any]) -> None:
        t = record["t"]
        if self.as_json:
            sys.stdout.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
            sys.stdout.flush()
            return
        if t == "sample":
            self.samples += 1
            self.pods[record.get("pod") or ""] = record
            self._line()
            return
        self.clear()
        who = f"{record['pod']}: " if record.get("pod") else ""
        if t == "firing":
            self.firings += 1
            skipped = f"; snapshot skipped: {record['skipped']}" if record.get("skipped") else ""
            cond = record["condition"]
            common.note(f"{_clock(record['ts'])} {who}FIRED {cond} ({_figure(cond, record['value'])} past "
                        f"{_figure(cond, record['threshold'])}): {record['action']}{skipped}")
        elif t == "capture":
            self.captures += 1
            common.note(f"{_clock(record['ts'])} {who}saved {record['kind']} {record['id']}")
        elif t == "connected":
            again = " (restarted)" if record.get("restarted") else ""
            common.note(f"{_clock(record['ts'])} {who}watching pid {record.get('pid')}, "
                        f"node {record.get('node_version')}{again}")
        elif t == "reconnect":
            common.note(f"{_clock(record['ts'])} {who}session lost ({record['error']}); "
                        f"reconnecting in {record['delay_s']:g}s")
        elif t == "gone":
            common.note(f"{_clock(record['ts'])} {who}gone: {record.get('why')}")
        elif t == "error":
            common.warn(f"{who}{record.get('action')}: {record.get('error')}")
        self._line()

    def _line(self) -> None:
        if not self.live:
            return
        hb = common.human_bytes
        if self.fleet:
            text = f"watching {len(self.pods)} pods"
        else:
            s = next(iter(self.pods.values()), None)
            if s is None:
                return
            parts = [f"heap {hb(s['heap_used'])}/{hb(s['heap_limit'])}", f"rss {hb(s['rss'])}"
                     + (f"/{hb(s['memory_limit'])}" if s.get("memory_limit") else ""),
                     f"ext {hb(s['external'])}"]
            if s.get("fds") is not None:
                parts.append(f"fds {s['fds']}" + (f"/{s['fd_limit']}" if s.get("fd_limit") else ""))
            if s.get("loop_delay_ms") is not None:
                parts.append(f"loop {s['loop_delay_ms']:.0f}ms")
            text = "  ".join(parts)
        text += f"  | {self.samples} samples, {self.firings} firings, {self.captures} captures"
        sys.stderr.write("\r\x1b[K" + text[:200])
        sys.stderr.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self._shown = False


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def _figure(condition: str, value: float) -> str:
    """A firing's value as its condition speaks: bytes for memory figures, plain for counts and times."""
    head = condition.split(">")[0].split("<")[0].split("+")[0].strip()
    if head in ("fds", "handles"):
        return f"{value:.0f}"
    if head == "loop":
        return f"{value:.0f} ms"
    if head == "oom":
        from cdpclient.units import format_duration

        return format_duration(value)
    return common.human_bytes(value)


def _print_result(result: WatchResult, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"t": "result", **result.to_dict()}, default=str, separators=(",", ":")) + "\n")
        return
    rec = result.recording
    common.say(f"watch {rec.id} ended ({result.reason}): {result.samples} samples, {len(result.firings)} "
               f"firings, {len(result.captures)} captures, {result.reconnects} reconnects")
    for capture in result.captures:
        common.say(f"  {capture.id}  {capture.kind}  {capture.labels.get('condition', '')}")
    common.say(f"recording: {rec.path}   (cdpclient show {rec.id}; cdpclient plot {rec.id} -o memory.svg)")


def _plot(result: WatchResult, path: Path, as_json: bool) -> None:
    from cdpclient.watch import read_recording, write_svg

    write_svg(read_recording(result.recording.path), path)
    if not as_json:
        common.say(f"plot: {path}")
