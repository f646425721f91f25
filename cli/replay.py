"""``cdpclient replay FILE``: an inspector on loopback that plays a recording (``--record``)."""

from __future__ import annotations

import typer

from . import common
from .common import StoreOption


def register(app: typer.Typer) -> None:
    app.command("replay",
                epilog="Example: cdpclient replay incident.cdprec --listen 127.0.0.1:9229 --speed max")(replay)


def _speed(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise typer.BadParameter(f"{text!r}: give 1 (the recorded timing), another factor, or max",
                                 param_hint="--speed")
    return value


def replay(
    path: str = typer.Argument(..., metavar="FILE", help="A recording made with --record, or its id in the store."),
    listen: str = typer.Option("127.0.0.1:0", "--listen", metavar="HOST:PORT",
                               help="Where to listen (port 0: a free one). Loopback unless --allow-remote."),
    speed: str = typer.Option("1", "--speed", help="1: the recorded timing; max: as fast as possible."),
    allow_remote: bool = typer.Option(False, "--allow-remote",
                                      help="Listen on a non-loopback address (anyone reaching it gets the recording)."),
    once: bool = typer.Option(False, "--once", help="Exit when every recorded session has been played and closed."),
    store: str | None = StoreOption,
) -> None:
    """Serve a recording as a Node inspector: /json/list, /json/version and the websocket, as recorded.

    Each command a client sends is answered with the recorded reply to the same method and params (in
    order; the client's ids put back), the recorded events follow in their order and timing; a command
    the recording lacks gets a CDP error and a line on stderr.
    """
    from cdpclient.discovery import parse_endpoint
    from cdpclient.recording import read_recording

    factor = _speed(speed)
    endpoint = parse_endpoint(listen if listen.strip() else "127.0.0.1:0")
    if endpoint.ws_url:
        raise typer.BadParameter("give HOST:PORT", param_hint="--listen")
    port = 0 if listen.rstrip().endswith(":0") else endpoint.port
    import os

    if not os.path.exists(path):  # an id of the store (cdpclient import FILE keeps a recording there)
        with common.open_store(store) as st:
            record = st.resolve(path)
            if record.kind != "recording":
                raise typer.BadParameter(f"{record.id} is a {record.kind}, not a recording", param_hint="FILE")
            path = str(record.path)
    recording = read_recording(path)
    if recording.truncated:
        common.warn(f"{path} is cut short ({recording.problem}): replaying up to its last complete record")
    common.run(_serve(recording, endpoint.host, port, factor, allow_remote, once))


async def _serve(recording: object, host: str, port: int, speed: float | None, allow_remote: bool,
                 once: bool) -> None:
    import asyncio

    from cdpclient.recording import Recording, ReplayServer

    assert isinstance(recording, Recording)
    server = ReplayServer(recording, host=host, port=port, speed=speed, allow_remote=allow_remote,
                          on_note=lambda line: common.note(f"cdpclient replay: {line}"))
    try:
        await server.start()
    except OSError as exc:
        from cdpclient.errors import UsageError

        raise UsageError(f"cannot listen on {server.address}: {exc.strerror or exc}") from None
    try:
        paths = ", ".join(f"ws://{server.address}{p}" for p in server.session_paths) or "no websocket sessions"
        typer.echo(f"replaying {recording.path} on {server.address} ({paths})")
        if once:
            await server.wait_played()
        else:
            await asyncio.Event().wait()
    finally:
        await server.close()
