"""What every command shares: error exits, output, the asyncio runner, and target options.

Commands that talk to a target declare a ``spec: TargetSpec`` parameter and
use :func:`target_command`; it adds ENDPOINT and the Kubernetes options to the
command's signature, so every such command accepts the same way of naming a
target.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import json
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    import asyncio  # imported where a command runs (run, early_stop): `--help` and `ls` need no event loop

    from cdpclient.store import CaptureRecord, Store

T = TypeVar("T")

DEFAULT_ENDPOINT = "127.0.0.1:9229"


@dataclasses.dataclass
class _State:
    debug: bool = False


state = _State()


# What must not reach a terminal raw from captures and users: C0 controls (ESC starts colour,
# title and hyperlink sequences), DEL, C1 controls (0x9b is a one-byte CSI), and the Unicode
# bidi controls and line separators that reorder or break what is shown.
_CONTROLS = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE_RE = re.compile("[\x00-\x1f" + _CONTROLS + "]")
_UNSAFE_BUT_NEWLINE_RE = re.compile("[\x00-\x09\x0b-\x1f" + _CONTROLS + "]")


def printable(text: object, *, newlines: bool = False) -> str:
    """``text`` safe to print for humans: each control character as a visible escape (``\\x1b``, ``\\u202e``).

    ``newlines``: keep line breaks.  JSON output needs none of this (json escapes them).
    """
    pattern = _UNSAFE_BUT_NEWLINE_RE if newlines else _UNSAFE_RE
    return pattern.sub(_escape, str(text))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def say(text: object) -> None:
    """A line of human output on stdout, made :func:`printable` (line breaks kept)."""
    typer.echo(printable(text, newlines=True))


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line on stderr and exit with ``code``."""
    message = " ".join(str(message).split()) if "\n" in str(message) else str(message)
    typer.echo(f"cdpclient: error: {printable(message)}", err=True)
    raise SystemExit(code)


# Library parameters whose flag is not simply --name-with-dashes.
_FLAGS = {"fmt": "--format", "target_id": "--target"}


def flag(parameter: str) -> str:
    """The command-line flag for a library parameter that an error message names."""
    return _FLAGS.get(parameter, "--" + parameter.replace("_", "-"))


def warn(message: str) -> None:
    typer.echo(f"cdpclient: warning: {printable(message, newlines=True)}", err=True)


def note(message: str) -> None:
    """A progress or status line for humans, on stderr (stdout stays for results)."""
    typer.echo(printable(message, newlines=True), err=True)


class _Terminated(Exception):
    """SIGTERM arrived: the command was cancelled so its cleanup could run."""


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine; Ctrl-C or SIGTERM cancel it, so its cleanup runs (profilers
    stopped, inspectors we opened closed, port-forwards ended), then exit 130 / 143."""
    import asyncio

    try:
        return asyncio.run(_as_coro(coro))
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    except _Terminated:
        fail("terminated", code=143)


async def _as_coro(aw: Awaitable[T]) -> T:
    import asyncio

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
        installed = False
    try:
        return await aw
    except asyncio.CancelledError:
        if terminated:
            raise _Terminated() from None
        raise
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGTERM)


@contextlib.contextmanager
def early_stop(message: str = "stopping early and saving (Ctrl-C again to abort)") -> Iterator[asyncio.Event]:
    """An event set by the first Ctrl-C (``message`` on stderr); a second Ctrl-C cancels the command (exit 130)."""
    import asyncio

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    task = asyncio.current_task()
    aborted = False

    def on_sigint() -> None:
        nonlocal aborted
        if stop.is_set():
            aborted = True
            if task is not None:
                task.cancel()
            return
        stop.set()
        note(message)

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    except (NotImplementedError, RuntimeError):  # pragma: no cover - not on the main thread / Windows
        yield stop
        return
    try:
        yield stop
    except asyncio.CancelledError:
        if aborted:  # the second Ctrl-C; other cancellations (SIGTERM) propagate as they are
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        if stop.is_set() and not aborted:
            # The user is pressing Ctrl-C and what they asked for is done and saved: another
            # Ctrl-C landing now must not kill the process (by SIGINT) after it said "saved".
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "__fspath__"):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str], *, align: str | None = None) -> str:
    """A plain text table. ``align`` is one char per column: 'l' or 'r'."""
    body = [["" if c is None else printable(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    align = align or "l" * len(headers)

    def fmt(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align, strict=False)]
        return "  ".join(parts).rstrip()

    lines = [fmt(list(headers)), fmt(["-" * w for w in widths])]
    lines.extend(fmt(row) for row in body)
    return "\n".join(lines)


def human_bytes(n: float | int | None) -> str:
    """Sizes as every command prints them: powers of 1024 labelled KiB, MiB, GiB (``cdpclient.units.format_bytes``)."""
    from cdpclient.units import format_bytes

    return format_bytes(n)


def parse_labels(values: Sequence[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` to a dict; a malformed one is a usage error (exit 2)."""
    labels: dict[str, str] = {}
    for item in values or ():
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"label {item!r} is not of the form key=value", param_hint="--label")
        labels[key.strip()] = val.strip()
    return labels


# --- naming a target -------------------------------------------------------------


@dataclasses.dataclass
class TargetSpec:
    """How the user named a target: an endpoint, or a pod / selector."""

    endpoint: str | None = None
    target_id: str | None = None
    pod: str | None = None
    selector: str | None = None
    namespace: str | None = None
    context: str | None = None
    container: str | None = None
    kubeconfig: str | None = None
    inspect_port: int = 9229
    pid: int | None = None
    kubectl: str | None = None
    keep_inspector: bool = False
    parallel: int = 4
    record: str | None = None
    record_chunks: bool = True
    record_here: bool = False
    """open_target opens the recorder itself (a fleet run's pod: one recording per pod)."""

    @property
    def is_kube(self) -> bool:
        return bool(self.pod or self.selector)

    @property
    def resolved_endpoint(self) -> str:
        return self.endpoint or DEFAULT_ENDPOINT


_K8S = "Kubernetes"
_TARGET_PARAMS = [
    inspect.Parameter("endpoint", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str | None,
                      default=typer.Argument(None, metavar="[ENDPOINT]", show_default=False,
                                             help="host:port, http://host:port or a ws:// debugger URL "
                                                  f"(default {DEFAULT_ENDPOINT}).")),
    inspect.Parameter("target_id", inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                      default=typer.Option(None, "--target", help="Target id when the inspector lists several.")),
    inspect.Parameter("pod", inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                      default=typer.Option(None, "--pod", help="Kubernetes pod to reach instead of ENDPOINT.",
                                           rich_help_panel=_K8S)),
    inspect.Parameter("selector", inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                      default=typer.Option(None, "--selector", "-l", help="Label selector: every matching pod.",
                                           rich_help_panel=_K8S)),
    inspect.Parameter("namespace", inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                      default=typer.Option(None, "--namespace", "-n", help="Kubernetes namespace.",
                                           rich_help_panel=_K8S)),
    inspect.Parameter("context", inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                      default=typer.Option(None, "--context", help="kubeconfig context.", rich_help_panel=_K8S)),
    inspect.Parameter("container", inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                      default=typer.Option(None, "--container", "-c",
                                           help="Container (default: the pod's default container).",
                                           rich_help_panel=_K8S)),
    inspect.Parameter("kubeconfig", inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                      default=typer.Option(None, "--kubeconfig", help="kubeconfig file.", rich_help_panel=_K8S)),
    inspect.Parameter("inspect_port", inspect.Parameter.KEYWORD_ONLY, annotation=int,
                      default=typer.Option(9229, "--inspect-port", help="Inspector port inside the pod.",
                                           rich_help_panel=_K8S)),
    inspect.Parameter("pid", inspect.Parameter.KEYWORD_ONLY, annotation=int | None,
                      default=typer.Option(None, "--pid", help="A local Node process instead of ENDPOINT "
                                                                "(its inspector opened by SIGUSR1 and closed "
                                                                "again); with --pod, the process in the container "
                                                                "(default: found by scanning /proc).")),
    inspect.Parameter("kubectl", inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                      default=typer.Option(None, "--kubectl", help="kubectl binary to use.", rich_help_panel=_K8S)),
    inspect.Parameter("keep_inspector", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                      default=typer.Option(False, "--keep-inspector",
                                           help="Leave an inspector this run opened (--pod, --pid) open "
                                                "afterwards.")),
    inspect.Parameter("parallel", inspect.Parameter.KEYWORD_ONLY, annotation=int,
                      default=typer.Option(4, "--parallel", min=1, help="With --selector: pods captured at once.",
                                           rich_help_panel=_K8S)),
]

# --- recording the session (cdpclient.recording): its own block, shared by every target command
_REC = "Recording"
_TARGET_PARAMS += [
    inspect.Parameter("record", inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                      default=typer.Option(None, "--record", metavar="FILE", envvar="CDPCLIENT_RECORD",
                                           show_envvar=True, rich_help_panel=_REC,
                                           help="Record the whole inspector conversation into FILE (a new 0600 "
                                                "file; with --selector one per pod, FILE.POD): see "
                                                "'cdpclient replay' and docs/recordings.md.")),
    inspect.Parameter("record_chunks", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                      default=typer.Option(True, "--record-chunks/--record-no-chunks", rich_help_panel=_REC,
                                           help="Keep heap snapshot chunks in the recording, or only their "
                                                "count, size and sha256.")),
]
_TARGET_NAMES = [p.name for p in _TARGET_PARAMS]


def target_command(fn: Callable[..., T]) -> Callable[..., T]:
    """Give a command ENDPOINT and the target options, delivered as ``spec: TargetSpec``."""
    sig = inspect.signature(fn)
    own = [p for name, p in sig.parameters.items() if name != "spec"]
    positional = [p for p in own if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword = [p.replace(kind=p.KEYWORD_ONLY) for p in own if p not in positional]
    params = positional + [_TARGET_PARAMS[0]] + keyword + _TARGET_PARAMS[1:]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        bound = inspect.Signature(params).bind(*args, **kwargs)
        values = dict(bound.arguments)
        spec = TargetSpec(**{name: values.pop(name) for name in _TARGET_NAMES if name in values})
        if spec.pod and spec.selector:
            raise typer.BadParameter("give --pod or --selector, not both")
        if spec.is_kube and spec.endpoint:
            raise typer.BadParameter("give ENDPOINT or --pod/--selector, not both")
        if spec.pid is not None and spec.endpoint and not spec.is_kube:
            raise typer.BadParameter("give ENDPOINT or --pid, not both")
        if not spec.record or spec.selector:  # a fleet records per pod (open_target)
            return fn(spec=spec, **values)
        with recording(spec, spec.record, command=fn.__name__.strip("_")):
            return fn(spec=spec, **values)

    wrapper.__signature__ = inspect.Signature(params, return_annotation=sig.return_annotation)  # type: ignore[attr-defined]
    return wrapper


@contextlib.contextmanager
def recording(spec: TargetSpec, path: str, command: str | None = None) -> Iterator[None]:
    """Record the inspector traffic of the block into ``path`` (the description names no argv: it may hold secrets)."""
    from cdpclient import recording as rec
    from cdpclient.errors import UsageError

    description = {"command": command,
                   "target": spec.pod or spec.resolved_endpoint, "target_id": spec.target_id,
                   "namespace": spec.namespace if spec.pod else None}
    try:
        cm = rec.recording_to(path, description={k: v for k, v in description.items() if v is not None},
                              keep_chunks=spec.record_chunks)
        recorder = cm.__enter__()
    except FileExistsError:
        raise UsageError(f"--record {path}: the file exists (a recording is never overwritten); "
                         "remove it or name another") from None
    except OSError as exc:
        raise UsageError(f"--record {path}: cannot create it ({exc.strerror or exc})") from None
    try:
        yield
    except BaseException as exc:
        cm.__exit__(type(exc), exc, exc.__traceback__)
        raise
    else:
        cm.__exit__(None, None, None)
    note(f"recorded {recorder.records} records to {path}")


@contextlib.asynccontextmanager
async def open_target(spec: TargetSpec, **connect_kwargs: Any) -> AsyncIterator[Any]:
    """Connect to the one target ``spec`` names: an endpoint or a single pod.

    Yields a :class:`cdpclient.Target`.  Warnings from the library (a
    non-loopback address, an inspector opened by SIGUSR1) are printed on stderr.
    """
    import cdpclient

    if spec.selector:
        raise typer.BadParameter("--selector names a fleet; this command takes one target (use --pod)")
    if spec.record and spec.record_here:
        with recording(spec, spec.record, command="fleet"):
            async with open_target(dataclasses.replace(spec, record_here=False), **connect_kwargs) as target:
                yield target
        return
    if spec.pod:
        from cdpclient import kube

        async with kube.attach_pod(
            spec.pod, namespace=spec.namespace, context=spec.context, container=spec.container,
            kubeconfig=spec.kubeconfig, inspect_port=spec.inspect_port, pid=spec.pid,
            kubectl=spec.kubectl, keep_inspector=spec.keep_inspector, on_event=note, **connect_kwargs,
        ) as target:
            yield target
        return
    if spec.pid is not None:  # a local process: its inspector opened and closed as for a pod
        from cdpclient.local import attach_pid

        async with attach_pid(spec.pid, keep_inspector=spec.keep_inspector, on_event=note, target_id=spec.target_id,
                              **connect_kwargs) as target:
            yield target
        return
    async with cdpclient.connect(spec.resolved_endpoint, target_id=spec.target_id, on_warning=warn,
                                 **connect_kwargs) as target:
        yield target


# --- the recordings store -------------------------------------------------------

StoreOption = typer.Option(None, "--store", envvar="CDPCLIENT_STORE", show_envvar=True,
                           help="Store directory (default $XDG_DATA_HOME/cdpclient, else "
                                "~/.local/share/cdpclient).")

_warned_stores: set[str] = set()
_hinted: list[bool] = []  # the ./recordings hint was given (once per command: see new_command)


def new_command() -> None:
    """A command starts (the app's ``main``; several run in one process under a test runner)."""
    _hinted.clear()


def open_store(path: str | None, *, hint: bool = True) -> Store:
    """The store a command names (``--store``, ``$CDPCLIENT_STORE``, else the per-user default).

    An existing root open to other users is said once per process (one warning line with
    the ``chmod`` that closes it); its mode is left as it is.  When the default is used and
    ``./recordings`` (the old default) holds a store with captures, one hint line says how to
    move it or use it, once per process (``hint=False``: the command that moves it).  Nothing
    moves on its own.
    """
    from cdpclient.store import Store

    store = Store.open(path)
    if str(store.root) not in _warned_stores and (problem := store.exposure()) is not None:
        _warned_stores.add(str(store.root))
        warn(problem)
    if hint and not path and not _hinted:
        _hinted.append(True)
        from cdpclient.store.move import legacy_store

        found = legacy_store()
        if found is not None and found[0] != store.root:
            note(f"cdpclient: a store is in ./recordings ({found[1]} captures): `cdpclient store move` moves it "
                 f"to {store.root}; --store ./recordings uses it")
    return store


def _allow_expansion(value: str | None) -> str | None:
    """``--max-expand``: takes effect as it is parsed, before the command reads any file (and is reset
    when not given: an earlier command in the same process does not carry its limit over)."""
    from cdpclient import compression
    from cdpclient.errors import UsageError

    try:
        compression.allow_expansion(value)
    except UsageError as exc:
        raise typer.BadParameter(exc.render(flag), param_hint="--max-expand") from None
    return value


MaxExpandOption = typer.Option(
    None, "--max-expand", metavar="SIZE", envvar="CDPCLIENT_MAX_EXPAND", show_envvar=True,
    callback=_allow_expansion,
    help="Let a compressed (.zst) file expand up to SIZE (e.g. 64GiB). By default one stops at 200x its "
         "compressed size (at least 64 MiB) and at 16 GiB, with a line saying how far it got.")


@contextlib.contextmanager
def named(plain: object, shown: object) -> Iterator[None]:
    """Errors raised while reading ``plain`` (a decompressed copy) name ``shown`` (the user's file) instead."""
    from cdpclient.errors import CDPClientError

    try:
        yield
    except CDPClientError as exc:
        exc.rename_path(plain, shown)
        raise


ForceDamagedOption = typer.Option(False, "--force", help="Analyse a capture even when its file no longer "
                                  "matches its recorded sha256 (said on stderr).")


def checked(store: Store, record: CaptureRecord, force: bool = False) -> CaptureRecord:
    """``record`` checked as analysis needs (:meth:`Store.intact`): a damaged capture is refused with
    one line, or with ``force`` said and analysed anyway."""
    from cdpclient.errors import InvalidCaptureFile
    from cdpclient.store import STATUS_CORRUPT, STATUS_EXTERNAL, STATUS_MISSING

    # a plain file outside the store (external) has no recorded sha256 to check
    if record.stored_size > 256 << 20 and not record.meta.get("verified") and record.status != STATUS_EXTERNAL:
        note(f"checking the sha256 of {human_bytes(record.stored_size)} (once: the store remembers it)...")
    record = store.intact(record)
    if record.status in (STATUS_CORRUPT, STATUS_MISSING):
        what = f"capture {record.id} is {record.status}: {record.problem or 'see cdpclient store verify'}"
        if not force and record.status == STATUS_CORRUPT:
            raise InvalidCaptureFile(f"{what}; --force analyses it anyway", ref=record.id)
        if record.status == STATUS_CORRUPT:
            warn(f"{what}; analysing it anyway (--force)")
    return record
