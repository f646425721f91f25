"""``pull``: the files Node wrote by itself inside a pod, found from its flags, waited for, copied out through the
real kubectl, checked and imported with the pod's labels."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

from nodeproc import run_cli  # type: ignore[attr-defined]
from pods import APPS, NODE  # type: ignore[import-not-found]

from cdpclient.kube import pull_files
from cdpclient.store import Store

SIGNAL_FLAGS = ("--heapsnapshot-signal=SIGUSR2",)
# A slim image: a shell and the coreutils the listing needs, no gzip.
NO_GZIP = ("sh", "cat", "ls", "wc", "stat", "date", "rm")


def _dirs(tmp_path: Path) -> tuple[Path, Path]:
    app, diag = tmp_path / "app", tmp_path / "diag"
    app.mkdir()
    diag.mkdir()
    return app, diag


def _pull(kube_args: dict[str, str], store: Path, pod: str, *extra: str, timeout: float = 120):  # type: ignore[no-untyped-def]
    return run_cli("pull", "--pod", pod, "-n", "prod", "--kubeconfig", kube_args["kubeconfig"], "--kubectl",
                   kube_args["kubectl"], "--store", str(store), *extra, timeout=timeout)


def test_pull_finds_the_signal_snapshot_and_the_report_from_the_flags(add_pod, kube_args, tmp_path):  # type: ignore[no-untyped-def]
    # The truth: one snapshot in --diagnostic-dir (written on SIGUSR2), one report in the working directory.
    app, diag = _dirs(tmp_path)
    add_pod("api-1", labels={"app": "api", "team": "pay"}, script="writes_diagnostics.js", workdir=str(app),
            node_args=(*SIGNAL_FLAGS, f"--diagnostic-dir={diag}"), args=("signal-snapshot", "report"))
    store = tmp_path / "store"
    r = _pull(kube_args, store, "api-1", "--json", "--label", "incident=4711")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["pod"] == "api-1" and out["container"] == "app"
    assert {str(diag), str(app)} <= set(out["searched"])
    states = {Path(f["path"]).parent: (f["state"], f["kind"]) for f in out["files"]}
    assert states == {diag: ("imported", "heapsnapshot"), app: ("imported", "report")}
    assert ", gzip)" in r.stderr  # copied compressed: the container has gzip
    with Store.open(store) as st:
        records = st.list()
        assert sorted(rec.kind for rec in records) == ["heapsnapshot", "report"]
        for rec in records:
            assert rec.labels["app"] == "api" and rec.labels["team"] == "pay" and rec.labels["incident"] == "4711"
            assert rec.labels["pod"] == "api-1" and rec.labels["namespace"] == "prod"
            assert rec.target["pod"] == "api-1" and rec.target["node"] == "worker-1"
            local = st.materialize(rec)
            remote = Path(next(f["path"] for f in out["files"] if f["id"] == rec.id))
            assert local.read_bytes() == remote.read_bytes()
            assert int(local.stat().st_mtime) == int(remote.stat().st_mtime)
            assert oct(local.stat().st_mode & 0o777) == "0o600"

    # Pulled again: nothing is copied twice.
    again = _pull(kube_args, store, "api-1", "--json")
    assert again.returncode == 0, again.stderr
    assert {f["state"] for f in json.loads(again.stdout)["files"]} == {"present"}
    with Store.open(store) as st:
        assert len(st.list()) == 2


def test_pull_without_gzip_in_the_image_copies_plainly_and_delete_frees_the_pod(add_pod, kube_args, tmp_path):  # type: ignore[no-untyped-def]
    app, diag = _dirs(tmp_path)
    add_pod("slim-1", script="writes_diagnostics.js", workdir=str(app), tools=NO_GZIP,
            node_args=(*SIGNAL_FLAGS, f"--diagnostic-dir={diag}"), args=("signal-snapshot",))
    (snapshot,) = diag.iterdir()
    store = tmp_path / "store"
    r = _pull(kube_args, store, "slim-1", "--delete")
    assert r.returncode == 0, r.stderr
    assert ", gzip)" not in r.stderr
    assert "imported" in r.stdout and "(deleted)" in r.stdout
    assert not snapshot.exists()
    with Store.open(store) as st:
        (rec,) = st.list()
        assert rec.kind == "heapsnapshot" and rec.meta["pid"] == int(snapshot.name.split(".")[3])


def test_pull_wait_lets_a_snapshot_being_written_finish(add_pod, kube_args, tmp_path):  # type: ignore[no-untyped-def]
    # The truth: a near-heap-limit snapshot takes 4 s to write; without --wait it is reported as being written
    # and nothing is imported; with --wait it is imported whole.
    app, diag = _dirs(tmp_path)
    pod = add_pod("oom-1", script="writes_diagnostics.js", workdir=str(app),
                  node_args=(f"--diagnostic-dir={diag}",), args=("slow-snapshot=4",))
    store = tmp_path / "store"
    deadline = time.monotonic() + 5
    while not any(diag.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    early = _pull(kube_args, store, "oom-1", "--json")
    assert early.returncode == 0, early.stderr
    (f,) = json.loads(early.stdout)["files"]
    assert f["state"] == "writing" and "--wait" in f["why"]
    assert not (store / "index").exists() or not Store.open(store).list()

    r = _pull(kube_args, store, "oom-1", "--wait", "--json")
    assert r.returncode == 0, r.stderr
    assert "waiting for" in r.stderr
    assert "slow snapshot done" in pod.output
    (f,) = json.loads(r.stdout)["files"]
    assert f["state"] == "imported" and f["kind"] == "heapsnapshot"
    assert f["size"] == os.path.getsize(f["path"])


def test_pull_reports_a_truncated_snapshot_as_incomplete_and_does_not_import_it(add_pod, kube_args, tmp_path):  # type: ignore[no-untyped-def]
    app, diag = _dirs(tmp_path)
    add_pod("killed-1", script="writes_diagnostics.js", workdir=str(app),
            node_args=(f"--diagnostic-dir={diag}",), args=("truncated-snapshot", "report"))
    store = tmp_path / "store"
    r = _pull(kube_args, store, "killed-1")
    assert r.returncode == 1
    line = next(x for x in r.stdout.splitlines() if x.startswith("incomplete"))
    assert "heapsnapshot" in line and "killed" in line
    with Store.open(store) as st:
        assert [rec.kind for rec in st.list()] == ["report"]  # the whole file still gets in


async def test_pull_from_named_directories_when_no_node_process_runs(add_pod, kube_args, tmp_path):  # type: ignore[no-untyped-def]
    # The container restarted into a shell (or the app is down): only --dir says where to look.
    app, diag = _dirs(tmp_path)
    add_pod("down-1", command="echo ready; exec sleep 600")
    store = tmp_path / "store"
    r = _pull(kube_args, store, "down-1")
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "no Node.js process" in r.stderr and "--dir" in r.stderr

    # A whole snapshot and a report left by the previous process, in a volume the new container mounts.
    os.system(f"cd {diag} && node -e \"require('v8').writeHeapSnapshot('Heap.20261203.101010.1.0.001.heapsnapshot');"
              f"process.report.writeReport('report.20261203.101010.1.0.002.json')\" >/dev/null")
    events: list[str] = []
    with Store.open(store) as st:
        result = await pull_files("down-1", store=st, namespace="prod", dirs=[str(diag)], on_event=events.append,
                                  **kube_args)
        assert result.ok and [f.state for f in result.files] == ["imported", "imported"]
        assert sorted(rec.kind for rec in st.list()) == ["heapsnapshot", "report"]
        # The snapshot's pid is in its name; the report's in its header (the writer above).
        pids = {rec.kind: rec.meta["pid"] for rec in st.list()}
        assert pids["heapsnapshot"] == 1 and pids["report"] not in (None, 1)
    assert any(e.startswith("imported") for e in events)


def test_pull_errors_are_one_line(add_pod, kube_args, tmp_path):  # type: ignore[no-untyped-def]
    r = _pull(kube_args, tmp_path / "store", "no-such-pod")
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "no-such-pod" in r.stderr and "Traceback" not in r.stderr
    add_pod("api-2", script="idle.js")
    r = _pull(kube_args, tmp_path / "store", "api-2", "--container", "sidecar")
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "sidecar" in r.stderr
    r = _pull(kube_args, tmp_path / "store", "api-2", "--timeout", "soon")
    assert r.returncode == 2 and "soon" in r.stderr
    r = _pull(kube_args, tmp_path / "store", "api-2")
    assert r.returncode == 0, r.stderr
    assert "no diagnostic files" in r.stdout


async def test_pull_wait_waits_for_a_file_to_appear(add_pod, kube_args, tmp_path):  # type: ignore[no-untyped-def]
    # The truth: nothing is there when the pull starts; the process writes a snapshot on SIGUSR2 a moment later.
    app, diag = _dirs(tmp_path)
    pod = add_pod("later-1", script="writes_diagnostics.js", workdir=str(app),
                  node_args=(*SIGNAL_FLAGS, f"--diagnostic-dir={diag}"))
    events: list[str] = []
    with Store.open(tmp_path / "store") as st:
        task = asyncio.ensure_future(pull_files("later-1", store=st, namespace="prod", wait=True, timeout=60,
                                                poll=0.2, on_event=events.append, **kube_args))
        while not any("waiting for one" in e for e in events):
            assert not task.done(), task.result()
            await asyncio.sleep(0.05)
        os.kill(pod.host_pid, signal.SIGUSR2)
        result = await asyncio.wait_for(task, 60)
        assert [(f.state, f.record.kind if f.record else None) for f in result.files] == [("imported", "heapsnapshot")]


def test_pull_wait_gets_the_near_heap_limit_snapshot_of_a_process_that_ran_out_of_memory(add_pod, kube_args,  # type: ignore[no-untyped-def]
                                                                                          tmp_path):
    # The truth: a 32 MB heap leaking 16 MiB/s; Node writes one snapshot near the limit, then dies of it
    # (the container's shell lives on, as an emptyDir volume outlives the container).
    app, diag = _dirs(tmp_path)
    add_pod("oom-2", workdir=str(app), command=(
        f"echo ready; {NODE} --max-old-space-size=32 --heapsnapshot-near-heap-limit=1 --diagnostic-dir={diag} "
        f"{APPS / 'leak_heap.js'} {16 << 20} 50 >/dev/null 2>&1; exec sleep 600"))
    store = tmp_path / "store"
    r = _pull(kube_args, store, "oom-2", "--wait", "--timeout", "90s", "--json", timeout=150)
    assert r.returncode == 0, r.stderr
    (f,) = json.loads(r.stdout)["files"]
    assert f["state"] == "imported" and f["kind"] == "heapsnapshot", f
    assert "waiting for one" in r.stderr
    with Store.open(store) as st:
        (rec,) = st.list()
        assert rec.meta["pid"] > 1 and rec.size == f["size"]
