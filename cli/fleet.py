"""Fleet runs: one capture per pod that ``--selector`` matches, ``--parallel`` at a time.

A capture command hands :func:`run` its spec and a coroutine function that
captures from ONE target spec (``--pod``) and returns what it stored (a
``CaptureRecord`` or a printed row with ``id`` and ``size``, or a list of them).  Each
pod gets its own store entry; one pod failing does not stop the others; the
summary table (pod, status, id, size, duration) goes to stdout, progress per
pod to stderr, and the exit code is 0 only when every pod succeeded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from .common import TargetSpec, human_bytes, note, open_target, print_json, table
from .common import run as run_async
from .options import SaveOptions

if TYPE_CHECKING:
    from cdpclient import Target
    from cdpclient.kube import PodResult

CaptureOne = Callable[[TargetSpec], Awaitable[Any]]
OptsT = TypeVar("OptsT", bound=SaveOptions)


def run_capture(spec: TargetSpec, work: Callable[[Target, OptsT], Awaitable[Any]], opts: OptsT, as_json: bool) -> None:
    """A capture command's fleet run: ``work(target, opts)`` once per pod; exit code 1 if any pod failed.

    Per-pod progress bars are off (several at once would garble the terminal);
    ``--out`` names one file, so it cannot take one capture per pod.
    """
    if opts.out is not None:
        raise typer.BadParameter("--out names one file; with --selector each pod's capture goes to the store",
                                 param_hint="--out")
    opts = dataclasses.replace(opts, progress=False)

    async def capture_one(pod_spec: TargetSpec) -> Any:
        async with open_target(pod_spec) as target:
            return await work(target, opts)

    code = run(spec, capture_one, as_json=as_json)
    if code:
        raise typer.Exit(code)


def run(spec: TargetSpec, capture_one: CaptureOne, *, as_json: bool = False) -> int:
    """Capture from every pod ``spec.selector`` matches; print the summary; return the exit code (0 or 1)."""
    return run_async(_run(spec, capture_one, as_json))


async def _run(spec: TargetSpec, capture_one: CaptureOne, as_json: bool) -> int:
    from cdpclient import kube

    assert spec.selector, "fleet runs need a selector"
    pods = await kube.resolve_pods(spec.selector, namespace=spec.namespace, context=spec.context,
                                   kubeconfig=spec.kubeconfig, kubectl=spec.kubectl)
    parallel = max(1, spec.parallel or 4)
    note(f"{len(pods)} pod{'s' if len(pods) != 1 else ''} match {spec.selector!r}; "
         f"capturing from {min(parallel, len(pods))} at a time")
    namespaces = {p.name: p.namespace for p in pods}

    def one(name: str) -> Awaitable[Any]:
        pod_spec = dataclasses.replace(spec, pod=name, selector=None, namespace=namespaces[name])
        if spec.record:  # one recording per pod: FILE with the pod's name inserted
            from cdpclient.recording import pod_path

            pod_spec = dataclasses.replace(pod_spec, record=str(pod_path(spec.record, name)), record_here=True)
        return capture_one(pod_spec)

    results = await kube.for_each_pod(pods, one, parallel=parallel,
                                      on_event=lambda pod, message: note(f"[{pod}] {message}"))
    rows = [_row(r) for r in results]
    if as_json:
        print_json(rows)
    else:
        typer.echo(table([[r["pod"], "ok" if r["ok"] else f"failed: {r['error']}", r["id"] or "-",
                      human_bytes(r["size"]) if r["size"] is not None else "-", f"{r['duration_s']:.1f}s"]
                     for r in rows], ["POD", "STATUS", "ID", "SIZE", "DURATION"], align="lllrr"))
    failed = sum(not r["ok"] for r in rows)
    if failed:
        note(f"{failed} of {len(rows)} pods failed")
    return 1 if failed else 0


def _row(result: PodResult[Any]) -> dict[str, Any]:
    ids, size = _ids_and_size(result.value) if result.ok else ([], None)
    return {"pod": result.pod, "namespace": result.namespace, "ok": result.ok,
            "id": ",".join(ids) or None, "size": size, "duration_s": round(result.duration_s, 3),
            "error": None if result.ok else str(result.error)}


def _ids_and_size(value: object) -> tuple[list[str], int | None]:
    """Store ids and total size of what one pod's capture returned: records or row dicts, one or a list."""
    from cdpclient.store import CaptureRecord

    items = value if isinstance(value, (list, tuple)) else [value]
    ids: list[str] = []
    sizes: list[int] = []
    for item in items:
        capture_id: object
        size: object
        if isinstance(item, CaptureRecord):
            capture_id, size = item.id, item.size
        elif isinstance(item, dict):
            capture_id, size = item.get("id"), item.get("size")
        else:
            continue
        if capture_id:
            ids.append(str(capture_id))
        if isinstance(size, int):
            sizes.append(size)
    return ids, (sum(sizes) if sizes else None)
