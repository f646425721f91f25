"""The memory guard against real Node processes with small memory limits.

A real cgroup where this machine lets us make one (root, cgroup v1 or v2 memory
controller writable); a ``--require`` preload that makes the target report a
small ``process.constrainedMemory()`` everywhere else.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from nodeproc import APPS, run_cli, wait_output  # type: ignore[attr-defined]

import cdpclient
from cdpclient.captures.guard import MemoryBudget

from .conftest import leftovers

MB = 1024 * 1024


def _memory_cgroup_parent() -> tuple[Path, str] | None:
    """Where a child memory cgroup can be made here: (directory, "v1" | "v2"), or None."""
    if os.geteuid() != 0:
        return None
    v1 = Path("/sys/fs/cgroup/memory")
    if (v1 / "memory.limit_in_bytes").exists() and os.access(v1, os.W_OK):
        return v1, "v1"
    v2 = Path("/sys/fs/cgroup")
    control = v2 / "cgroup.subtree_control"
    if control.exists() and "memory" in control.read_text().split() and os.access(v2, os.W_OK):
        return v2, "v2"
    return None


@pytest.fixture
def memory_cgroup() -> Iterator[tuple[Path, str]]:
    """A fresh memory cgroup limited to 300 MB (removed afterwards)."""
    parent = _memory_cgroup_parent()
    if parent is None:
        pytest.skip("no writable memory cgroup here (the preload test covers the guard)")
    base, version = parent
    group = base / f"cdpclient-test-{secrets.token_hex(4)}"
    try:
        group.mkdir()
        (group / ("memory.limit_in_bytes" if version == "v1" else "memory.max")).write_text(str(300 * MB))
    except OSError as exc:
        pytest.skip(f"cannot make a memory cgroup: {exc}")
    try:
        yield group, version
    finally:
        for _ in range(50):
            try:
                group.rmdir()
                break
            except OSError:  # its last process is still exiting
                threading.Event().wait(0.1)


async def test_guard_refuses_under_a_real_cgroup_limit_and_force_shows_why(memory_cgroup, shell_node,
                                                                          tmp_path: Path) -> None:
    group, version = memory_cgroup
    node = shell_node(f'echo $$ > "{group}/cgroup.procs" &&', "heap_of_size.js", "40")
    try:
        async with cdpclient.connect(node.endpoint) as target:
            budget = await target.snapshot_budget()
            assert budget.tightest is not None and budget.tightest["limit"] == 300 * MB
            assert f"cgroup {version}" in budget.tightest["source"]
            with pytest.raises(cdpclient.SnapshotRefused, match=r"refusing the heap snapshot: .* cgroup v"):
                await target.heap_snapshot(tmp_path / "a.heapsnapshot")
            assert leftovers(tmp_path) == []
            # Forced, the snapshot really does not fit: the kernel kills the target, we keep nothing.
            with pytest.raises(cdpclient.ConnectionLost):
                await target.heap_snapshot(tmp_path / "a.heapsnapshot", force=True)
        node.proc.wait(10)
        assert node.proc.returncode is not None and node.proc.returncode < 0  # killed by a signal
        assert leftovers(tmp_path) == []
    finally:
        node.kill()


@pytest.mark.compat
def test_guard_refuses_when_the_target_reports_a_small_limit(node_app, tmp_path: Path) -> None:
    app = node_app("idle.js", node_args=("--require", str(APPS / "fake_memory_limit.js")),
                   env={"CDPCLIENT_FAKE_MEMORY_LIMIT": str(100 * MB)})
    out = tmp_path / "a.heapsnapshot"
    proc = run_cli("snapshot", app.endpoint, "--out", str(out))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cdpclient: error: refusing the heap snapshot")
    assert "process.constrainedMemory() limit of 105 MB" in lines[0] and "--force" in lines[0]
    assert leftovers(tmp_path) == []
    forced = run_cli("snapshot", app.endpoint, "--out", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert leftovers(tmp_path) == ["a.heapsnapshot"]


async def test_guard_charges_a_later_snapshot_only_beyond_what_the_first_left(node_app, tmp_path: Path) -> None:
    app = node_app("heap_of_size.js", "10")
    wait_output(app, "ready")
    async with cdpclient.connect(app.endpoint) as target:
        before = await target.snapshot_budget()
        await target.heap_snapshot(tmp_path / "a.heapsnapshot")
        after = await target.snapshot_budget()
    assert before.reusable == 0 and after.reusable > 0
    assert after.expected_extra < before.expected_extra


async def _info_and_budget(endpoint: str) -> tuple[cdpclient.ProcessInfo, MemoryBudget]:
    async with cdpclient.connect(endpoint) as target:
        return await target.process_info(), await target.snapshot_budget()


async def test_info_and_the_guard_agree_on_the_limits(node_app) -> None:
    """``cdpclient info`` and the snapshot guard read one probe: same V8 heap limit, same memory limit."""
    app = node_app("idle.js", node_args=("--max-old-space-size=96", "--require", str(APPS / "fake_memory_limit.js")),
                   env={"CDPCLIENT_FAKE_MEMORY_LIMIT": str(700 * MB)})
    wait_output(app, "ready")  # the inspector listens before the preload has run
    info, budget = await _info_and_budget(app.endpoint)
    assert info.heap_size_limit == budget.heap_limit
    assert 96 * MB <= info.heap_size_limit < 160 * MB  # old space plus V8's young generation
    assert info.constrained_memory == 700 * MB
    assert info.memory_limit == budget.memory_limit == min(
        lim["limit"] for lim in budget.limits if lim["source"] != "host's available memory")


async def test_info_and_the_guard_agree_under_a_real_cgroup_limit(memory_cgroup, shell_node) -> None:
    """The cgroup a process was put in (not the mount root) is the limit both report."""
    group, _ = memory_cgroup
    node = shell_node(f'echo $$ > "{group}/cgroup.procs" &&', "idle.js")
    info, budget = await _info_and_budget(node.endpoint)
    assert info.cgroup_memory_limit == 300 * MB
    assert info.memory_limit == budget.memory_limit == 300 * MB
    assert [lim["limit"] for lim in budget.limits if lim["source"].startswith("cgroup")] == [300 * MB]


def _vm_size(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


@pytest.mark.compat
async def test_guard_refuses_under_an_address_space_limit_that_would_abort_the_target(node_app,
                                                                                      tmp_path: Path) -> None:
    import resource

    app = node_app("heap_of_size.js", "60")
    wait_output(app, "ready")
    # ulimit -v / prlimit --as, set on the running target: 300 MB of address space left.
    limit = _vm_size(app.pid) + 300 * MB
    resource.prlimit(app.pid, resource.RLIMIT_AS, (limit, limit))
    async with cdpclient.connect(app.endpoint) as target:
        info = await target.process_info()
        assert [(lim["name"], lim["limit"]) for lim in info.process_limits] == [("address space", limit)]
        with pytest.raises(cdpclient.SnapshotRefused) as refused:
            await target.heap_snapshot(tmp_path / "a.heapsnapshot")
        message = str(refused.value)
        assert "address space limit (ulimit -v)" in message and "needs about" in message, message
        assert leftovers(tmp_path) == []
        # Forced, it really does not fit: V8 aborts (std::bad_alloc), we keep nothing.
        with pytest.raises(cdpclient.ConnectionLost):
            await target.heap_snapshot(tmp_path / "a.heapsnapshot", force=True)
    app.proc.wait(30)
    assert app.proc.returncode != 0
    assert leftovers(tmp_path) == []
