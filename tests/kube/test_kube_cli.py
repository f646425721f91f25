"""The CLI as a user types it: ``--pod`` on a target command, one-line errors with exit code 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent


def cdpclient(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cdpclient_cli.app", *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)


def test_info_on_a_pod(add_pod, kube_args):
    pod = add_pod("api-cli")
    res = cdpclient("info", "--json", "--pod", "api-cli", "-n", "prod", "--kubeconfig", kube_args["kubeconfig"],
                    "--kubectl", kube_args["kubectl"])
    assert res.returncode == 0, res.stderr
    assert '"pid": 1' in res.stdout
    assert "sending SIGUSR1 to open it on port 9229" in res.stderr
    assert "closed the inspector of pid 1 in pod api-cli" in res.stderr
    assert not pod.listening(9229)


def test_errors_are_one_line(add_pod, kube_args):
    add_pod("api-cli-noexec", forbidden={"exec"})
    common = ("--kubeconfig", kube_args["kubeconfig"], "--kubectl", kube_args["kubectl"])
    for pod, expected in [("missing", "cdpclient: error: no pod 'missing' in namespace prod"),
                          ("api-cli-noexec", "cdpclient: error: RBAC forbids exec on pod api-cli-noexec")]:
        res = cdpclient("info", "--pod", pod, *common)
        assert res.returncode == 1
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected), res.stderr
    res = cdpclient("info", "--pod", "x", "--kubectl", "/nonexistent/kubectl")
    assert res.returncode == 1 and res.stderr.strip() == (
        "cdpclient: error: kubectl not found: '/nonexistent/kubectl' "
        "(install kubectl, or pass --kubectl PATH to the one you use)")


def test_snapshot_from_a_pod_records_the_pod(add_pod, kube_args, tmp_path):
    import json

    pod = add_pod("api-snap")
    store = tmp_path / "recordings"
    res = cdpclient("snapshot", "--json", "--pod", "api-snap", "--store", str(store), "--kubeconfig",
                    kube_args["kubeconfig"], "--kubectl", kube_args["kubectl"])
    assert res.returncode == 0, res.stderr
    row = json.loads(res.stdout)
    assert row["id"] and row["size"] > 100_000
    target = row["target"]
    assert {k: target[k] for k in ("context", "namespace", "pod", "container", "node", "image", "pod_uid")} == {
        "context": "fake-ctx", "namespace": "prod", "pod": "api-snap", "container": "app", "node": "worker-1",
        "image": pod.image, "pod_uid": pod.uid}
    shown = cdpclient("show", row["id"], "--json", "--store", str(store))
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["target"]["pod_uid"] == pod.uid
    assert not pod.listening(9229)


def test_snapshot_fleet_from_the_command_line(add_pod, kube_args, tmp_path):
    """`cdpclient snapshot -l app=web`: one store entry per pod, a summary, exit 1 when one pod fails."""
    import json

    pods = [add_pod(name, labels={"app": "web"}, forbidden={"exec"} if name == "web-2" else set())
            for name in ("web-1", "web-2", "web-3")]
    store = tmp_path / "recordings"
    common = ("--store", str(store), "--kubeconfig", kube_args["kubeconfig"], "--kubectl", kube_args["kubectl"])
    res = cdpclient("snapshot", "-l", "app=web", "--parallel", "3", *common)
    assert res.returncode == 1, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["POD", "STATUS", "ID", "SIZE", "DURATION"]
    assert [line.split()[:2] for line in lines[2:]] == [["web-1", "ok"], ["web-2", "failed:"], ["web-3", "ok"]]
    assert "[web-2] failed: RBAC forbids exec on pod web-2" in res.stderr
    assert "1 of 3 pods failed" in res.stderr
    listed = json.loads(cdpclient("ls", "--json", "--store", str(store)).stdout)
    assert sorted(r["target"]["pod"] for r in listed) == ["web-1", "web-3"]
    assert not any(p.listening(9229) for p in pods)
    res = cdpclient("snapshot", "-l", "app=web", "--out", str(tmp_path / "x.heapsnapshot"), *common)
    assert res.returncode == 2 and "--out names one file" in res.stderr
