"""Commands: ls, show, rm, prune, import, export, and the ``store`` group (reindex, verify, move)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .common import (
    MaxExpandOption,
    StoreOption,
    flag,
    human_bytes,
    note,
    open_store,
    parse_labels,
    print_json,
    printable,
    say,
    table,
    warn,
)

if TYPE_CHECKING:  # the store is imported inside the commands, so `cdpclient --help` stays fast
    from cdpclient.store import CaptureRecord, Store



def _store(path: str | None) -> Store:
    return open_store(path)


def _seconds(text: str | None, option: str) -> float | None:
    """A duration option (``2h``, ``7d``) in seconds; a bad one is a usage error (exit 2)."""
    if text is None:
        return None
    from cdpclient.errors import UsageError
    from cdpclient.units import parse_duration

    try:
        return parse_duration(text)
    except UsageError as exc:
        raise typer.BadParameter(exc.render(flag), param_hint=option) from exc


def _kind(kind: str | None) -> str | None:
    from cdpclient.store.kinds import KINDS

    if kind is not None and kind not in KINDS:
        raise typer.BadParameter(f"{kind!r} is not one of {', '.join(KINDS)}", param_hint="--kind")
    return kind


def _when(created: str) -> str:
    """``5m ago`` for recent captures, the local date and time for older ones."""
    try:
        then = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return created
    age = (dt.datetime.now(dt.UTC) - then).total_seconds()
    if 0 <= age < 86400:
        from cdpclient.units import format_duration

        return f"{int(age)}s ago" if age < 60 else f"{format_duration(age)} ago"
    return then.astimezone().strftime("%Y-%m-%d %H:%M")


def _target_text(record: CaptureRecord) -> str:
    t = record.target
    if t.get("pod"):
        return f"{t.get('namespace') or 'default'}/{t['pod']}"
    if t.get("endpoint"):
        return str(t["endpoint"])
    if record.meta.get("source"):
        return "file:" + Path(record.meta["source"]).name
    return ""


def _labels_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def ls(
    kind: str | None = typer.Option(None, "--kind", "-k", help="Only this kind: heapsnapshot, heaptimeline, "
                                                                 "cpuprofile, heapprofile, report."),
    label: list[str] | None = typer.Option(None, "--label", help="Only captures with this label (k=v; repeatable)."),
    target: str | None = typer.Option(None, "--target", help="Only captures whose target (endpoint, pod, "
                                                               "namespace...) contains this text."),
    since: str | None = typer.Option(None, "--since", help="Only captures newer than this (e.g. 30m, 2h, 7d)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON records."),
    store: str | None = StoreOption,
) -> None:
    """List captures, newest first.

    Example: cdpclient ls --kind heapsnapshot --label env=prod --since 2h
    """
    records = _store(store).list(kind=_kind(kind), labels=parse_labels(label), target=target,
                                 since=_seconds(since, "--since"))
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    if not records:
        note("no captures" + (" match" if (kind or label or target or since) else " yet"))
        return
    rows = [(r.id, r.kind, _when(r.created), _target_text(r), human_bytes(r.size), _series_text(r),
             _labels_text(r.labels), r.status) for r in records]
    typer.echo(table(rows, ["ID", "KIND", "WHEN", "TARGET", "SIZE", "SESSION / SERIES", "LABELS", "STATUS"],
                     align="llllrlll"))


def _series_text(record: CaptureRecord) -> str:
    """``7280f7b9 3a9c 2/3``: which snapshots share an inspector session (their object ids compare,
    so they go into ``leaks`` together) and their place in a series."""
    session = (record.session or "")[:8]
    if not record.series:
        return session or "-"
    count = (record.meta.get("options") or {}).get("count")
    place = f"{(record.series_index or 0) + 1}/{count}" if count else f"#{(record.series_index or 0) + 1}"
    return f"{session} {record.series[:4]} {place}".strip()


def show(
    ref: str = typer.Argument(..., metavar="ID", help="Capture id, unique id prefix, or path of a capture file."),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
    store: str | None = StoreOption,
    max_expand: str | None = MaxExpandOption,
) -> None:
    """Show all metadata of a capture, checking its file's sha256.

    A recording file (--record) is described instead: target, Node version, commands and events, sizes.

    Example: cdpclient show 01M80T --json
    """
    from cdpclient.recording.reader import is_recording

    if is_recording(ref):
        _show_recording(ref, as_json)
        return
    st = _store(store)
    record = st.resolve(ref)
    if record.stored_size > 256 << 20:
        note(f"checking the sha256 of {human_bytes(record.stored_size)}...")
    from cdpclient.store import STATUS_CORRUPT, STATUS_MISSING

    record = st.verify(record)
    damaged = record.status in (STATUS_CORRUPT, STATUS_MISSING)
    if as_json:
        print_json(record.to_dict())
        if damaged:
            raise typer.Exit(1)
        return
    if damaged:  # the first thing said, and the exit status says it too
        warn(f"capture {record.id} is {record.status}: {record.problem}")
    if record.kind == "recording" and not damaged:  # what it holds, as `show FILE` says it
        say(f"id           {record.id}")
        _show_recording(str(record.path), False)
        return
    fields = record.to_dict()
    fields = {"status": fields.pop("status"), **fields}  # the status leads
    meta = fields.pop("meta")
    extra = {k: v for k, v in meta.items() if k not in fields and k not in ("format",)}
    summary = _watch_summary(record) if record.kind == "watch" else {}
    width = max(len(k) for k in (*fields, *summary))
    for key, value in fields.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif value is None:
            value = "-"
        elif key == "size":
            value = f"{value} ({human_bytes(value)})"
        say(f"{key:<{width}}  {value}")
    for key, text in summary.items():
        say(f"{key:<{width}}  {text}")
    for key, value in sorted(extra.items()):
        if value not in (None, [], {}):
            shown = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
            say(f"{key:<{width}}  {shown}")
    if damaged:
        raise typer.Exit(1)


def _show_recording(path: str, as_json: bool) -> None:
    from cdpclient.recording import summarize_file

    info = summarize_file(path)
    if as_json:
        print_json(info)
    else:
        if not info["complete"]:
            warn(f"{path} is cut short ({info['problem']}): described up to its last complete record")
        desc = info["description"]
        targets = "; ".join(f"{t['id']} ({t['title'] or t['url']})" for t in info["targets"]) or "-"
        chunks = info["heap_snapshot_chunks"]
        rows = [
            ("kind", "recording" + ("" if info["complete"] else " (cut short)")),
            ("path", info["path"]),
            ("started", info["started"]),
            ("recorded by", f"cdpclient {info['cdpclient']} ({desc.get('command') or '-'})"),
            ("target", f"{desc.get('target', '-')}: {targets}"),
            ("node", info["node_version"] or "-"),
            ("duration", f"{info['duration_s']:.3f}s"),
            ("sessions", info["sessions"]),
            ("records", info["records"]),
            ("size", f"{human_bytes(info['file_size'])} on disk, {human_bytes(info['expanded_size'])} expanded"),
            ("traffic", f"{human_bytes(info['sent_bytes'])} sent, {human_bytes(info['received_bytes'])} received"),
            ("replies", f"{info['replies']} ({info['error_replies']} errors)"),
            ("chunks", f"{chunks['count']} heap snapshot chunks, {human_bytes(chunks['size'])}"
                       + ("" if chunks["kept"] else " (left out: count, size and sha256 only)")),
        ]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            say(f"{key:<{width}}  {value}")
        for title, counts in (("commands", info["commands"]), ("events", info["events"])):
            say(f"{title}:")
            for method, count in counts.items():
                say(f"  {count:>7}  {method}")
    if not info["complete"]:
        raise typer.Exit(1)


def _watch_summary(record: CaptureRecord) -> dict[str, str]:
    """What a watch recording holds, in words, from the facts the store keeps (no reading of the file)."""
    from cdpclient.units import format_duration

    meta = record.meta
    counts = meta.get("records") or {}

    def n(kind: str) -> str:
        return f"{int(counts.get(kind, 0)):,}"

    every = (record.options or {}).get("every_s")
    out = {"samples": n("sample") + (f", every {format_duration(float(every))}" if every else "")}
    first, last = meta.get("first_ts"), meta.get("last_ts")
    if isinstance(first, (int, float)) and isinstance(last, (int, float)):
        a = dt.datetime.fromtimestamp(first, dt.UTC)
        b = dt.datetime.fromtimestamp(last, dt.UTC)
        until = b.strftime("%H:%M:%S" if a.date() == b.date() else "%Y-%m-%d %H:%M:%S")
        out["span"] = f"{a:%Y-%m-%d %H:%M:%S} - {until} UTC ({format_duration(last - first)})"
    out["firings"] = n("firing")
    out["captures"] = n("capture")
    out["reconnects"] = n("reconnect")
    cut = int(meta.get("truncated_bytes") or 0)
    out["truncated"] = (f"yes: a cut record of {cut:,} bytes at the end (readable up to the last complete one)"
                        if cut else "no")
    reason = meta.get("end_reason")
    out["ended"] = str(reason) if reason else ("not yet: recording" if record.status == "recording"
                                               else "no end record (the watcher was stopped or killed)")
    return out


def rm(
    refs: list[str] = typer.Argument(..., metavar="ID...", help="Captures to delete (ids or unique prefixes)."),
    as_json: bool = typer.Option(False, "--json", help="Print the removed records as JSON."),
    store: str | None = StoreOption,
) -> None:
    """Delete captures: file, metadata, caches and index entry.

    Example: cdpclient rm 01M80T 01M81A
    """
    st = _store(store)
    records = list({r.id: r for r in (st.resolve(ref, damaged=True) for ref in refs)}.values())
    removed = st.remove(records)
    if as_json:
        print_json([r.to_dict() for r in removed])
        return
    mine = {r.id for r in removed}
    for record in records:  # each capture is reported removed by the one process that removed it
        typer.echo(f"removed {record.id}" if record.id in mine else f"already removed {record.id}")


def prune(
    keep: int | None = typer.Option(None, "--keep", help="Keep the newest N captures, delete the rest."),
    older_than: str | None = typer.Option(None, "--older-than", help="Delete captures older than this (e.g. 7d)."),
    kind: str | None = typer.Option(None, "--kind", "-k", help="Only captures of this kind."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before deleting."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be deleted."),
    as_json: bool = typer.Option(False, "--json", help="Print the deleted (or, with --dry-run, doomed) records."),
    store: str | None = StoreOption,
) -> None:
    """Delete old captures: all but the newest N, or those older than a duration (both: both hold).

    Example: cdpclient prune --older-than 7d --yes
    """
    if keep is None and older_than is None:
        raise typer.BadParameter("give --keep N or --older-than DURATION")
    st = _store(store)
    doomed = st.prune_candidates(keep=keep, older_than=_seconds(older_than, "--older-than"), kind=_kind(kind))
    if not doomed or dry_run:
        if as_json:
            print_json([r.to_dict() for r in doomed])
        elif not doomed:
            note("nothing to prune")
        else:
            for r in doomed:
                typer.echo(f"would remove {r.id}  {r.kind}  {r.created}  {human_bytes(r.size)}")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise typer.BadParameter(f"would delete {len(doomed)} captures; pass --yes to confirm "
                                     "(stdin is not a terminal)")
        total = sum(r.stored_size for r in doomed)
        if not typer.confirm(f"Delete {len(doomed)} captures ({human_bytes(total)})?", err=True):
            raise typer.Abort()
    removed = st.remove(doomed)  # only what this process removed: a concurrent prune may have taken some
    if as_json:
        print_json([r.to_dict() for r in removed])
        return
    for record in removed:
        typer.echo(f"removed {record.id}")
    others = len(doomed) - len(removed)
    note(f"pruned {len(removed)} captures, {human_bytes(sum(r.stored_size for r in removed))} freed"
         + (f" ({others} already removed by another process)" if others else ""))


def import_(
    paths: list[Path] = typer.Argument(..., metavar="FILE...", help="Capture files taken elsewhere."),
    label: list[str] | None = typer.Option(None, "--label",
                                              help="Label for the imported captures (k=v; repeatable)."),
    compress: bool = typer.Option(False, "--compress", help="Keep them zstd-compressed at rest."),
    as_json: bool = typer.Option(False, "--json", help="Print the new records as JSON."),
    store: str | None = StoreOption,
    max_expand: str | None = MaxExpandOption,
) -> None:
    """Import capture files (DevTools saves, --heapsnapshot-signal, --cpu-prof, --heap-prof, reports).

    The kind is detected from the content; every file is checked before any is imported: its JSON, then what the analysis reads (a heap snapshot's arrays and indexes, a profile's nodes and samples). A compressed (.zst) file may expand to 200x its size (at least 64 MiB, at most 16 GiB) unless --max-expand allows more.

    Example: cdpclient import Heap.20260101.heapsnapshot CPU.*.cpuprofile --label incident=4711
    """  # noqa: E501  (rich help keeps a paragraph's line breaks: one paragraph, one line)
    labels = parse_labels(label)
    for path in paths:
        if path.is_file() and path.stat().st_size > 256 << 20:
            note(f"checking and copying {path} ({human_bytes(path.stat().st_size)})...")
    from cdpclient.profiles.validate import check_capture

    records = _store(store).import_files(paths, labels=labels, compress=compress, check=check_capture)
    if not as_json:
        for path, record in zip(paths, records, strict=True):
            say(f"imported {path} as {record.id} ({record.kind}, {human_bytes(record.size)})")
    if as_json:
        print_json([r.to_dict() for r in records])


def export(
    ref: str = typer.Argument(..., metavar="ID", help="Capture id, unique prefix, or capture file path."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write, a directory to write into, "
                                                                    "or - for stdout."),
    redact: bool = typer.Option(False, "--redact", help="Heap snapshots: replace every string value with "
                                                        "'*' of the same length (counts, sizes, structure kept)."),
    fmt: str | None = typer.Option(None, "--format", "-f", help="Profiles: collapsed, speedscope or pprof; "
                                                                 "watch recordings: json."),
    as_json: bool = typer.Option(False, "--json", help="Print {\"path\": ...} as JSON."),
    store: str | None = StoreOption,
    max_expand: str | None = MaxExpandOption,
    push: str | None = typer.Option(None, "--push", metavar="URL", help="Profiles: send the pprof export to a "
                                    "Pyroscope-compatible server (http://host:4040; user:password@ for basic "
                                    "auth; $CDPCLIENT_PUSH_TOKEN as a bearer token)."),
    app: str | None = typer.Option(None, "--app", help="--push: the application name (default: the capture's "
                                   "app or pod label, else cdpclient)."),
    tag: list[str] | None = typer.Option(None, "--tag", metavar="KEY=VALUE", help="--push: a label of the "
                                         "profile (repeatable; the capture's labels are sent too)."),
    tenant: str | None = typer.Option(None, "--tenant", envvar="CDPCLIENT_PUSH_TENANT",
                                      help="--push: the tenant of a multi-tenant server (X-Scope-OrgID)."),
) -> None:
    """Copy a capture out: original format, decompressed; or redacted; or in another format; or push a
    profile to Pyroscope.

    Example: cdpclient export 01M80T -o /tmp/share.heapsnapshot --redact

    Example: cdpclient export 01M8W0 --format json -o memory.json  (a watch recording's samples)

    Example: cdpclient export 01M8D --format collapsed -o - | flamegraph.pl > cpu.svg

    Example: cdpclient export 01M8D --format pprof --push http://pyroscope:4040 --app checkout --tag env=prod
    """
    from cdpclient.store.kinds import FORMATS

    if fmt is not None and fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
    if push is not None:
        _push(ref, push, fmt, app, tag or [], tenant, output, as_json, store)
        return
    if output is None:
        raise typer.BadParameter("give a file, a directory or - (or --push URL for a profile)",
                                 param_hint="--output")
    if redact:
        note("redacting (streaming; string values become '*')...")
    if str(output) == "-":  # to stdout, for a pipe: nothing else is printed there
        import sys

        if sys.stdout.isatty():
            raise typer.BadParameter("'-' writes the capture to stdout, which is a terminal here: "
                                     "pipe it (| gzip > f) or give a file", param_hint="--output")
        _store(store).export_stream(ref, sys.stdout.buffer, redact=redact, fmt=fmt)
        return
    written = _store(store).export(ref, output, redact=redact, fmt=fmt)
    if as_json:
        print_json({"path": str(written)})
    else:
        say(str(written))


def _push(ref: str, server: str, fmt: str | None, app: str | None, tags: list[str], tenant: str | None,
          output: Path | None, as_json: bool, store_dir: str | None) -> None:
    """``export --push``: the pprof export of a profile, sent to a Pyroscope server (and written to -o too)."""
    import asyncio
    import os
    import tempfile

    from cdpclient.errors import UsageError
    from cdpclient.profiles.push import push_pprof
    from cdpclient.store.kinds import PROFILE_KINDS

    if fmt not in (None, "pprof"):
        raise typer.BadParameter(f"--push sends pprof, not {fmt}", param_hint="--format")
    if output is not None and str(output) == "-":
        raise typer.BadParameter("--push prints what was sent, not the profile: give a file or leave -o out",
                                 param_hint="--output")
    target = _store(store_dir)
    record = target.resolve(ref)
    if record.kind not in PROFILE_KINDS:
        raise UsageError(f"{record.id} is a {record.kind}: --push sends profiles (cpu, sample, timeline)")
    labels = dict(record.labels)
    labels.update(parse_labels(tags))
    name = app or labels.pop("app", None) or labels.get("pod") or "cdpclient"
    with tempfile.TemporaryDirectory(prefix="cdpclient-push-") as tmp:  # the export once: -o, else a temp file
        saved = target.export(record, output if output is not None else Path(tmp) / "profile.pb.gz", fmt="pprof")
        data = saved.read_bytes()
    try:
        start = dt.datetime.fromisoformat(record.created).timestamp()
    except ValueError:
        start = record.path.stat().st_mtime - (record.duration_s or 0.0)
    end = start + (record.duration_s or 0.0)
    rate = None
    if record.kind == "cpuprofile":  # Pyroscope's sampleRate (Hz): the profile's own median interval
        from cdpclient.profiles import load_profile

        interval = float(getattr(load_profile(target.materialize(record), "cpuprofile"), "interval_us", 0.0))
        rate = round(1e6 / interval) if interval > 0 else None
    result = asyncio.run(push_pprof(data, server, app=name, labels=labels, start=start, end=end,
                                    sample_rate=rate, tenant=tenant,
                                    token=os.environ.get("CDPCLIENT_PUSH_TOKEN") or None))
    if as_json:
        print_json({**result.to_dict(), "capture": record.id, **({"path": str(saved)} if output else {})})
    else:
        say(f"pushed {record.id} ({human_bytes(result.bytes)} pprof) to {result.url} as {result.name}")


store_app = typer.Typer(help=(
    "Maintain the recordings store.\n\n"
    "Examples:\n\n"
    "  cdpclient store verify          (every sha256; exit 1 if a capture is damaged)\n\n"
    "  cdpclient store verify 01M80T 01M80V\n\n"
    "  cdpclient store reindex --store /srv/rec   (rebuild a lost or damaged index)\n\n"
    "  cdpclient store move              (./recordings, the old default, into the per-user store)\n\n"
    "See also: cdpclient ls, show, rm, prune, import, export; cdpclient cache ls (caches of plain files)."),
    no_args_is_help=True)


@store_app.command("reindex")
def reindex(
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    store: str | None = StoreOption,
) -> None:
    """Rebuild the index from the metadata kept beside each capture.

    Example: cdpclient store reindex --store /var/lib/recordings
    """
    result = _store(store).reindex()
    if as_json:
        print_json(result)
        return
    typer.echo(f"indexed {result['captures']} captures")
    for skipped in result["skipped"]:
        warn(f"skipped {skipped}: its metadata is missing or unreadable")


_STATUS_WHY = {"recording": "its writer is still appending to it",
               "interrupted": "its writer died before finishing it (cdpclient store reindex finishes it)"}


@store_app.command("verify")
def verify(
    refs: list[str] | None = typer.Argument(None, metavar="[ID...]", help="Captures to check (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the records as JSON."),
    store: str | None = StoreOption,
) -> None:
    """Check captures' files against their recorded sha256, and their metadata; exit 1 if any is
    missing or corrupt (one line on stderr for each, saying why), including a capture directory
    whose metadata is unreadable.

    Example: cdpclient store verify
    """
    st = _store(store)
    records = [st.verify(r) for r in (refs or st.list())]
    if as_json:
        print_json([r.to_dict() for r in records])
    else:
        typer.echo(table([(r.id, r.kind, human_bytes(r.size), r.status) for r in records],
                         ["ID", "KIND", "SIZE", "STATUS"]))
    from cdpclient.store import STATUS_EXTERNAL, STATUS_OK

    bad = [r for r in records if r.status not in (STATUS_OK, STATUS_EXTERNAL)]
    for record in bad:
        why = record.problem or _STATUS_WHY.get(record.status, f"see cdpclient show {record.id}")
        typer.echo(printable(f"cdpclient: error: capture {record.id} is {record.status}: {why}"), err=True)
    if bad:
        raise typer.Exit(1)


@store_app.command("move")
def move(
    source: Path | None = typer.Argument(None, metavar="[SRC]",
                                         help="The store to move (default ./recordings, the old default)."),
    to: str | None = typer.Option(None, "--to", metavar="DST",
                                  help="Where to (default: the store other commands use: --store, "
                                       "$CDPCLIENT_STORE, else the per-user data directory)."),
    merge: bool = typer.Option(False, "--merge", help="DST already holds captures: add SRC's to them (by id "
                                                       "and sha256, skipping the ones it has)."),
    as_json: bool = typer.Option(False, "--json", help="Print what moved as JSON."),
    store: str | None = StoreOption,
) -> None:
    """Move every capture of a store into another, then remove the emptied one; across file systems too (copied, sha256 checked, then removed: a capture is always in one of the two). An interrupted move is finished by running it again.

    Example: cdpclient store move   (./recordings into ~/.local/share/cdpclient)

    Example: cdpclient store move /mnt/old-store --to /srv/rec --merge
    """  # noqa: E501  (rich help keeps a paragraph's line breaks: one paragraph, one line)
    from cdpclient.store import MovedCapture, Store, move_store
    from cdpclient.store.store import LEGACY_PATH

    if to and store and Path(to).expanduser().absolute() != Path(store).expanduser().absolute():
        raise typer.BadParameter("give the destination once: --to or --store (or $CDPCLIENT_STORE)",
                                 param_hint="--to")
    dest = open_store(to or store, hint=False)
    src = Store.open(source if source is not None else LEGACY_PATH)

    def said(done: MovedCapture) -> None:
        if not as_json:
            verb = "moved" if done.how == "moved" else "present"
            say(f"{verb} {done.id}  {done.kind}  {human_bytes(done.stored_size)}")

    result = move_store(src, dest, merge=merge, progress=said)
    if as_json:
        print_json(result.to_dict())
    else:
        moved = [c for c in result.captures if c.how == "moved"]
        present = len(result.captures) - len(moved)
        how = "renamed" if result.method == "rename" else "copied, sha256 checked, removed from the source"
        note(f"moved {len(moved)} captures ({human_bytes(sum(c.stored_size for c in moved))}) from {src.root} "
             f"to {dest.root} ({how})" + (f"; {present} were already there" if present else ""))
        if result.source_leftovers:
            note(f"{src.root} is kept: it holds files that are not the store's ({', '.join(result.source_leftovers)})")
    for capture_id, why in sorted(result.left.items()):
        typer.echo(printable(f"cdpclient: error: {capture_id} stays in {src.root}: {why}"), err=True)
    if result.left:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("ls")(ls)
    app.command("show")(show)
    app.command("rm")(rm)
    app.command("prune")(prune)
    app.command("import")(import_)
    app.command("export")(export)
    app.add_typer(store_app, name="store")
