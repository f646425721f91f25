"""Command: ``demo``, the whole story on the bundled demo service."""

from __future__ import annotations

import typer

from cli import common


def register(app: typer.Typer) -> None:
    app.command("demo", epilog="Example: bash scripts/demo   (or: cdpclient demo)")(demo)


def demo() -> None:
    """Start the bundled leaking demo service and run cdpclient against it end to end."""
    common.run(_demo())


async def _demo() -> None:
    import cdpclient
    from cdpclient.demo import start_service

    async with start_service() as service:
        typer.echo(f"$ cdpclient targets {service.endpoint}")
        for t in await cdpclient.list_targets(cdpclient.parse_endpoint(service.endpoint)):
            typer.echo(f"  {t.id}  {t.title}  {t.type}")
        typer.echo(f"\n$ cdpclient info {service.endpoint}")
        async with cdpclient.connect(service.endpoint) as target:
            info = await target.process_info()
        typer.echo(f"  pid {info.pid}, Node {info.node_version}, heap used {common.human_bytes(info.heap_used)}, "
                   f"rss {common.human_bytes(info.rss)}")
