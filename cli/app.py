"""The typer application behind the ``cdpclient`` command.

Each command module under ``cli/`` exposes ``register(app)``; this module only
assembles them and owns the one place where errors become exit codes.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, Protocol, cast

import typer
from typer.core import TyperGroup

from cdpclient.errors import CDPClientError, UsageError

from . import common


class _ClickError(Protocol):
    exit_code: int

    def format_message(self) -> str: ...


def _click_class(name: str) -> type[Exception]:
    """A class of the click that typer runs on, found from typer's public ``BadParameter``: typer 0.29+
    vendors click under a private module, older typer depends on click itself."""
    return next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == name)


ClickUsageError = _click_class("UsageError")
ClickException = _click_class("ClickException")

# Command modules, in the order their commands appear in --help.
COMMAND_MODULES = (
    "targets",     # targets, info
    "capture",     # snapshot, cpu, sample, timeline, report
    "watch",       # watch
    "replay",      # replay (a recording made with --record)
    "pull",        # pull (files Node wrote in a pod)
    "store",       # ls, show, rm, prune, import, export, store reindex
    "cache",       # cache ls, cache clear (the cache of plain files)
    "analyze",     # top, diff, retainers, leaks
    "profiles",    # flame
    "plot",        # plot (watch recordings)
    "demo",        # demo
)


class OneLineGroup(TyperGroup):
    """Turns every failure into one line on stderr and an exit code.

    2 for usage errors, 1 for runtime failures, 130 for Ctrl-C.  With
    ``--debug`` (or ``CDPCLIENT_DEBUG=1``) runtime errors re-raise with their
    traceback.
    """

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, windows_expand_args: bool = True,
             **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        common.new_command()
        end = argv.index("--") if "--" in argv else len(argv)
        if "--debug" in argv[:end]:  # anywhere on the line, not only before the command
            common.state.debug = True
            argv = [a for a in argv[:end] if a != "--debug"] + argv[end:]
        try:
            rv = super().main(argv, prog_name, complete_var, standalone_mode=False,
                             windows_expand_args=windows_expand_args, **extra)
        except ClickUsageError as exc:
            error = cast(_ClickError, exc)
            if type(exc).__name__ == "NoArgsIsHelpError":  # click 8.2+: no arguments shows the help
                typer.echo(error.format_message())
                return 0
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            common.fail(f"{_own_words(error.format_message())}{hint}", code=2)
        except ClickException as exc:
            error = cast(_ClickError, exc)
            common.fail(error.format_message(), code=error.exit_code)
        except typer.Abort:
            common.fail("interrupted", code=130)
        except KeyboardInterrupt:
            common.fail("interrupted", code=130)
        except CDPClientError as exc:
            if common.state.debug:
                raise
            common.fail(exc.render(common.flag), code=2 if isinstance(exc, UsageError) else 1)
        except BrokenPipeError:
            sys.exit(1)
        except Exception as exc:  # a bug of ours: still one line unless --debug
            if common.state.debug:
                raise
            common.fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)", code=1)
        _finish_caches()
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


def _finish_caches() -> None:
    """Wait for heap caches still being written (heap.load(background=True)) once the answer is out: stdout is
    flushed and closed first, so a reader of the output (a pipe, ``| jq``) is not kept waiting."""
    loader = sys.modules.get("cdpclient.heap.loader")
    if loader is None or not loader.caching():
        return
    try:
        sys.stdout.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    try:
        loader.wait_for_caches()
    except KeyboardInterrupt:
        common.fail("interrupted while writing the analysis cache (the next analysis redoes it)", code=130)


_VALIDATION_WORDS = (
    # typer 0.26-0.28 (its own copy of click)
    (re.compile(r"'[^']*' is not a valid (?:int range|integer)\."), "not a whole number"),
    (re.compile(r"'[^']*' is not a valid (?:float range|float)\."), "not a number"),
    (re.compile(r"\S+ is not in the range x>=(\S+?)\."), r"must be \1 or more"),
    (re.compile(r"\S+ is not in the range x>(\S+?)\."), r"must be more than \1"),
    (re.compile(r"\S+ is not in the range x<=(\S+?)\."), r"must be \1 at most"),
    (re.compile(r"\S+ is not in the range x<(\S+?)\."), r"must be less than \1"),
    (re.compile(r"\S+ is not in the range (\S+?)<=x<=(\S+?)\."), r"must be between \1 and \2"),
    # typer 0.29 and later (pydantic's words)
    (re.compile(r"Input should be a valid integer.*"), "not a whole number"),
    (re.compile(r"Input should be a valid number.*"), "not a number"),
    (re.compile(r"Input should be greater than or equal to (\S+)"), r"must be \1 or more"),
    (re.compile(r"Input should be greater than (\S+)"), r"must be more than \1"),
    (re.compile(r"Input should be less than or equal to (\S+)"), r"must be \1 at most"),
    (re.compile(r"Input should be less than (\S+)"), r"must be less than \1"),
)


def _own_words(message: str) -> str:
    """A usage error as the project words them: ``Invalid value for --count: must be 1 or more``."""
    message = re.sub(r"Invalid value for '(-[\w-]+)'", r"Invalid value for \1", message)
    for pattern, words in _VALIDATION_WORDS:
        message = pattern.sub(words, message)
    return message


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"cdpclient {version('cdpclient')} (Python {sys.version.split()[0]})")
        raise typer.Exit()


app = typer.Typer(
    cls=OneLineGroup,
    name="cdpclient",
    help=(
        "Capture and compare heap snapshots and profiles of live Node.js processes "
        "over the Chrome DevTools Protocol.\n\n"
        "Examples:\n\n"
        "  cdpclient targets 127.0.0.1:9229\n\n"
        "  cdpclient info 127.0.0.1:9229 --json\n\n"
        "  cdpclient snapshot 127.0.0.1:9229 --count 3 --every 30s --gc\n\n"
        "  cdpclient leaks 01J8 01J9 01JA"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's boxes cost 0.1 s of every --help (bench/cli_start.py)
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks for errors (anywhere on the line)."),
    _show_version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                       help="Print the version and exit."),
) -> None:
    common.state.debug = common.state.debug or debug or os.environ.get("CDPCLIENT_DEBUG") == "1"


for _name in COMMAND_MODULES:
    importlib.import_module(f".{_name}", __package__).register(app)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=argv, prog_name="cdpclient")


if __name__ == "__main__":  # pragma: no cover
    main()
