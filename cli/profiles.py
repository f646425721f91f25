"""Commands: flame (a flame graph of a CPU profile or sampling heap profile, as SVG)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .common import ForceDamagedOption, MaxExpandOption, StoreOption, checked, named, note, open_store, print_json

if TYPE_CHECKING:
    from cdpclient.store import CaptureRecord


def resolve_capture(ref: str, store: str | None, force: bool = False) -> tuple[CaptureRecord | None, Path]:
    """``(record, readable path)`` for a capture id / prefix / file path.

    Goes through the store (``Store.open(store).resolve(ref)`` + ``materialize``); a plain
    file that the store does not take (a ``node --cpu-prof`` output, say) is read as it is,
    without a record.
    """
    from cdpclient.errors import StoreError

    path = Path(ref)
    try:
        st = open_store(store)
        record = st.resolve(ref)
    except StoreError:
        if path.is_file():
            return None, path
        raise
    record = checked(st, record, force)
    return record, Path(st.materialize(record))


def flame(
    capture: str = typer.Argument(..., metavar="ID", help="Capture id, unique id prefix, or a profile file."),
    output: Path = typer.Option(..., "--output", "-o", help="SVG file to write."),
    title: str | None = typer.Option(None, "--title", help="Title drawn above the graph."),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
    store: str | None = StoreOption,
    max_expand: str | None = MaxExpandOption,
    force: bool = ForceDamagedOption,
) -> None:
    """Draw a flame graph (self-contained SVG, hover a frame for details) of a CPU profile
    or a sampling heap profile (an allocation timeline draws its allocation stacks).

    Example:

      cdpclient flame 01J8 -o cpu.svg

      cdpclient flame ./CPU.20240101.cpuprofile -o cpu.svg --title "checkout p99"
    """
    from cdpclient.errors import AnalysisError
    from cdpclient.fileio import write_atomic
    from cdpclient.profiles.analysis import load_profile
    from cdpclient.profiles.flame import flame_svg
    from cdpclient.store.kinds import PROFILE_KINDS
    from cdpclient.store.kinds import title as kind_title

    record, path = resolve_capture(capture, store, force)
    kind = record.kind if record is not None else None
    if kind is not None and kind not in PROFILE_KINDS:
        raise AnalysisError(f"{capture} is a {kind} capture; flame graphs are drawn from CPU profiles and "
                            "sampling heap profiles (use 'cdpclient top' for heap snapshots)")
    with named(path, record.path if record is not None else path):
        profile = load_profile(path, kind, progress=note)
    name = record.id if record is not None else path.name
    svg = flame_svg(profile, title=title or f"{kind_title(profile.kind)} {name}")
    write_atomic(output, svg.encode())
    if as_json:
        print_json({"capture": name, "kind": profile.kind, "output": str(output), "bytes": len(svg.encode())})
    else:
        note(f"wrote {output} ({len(svg.encode()) // 1024} KiB): open it in a browser")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("flame")(flame)
