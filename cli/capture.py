"""Commands: ``snapshot``, ``cpu``, ``sample``, ``timeline``, ``report``.

Each command's work on one target is an ``async def take_<command>(target, opts)``
taking a connected :class:`cdpclient.Target` and the command's options
dataclass, and returning the printed rows; the typer function only parses
options and connects (``_on_target``).  A fleet run calls the same function
once per pod.  The captures themselves, into a file (``--out``) or into the
store, are the library's (:func:`cdpclient.capture_to_file`,
:func:`cdpclient.capture_to_store` and the series functions).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from . import common, fleet
from .common import StoreOption, TargetSpec, target_command
from .options import SaveOptions, SnapshotOptions, TimedOptions

if TYPE_CHECKING:
    from cdpclient import Target
    from cdpclient.captures import CaptureResult, Progress
    from cdpclient.store import CaptureRecord

T = TypeVar("T")
OptsT = TypeVar("OptsT", bound="SaveOptions")
Row = dict[str, Any]
"""What a command prints for one saved capture (``--json`` prints it as it is)."""

# Options every capture command takes (typer reads a default Option object afresh per command).
_OutOption = typer.Option(None, "--out", "-o", help="Write the capture to FILE instead of the store (no store entry).",
                          dir_okay=False)
_LabelOption = typer.Option(None, "--label", help="Label the capture: key=value (repeatable).")
_CompressOption = typer.Option(False, "--compress", help="Store the file zstd-compressed.")


def register(app: typer.Typer) -> None:
    app.command("snapshot", epilog="Examples:\n\n  cdpclient snapshot 127.0.0.1:9229 --gc --label incident=4711\n\n"
                "  cdpclient snapshot 127.0.0.1:9229 --count 3 --every 2m --gc\n\n"
                "  cdpclient snapshot 127.0.0.1:9229 --out before.heapsnapshot --json")(snapshot)
    app.command("cpu", epilog="Example: cdpclient cpu 127.0.0.1:9229 --duration 30s --interval 1ms")(cpu)
    app.command("sample", epilog="Example: cdpclient sample 127.0.0.1:9229 --duration 1m --include-collected")(sample)
    app.command("timeline", epilog="Example: cdpclient timeline 127.0.0.1:9229 --duration 30s")(timeline)
    app.command("report", epilog="Example: cdpclient report 127.0.0.1:9229 --out report.json")(report)


# --- the printed row of a capture ------------------------------------------------------


def _row(saved: CaptureResult | CaptureRecord, *, capture_id: str | None, target: dict[str, Any],
         labels: dict[str, str], meta: dict[str, Any]) -> Row:
    """The printed row of a capture: a :class:`CaptureResult` (``--out``) or a stored :class:`CaptureRecord`."""
    return {"id": capture_id, "kind": saved.kind, "path": str(saved.path), "size": saved.size,
            "duration_s": round(saved.duration_s or 0.0, 3), "session": saved.session, "series": saved.series,
            "series_index": saved.series_index, "pid": saved.pid, "node_version": saved.node_version,
            "target": target, "labels": labels, "meta": meta}


def _stored_row(record: CaptureRecord) -> Row:
    return _row(record, capture_id=record.id, target=record.target, labels=record.labels, meta=record.meta)


def _file_row(result: CaptureResult, target: Target, labels: dict[str, str]) -> Row:
    meta = {k: v for k, v in result.metadata().items() if k not in ("options", "kind")}
    return _row(result, capture_id=None, target=dict(target.identity), labels=labels, meta=meta)


def _out_path(opts: SaveOptions, kind: str, index: int | None = None) -> Path:
    """The ``--out`` file: ``snap.heapsnapshot`` -> ``snap.1.heapsnapshot`` in a series; ``.zst`` compressed."""
    from cdpclient.store import EXTENSIONS

    assert opts.out is not None
    out = opts.out
    if index is not None:
        out = out.with_name(f"{out.stem}.{index}{out.suffix or EXTENSIONS[kind]}")
    if opts.compress and not out.name.endswith(".zst"):
        out = out.with_name(out.name + ".zst")
    return out


async def _save(target: Target, opts: SaveOptions, kind: str, **options: Any) -> Row:
    """One capture into the store, or to ``--out``; its printed row."""
    import cdpclient

    if opts.out is None:

        with common.open_store(opts.store) as store:
            record = await cdpclient.capture_to_store(target, store, kind, labels=opts.labels,
                                                      compress=opts.compress, **options)
        return _stored_row(record)
    out = _out_path(opts, kind)
    if kind == "heaptimeline":  # its events beside it, where Store.events_file looks first
        from cdpclient.store.layout import EVENTS_SUFFIX, Layout

        options["events_path"] = Layout.beside(out, EVENTS_SUFFIX)[0]
    result = await cdpclient.capture_to_file(target, out, kind, compress=opts.compress, **options)
    return _file_row(result, target, opts.labels)


def _print_saved(rows: list[Row], as_json: bool) -> None:
    if as_json:
        common.print_json(rows[0] if len(rows) == 1 else rows)
        return
    from cdpclient.units import format_duration

    for row in rows:
        where = f"{row['id']}  {row['path']}" if row["id"] else row["path"]
        series = f"  series {row['series']}[{row['series_index']}]" if row["series"] else ""
        common.say(f"saved {row['kind']} {where}  {common.human_bytes(row['size'])} "
                   f"in {format_duration(row['duration_s'])}{series}")


# --- progress on stderr ------------------------------------------------------------------


class _ProgressBar:
    """A rich progress bar on stderr fed by the library's :class:`Progress` reports (tty only)."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None
        self._phase: str | None = None

    @property
    def callback(self) -> _ProgressBar | None:
        """What to pass as ``progress=``: None without a terminal, so V8 is not asked for progress."""
        return self if self.enabled else None

    def __enter__(self) -> _ProgressBar:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[what]}"),
                                      TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=None, what="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def note(self, message: str) -> None:
        """A status line on stderr that does not tear the bar."""
        if self._progress is not None:
            self._progress.console.print(message, markup=False, highlight=False)
        else:
            common.note(message)

    def __call__(self, report: Progress) -> None:
        if self._progress is None:
            return
        hb = common.human_bytes
        if report.phase == "heap":
            what, desc = f"{int(report.done):,}/{int(report.total or 0):,} objects", f"{self.label}: V8 walking heap"
            total, done = report.total, report.done
        elif report.phase == "write":
            what, desc, total, done = hb(report.done) + " written", f"{self.label}: writing", None, report.done
        elif report.phase == "series":
            what = f"next in {max(0.0, (report.total or 0) - report.done):.0f}s"
            desc, total, done = f"{self.label}: waiting", report.total, report.done
        else:
            what = f"{report.done:.0f}/{report.total:.0f}s"
            desc, total, done = f"{self.label}: recording", report.total, report.done
        self._progress.update(self._task, description=desc, total=total, completed=done, what=what)


def _run(spec: TargetSpec, work: Callable[[Target, OptsT], Awaitable[list[Row]]], opts: OptsT, as_json: bool,
         *, show: Callable[[list[Row], bool], None] = _print_saved) -> None:
    """Run a command's work on its one target and ``show`` the rows.

    With a selector it is a fleet: once per matching pod; the fleet prints its
    summary table and exits 1 if any pod failed.
    """
    if spec.selector:
        fleet.run_capture(spec, work, opts, as_json)
        return
    show(common.run(_on_target(spec, work, opts)), as_json)


async def _on_target(spec: TargetSpec, work: Callable[[Target, OptsT], Awaitable[T]], opts: OptsT) -> T:
    async with common.open_target(spec) as target:
        conn = target.connection
        conn.stall_timeout = stall_timeout()
        off = conn.on_stall(_StallReporter())
        try:
            return await work(target, opts)
        finally:
            off()


STALL_ENV = "CDPCLIENT_STALL_TIMEOUT"


def stall_timeout() -> float | None:
    """Seconds of silence from the target before a capture gives up: $CDPCLIENT_STALL_TIMEOUT (0: never)."""
    import os

    from cdpclient.connection import DEFAULT_STALL_TIMEOUT
    from cdpclient.units import parse_duration

    text = os.environ.get(STALL_ENV, "").strip()
    if not text:
        return DEFAULT_STALL_TIMEOUT
    from cdpclient.errors import UsageError

    try:
        seconds = parse_duration(text)
    except UsageError as exc:
        raise UsageError(f"{STALL_ENV}={text!r}: {exc}") from None
    return seconds if seconds > 0 else None


_SNAPSHOT_METHODS = ("HeapProfiler.takeHeapSnapshot", "HeapProfiler.stopTrackingHeapObjects")
SNAPSHOT_NOTICE = 15.0
"""Seconds of silence before a snapshot's wait is mentioned (a healthy 400 MB heap was silent for 8.6 s)."""


class _StallReporter:
    """Lines on stderr while the target does not answer: at once, then every 10 s, and when it answers again."""

    def __init__(self) -> None:
        self._said = 0.0

    def __call__(self, stall: Any) -> None:
        if stall.silent_s == 0:
            if self._said:
                common.note(f"cdpclient: the target answers again ({stall.method})")
            self._said = 0.0
            return
        if self._said == 0:
            limit = f"giving up after {stall.limit_s:.0f}s" if stall.limit_s else f"no limit ({STALL_ENV}=0)"
            if stall.method in _SNAPSHOT_METHODS:  # V8's GCs before a snapshot are silent: seconds per GB
                if stall.silent_s < SNAPSHOT_NOTICE:
                    return
                common.note(f"cdpclient: no word from V8 for {stall.silent_s:.0f}s while it prepares the snapshot "
                            f"(its full GCs on a large heap are silent; a stopped target is too): {limit}; "
                            "Ctrl-C to abort")
                self._said = stall.silent_s
                return
            common.note(f"cdpclient: the target has not answered for {stall.silent_s:.0f}s ({stall.method}): "
                        f"stopped (SIGSTOP, a debugger pause), a long GC or a blocking call? {limit}; "
                        "Ctrl-C to abort")
            self._said = stall.silent_s
        elif stall.silent_s - self._said >= 10:
            common.note(f"cdpclient: still no answer from the target after {stall.silent_s:.0f}s")
            self._said = stall.silent_s


# --- snapshot ---------------------------------------------------------------------------------


@target_command
def snapshot(
    spec: TargetSpec,
    gc: bool = typer.Option(False, "--gc", help="Force a full garbage collection first: only live objects remain."),
    out: Path | None = _OutOption,
    label: list[str] | None = _LabelOption,
    count: int = typer.Option(1, "--count", min=1, help="Take N snapshots in one session (a series)."),
    every: str | None = typer.Option(None, "--every", help="Time between the snapshots of a series (30s, 2m)."),
    force: bool = typer.Option(False, "--force", help="Take it even when the memory guard says it may not fit."),
    compress: bool = _CompressOption,
    store: str | None = StoreOption,
    as_json: bool = typer.Option(False, "--json", help="Print the saved capture(s) as JSON."),
) -> None:
    """Take a heap snapshot (.heapsnapshot), streamed to disk; or a series of them in one session.

    Before each snapshot the memory guard checks that the target can afford it
    (up to 15x its used heap, in native memory) under its memory limits.
    Object ids are comparable across one series (same session).
    """
    from cdpclient.units import parse_duration

    if count > 1 and not every:
        raise typer.BadParameter("a series (--count > 1) needs --every, e.g. --every 2m", param_hint="--every")
    opts = SnapshotOptions(out=out, store=store, labels=common.parse_labels(label), compress=compress,
                           gc=gc, force=force, count=count,
                           every=float(_parsed(parse_duration, every, "--every")) if every else 0.0)
    _run(spec, take_snapshots, opts, as_json)


async def take_snapshots(target: Target, opts: SnapshotOptions) -> list[Row]:
    """Snapshot one target (a series with ``opts.count`` > 1); returns the printed rows."""
    import cdpclient

    with _ProgressBar("snapshot", opts.progress) as bar:
        if opts.count == 1:
            return [await _save(target, opts, "heapsnapshot", gc=opts.gc, force=opts.force, progress=bar.callback)]
        rows: list[Row] = []

        def saved(row: Row) -> None:
            rows.append(row)
            bar.note(f"snapshot {len(rows)}/{opts.count}: {row['id'] or row['path']}")

        try:
            if opts.out is None:

                with common.open_store(opts.store) as store:
                    await cdpclient.heap_snapshot_series_to_store(
                        target, store, count=opts.count, every=opts.every, gc=opts.gc, force=opts.force,
                        labels=opts.labels, compress=opts.compress, progress=bar.callback,
                        on_capture=lambda record: saved(_stored_row(record)))
            else:
                await target.heap_snapshot_series(
                    lambda index: _out_path(opts, "heapsnapshot", index), count=opts.count, every=opts.every,
                    gc=opts.gc, force=opts.force, compress=opts.compress, progress=bar.callback,
                    on_capture=lambda result: saved(_file_row(result, target, opts.labels)))
        except BaseException:
            if rows:  # the snapshots already taken stay saved: say which
                done = ", ".join(str(r["id"] or r["path"]) for r in rows)
                common.warn(f"series stopped after {len(rows)} of {opts.count} snapshots; saved: {done}")
            raise
    return rows


# --- timed captures: cpu, sample, timeline -------------------------------------------------------

_DURATION_HELP = "How long to record (500ms, 30s, 5m); Ctrl-C ends it early and still saves."


@target_command
def cpu(
    spec: TargetSpec,
    duration: str = typer.Option("30s", "--duration", "-d", help=_DURATION_HELP),
    interval: str = typer.Option("1ms", "--interval", help="Sampling interval (100us, 1ms)."),
    out: Path | None = _OutOption,
    label: list[str] | None = _LabelOption,
    compress: bool = _CompressOption,
    store: str | None = StoreOption,
    as_json: bool = typer.Option(False, "--json", help="Print the saved capture as JSON."),
) -> None:
    """Record a CPU profile (.cpuprofile, as Chrome DevTools saves it)."""
    from cdpclient.units import parse_duration

    opts = TimedOptions(out=out, store=store, labels=common.parse_labels(label), compress=compress,
                        duration=float(_parsed(parse_duration, duration, "--duration")),
                        interval=float(_parsed(parse_duration, interval, "--interval")))
    _run(spec, take_cpu, opts, as_json)


async def take_cpu(target: Target, opts: TimedOptions) -> list[Row]:
    return await _timed(target, opts, "cpuprofile", "cpu", duration=opts.duration,
                        interval=float(opts.interval or 0.001))


async def _timed(target: Target, opts: TimedOptions, kind: str, label: str, **options: Any) -> list[Row]:
    """A timed capture: the first Ctrl-C ends it early and saves, a progress bar while it records."""
    with common.early_stop() as stop, _ProgressBar(label, opts.progress) as bar:
        return [await _save(target, opts, kind, stop=stop, progress=bar.callback, **options)]


@target_command
def sample(
    spec: TargetSpec,
    duration: str = typer.Option("30s", "--duration", "-d", help=_DURATION_HELP),
    interval: str = typer.Option("32768", "--interval", help="Mean bytes between samples (32768, 64KiB)."),
    include_collected: bool = typer.Option(False, "--include-collected",
                                           help="Keep samples of objects the GC already collected."),
    out: Path | None = _OutOption,
    label: list[str] | None = _LabelOption,
    compress: bool = _CompressOption,
    store: str | None = StoreOption,
    as_json: bool = typer.Option(False, "--json", help="Print the saved capture as JSON."),
) -> None:
    """Record a sampling heap profile (.heapprofile): which code allocates the memory."""
    from cdpclient.units import parse_duration, parse_size

    opts = TimedOptions(out=out, store=store, labels=common.parse_labels(label), compress=compress,
                        duration=float(_parsed(parse_duration, duration, "--duration")),
                        interval=int(_parsed(parse_size, interval, "--interval")),
                        include_collected=include_collected)
    _run(spec, take_sample, opts, as_json)


async def take_sample(target: Target, opts: TimedOptions) -> list[Row]:
    rows = await _timed(target, opts, "heapprofile", "sample", duration=opts.duration,
                        interval=int(opts.interval or 32768), include_collected=opts.include_collected)
    for row in rows:
        if row["meta"].get("note"):  # an empty profile, saved: say why and what to do
            common.warn(str(row["meta"]["note"]))
    return rows


@target_command
def timeline(
    spec: TargetSpec,
    duration: str = typer.Option("30s", "--duration", "-d", help=_DURATION_HELP),
    force: bool = typer.Option(False, "--force", help="Go ahead even when the memory guard says it may not fit."),
    out: Path | None = _OutOption,
    label: list[str] | None = _LabelOption,
    compress: bool = _CompressOption,
    store: str | None = StoreOption,
    as_json: bool = typer.Option(False, "--json", help="Print the saved capture as JSON."),
) -> None:
    """Record an allocation timeline (.heaptimeline): allocations with their stacks over time.

    It ends with a heap snapshot, so the memory guard applies as for ``snapshot``.
    The heap statistics events are kept beside it (``.events.json``).
    """
    from cdpclient.units import parse_duration

    opts = TimedOptions(out=out, store=store, labels=common.parse_labels(label), compress=compress,
                        duration=float(_parsed(parse_duration, duration, "--duration")), force=force)
    _run(spec, take_timeline, opts, as_json)


async def take_timeline(target: Target, opts: TimedOptions) -> list[Row]:
    return await _timed(target, opts, "heaptimeline", "timeline", duration=opts.duration, force=opts.force)


def _parsed(parse: Callable[[str], float | int], text: str, option: str, *, positive: bool = True) -> float | int:
    """A duration or size option's value; bad input is a usage error (exit 2) naming the option."""
    from cdpclient.errors import UsageError

    try:
        value = parse(text)
    except UsageError as exc:
        raise typer.BadParameter(exc.render(common.flag), param_hint=option) from None
    if positive and value <= 0:
        raise typer.BadParameter("must be more than zero", param_hint=option)
    return value


# --- report ---------------------------------------------------------------------------------------


@target_command
def report(
    spec: TargetSpec,
    out: Path | None = _OutOption,
    label: list[str] | None = _LabelOption,
    compress: bool = _CompressOption,
    store: str | None = StoreOption,
    as_json: bool = typer.Option(False, "--json", help="Print the saved capture and its summary as JSON."),
) -> None:
    """Save the Node diagnostic report (.json) and summarize it.

    The summary puts first what usually explains an incident: open descriptors
    near the soft limit (counted in the target), many sockets to one peer, a low
    open files limit, a heap or RSS near its limit.  The file holds the
    process's environment variables: it is written 0600.
    """
    opts = SaveOptions(out=out, store=store, labels=common.parse_labels(label), compress=compress)
    _run(spec, take_report, opts, as_json, show=_print_report)


def _print_report(rows: list[Row], as_json: bool) -> None:
    if as_json:
        common.print_json(rows[0])
        return
    _print_saved(rows, False)
    typer.echo(format_summary(rows[0]["meta"]["summary"]))


async def take_report(target: Target, opts: SaveOptions) -> list[Row]:
    return [await _save(target, opts, "report")]


def format_summary(summary: dict[str, Any], *, max_endpoints: int = 10) -> str:
    """The report summary as text: highlights first, then memory, limits, handles and sockets."""
    hb = common.human_bytes
    lines = [f"! {text}" for text in summary["highlights"]]
    if lines:
        lines.append("")
    lines.append(f"process      pid {summary['pid']}, node {summary['node_version']}")
    lines.append(f"heap         {hb(summary['heap_used'])} used of {hb(summary['heap_total'])} "
                 f"(V8 limit {hb(summary['heap_limit'])})")
    limit = f" of {hb(summary['constrained_memory'])} limit" if summary.get("constrained_memory") else ""
    lines.append(f"rss          {hb(summary['rss'])}{limit}")
    lines.append(_open_files_line(summary))
    handles = ", ".join(f"{n} {kind}" for kind, n in summary["handles"].items()) or "none"
    lines.append(f"handles      {sum(summary['handles'].values())} ({summary['active_handles']} active): {handles}")
    sockets = summary["sockets"]
    if sockets:
        lines.append("sockets      by peer:")
        for sock in sockets[:max_endpoints]:
            lines.append(f"  {sock['count']:>6} {sock['protocol']:<4} {sock['endpoint']}")
        if len(sockets) > max_endpoints:
            rest = sum(s["count"] for s in sockets[max_endpoints:])
            lines.append(f"  {rest:>6} more to {len(sockets) - max_endpoints} other peers")
    inbound, outbound = summary.get("inbound") or [], summary.get("outbound") or []
    if inbound or outbound:
        lines.append("connections  TCP, inbound by listening port, outbound by peer:")
        lines.extend(f"  {c['count']:>6} inbound on :{c['port']}" for c in inbound[:max_endpoints])
        lines.extend(f"  {c['count']:>6} outbound to {c['peer']}" for c in outbound[:max_endpoints])
        for what, rows in (("inbound", inbound), ("outbound", outbound)):
            if len(rows) > max_endpoints:
                rest = sum(c["count"] for c in rows[max_endpoints:])
                lines.append(f"  {rest:>6} more {what} ({len(rows) - max_endpoints} other groups)")
    return "\n".join(lines)


def _open_files_line(summary: dict[str, Any]) -> str:
    """``open files   607 of 650 soft (1048576 hard): 412 sockets, 190 files, 5 pipes``."""
    from cdpclient.captures.report import fd_kinds_text

    soft, hard, count = summary["open_files_soft"], summary["open_files_hard"], summary.get("open_fds")
    if count is None:
        return f"open files   limit {soft} soft, {hard} hard; open count unknown (no /proc/self/fd)"
    kinds = fd_kinds_text(summary.get("fds_by_kind") or {})
    return f"open files   {count} of {soft} soft ({hard} hard)" + (f": {kinds}" if kinds else "")
