"""Command: ``pull``: copy the diagnostic files Node wrote inside a pod into the store.

The work is :func:`cdpclient.kube.pull_files`; this module parses the options,
prints progress on stderr and the table (or ``--json``) of what became of each file.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import typer

from . import common
from .common import StoreOption, human_bytes, note, parse_labels, print_json

if TYPE_CHECKING:
    from cdpclient.kube import PullResult

_K8S = "Kubernetes"
_EPILOG = """Examples:

  cdpclient pull --pod api-7f9 -n prod --wait          (the near-heap-limit snapshot of a pod being OOM-killed)

  cdpclient pull --pod api-7f9 --dir /var/diag --delete --label incident=4711

  cdpclient pull --pod api-7f9 --json | jq -r '.files[] | select(.state == "imported") | .id'
"""


def register(app: typer.Typer) -> None:
    app.command("pull", epilog=_EPILOG)(pull)


def pull(
    pod: str = typer.Option(..., "--pod", help="The pod whose files to pull.", rich_help_panel=_K8S),
    namespace: str | None = typer.Option(None, "--namespace", "-n", help="Kubernetes namespace.",
                                         rich_help_panel=_K8S),
    context: str | None = typer.Option(None, "--context", help="kubeconfig context.", rich_help_panel=_K8S),
    container: str | None = typer.Option(None, "--container", "-c", help="Container (default: the pod's default "
                                         "container).", rich_help_panel=_K8S),
    kubeconfig: str | None = typer.Option(None, "--kubeconfig", help="kubeconfig file.", rich_help_panel=_K8S),
    kubectl: str | None = typer.Option(None, "--kubectl", help="kubectl binary to use.", rich_help_panel=_K8S),
    dirs: list[str] | None = typer.Option(None, "--dir", help="Another directory to search, as the container "
                                          "sees it (repeatable); needed when no Node process is running there."),
    wait: bool = typer.Option(False, "--wait", help="Wait until no file is being written and, when there is none "
                              "yet, for one to appear (a restarting container is waited for too)."),
    timeout: str = typer.Option("10m", "--timeout", help="With --wait: give up after this long."),
    delete: bool = typer.Option(False, "--delete", help="Remove each file from the container once it is in the "
                                "store (frees the pod's disk)."),
    label: list[str] | None = typer.Option(None, "--label", help="More labels for the pulled captures: key=value "
                                           "(repeatable); the pod's own labels are always added."),
    compress: bool = typer.Option(False, "--compress", help="Keep them zstd-compressed at rest."),
    store: str | None = StoreOption,
    as_json: bool = typer.Option(False, "--json", help="Print the result (searched directories and every file "
                                 "with its state and store id) as JSON."),
) -> None:
    """Copy the heap snapshots, reports and profiles Node wrote by itself inside a pod into the store.

    Finds the Node processes in the container and reads from their flags where
    they write: --heapsnapshot-near-heap-limit and --heapsnapshot-signal
    snapshots (--diagnostic-dir, else the working directory), reports
    (--report-directory), --cpu-prof and --heap-prof profiles.  A file some
    process still writes is waited for with --wait; every file is copied
    compressed when the container has gzip, checked as 'import' checks, and
    imported with the pod's labels.  A file pulled before is not copied again.
    A file whose writer died mid-way (an OOM kill during the snapshot) is
    reported incomplete and not imported.  Exit status 1 when a file failed or
    was incomplete.
    """
    from cdpclient.kube import pull_files
    from cdpclient.profiles.validate import check_capture
    from cdpclient.units import parse_duration

    labels = parse_labels(label)
    limit = parse_duration(timeout)
    progress = _Progress() if sys.stderr.isatty() and not as_json else None
    result = common.run(pull_files(
        pod, store=common.open_store(store), namespace=namespace, context=context, container=container,
        kubeconfig=kubeconfig, kubectl=kubectl, dirs=dirs or (), wait=wait, timeout=limit, delete=delete,
        labels=labels, compress=compress, on_event=note, on_progress=progress, check=check_capture))
    if progress is not None:
        progress.clear()
    if as_json:
        print_json(result.to_dict())
    else:
        _print(result)
    if not result.ok:
        raise SystemExit(1)


class _Progress:
    """One rewritten stderr line while a big file is copied (at most 4 updates a second)."""

    def __init__(self) -> None:
        self.last = 0.0
        self.shown = False

    def __call__(self, path: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.25 and done < total:
            return
        self.last = now
        share = f" ({done * 100 // total}%)" if total else ""
        sys.stderr.write(f"\r  {human_bytes(done)} of {human_bytes(total)}{share}\033[K")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _print(result: PullResult) -> None:
    where = f"{result.namespace}/{result.pod} (container {result.container})"
    if not result.files:
        typer.echo(f"no diagnostic files in {where}; searched {', '.join(result.searched) or 'nothing'}")
        return
    rows = [(f.state, f.record.id if f.record else "-", f.record.kind if f.record else "-", human_bytes(f.size),
             f.path + (" (deleted)" if f.deleted else ""), f.why if f.state not in ("imported", "present") else "")
            for f in result.files]
    typer.echo(f"{len(result.files)} file(s) in {where}:")
    typer.echo(common.table(rows, ("STATE", "ID", "KIND", "SIZE", "PATH", "WHY"), align="lllrll"))
