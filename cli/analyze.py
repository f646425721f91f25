"""Commands: top, diff, retainers, leaks (analysis of stored captures or plain files).

Heap snapshots (and heap timelines with ``--by class|object``) go to ``cdpclient.heap``;
CPU profiles, sampling heap profiles and timelines go to ``cli.profile_views``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from .common import (
    ForceDamagedOption,
    MaxExpandOption,
    StoreOption,
    checked,
    human_bytes,
    named,
    note,
    open_store,
    print_json,
    say,
    table,
    warn,
)

if TYPE_CHECKING:  # imported inside the commands, so `cdpclient --help` stays fast
    from cdpclient.heap import Census, HeapSnapshot, LeakReport, Overview
    from cdpclient.store import CaptureRecord, Store

HEAP_BY = ("class", "object")


# --- resolving and loading ------------------------------------------------------------------


def _store(store_dir: str | None) -> Store:

    return open_store(store_dir)


def _resolve(store: Store, ref: str, force: bool = False) -> tuple[CaptureRecord, Path]:
    record = checked(store, store.resolve(ref), force)
    return record, store.materialize(record)


_DevtoolsOption = typer.Option(False, "--devtools", help="The numbers and names DevTools' Memory panel shows: "
                               "its retained sizes (global dominates all it reaches), its classes (Function, "
                               "RegExp, plain objects by shape: {host, port}) and its shallow sizes (arrays "
                               "counted in their owner), instead of memlab's (the default); see "
                               "docs/heap-analysis.md.")


def _cache_and_progress(store: Store, record: CaptureRecord, path: Path,
                        first_line: str) -> tuple[Path | None, Callable[[str], None]]:
    """The capture's analysis cache directory (None for a read-only store: analysed without one) and a
    progress callback that says ``first_line (SIZE) ...`` on stderr at the first stage."""
    try:
        cache_dir = store.cache_dir(record)
    except Exception:  # a read-only store: analyse without a cache
        cache_dir = None
    stages: list[str] = []

    def progress(stage: str) -> None:
        if not stages:
            note(f"{first_line} ({human_bytes(path.stat().st_size)}) ...")
        stages.append(stage)

    return cache_dir, progress


def _load_heap(store: Store, record: CaptureRecord, path: Path, label: str, devtools: bool = False) -> HeapSnapshot:
    """Load a snapshot through its cache, with progress lines on stderr."""
    from cdpclient import heap

    cache_dir, progress = _cache_and_progress(store, record, path, f"analysing {label}")
    with named(path, record.path):
        return heap.load(path, cache_dir=cache_dir, progress=progress,
                         dominance="user-roots" if devtools else "gc-roots",
                         classes="devtools" if devtools else "memlab", on_note=note,
                         background=True)  # the answer first; the process waits for the cache at exit


def _census(store: Store, record: CaptureRecord, path: Path, label: str, devtools: bool = False) -> Census:
    """What a Comparison by class needs of a snapshot: its cached analysis, else its classes only."""
    from cdpclient import heap

    cache_dir, progress = _cache_and_progress(store, record, path, f"reading {label}")
    with named(path, record.path):
        return heap.census(path, cache_dir=cache_dir, progress=progress,
                           classes="devtools" if devtools else "memlab", on_note=note)


def _label(record: CaptureRecord) -> str:
    return str(record.id)


def _require_heap(record: CaptureRecord, command: str) -> None:
    from cdpclient.errors import AnalysisError
    from cdpclient.store.kinds import HEAP_KINDS

    if record.kind not in HEAP_KINDS:
        raise AnalysisError(f"{command} works on heap snapshots; {record.id} is a {record.kind}")


def _by_option(default_help: str) -> Any:
    return typer.Option(None, "--by", help=default_help)


_FocusOption = typer.Option(None, "--focus", metavar="REGEX",
                            help="Profiles: only samples whose stack has a function, location or package "
                                 "matching REGEX (pprof's -focus).")
_IgnoreOption = typer.Option(None, "--ignore", metavar="REGEX",
                             help="Profiles: leave out samples whose stack has a match (pprof's -ignore).")
_HideIdleOption = typer.Option(False, "--hide-idle", help="CPU profiles: leave out (idle) and (program).")


def _profile_by(by: str | None, kind: str) -> None:
    """``--by`` for a profile, refused in the same words as for a heap snapshot."""
    from cdpclient.errors import UsageError
    from cdpclient.profiles.analysis import grouping_words, normalize_by
    from cdpclient.store.kinds import title

    try:
        normalize_by(by, kind)
    except UsageError:
        raise typer.BadParameter(f"{by!r}: a {title(kind)} groups by {grouping_words(kind)}",
                                 param_hint="--by") from None


def _sort(sort: str) -> str:
    if sort not in ("self", "total"):
        raise typer.BadParameter(f"{sort!r}: sort by self or total", param_hint="--sort")
    return sort


def _selection(focus: str | None, ignore: str | None, hide_idle: bool) -> Any:
    from cdpclient.profiles import Selection

    return Selection(focus=focus, ignore=ignore, hide_idle=hide_idle)


def _profiles_only(sort: bool, focus: str | None, ignore: str | None, hide_idle: bool) -> None:
    """The profile selections on a heap snapshot: say they do not apply rather than ignore them."""
    given = [name for name, on in (("--sort", sort), ("--focus", focus), ("--ignore", ignore),
                                   ("--hide-idle", hide_idle)) if on]
    if given:
        raise typer.BadParameter("works on CPU profiles, sampling heap profiles and allocation timelines, "
                                 "not heap snapshots", param_hint=given[0])


# --- top -----------------------------------------------------------------------------------------


def top(
    capture: str = typer.Argument(..., metavar="ID", help="Capture id, id prefix, or a file path."),
    by: str | None = _by_option("Heap snapshots: class (default), object, or function (closures by the "
                                   "function and line they come from). Profiles: function (default), file, package, "
                                   "or line (CPU profiles: time per line of each function)."),
    limit: int = typer.Option(30, "--limit", min=1, help="Rows to show."),
    sort: str = typer.Option("self", "--sort", help="Profiles: rank by self (default) or total."),
    focus: str | None = _FocusOption,
    ignore: str | None = _IgnoreOption,
    hide_idle: bool = _HideIdleOption,
    devtools: bool = _DevtoolsOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    store_dir: str | None = StoreOption,
    force: bool = ForceDamagedOption,
    max_expand: str | None = MaxExpandOption,
) -> None:
    """What is biggest: a heap snapshot's classes (or objects, closures), a profile's functions, files or packages.

    Heap snapshots: the Summary view, classes by retained size, the largest single retainers (--by object), or closures by function (--by function). CPU profiles, sampling heap profiles and allocation timelines: self and total time or bytes per function (--by file, --by package), with pprof's --focus, --ignore, --hide-idle and --sort total.

    The header splits the snapshot's total into the JS heap (what process.memoryUsage().heapUsed counts) and off-heap memory V8 reports as native (Buffer and ArrayBuffer contents), and gives the heap used and RSS the capture saw.

    Example:

      cdpclient top 01J8 --limit 20

      cdpclient top 01J8 --by function

      cdpclient top ./app.heapsnapshot --by object --json

      cdpclient top 01J9 --by package --hide-idle          (a CPU profile)
    """  # noqa: E501  (rich help keeps a paragraph's line breaks: one paragraph, one line)
    from cdpclient.store.kinds import PROFILE_KINDS

    store = _store(store_dir)
    record, path = _resolve(store, capture, force)
    heap_view = record.kind == "heapsnapshot" or (record.kind == "heaptimeline" and by in HEAP_BY)
    if not heap_view:
        if record.kind not in PROFILE_KINDS:
            _require_heap(record, "top")
        from . import profile_views

        _profile_by(by, record.kind)
        profile_views.top(record, path, by, limit, as_json, sort=_sort(sort),
                          selection=_selection(focus, ignore, hide_idle))
        return
    _profiles_only(sort != "self", focus, ignore, hide_idle)
    if by not in (None, *HEAP_BY, "function"):
        raise typer.BadParameter(f"{by!r}: a heap snapshot groups by class, object or function", param_hint="--by")
    from cdpclient import heap

    snap = _load_heap(store, record, path, _label(record), devtools)
    overview = heap.overview(snap)
    at_capture = _at_capture(record)
    if by == "function":
        functions = heap.top_functions(snap, limit)
        if as_json:
            print_json({"capture": _label(record), "by": "function", **overview.to_dict(), **at_capture,
                        "functions": [f.to_dict() for f in functions]})
            return
        say(_header(record, overview, at_capture))
        say(table(
            [[f.name[:80], f"{f.count:,}", human_bytes(f.shallow_size), human_bytes(f.retained_size),
              _pct(f.retained_size, overview.total_size)] for f in functions],
            ["function", "closures", "shallow", "retained", "%"], align="lrrrr"))
        return
    if by == "object":
        objects = heap.top_objects(snap, limit)
        if as_json:
            print_json({"capture": _label(record), "by": "object", **overview.to_dict(), **at_capture,
                        "objects": [o.to_dict() for o in objects]})
            return
        say(_header(record, overview, at_capture))
        say(table(
            [[f"@{o.id}", (o.label or o.class_name)[:80], human_bytes(o.self_size), human_bytes(o.retained_size),
              _pct(o.retained_size, overview.total_size), o.distance if o.distance is not None else "-"]
             for o in objects],
            ["object", "class", "shallow", "retained", "%", "distance"], align="llrrrr"))
        return
    rows = heap.top_classes(snap, limit)
    if as_json:
        print_json({"capture": _label(record), "by": "class", **overview.to_dict(), **at_capture,
                    "classes": [r.to_dict() for r in rows]})
        return
    say(_header(record, overview, at_capture))
    say(table(
        [[r.name[:60], f"{r.count:,}", human_bytes(r.shallow_size), human_bytes(r.retained_size),
          _pct(r.retained_size, overview.total_size)] for r in rows],
        ["class", "count", "shallow", "retained", "%"], align="lrrrr"))


def _at_capture(record: CaptureRecord) -> dict[str, Any]:
    """What the process reported when the snapshot was taken (the memory guard's reading), if recorded."""
    before = record.meta.get("memory_before") or {}
    return {"heap_used_at_capture": before.get("heap_used"), "rss_at_capture": before.get("rss")}


def _header(record: CaptureRecord, overview: Overview, at_capture: dict[str, Any]) -> str:
    """``01M8: 165,060 objects, 13.2 MiB = 9.1 MiB JS heap + 4.1 MiB off-heap (Buffer contents)``, and what
    ``info`` said at capture, so the two reconcile."""
    text = (f"{_label(record)}: {overview.nodes:,} objects, {human_bytes(overview.total_size)} = "
            f"{human_bytes(overview.js_heap_size)} JS heap + {human_bytes(overview.offheap_size)} off-heap "
            f"(Buffer/ArrayBuffer contents and native objects, outside heapUsed)")
    used, rss = at_capture.get("heap_used_at_capture"), at_capture.get("rss_at_capture")
    if used:
        text += (f"\n  at capture: heap used {human_bytes(used)} (before the snapshot's GC), RSS {human_bytes(rss)}; "
                 f"external memory beyond what the snapshot shows is in 'cdpclient info'")
    return text


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


# --- diff -----------------------------------------------------------------------------------------


def diff(
    a: str = typer.Argument(..., metavar="A", help="The earlier capture (id, prefix or path)."),
    b: str = typer.Argument(..., metavar="B", help="The later capture."),
    by: str | None = _by_option("Heap snapshots: class (default) or function (closures by the function and "
                                "line they come from). Profiles: passed to the profile view."),
    limit: int = typer.Option(30, "--limit", min=1, help="Rows to show."),
    focus: str | None = _FocusOption,
    ignore: str | None = _IgnoreOption,
    hide_idle: bool = _HideIdleOption,
    devtools: bool = _DevtoolsOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    store_dir: str | None = StoreOption,
    force: bool = ForceDamagedOption,
    max_expand: str | None = MaxExpandOption,
) -> None:
    """What grew from A to B: a heap snapshot's classes (or closures), a profile's functions, files or packages.

    Heap snapshots: the Comparison view, per class new / deleted objects and the size delta, biggest growth first. Profiles of one kind: the change in each function's share of the time (CPU) or in its bytes, with --focus, --ignore and --hide-idle.

    Object identity is used only when A and B come from one inspector session; otherwise counts and sizes per class are compared, and the output says why (snapshots of different processes are named as such). A and B given newest first are put in the order they were taken, and the output says so.

    Example:

      cdpclient diff 01J8 01J9

      cdpclient diff 01J8 01J9 --by function

      cdpclient diff before.heapsnapshot after.heapsnapshot --json

      cdpclient diff 01J9 01JA --by package          (two CPU profiles)
    """  # noqa: E501  (rich help keeps a paragraph's line breaks: one paragraph, one line)
    from cdpclient.errors import AnalysisError
    from cdpclient.store import ids_comparable
    from cdpclient.store.kinds import PROFILE_KINDS

    store = _store(store_dir)
    rec_a, path_a = _resolve(store, a, force)
    rec_b, path_b = _resolve(store, b, force)
    heap_a = rec_a.kind == "heapsnapshot" or (rec_a.kind == "heaptimeline" and by in (*HEAP_BY, None)
                                               and rec_b.kind == "heapsnapshot")
    heap_b = rec_b.kind == "heapsnapshot" or (rec_b.kind == "heaptimeline" and by in (*HEAP_BY, None)
                                               and rec_a.kind == "heapsnapshot")
    if rec_a.kind == rec_b.kind == "heaptimeline" and by in HEAP_BY:
        heap_a = heap_b = True
    if not (heap_a and heap_b):
        if rec_a.kind != rec_b.kind:
            raise AnalysisError(f"cannot compare a {rec_a.kind} ({rec_a.id}) with a {rec_b.kind} ({rec_b.id})")
        if rec_a.kind not in PROFILE_KINDS:
            raise AnalysisError(f"diff does not know how to compare {rec_a.kind} captures")
        from . import profile_views

        _profile_by(by, rec_a.kind)
        profile_views.diff(rec_a, path_a, rec_b, path_b, by, limit, as_json,
                           selection=_selection(focus, ignore, hide_idle))
        return
    _profiles_only(False, focus, ignore, hide_idle)
    from cdpclient import heap
    from cdpclient.store import order_by_time, series_notes

    if by not in (None, "class", "function"):
        raise typer.BadParameter(f"{by!r}: heap snapshots compare by class or function", param_hint="--by")
    given = rec_a.id
    (rec_a, path_a), (rec_b, path_b) = order_by_time([(rec_a, path_a), (rec_b, path_b)], key=lambda rp: rp[0])[0]
    notes = [f"A was taken after B: compared in the order they were taken, {rec_a.id} -> {rec_b.id}"
             ] if rec_a.id != given else []
    processes = series_notes([rec_a, rec_b])
    notes += processes
    from cdpclient.heap.parallel import together

    if by == "function":  # closures by retained size: the full analysis of both, side by side
        full_a, full_b = together(lambda: _load_heap(store, rec_a, path_a, _label(rec_a), devtools),
                                  lambda: _load_heap(store, rec_b, path_b, _label(rec_b), devtools))
        _diff_functions(rec_a, full_a, rec_b, full_b, limit, as_json, notes)
        return
    # by class: counts and shallow sizes only, one file after the other (each parsed on both cores; the
    # first one's edges gone before the second is read)
    snap_a = _census(store, rec_a, path_a, _label(rec_a), devtools)
    snap_b = _census(store, rec_b, path_b, _label(rec_b), devtools)
    comparable = ids_comparable([rec_a, rec_b])
    result = heap.compare(snap_a, snap_b, ids_comparable=comparable, limit=limit)
    if as_json:
        print_json({"a_capture": _label(rec_a), "b_capture": _label(rec_b), "notes": notes, **result.to_dict()})
        return
    for text in notes:
        warn(text)
    if result.note and not processes:
        warn(result.note)
    say(f"{_label(rec_a)} -> {_label(rec_b)}: {human_bytes(result.total_a)} -> "
               f"{human_bytes(result.total_b)} ({_signed_bytes(result.total_b - result.total_a)})")
    rows = result.classes
    if comparable:
        say(table(
            [[r.name[:50], f"{r.new or 0:,}", f"{r.deleted or 0:,}", f"{r.delta_count:+,}",
              human_bytes(r.alloc_size or 0), human_bytes(r.freed_size or 0), _signed_bytes(r.size_delta)]
             for r in rows],
            ["class", "new", "deleted", "delta", "alloc", "freed", "size delta"], align="lrrrrrr"))
    else:
        say(table(
            [[r.name[:50], f"{r.count_a:,}", f"{r.count_b:,}", f"{r.delta_count:+,}",
              _signed_bytes(r.size_delta)] for r in rows],
            ["class", "count A", "count B", "delta", "size delta"], align="lrrrr"))


def _signed_bytes(n: int | float) -> str:
    return ("-" if n < 0 else "+") + human_bytes(abs(n))


def _diff_functions(rec_a: CaptureRecord, snap_a: HeapSnapshot, rec_b: CaptureRecord, snap_b: HeapSnapshot,
                    limit: int, as_json: bool, notes: list[str]) -> None:
    """Closures per function in A and B, the biggest growth in retained size first."""
    from cdpclient import heap

    fa = {f.name: f for f in heap.top_functions(snap_a, 5000)}
    fb = {f.name: f for f in heap.top_functions(snap_b, 5000)}
    rows: list[dict[str, Any]] = []
    for name in set(fa) | set(fb):
        a, b = fa.get(name), fb.get(name)
        rows.append({"function": name, "count_a": a.count if a else 0, "count_b": b.count if b else 0,
                     "retained_a": a.retained_size if a else 0, "retained_b": b.retained_size if b else 0})
    rows.sort(key=lambda r: (-(r["retained_b"] - r["retained_a"]), -(r["count_b"] - r["count_a"])))
    rows = rows[:limit]
    if as_json:
        print_json({"a_capture": _label(rec_a), "b_capture": _label(rec_b), "by": "function", "notes": notes,
                    "functions": rows})
        return
    for text in notes:
        warn(text)
    say(table(
        [[r["function"][:80], f"{r['count_a']:,}", f"{r['count_b']:,}", f"{r['count_b'] - r['count_a']:+,}",
          _signed_bytes(r["retained_b"] - r["retained_a"])] for r in rows],
        ["function", "closures A", "closures B", "delta", "retained delta"], align="lrrrr"))


# --- retainers -------------------------------------------------------------------------------------


def retainers(
    capture: str = typer.Argument(..., metavar="ID", help="Capture id, id prefix, or a file path."),
    target: str = typer.Argument(..., metavar="CLASS|FUNCTION|@NODE_ID",
                                 help="A class name, a function's name (its closures), or @ and a node id."),
    paths: int = typer.Option(5, "--paths", min=1, help="How many distinct paths to show."),
    raw: bool = typer.Option(False, "--raw", help="Every hop of each path, Node's internals included."),
    devtools: bool = _DevtoolsOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    store_dir: str | None = StoreOption,
    force: bool = ForceDamagedOption,
    max_expand: str | None = MaxExpandOption,
) -> None:
    """Shortest retaining paths from the GC roots to an object, to a class's largest objects, or to a function's closures.

    Paths are shown from the last place the application's own code names them (a module variable, a property of an object of a class it defined), with Node's plumbing left out and linked lists collapsed; --raw shows every hop.

    Example:

      cdpclient retainers 01J9 StreamClient

      cdpclient retainers 01J9 onMessage

      cdpclient retainers 01J9 @48213 --paths 3 --json
    """  # noqa: E501  (rich help keeps a paragraph's line breaks: one paragraph, one line)
    from cdpclient import heap

    store = _store(store_dir)
    record, path = _resolve(store, capture, force)
    _require_heap(record, "retainers")
    snap = _load_heap(store, record, path, _label(record), devtools)
    result = heap.retainers(snap, target, paths=paths)
    user = [heap.user_path(snap, p.steps) for p in result.paths]
    if as_json:
        out = result.to_dict()
        for p, u in zip(out["paths"], user, strict=True):
            p.update(user_text=u.text, via=u.via)
        print_json({"capture": _label(record), **out})
        return
    if result.object is not None:
        o = result.object
        say(f"@{o.id} {o.label or o.class_name}: shallow {human_bytes(o.self_size)}, retained "
                   f"{human_bytes(o.retained_size)}, distance {o.distance}")
    else:
        what = "closures" if result.kind == "function" else "objects"
        example = result.paths[0].example if result.paths else None
        name = example.label if result.kind == "function" and example is not None else target
        say(f"{name}: {result.count:,} {what}, retained "
                   f"{human_bytes(result.retained_size)}; paths of the {result.sampled} largest:")
    if not result.paths:
        say("  no retaining path from the GC roots (unreachable: garbage not yet collected)")
    for i, p in enumerate(result.paths, 1):
        extra = ""
        if p.example is not None:
            extra = f" [{p.objects} objects, {human_bytes(p.retained_size or 0)}; e.g. @{p.example.id}]"
        text = p.text if raw else str(user[i - 1])
        say(f"{i}. {text}{extra}")


# --- leaks ----------------------------------------------------------------------------------------------


_FAIL_EXIT = 3  # leaks --fail-if: a suspect crossed the gate (1 stays "the command failed")


def leaks(
    captures: list[str] = typer.Argument(..., metavar="SNAPSHOT",
                                         help="Heap snapshots, oldest first (ids, prefixes or paths)."),
    limit: int = typer.Option(10, "--limit", min=1, help="Suspects to show."),
    raw: bool = typer.Option(False, "--raw", help="Print every hop of each retaining path, Node's internals "
                             "included (as DevTools' Retainers view), instead of the user-land form."),
    devtools: bool = _DevtoolsOption,
    fail_if: list[str] | None = typer.Option(None, "--fail-if", help="Exit with status 3 when a suspect "
                                             "crosses this (repeatable; any one): 'growth>1MiB/snapshot', "
                                             "'count>1000/snapshot', 'retained>50MiB', 'share>10%'."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    store_dir: str | None = StoreOption,
    force: bool = ForceDamagedOption,
    max_expand: str | None = MaxExpandOption,
) -> None:
    """Leak suspects: what grew across the snapshots, named as its author would, and what keeps it alive.

    With three or more snapshots from one session: objects allocated between the first and second that are still alive in the last (the three-snapshot method). Each suspect line names the owner and property (PriceFeed: 9,800 listeners for 'tick' (onTick, lib/feed.js:12)), the growth per snapshot, the holder's retained size and its share of the heap, and the retaining path from the last place a user's code names it; --raw shows every hop.

    Example:

      cdpclient snapshot 127.0.0.1:9229 --count 3 --every 10s

      cdpclient leaks 01J8 01J9 01JA

      cdpclient leaks 01J8 01J9 01JA --fail-if 'growth>1MiB/snapshot' || echo "leak: see above"
    """  # noqa: E501  (rich help keeps a paragraph's line breaks: one paragraph, one line)
    from cdpclient import heap
    from cdpclient.heap.gate import parse_gates

    if len(captures) < 2:
        raise typer.BadParameter("give at least two snapshots (three from one session work best)")
    gates = parse_gates(fail_if or [])
    store = _store(store_dir)
    resolved = [_resolve(store, c, force) for c in captures]
    for record, _ in resolved:
        _require_heap(record, "leaks")
    from cdpclient.store import ids_comparable, order_by_time, series_notes

    resolved, order_note = order_by_time(resolved, key=lambda rp: rp[0])
    records = [r for r, _ in resolved]
    snaps = [_load_heap(store, r, p, _label(r), devtools) for r, p in resolved]
    comparable = ids_comparable(records)
    result = heap.find_leaks(snaps, ids_comparable=comparable, limit=limit)
    processes = series_notes(records)
    notes = ([order_note] if order_note else []) + processes
    crossed = [(s, g) for s in result.suspects for g in gates if g.crossed(s)]
    if as_json:
        print_json({"captures": [_label(r) for r in records], "notes": notes, **result.to_dict(),
                    "failed_gates": [{"gate": g.text, "suspect": s.title} for s, g in crossed]})
    else:
        for text in notes:
            warn(text)
        if result.note and not processes:
            warn(result.note)
        _print_leaks(result, len(snaps), raw)
    if crossed:
        for s, g in crossed:
            warn(f"--fail-if {g.text}: {s.title}")
        raise SystemExit(_FAIL_EXIT)


def _print_leaks(result: LeakReport, snapshots: int, raw: bool) -> None:
    method = {"three-snapshot": "objects allocated between the first two snapshots and alive in the last",
              "two-snapshot": "objects allocated between the two snapshots",
              "class-growth": "classes whose counts grew"}[result.method]
    say(f"{snapshots} snapshots; suspects from {method}:")
    if not result.suspects:
        say("  no growing retainer found")
    for i, s in enumerate(result.suspects, 1):
        say(f"{i}. {s.title}")
        say(f"   {s.size_text}; grows {_signed_bytes(s.bytes_per_snapshot)} per snapshot; "
                   f"counts {' -> '.join(f'{c:,}' for c in s.counts)}")
        if raw:
            say(f"   {s.raw_path_text}")
        else:
            say(f"   held by: {s.path_text}" + (f"   (via {s.via})" if s.via else ""))
        for text in s.notes:
            say(f"   note: {text}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("top")(top)
    app.command("diff")(diff)
    app.command("retainers")(retainers)
    app.command("leaks")(leaks)
