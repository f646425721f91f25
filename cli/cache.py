"""Commands: ``cache ls``, ``cache clear`` (the cache of plain files, :mod:`cdpclient.filecache`)."""

from __future__ import annotations

import datetime as dt

import typer

from .common import flag, human_bytes, note, print_json, say, table, warn

cache_app = typer.Typer(
    help="The cache of plain files: what analysing files outside the store keeps under the user cache "
         "directory ($XDG_CACHE_HOME/cdpclient/files), bounded by $CDPCLIENT_CACHE_MAX (default: 10 GiB or "
         "20% of the free space, the smaller) and by age (entries unused for 14 days go).\n\n"
         "Examples:\n\n"
         "  cdpclient cache ls\n\n"
         "  cdpclient cache clear --older-than 7d",
    no_args_is_help=True,
)


def _local(iso: str) -> str:
    """``2026-12-04T19:40:01.123Z`` as local time to the minute, for people."""
    when = dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


@cache_app.command("ls")
def ls(as_json: bool = typer.Option(False, "--json", help="Print the cache as JSON.")) -> None:
    """Where the cache is, its bounds, and each entry: the file it caches, its size, when it was last used.

    Example: cdpclient cache ls --json
    """
    from cdpclient import filecache

    listing = filecache.listing()
    if as_json:
        print_json(listing.to_dict())
        return
    bound = listing.budget
    whence = f"${filecache.ENV_MAX}" if bound.source == filecache.ENV_MAX else \
        f"default: 10 GiB or 20% of the free space; set ${filecache.ENV_MAX} to change"
    say(f"cache of plain files: {listing.path}")
    say(f"bounds: {human_bytes(bound.size)} ({whence}); entries unused for {bound.max_age_s / 86400:.0f} days go")
    count = len(listing.entries)
    say(f"{count} {'entry' if count == 1 else 'entries'}, {human_bytes(listing.total_size)}")
    if not listing.entries:
        return
    rows = []
    for entry in listing.entries:
        record = entry.to_dict()
        source = entry.source if entry.source is not None else "(unknown)"
        if entry.source is not None and not entry.source_present:
            source += "  (gone or changed)"
        rows.append([_local(record["last_used"]), human_bytes(entry.size), source])
    say("")
    say(table(rows, ["last used", "size", "source file"], align="lrl"))


@cache_app.command("clear")
def clear(
    older_than: str | None = typer.Option(None, "--older-than", metavar="DURATION",
                                          help="Only entries unused for longer than this (e.g. 7d, 12h)."),
    as_json: bool = typer.Option(False, "--json", help="Print what was removed as JSON."),
) -> None:
    """Remove the cache's entries (or those unused for longer than a duration); say what that freed.

    Entries a running cdpclient is reading stay. Example: cdpclient cache clear --older-than 7d
    """
    from cdpclient import filecache
    from cdpclient.errors import UsageError
    from cdpclient.units import parse_duration

    seconds = None
    if older_than is not None:
        try:
            seconds = parse_duration(older_than)
        except UsageError as exc:
            raise typer.BadParameter(exc.render(flag), param_hint="--older-than") from None
    cleared = filecache.clear(older_than=seconds)
    if as_json:
        print_json(cleared.to_dict())
        return
    count = len(cleared.removed)
    say(f"freed {human_bytes(cleared.freed)}: {count} {'entry' if count == 1 else 'entries'} "
        f"removed from {cleared.path}")
    if cleared.in_use:
        note(f"{len(cleared.in_use)} in use by a running cdpclient, kept")


def _notice(message: str, warning: bool) -> None:
    (warn if warning else note)(message)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app, and let the cache's notices reach stderr."""
    from cdpclient import filecache

    filecache.on_notice(_notice)
    app.add_typer(cache_app, name="cache")
