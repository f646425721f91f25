"""The wheel installs what the project owns and nothing else (no top-level `cli` package)."""
from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> tuple[list[str], dict[str, str]]:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return list(setuptools["packages"]), dict(setuptools.get("package-dir", {}))


def test_package_list_matches_the_package_folders() -> None:
    packages, dirs = _declared()
    found = {".".join(p.parent.relative_to(ROOT / "cdpclient").parts) for p in (ROOT / "cdpclient").rglob("__init__.py")}
    want = {"cdpclient" + ("." + f if f else "") for f in found} | {"cdpclient_cli"}
    assert set(packages) == want
    assert dirs == {"cdpclient_cli": "cli"}


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_holds_only_cdpclient_and_its_cli(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
                    "-w", str(out), str(ROOT)], check=True, timeout=300)
    wheel = next(out.glob("cdpclient-*.whl"))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"cdpclient", "cdpclient_cli"}
    entry = zipfile.ZipFile(wheel).read(next(n for n in zipfile.ZipFile(wheel).namelist()
                                              if n.endswith("entry_points.txt"))).decode()
    assert "cdpclient = cdpclient_cli.app:main" in entry
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--quiet", "--disable-pip-version-check",
                    str(wheel)], check=True, timeout=300)
    probe = ("import importlib.util as u, sys; "
             "sys.path = [p for p in sys.path if p and p != '.']; "
             "print(u.find_spec('cdpclient') is not None, u.find_spec('cdpclient_cli.app') is not None, "
             "u.find_spec('cli') is None)")
    done = subprocess.run([str(py), "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True", "True"]


def test_every_third_party_import_is_a_declared_dependency() -> None:
    import ast
    import importlib.metadata as metadata
    import re

    declared = {re.split(r"[<>=!~ \[]", d, maxsplit=1)[0].lower()
                for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    dists = metadata.packages_distributions()
    imported: set[str] = set()
    for folder in ("cdpclient", "cli"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    imported |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"cdpclient", "cdpclient_cli", "__future__"}
    missing = {name for name in third_party if not {d.lower() for d in dists.get(name, [name])} & declared}
    assert not missing, f"imported but not declared in pyproject dependencies: {sorted(missing)}"


def test_the_version_is_written_once() -> None:
    import importlib.metadata as metadata

    import cdpclient

    assert "version" in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dynamic"]
    assert metadata.version("cdpclient") == cdpclient.__version__


def test_shell_completion_is_on() -> None:
    import os

    script = subprocess.run([sys.executable, "-m", "cdpclient_cli.app", "--show-completion", "bash"],
                            capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "_CDPCLIENT_COMPLETE" in script.stdout
    env = {**os.environ, "_CDPCLIENT_COMPLETE": "complete_bash", "COMP_WORDS": "cdpclient sna", "COMP_CWORD": "1"}
    done = subprocess.run([sys.executable, "-m", "cdpclient_cli.app"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.split() == ["snapshot"]
