"""Commands: top, diff, retainers, leaks (analysis of stored captures or plain files).

Heap snapshots (and heap timelines with ``--by class|object``) go to ``cdpclient.heap``;
CPU profiles, sampling heap profiles and timelines go to ``cli.profile_views``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from .common import StoreOption, human_bytes, note, print_json, table, warn

if TYPE_CHECKING:  # imported inside the commands, so `cdpclient --help` stays fast
    from cdpclient.heap import HeapSnapshot, LeakReport
    from cdpclient.store import CaptureRecord, Store

HEAP_BY = ("class", "object")


# --- resolving and loading ------------------------------------------------------------------


def _store(store_dir: str | None) -> Store:
    from cdpclient.store import Store

    return Store.open(store_dir)


def _resolve(store: Store, ref: str) -> tuple[CaptureRecord, Path]:
    record = store.resolve(ref)
    return record, store.materialize(record)


def _load_heap(store: Store, record: CaptureRecord, path: Path, label: str) -> HeapSnapshot:
    """Load a snapshot through its cache, with progress lines on stderr."""
    from cdpclient import heap

    try:
        cache_dir = store.cache_dir(record)
    except Exception:  # a read-only store: analyse without a cache
        cache_dir = None
    stages: list[str] = []

    def progress(stage: str) -> None:
        if not stages:
            note(f"analysing {label} ({human_bytes(path.stat().st_size)}) ...")
        stages.append(stage)

    return heap.load(path, cache_dir=cache_dir, progress=progress)


def _label(record: CaptureRecord) -> str:
    return str(record.id)


def _require_heap(record: CaptureRecord, command: str) -> None:
    from cdpclient.errors import AnalysisError
    from cdpclient.store.kinds import HEAP_KINDS

    if record.kind not in HEAP_KINDS:
        raise AnalysisError(f"{command} works on heap snapshots; {record.id} is a {record.kind}")


def _by_option(default_help: str) -> Any:
    return typer.Option(None, "--by", help=default_help)


# --- top -----------------------------------------------------------------------------------------


def top(
    capture: str = typer.Argument(..., metavar="ID", help="Capture id, id prefix, or a file path."),
    by: str | None = _by_option("Heap snapshots: class (default) or object. Profiles: passed to the "
                                   "profile view (function, url, ...)."),
    limit: int = typer.Option(30, "--limit", min=1, help="Rows to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    store_dir: str | None = StoreOption,
) -> None:
    """The Summary view: classes by retained size, or the largest single retainers (--by object).

    Example:

      cdpclient top 01J8 --limit 20

      cdpclient top ./app.heapsnapshot --by object --json
    """
    from cdpclient.store.kinds import PROFILE_KINDS

    store = _store(store_dir)
    record, path = _resolve(store, capture)
    heap_view = record.kind == "heapsnapshot" or (record.kind == "heaptimeline" and by in HEAP_BY)
    if not heap_view:
        if record.kind not in PROFILE_KINDS:
            _require_heap(record, "top")
        from . import profile_views

        profile_views.top(record, path, by, limit, as_json)
        return
    if by not in (None, *HEAP_BY):
        raise typer.BadParameter(f"--by for heap snapshots is class or object, not {by!r}", param_hint="--by")
    from cdpclient import heap

    snap = _load_heap(store, record, path, _label(record))
    overview = heap.overview(snap)
    if by == "object":
        objects = heap.top_objects(snap, limit)
        if as_json:
            print_json({"capture": _label(record), "by": "object", **overview.to_dict(),
                        "objects": [o.to_dict() for o in objects]})
            return
        typer.echo(f"{_label(record)}: {overview.nodes:,} objects, {human_bytes(overview.total_size)}")
        typer.echo(table(
            [[f"@{o.id}", o.class_name, human_bytes(o.self_size), human_bytes(o.retained_size),
              _pct(o.retained_size, overview.total_size), o.distance if o.distance is not None else "-"]
             for o in objects],
            ["object", "class", "shallow", "retained", "%", "distance"], align="llrrrr"))
        return
    rows = heap.top_classes(snap, limit)
    if as_json:
        print_json({"capture": _label(record), "by": "class", **overview.to_dict(),
                    "classes": [r.to_dict() for r in rows]})
        return
    typer.echo(f"{_label(record)}: {overview.nodes:,} objects, {human_bytes(overview.total_size)}")
    typer.echo(table(
        [[r.name[:60], f"{r.count:,}", human_bytes(r.shallow_size), human_bytes(r.retained_size),
          _pct(r.retained_size, overview.total_size)] for r in rows],
        ["class", "count", "shallow", "retained", "%"], align="lrrrr"))


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


# --- diff -----------------------------------------------------------------------------------------


def diff(
    a: str = typer.Argument(..., metavar="A", help="The earlier capture (id, prefix or path)."),
    b: str = typer.Argument(..., metavar="B", help="The later capture."),
    by: str | None = _by_option("Profiles only: passed to the profile view. Heap snapshots compare by class."),
    limit: int = typer.Option(30, "--limit", min=1, help="Rows to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    store_dir: str | None = StoreOption,
) -> None:
    """The Comparison view: per class, new / deleted objects and the size delta, biggest growth first.

    Object identity is used only when A and B come from one inspector session; otherwise counts and sizes per class are compared, and the output says so.

    Example:

      cdpclient diff 01J8 01J9

      cdpclient diff before.heapsnapshot after.heapsnapshot --json
    """  # noqa: E501  (rich help keeps a paragraph's line breaks: one paragraph, one line)
    from cdpclient.errors import AnalysisError
    from cdpclient.store import ids_comparable
    from cdpclient.store.kinds import PROFILE_KINDS

    store = _store(store_dir)
    rec_a, path_a = _resolve(store, a)
    rec_b, path_b = _resolve(store, b)
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

        profile_views.diff(rec_a, path_a, rec_b, path_b, by, limit, as_json)
        return
    from cdpclient import heap

    snap_a = _load_heap(store, rec_a, path_a, _label(rec_a))
    snap_b = _load_heap(store, rec_b, path_b, _label(rec_b))
    comparable = ids_comparable([rec_a, rec_b])
    result = heap.compare(snap_a, snap_b, ids_comparable=comparable, limit=limit)
    if as_json:
        print_json({"a_capture": _label(rec_a), "b_capture": _label(rec_b), **result.to_dict()})
        return
    if result.note:
        warn(result.note)
    typer.echo(f"{_label(rec_a)} -> {_label(rec_b)}: {human_bytes(result.total_a)} -> "
               f"{human_bytes(result.total_b)} ({_signed_bytes(result.total_b - result.total_a)})")
    rows = result.classes
    if comparable:
        typer.echo(table(
            [[r.name[:50], f"{r.new or 0:,}", f"{r.deleted or 0:,}", f"{r.delta_count:+,}",
              human_bytes(r.alloc_size or 0), human_bytes(r.freed_size or 0), _signed_bytes(r.size_delta)]
             for r in rows],
            ["class", "new", "deleted", "delta", "alloc", "freed", "size delta"], align="lrrrrrr"))
    else:
        typer.echo(table(
            [[r.name[:50], f"{r.count_a:,}", f"{r.count_b:,}", f"{r.delta_count:+,}",
              _signed_bytes(r.size_delta)] for r in rows],
            ["class", "count A", "count B", "delta", "size delta"], align="lrrrr"))


def _signed_bytes(n: int | float) -> str:
    return ("-" if n < 0 else "+") + human_bytes(abs(n))


# --- retainers -------------------------------------------------------------------------------------


def retainers(
    capture: str = typer.Argument(..., metavar="ID", help="Capture id, id prefix, or a file path."),
    target: str = typer.Argument(..., metavar="CLASS|@NODE_ID", help="A class name or @ and a node id."),
    paths: int = typer.Option(5, "--paths", min=1, help="How many distinct paths to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    store_dir: str | None = StoreOption,
) -> None:
    """Shortest retaining paths from the GC roots to an object, or to a class's largest objects.

    Example:

      cdpclient retainers 01J9 StreamClient

      cdpclient retainers 01J9 @48213 --paths 3 --json
    """
    from cdpclient import heap

    store = _store(store_dir)
    record, path = _resolve(store, capture)
    _require_heap(record, "retainers")
    snap = _load_heap(store, record, path, _label(record))
    result = heap.retainers(snap, target, paths=paths)
    if as_json:
        print_json({"capture": _label(record), **result.to_dict()})
        return
    if result.object is not None:
        o = result.object
        typer.echo(f"@{o.id} {o.class_name}: shallow {human_bytes(o.self_size)}, retained "
                   f"{human_bytes(o.retained_size)}, distance {o.distance}")
    else:
        typer.echo(f"{target}: {result.count:,} objects, retained {human_bytes(result.retained_size)}; "
                   f"paths of the {result.sampled} largest:")
    if not result.paths:
        typer.echo("  no retaining path from the GC roots (unreachable: garbage not yet collected)")
    for i, p in enumerate(result.paths, 1):
        extra = ""
        if p.example is not None:
            extra = f" [{p.objects} objects, {human_bytes(p.retained_size or 0)}; e.g. @{p.example.id}]"
        typer.echo(f"{i}. {p.text}{extra}")


# --- leaks ----------------------------------------------------------------------------------------------


_FAIL_EXIT = 3  # leaks --fail-if: a suspect crossed the gate (1 stays "the command failed")


def leaks(
    captures: list[str] = typer.Argument(..., metavar="SNAPSHOT",
                                         help="Heap snapshots, oldest first (ids, prefixes or paths)."),
    limit: int = typer.Option(10, "--limit", min=1, help="Suspects to show."),
    raw: bool = typer.Option(False, "--raw", help="Print every hop of each retaining path, Node's internals "
                             "included (as DevTools' Retainers view), instead of the user-land form."),
    fail_if: list[str] | None = typer.Option(None, "--fail-if", help="Exit with status 3 when a suspect "
                                             "crosses this (repeatable; any one): 'growth>1MiB/snapshot', "
                                             "'count>1000/snapshot', 'retained>50MiB', 'share>10%'."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    store_dir: str | None = StoreOption,
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
    resolved = [_resolve(store, c) for c in captures]
    for record, _ in resolved:
        _require_heap(record, "leaks")
    from cdpclient.store import ids_comparable, order_by_time, series_notes

    resolved, order_note = order_by_time(resolved, key=lambda rp: rp[0])
    records = [r for r, _ in resolved]
    snaps = [_load_heap(store, r, p, _label(r)) for r, p in resolved]
    comparable = ids_comparable(records)
    result = heap.find_leaks(snaps, ids_comparable=comparable, limit=limit)
    notes = ([order_note] if order_note else []) + series_notes(records)
    crossed = [(s, g) for s in result.suspects for g in gates if g.crossed(s)]
    if as_json:
        print_json({"captures": [_label(r) for r in records], "notes": notes, **result.to_dict(),
                    "failed_gates": [{"gate": g.text, "suspect": s.title} for s, g in crossed]})
    else:
        for text in notes:
            warn(text)
        if result.note and not series_notes(records):
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
    typer.echo(f"{snapshots} snapshots; suspects from {method}:")
    if not result.suspects:
        typer.echo("  no growing retainer found")
    for i, s in enumerate(result.suspects, 1):
        typer.echo(f"{i}. {s.title}")
        typer.echo(f"   {s.size_text}; grows {_signed_bytes(s.bytes_per_snapshot)} per snapshot; "
                   f"counts {' -> '.join(f'{c:,}' for c in s.counts)}")
        if raw:
            typer.echo(f"   {s.raw_path_text}")
        else:
            typer.echo(f"   held by: {s.path_text}" + (f"   (via {s.via})" if s.via else ""))
        for text in s.notes:
            typer.echo(f"   note: {text}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("top")(top)
    app.command("diff")(diff)
    app.command("retainers")(retainers)
    app.command("leaks")(leaks)
