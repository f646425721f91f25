"""Commands: plot (a watch recording drawn as an SVG chart)."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import MaxExpandOption, StoreOption, note, open_store, print_json


def plot(
    capture: str = typer.Argument(..., metavar="ID", help="Watch recording: id, unique id prefix, or a .watch file."),
    output: Path = typer.Option(..., "--output", "-o", help="SVG file to write, or a directory to write ID.svg into."),
    title: str | None = typer.Option(None, "--title", help="Title drawn above the chart (default: the target)."),
    width: int = typer.Option(1000, "--width", min=320, help="Width in pixels."),
    height: int | None = typer.Option(None, "--height", min=240, help="Height in pixels (default: from the panels)."),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
    store: str | None = StoreOption,
    max_expand: str | None = MaxExpandOption,
) -> None:
    """Draw a watch recording as a self-contained SVG chart: memory over time against the limits,
    a marker at each firing and capture, reconnects shaded (hover for details).

    The samples as JSON: cdpclient export ID --format json -o FILE.json

    Example:

      cdpclient plot 01M8W0 -o memory.svg

      cdpclient plot ~/.local/share/cdpclient/captures/01M8W0/01M8W0.watch.zst -o /tmp --json
    """
    from cdpclient.errors import AnalysisError, StoreError
    from cdpclient.store.kinds import title as kind_title
    from cdpclient.watch.plot import write_svg
    from cdpclient.watch.recording import read_recording

    st = open_store(store)
    record = st.resolve(capture)
    if record.kind != "watch":
        raise AnalysisError(f"{record.id} is a {kind_title(record.kind)}; plot draws watch recordings "
                            "(cdpclient ls --kind watch lists them)")
    recording = read_recording(st.materialize(record))
    dest = output.expanduser()
    if dest.is_dir():
        dest = dest / f"{Path(record.id).name.split('.')[0]}.svg"
    try:
        written = write_svg(recording, dest, title=title, width=width, height=height)
    except OSError as exc:
        raise StoreError(f"cannot write {dest}: {exc.strerror or exc}") from exc
    size = written.stat().st_size
    span = recording.span
    if as_json:
        print_json({"capture": record.id, "output": str(written), "bytes": size,
                    "samples": len(recording.samples), "firings": len(recording.firings),
                    "captures": len(recording.captures), "span": list(span) if span else None,
                    "span_s": round(span[1] - span[0], 3) if span else None,
                    "truncated_bytes": recording.truncated_bytes})
        return
    from cdpclient.units import format_duration

    over = f" over {format_duration(span[1] - span[0])}" if span else ""
    cut = ", truncated" if recording.truncated else ""
    counts = (f"{_count(len(recording.samples), 'sample')}{over}, {_count(len(recording.firings), 'firing')}, "
              f"{_count(len(recording.captures), 'capture')}")
    note(f"wrote {written} ({max(size // 1024, 1)} KiB): {counts}{cut}; open it in a browser")


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("plot")(plot)
