"""Commands: ``targets`` and ``info``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from . import common
from .common import TargetSpec, target_command

if TYPE_CHECKING:
    from cdpclient import TargetInfo


def register(app: typer.Typer) -> None:
    app.command("targets", epilog="Example: cdpclient targets 127.0.0.1:9229 --json")(targets)
    app.command("info", epilog="Example: cdpclient info 127.0.0.1:9229 --json")(info)


@target_command
def targets(spec: TargetSpec, as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
            local: bool = typer.Option(False, "--local", help="List the Node processes on this machine instead, "
                                       "and the inspector each listens on (nothing is opened).")) -> None:
    """List the inspector targets at ENDPOINT, with the Node/V8 version; or (--local) the local Node processes.

    Example: cdpclient targets --local   (then: cdpclient snapshot --pid PID)
    """
    if local:
        if spec.endpoint or spec.is_kube or spec.pid is not None:
            raise typer.BadParameter("--local lists this machine's processes: no ENDPOINT, --pod or --pid")
        from cdpclient.local import local_node_processes

        procs = common.run(local_node_processes())
        if as_json:
            common.print_json([p.to_dict() for p in procs])
            return
        if not procs:
            common.note("no Node.js processes here that this user can see")
            return
        typer.echo(common.table([(p.pid, f"127.0.0.1:{p.port}" if p.port else "closed (--pid opens it)",
                                  p.command[:100]) for p in procs], ["PID", "INSPECTOR", "COMMAND"]))
        return
    rows = common.run(_targets(spec))
    if as_json:
        common.print_json(rows)
        return
    if rows:
        common.say(f"{rows[0]['browser'] or 'unknown version'} (protocol {rows[0]['protocol_version'] or '?'})")
    typer.echo(common.table([(r["id"], r["title"], r["url"], r["type"]) for r in rows],
                            ["ID", "TITLE", "URL", "TYPE"]))


async def _targets(spec: TargetSpec) -> list[dict[str, Any]]:
    import cdpclient

    if spec.is_kube or spec.pid is not None:
        async with common.open_target(spec) as target:
            version = target.version or {}
            return [_target_row(target.info, version)]
    endpoint = cdpclient.parse_endpoint(spec.resolved_endpoint)
    if endpoint.ws_url:
        async with cdpclient.connect(endpoint, on_warning=common.warn) as target:
            return [_target_row(target.info, {})]
    resolved = await cdpclient.discovery.resolve(endpoint)
    warning = cdpclient.discovery.remote_warning(endpoint, resolved)
    if warning:
        common.warn(warning)
    version = await cdpclient.get_version(endpoint)
    found = await cdpclient.list_targets(endpoint)
    if spec.target_id:
        found = [t for t in found if t.id.startswith(spec.target_id)]
    return [_target_row(t, version) for t in found]


def _target_row(info: TargetInfo, version: dict[str, Any]) -> dict[str, Any]:
    return {**info.to_dict(), "browser": version.get("Browser"), "protocol_version": version.get("Protocol-Version")}


@target_command
def info(spec: TargetSpec, as_json: bool = typer.Option(False, "--json", help="Print a JSON object.")) -> None:
    """Show the process behind a target: pid, Node version, uptime, heap, RSS, memory limit."""
    data = common.run(_info(spec))
    if as_json:
        common.print_json(data)
        return
    hb = common.human_bytes
    limit = data["memory_limit"]
    lines = [
        ("target", _describe_target(data["target"])),
        ("pid", data["pid"]),
        ("node", f"{data['node_version']} (V8 {data['v8_version']}, {data['platform']}/{data['arch']})"),
        ("uptime", f"{data['uptime_s']:.0f}s"),
        ("command", " ".join([*data["argv"][:1], *data["exec_argv"], *data["argv"][1:]])),
        ("heap used", f"{hb(data['heap_used'])} of {hb(data['heap_total'])} (V8 limit {hb(data['heap_size_limit'])})"),
        ("rss", hb(data["rss"])),
        ("external", f"{hb(data['external'])} (array buffers {hb(data['array_buffers'])})"),
        ("memory limit", f"{hb(limit)}" + (f" (rss at {100 * data['rss'] / limit:.0f}%)" if limit else "")
         if limit else "none known (no cgroup limit, no constrainedMemory)"),
    ]
    lines += [(lim["source"].split("(")[-1].rstrip(")"), f"{hb(lim['used'])} of {hb(lim['limit'])} {lim['name']} "
               "in use (a heap snapshot needs room under it)") for lim in data.get("process_limits") or ()]
    for key, value in lines:
        common.say(f"{key + ':':<14}{value}")


def _describe_target(identity: dict[str, Any]) -> str:
    if identity.get("pod"):
        where = f"pod {identity.get('namespace') or 'default'}/{identity['pod']}"
        extra = ", ".join(f"{k} {identity[k]}" for k in ("container", "node") if identity.get(k))
        return f"{where} ({extra}) via {identity['endpoint']}" if extra else f"{where} via {identity['endpoint']}"
    return f"{identity['endpoint']}  ({identity.get('target_id')})"


async def _info(spec: TargetSpec) -> dict[str, Any]:
    async with common.open_target(spec) as target:
        process = await target.process_info()
        return {"target": target.identity, **process.to_dict()}
