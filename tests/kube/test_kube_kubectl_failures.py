"""``--pod`` when kubectl cannot do its part: one line that keeps kubectl's own words, names the
command, says what to do; the whole stderr only with ``--debug``.

The real kubectl against broken kubeconfigs, closed ports and the API server double
(skipped without kubectl), and the recorded kubectl double (``recorded_kubectl.py``)
for what cannot be produced here on demand.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdpclient.errors import KubeError
from cdpclient.kube.failures import condense
from cdpclient.kube.kubectl import Kubectl

ROOT = Path(__file__).parent.parent.parent
HERE = Path(__file__).parent
KUBECTL = os.environ.get("CDPCLIENT_TEST_KUBECTL", "kubectl")
needs_kubectl = pytest.mark.skipif(not shutil.which(KUBECTL), reason=f"kubectl not found ({KUBECTL})")


def cdpclient(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECACHEDIR": str(tmp_path / "kubecache")}  # kubectl's cache stays out of $HOME
    env.pop("KUBECONFIG", None)
    return subprocess.run([sys.executable, "-m", "cdpclient_cli.app", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=env)


def one_line(res: subprocess.CompletedProcess[str], *words: str) -> str:
    """The checks every failure passes: exit 1, one line on stderr, kubectl's words in it, short."""
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    line = lines[0]
    print(f"{len(line):3d} {line}")  # what the user sees (pytest -s shows every case)
    assert line.startswith("cdpclient: error: "), line
    assert "memcache.go" not in line and "E1204" not in line, line
    for word in words:
        assert word in line, (word, line)
    assert len(line) < 300, (len(line), line)
    return line


def kubeconfig(tmp_path: Path, server: str, user: dict | None = None, *, current: bool = True) -> str:
    import json

    config = {"apiVersion": "v1", "kind": "Config",
              "clusters": [{"name": "c", "cluster": {"server": server}}],
              "users": [{"name": "u", "user": user if user is not None else {"token": "t"}}],
              "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "prod"}}]}
    if current:
        config["current-context"] = "ctx"
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return str(path)


def pod_info(tmp_path: Path, config: str, *extra: str, kubectl: str = KUBECTL) -> subprocess.CompletedProcess[str]:
    return cdpclient(tmp_path, "info", "--pod", "api-1", "-n", "prod", "--kubeconfig", config,
                     "--kubectl", kubectl, *extra)


def recorded(tmp_path: Path, case: str) -> str:
    """A kubectl that replays ``kubectl_stderr/CASE.txt``."""
    script = tmp_path / f"kubectl-{case}"
    script.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'recorded_kubectl.py'))}"
                      f" {shlex.quote(case)} \"$@\"\n")
    script.chmod(0o700)
    return str(script)


# --- no context ----------------------------------------------------------------------------------


@needs_kubectl
def test_empty_kubeconfig_says_current_context_is_not_set(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    one_line(pod_info(tmp_path, str(empty)), "kubectl get pod api-1 -n prod", "current-context is not set",
                    "kubectl config use-context NAME", "--context")


@needs_kubectl
def test_contexts_but_none_current(tmp_path):
    config = kubeconfig(tmp_path, "https://127.0.0.1:1", current=False)
    one_line(pod_info(tmp_path, config), "current-context is not set", "localhost:8080")


@needs_kubectl
def test_selector_without_context_names_the_list(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    res = cdpclient(tmp_path, "snapshot", "-l", "app=api", "--kubeconfig", str(empty), "--kubectl", KUBECTL,
                    "--store", str(tmp_path / "store"))
    one_line(res, "kubectl get pods -l app=api", "current-context is not set")


def test_recorded_no_context(tmp_path):
    one_line(pod_info(tmp_path, "/dev/null", kubectl=recorded(tmp_path, "no-context")),
             "kubectl get pod api-1 -n prod", "current-context is not set", "kubectl config use-context")


@needs_kubectl
def test_unknown_context(tmp_path):
    config = kubeconfig(tmp_path, "https://127.0.0.1:1")
    one_line(pod_info(tmp_path, config, "--context", "prod-eu"), "no context 'prod-eu'", "kubectl config get-contexts")


# --- unreachable server ----------------------------------------------------------------------------


@needs_kubectl
def test_connection_refused(tmp_path):
    line = one_line(pod_info(tmp_path, kubeconfig(tmp_path, "https://127.0.0.1:1")),
                    "kubectl get pod api-1 -n prod", "cannot reach the Kubernetes API server",
                    "The connection to the server 127.0.0.1:1 was refused", "kubectl config view --minify")
    assert "did you specify" not in line


@needs_kubectl
def test_no_such_host(tmp_path):
    # "no such host" where DNS answers; where there is no resolver at all, the lookup's own failure.
    one_line(pod_info(tmp_path, kubeconfig(tmp_path, "https://k8s.cdpclient-test.invalid:6443")),
             "cannot reach the Kubernetes API server", "lookup k8s.cdpclient-test.invalid")


def test_recorded_io_timeout(tmp_path):
    one_line(pod_info(tmp_path, "/dev/null", kubectl=recorded(tmp_path, "io-timeout")),
             "cannot reach the Kubernetes API server", "dial tcp 10.20.0.1:443: i/o timeout")


def test_recorded_tls_handshake_timeout(tmp_path):
    one_line(pod_info(tmp_path, "/dev/null", kubectl=recorded(tmp_path, "tls-handshake-timeout")),
             "cannot reach the Kubernetes API server", "net/http: TLS handshake timeout")


async def test_kubectl_still_retrying_at_our_timeout_says_what_it_last_said(tmp_path):
    kc = Kubectl(recorded(tmp_path, "tls-handshake-timeout+hang"), namespace="prod")
    with pytest.raises(KubeError) as info:
        await kc.run("get", "pod", "api-1", "-o", "json", timeout=3)
    text = str(info.value)
    assert text.startswith("kubectl get pod api-1 -n prod did not finish within 3 s; it last said: "), text
    assert "net/http: TLS handshake timeout" in text and "memcache" not in text
    assert "TLS handshake timeout" in (info.value.stderr or "")


@needs_kubectl
def test_server_that_does_not_speak_tls(tmp_path, api_server):
    https = api_server.server.replace("http://", "https://")
    line = one_line(pod_info(tmp_path, kubeconfig(tmp_path, https)), "kubectl could not open a trusted TLS connection",
                    "certificate-authority")
    # Go says one or the other, depending on what the plain-HTTP server sends back first.
    assert ("http: server gave HTTP response to HTTPS client" in line
            or "tls: first record does not look like a TLS handshake" in line), line


# --- credentials ---------------------------------------------------------------------------------------


@needs_kubectl
def test_token_refused(tmp_path, api_server):
    api_server.refusal = (401, "Unauthorized", "Unauthorized")
    api_server.refuse_discovery = True
    one_line(pod_info(tmp_path, kubeconfig(tmp_path, api_server.server)),
             "kubectl get pod api-1 -n prod", "the API server refused kubectl's credentials",
             "You must be logged in to the server", "log in again")


@needs_kubectl
def test_token_expired_after_discovery(tmp_path, api_server):
    # Discovery still answers (cached, or allowed); the pod itself is refused: kubectl's classic
    # "error: You must be logged in to the server (Unauthorized)".
    api_server.refusal = (401, "Unauthorized", "Unauthorized")
    one_line(pod_info(tmp_path, kubeconfig(tmp_path, api_server.server)),
             "You must be logged in to the server (Unauthorized)", "log in again")


@needs_kubectl
def test_credential_plugin_not_installed(tmp_path):
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kubelogin-cdpclient-test",
                     "interactiveMode": "Never", "installHint": "install kubelogin: https://azure.github.io/kubelogin"}}
    one_line(pod_info(tmp_path, kubeconfig(tmp_path, "https://127.0.0.1:1", user)),
             "credential plugin is not installed", "exec: executable kubelogin-cdpclient-test not found",
             "install kubelogin: https://azure.github.io/kubelogin")


@needs_kubectl
def test_credential_plugin_fails(tmp_path):
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "sh",
                     "args": ["-c", "echo 'error: the SSO session has expired, run aws sso login' >&2; exit 1"],
                     "interactiveMode": "Never"}}
    one_line(pod_info(tmp_path, kubeconfig(tmp_path, "https://127.0.0.1:1", user)),
             "kubectl's credential plugin sh failed with exit code 1",
             "the SSO session has expired, run aws sso login", "log in again")


def test_recorded_gke_plugin_without_account(tmp_path):
    one_line(pod_info(tmp_path, "/dev/null", kubectl=recorded(tmp_path, "gke-auth-plugin")),
             "credential plugin gke-gcloud-auth-plugin failed with exit code 1",
             "You do not currently have an active account selected")


# --- RBAC, not found, no kubectl ----------------------------------------------------------------------------


@needs_kubectl
def test_rbac_forbids_get(tmp_path, api_server):
    api_server.refusal = (403, "Forbidden", 'pods "api-1" is forbidden: User "alice@example.com" cannot get '
                                            'resource "pods" in API group "" in the namespace "prod"')
    one_line(pod_info(tmp_path, kubeconfig(tmp_path, api_server.server)),
             "RBAC forbids get on pod api-1 in namespace prod", 'cannot get resource "pods"', "'get' and 'list'")


@needs_kubectl
def test_pod_not_found(tmp_path, api_server):
    one_line(pod_info(tmp_path, kubeconfig(tmp_path, api_server.server)),
             "no pod 'api-1' in namespace prod", "kubectl get pods -n prod")


def test_kubectl_not_installed(tmp_path):
    one_line(pod_info(tmp_path, "/dev/null", kubectl=str(tmp_path / "no-kubectl")),
             "kubectl not found", "--kubectl PATH")


# --- the whole stderr, on request -----------------------------------------------------------------------------


def test_debug_shows_what_kubectl_printed(tmp_path):
    res = cdpclient(tmp_path, "--debug", "info", "--pod", "api-1", "-n", "prod", "--kubectl",
                    recorded(tmp_path, "no-context"))
    assert res.returncode == 1
    assert "current-context is not set" in res.stderr
    assert res.stderr.count('memcache.go:265] "Unhandled Error"') == 5  # kubectl's stderr, as it printed it
    assert "The connection to the server localhost:8080 was refused" in res.stderr


def test_condense_drops_log_noise_and_multiline_blocks():
    said = condense((HERE / "kubectl_stderr" / "no-context.txt").read_text())
    assert said.final == ("The connection to the server localhost:8080 was refused - "
                          "did you specify the right host or port?")
    assert said.others == ()
    block = ('E1204 19:15:07.548206   16672 memcache.go:265] "Unhandled Error" err=<\n'
             '\tcouldn\'t get current server API group list: Get "https://127.0.0.1:1/api": getting credentials\n'
             '\t\n\tinstall kubelogin\n >\n')
    said = condense(block * 3 + "Unable to connect to the server: getting credentials\n\ninstall kubelogin\n")
    assert said.final == "Unable to connect to the server: getting credentials install kubelogin"
    assert said.others == ()


def test_older_kubectl_without_configuration():
    # kubectl before 1.2x said this for an empty kubeconfig instead of trying localhost:8080.
    from cdpclient.kube.failures import explain

    err = explain("error: no configuration has been provided, try setting KUBERNETES_MASTER environment variable\n",
                  verb="get", pod="api-1", namespace="prod")
    assert str(err).startswith("kubectl get pod api-1 -n prod: kubectl has no cluster to talk to: "
                               "no configuration has been provided (pick a context")
    assert "localhost:8080" not in str(err)
