"""A command that never connects or analyses does not import the network stack or the analysis.

``import cdpclient`` resolves its public names on first use (PEP 562), and the CLI's command modules
import only typer and light things at module level, so ``cdpclient --help`` and ``ls`` start without
aiohttp, websockets, numpy, numba or zstandard (bench/cli_start.py measures what that saves).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nodeproc import run_cli

HEAVY = ("aiohttp", "websockets", "numpy", "numba", "zstandard")


def _loaded_after(statement: str) -> dict[str, bool]:
    """Which of HEAVY a fresh interpreter has in sys.modules after running ``statement``."""
    code = f"import json, sys\n{statement}\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded: dict[str, bool] = json.loads(out.stdout)
    return loaded


def test_import_cdpclient_loads_none_of_the_heavy_modules() -> None:
    loaded = _loaded_after("import cdpclient")
    assert not any(loaded.values()), loaded


def test_the_cli_app_loads_none_of_the_heavy_modules() -> None:
    loaded = _loaded_after("import cdpclient_cli.app")
    assert not any(loaded.values()), loaded


def test_public_names_still_resolve_on_first_use() -> None:
    loaded = _loaded_after(
        "import cdpclient\n"
        "from cdpclient import connect, Target, UsageError, kube, sync\n"
        "assert cdpclient.connect is connect and cdpclient.kube is kube and cdpclient.sync is sync\n"
        "assert cdpclient.attach_pod is kube.attach_pod and issubclass(UsageError, cdpclient.CDPClientError)\n"
        "assert set(cdpclient.__all__) <= set(dir(cdpclient))"
    )
    assert loaded["aiohttp"] and loaded["websockets"], loaded  # asking for connect brings the network stack


def test_every_public_name_is_lazy_and_nothing_else() -> None:
    import cdpclient

    assert set(cdpclient._LAZY) == set(cdpclient.__all__)
    try:
        cdpclient.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("an unknown name resolved")


def test_help_and_ls_of_an_empty_store_still_work(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    top = run_cli("--help")
    assert top.returncode == 0 and "cdpclient targets" in top.stdout and top.stderr == ""
    listing = run_cli("ls", "--store", str(store))
    assert listing.returncode == 0, listing.stderr
    assert "no captures" in listing.stdout + listing.stderr
    as_json = run_cli("ls", "--store", str(store), "--json", env={"CDPCLIENT_STORE": os.devnull})
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []


def _modules_after_command(*args: str) -> dict[str, bool]:
    """Which of pydantic and rich a fresh ``cdpclient ARGS`` process had imported when it exited."""
    code = ("import atexit, json, sys\n"
            "atexit.register(lambda: sys.stderr.write('MODULES ' + json.dumps("
            "{m: m in sys.modules for m in ('pydantic', 'rich')}) + '\\n'))\n"
            f"sys.argv = ['cdpclient', *{list(args)!r}]\n"
            "from cdpclient_cli.app import main\nmain()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    line = next(ln for ln in out.stderr.splitlines() if ln.startswith("MODULES "))
    loaded: dict[str, bool] = json.loads(line.removeprefix("MODULES "))
    return loaded


def test_help_and_ls_import_neither_pydantic_nor_rich(tmp_path: Path) -> None:
    # typer 0.29 coerces every parameter through pydantic (0.12 s) and rich draws the help's boxes (0.1 s):
    # pyproject pins typer below 0.29 and the app asks for plain help.
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    assert _modules_after_command("--help") == {"pydantic": False, "rich": False}
    assert _modules_after_command("ls", "--store", str(store)) == {"pydantic": False, "rich": False}
