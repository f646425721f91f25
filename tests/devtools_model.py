"""DevTools' own heap snapshot model, fetched from the npm registry and bundled to run under
Node: the reference the heap tests (tests/heap/test_heap_devtools.py) and bench/ compare with.

    bundle = install_devtools_model()          # .cache/devtools-<version>/reference.mjs
    devtools_reference(bundle, snapshot, out)  # {"classes": {key: {name, count, self, retained}}, ...}
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NODE = os.environ.get("CDPCLIENT_TEST_NODE", "node")

# The Memory panel's model (front_end/entrypoints/heap_snapshot_worker) from the npm package
# chrome-devtools-frontend, bundled by esbuild with tests/heap/devtools_reference.ts so it runs
# under Node.  Versions are pinned: DevTools' grouping changes between releases.
DEVTOOLS_VERSION = "1.0.1705227"
ESBUILD_VERSION = "0.28.2"
DEVTOOLS_PREFIX = REPO / ".cache" / f"devtools-{DEVTOOLS_VERSION}"
DEVTOOLS_BUNDLE = DEVTOOLS_PREFIX / "reference.mjs"
# Node 20 lacks Promise.withResolvers, which the model uses.
_POLYFILL = ("if(!Promise.withResolvers){Promise.withResolvers=function(){let a,b;"
             "const p=new Promise((x,y)=>{a=x;b=y});return {promise:p,resolve:a,reject:b}}}")
# The model imports i18n, whose generated locales.js the package does not ship.
_LOCALES_STUB = ("export const LOCALES = ['en-US'];\nexport const BUNDLED_LOCALES = ['en-US'];\n"
                 "export const DEFAULT_LOCALE = 'en-US';\nexport const REMOTE_FETCH_PATTERN = '';\n"
                 "export const LOCAL_FETCH_PATTERN = '';\n")


def install_devtools_model() -> Path:
    """Fetch chrome-devtools-frontend and esbuild into .cache and bundle the model (once)."""
    if DEVTOOLS_BUNDLE.is_file():
        return DEVTOOLS_BUNDLE
    npm = shutil.which("npm") or "npm"
    work = DEVTOOLS_PREFIX.with_name(DEVTOOLS_PREFIX.name + f".tmp{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    def run(*argv: str) -> None:
        proc = subprocess.run(list(argv), cwd=work, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:3])} failed: {proc.stderr[-2000:]}")

    run(npm, "pack", "--silent", f"chrome-devtools-frontend@{DEVTOOLS_VERSION}")
    run("tar", "-xzf", f"chrome-devtools-frontend-{DEVTOOLS_VERSION}.tgz", "package/front_end")
    (work / "package/front_end/core/i18n/locales.js").write_text(_LOCALES_STUB)
    run(npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(work),
        f"esbuild@{ESBUILD_VERSION}")
    shutil.copy(Path(__file__).parent / "heap" / "devtools_reference.ts", work / "entry.ts")
    run(str(work / "node_modules/.bin/esbuild"), "entry.ts", "--bundle", "--platform=node", "--format=esm",
        "--log-level=error", f"--banner:js={_POLYFILL}", "--outfile=reference.mjs")
    for name in ("package", "node_modules", f"chrome-devtools-frontend-{DEVTOOLS_VERSION}.tgz"):
        path = work / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    try:
        work.rename(DEVTOOLS_PREFIX)
    except OSError:  # another run got there first
        shutil.rmtree(work, ignore_errors=True)
    return DEVTOOLS_BUNDLE


def devtools_reference(bundle: Path, snapshot: Path, out: Path) -> dict[str, Any]:
    """DevTools' Summary rows for ``snapshot``: per class key, name, count, shallow and retained size."""
    proc = subprocess.run([NODE, str(bundle), str(snapshot), str(out)], capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"DevTools' model failed: {proc.stderr[-2000:]}")
    return json.loads(out.read_text())


