"""The first analysis on a machine says that it compiles the kernels (about 15 s), and only the first.

numba compiles the kernels of ``cdpclient/heap/_kernels.py`` on first use and caches them
(``cache=True``); with ``NUMBA_CACHE_DIR`` pointing at an empty directory a real ``cdpclient top``
compiles them all, as right after an install.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from heap.conftest import write_snapshot_in_node
from nodeproc import run_cli

NOTICE = "compiling the analysis kernels once"


@pytest.mark.slow  # one real compile of every kernel a load uses: 16 s on 2 cores
def test_the_first_top_says_it_compiles_and_the_second_does_not(tmp_path: Path) -> None:
    snapshot = write_snapshot_in_node(tmp_path / "small.heapsnapshot", "globalThis.keep = [1, 2, 3];")
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    numba_cache = tmp_path / "numba"

    def top(files_cache: str) -> str:
        # A fresh cache of plain files each run, so the second run analyses again (and loads the kernels).
        env = {"NUMBA_CACHE_DIR": str(numba_cache), "XDG_CACHE_HOME": str(tmp_path / files_cache),
               "CDPCLIENT_STORE": str(store)}
        done = run_cli("top", str(snapshot), "--limit", "1", env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stderr

    first = top("files-1")
    lines = [line for line in first.splitlines() if line.startswith(NOTICE)]
    assert len(lines) == 1, first
    assert "about 15 s" in lines[0] and f"cached in {numba_cache}" in lines[0], lines[0]
    assert first.index(NOTICE) < first.index("analysing"), first  # said before the wait, not after

    second = top("files-2")
    assert "analysing" in second and "compiling" not in second, second
