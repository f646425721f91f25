"""What a failed kubectl call printed, condensed to one KubeError line that keeps kubectl's own words.

kubectl's stderr on a broken cluster is mostly client-go's log: the same
``E1204 19:13:18.648907   14178 memcache.go:265] "Unhandled Error" err="couldn't get
current server API group list: ..."`` five times over, sometimes as multi-line
``err=<`` ... ``>`` blocks, then kubectl's own closing message.  :func:`condense`
separates the two; :func:`explain` turns the closing message into what went
wrong, what cdpclient was doing, and what to do next.  The whole stderr stays on
the error (``KubeError.stderr``, and a note that ``--debug`` tracebacks show).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cdpclient.errors import KubeError, NoShellInContainer

# klog's header: severity, MMDD, time, thread id, file:line]  (e.g. "E1204 19:13:18.648907   14178 memcache.go:265] ")
_KLOG = re.compile(r"^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ ([\w./-]+):\d+\] ?(.*)$")
# client-go's discovery retries: the noise that repeats before every failure to reach the server.
_DISCOVERY_NOISE = "couldn't get current server API group list"
# kubectl's own words are quoted up to this length; the whole line stays under 300 characters.
_PHRASE_MAX = 150

# What to do after RBAC refuses a verb, per verb.
_RBAC_HINT = {
    "exec": "ask for a Role that grants 'create' on pods/exec in this namespace",
    "port-forward": "ask for a Role that grants 'create' on pods/portforward in this namespace",
    "get": "ask for a Role that grants 'get' and 'list' on pods in this namespace",
}
_UNREACHABLE = ("unable to connect to the server", "the connection to the server", "dial tcp", "i/o timeout",
                "no such host", "connection refused", "no route to host", "network is unreachable",
                "context deadline exceeded", "client.timeout exceeded", "tls handshake timeout", "connection reset")
_CREDENTIALS = ("unauthorized", "must be logged in", "provide credentials", "token is expired", "token expired",
                "expired token", "invalid bearer token", "refresh token", "getting credentials")
_NO_CONFIG = ("no configuration has been provided", "current-context is not set")


@dataclass(frozen=True)
class KubectlSaid:
    """kubectl's stderr taken apart: its closing message, and everything else once each."""

    final: str
    """kubectl's own closing message (the lines after the last log entry), on one line."""
    others: tuple[str, ...]
    """Distinct lines and log messages before it that are not client-go's discovery retries, in order
    (a credential plugin's own words land here)."""
    stderr: str
    """The whole stderr, as kubectl printed it."""


def condense(stderr: str) -> KubectlSaid:
    """Split kubectl's stderr into its closing message and the distinct other things it said."""
    entries: list[tuple[bool, str]] = []  # (is a log entry, text), in order
    block: list[str] | None = None        # the lines of an open  err=< ... >  log entry
    for raw in stderr.splitlines():
        line = raw.strip()
        if block is not None:
            if line == ">":
                entries.append((True, " ".join(block)))
                block = None
            elif line:
                block.append(line)
            continue
        if m := _KLOG.match(line):
            text = m.group(2)
            if text.endswith("=<"):
                block = [text[:-1]]
            else:
                entries.append((True, text))
        elif line:
            entries.append((False, line))
    if block is not None:
        entries.append((True, " ".join(block)))
    last_log = max((i for i, (is_log, _) in enumerate(entries) if is_log), default=-1)
    final = " ".join(text for _, text in entries[last_log + 1:])
    if not final and last_log >= 0:  # kubectl died before its own message: its last log entry says most
        final = _unquote(entries[last_log][1])
    others: list[str] = []
    for _, text in entries[:last_log + 1]:
        if _DISCOVERY_NOISE not in text and text not in others:
            others.append(text)
    return KubectlSaid(final=final, others=tuple(others), stderr=stderr)


def _unquote(log_message: str) -> str:
    """A klog structured message's err="..." value, unescaped; the message itself when it has none."""
    if m := re.search(r'err="((?:[^"\\]|\\.)*)"', log_message):
        return m.group(1).replace('\\"', '"')
    if m := re.search(r"err=(.*)$", log_message):
        return m.group(1)
    return log_message


def _clip(text: str, limit: int = _PHRASE_MAX) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def doing(verb: str, pod: str | None, namespace: str | None, container: str | None = None,
          context: str | None = None) -> str:
    """The kubectl command cdpclient was running, as a user would type it (``kubectl get pod api-1 -n prod``)."""
    what = {"get": "pods" if pod and pod.startswith("-l ") else "pod"}.get(verb, "")
    words = ["kubectl", verb] + ([what] if what else []) + ([pod] if pod else [])
    if namespace:
        words += ["-n", namespace]
    if container:
        words += ["-c", container]
    if context:
        words += ["--context", context]
    return " ".join(words)


def explain(stderr: str, *, verb: str, pod: str | None = None, namespace: str | None = None,
            container: str | None = None, context: str | None = None,
            context_error: str | None = None) -> KubeError:
    """The one-line KubeError for a failed kubectl call, from what kubectl printed.

    ``context_error``: what ``kubectl config current-context`` printed when it failed
    (kubectl then falls back to localhost:8080, and says only that this was refused).
    The error's ``stderr`` holds the whole stderr; a note on it does too, for tracebacks.
    """
    said = condense(stderr)
    err = _classify(said, verb=verb, pod=pod, namespace=namespace, container=container,
                    cmd=doing(verb, pod, namespace, container, context), context_error=context_error)
    err.stderr = stderr
    if stderr.strip():
        err.add_note("kubectl's stderr:\n" + stderr.rstrip())
    return err


def _classify(said: KubectlSaid, *, verb: str, pod: str | None, namespace: str | None, container: str | None,
              cmd: str, context_error: str | None) -> KubeError:
    text = said.final
    low = text.lower()
    where = f" in namespace {namespace}" if namespace else ""
    if m := re.search(r'context was not found for specified context: (\S+)'
                      r'|no context exists with the name: "?([^"\s]+)|context "([^"]+)" does not exist', text):
        name = next(g for g in m.groups() if g)
        return KubeError(f"no context {name!r} in the kubeconfig: {_clip(text)}",
                         hint="list them with: kubectl config get-contexts", pod=pod)
    fell_back = "localhost:8080" in text  # kubectl's default server when the kubeconfig names none
    no_config = next((p for p in _NO_CONFIG if p in low), None) or (
        _clip(re.sub(r"^error: ", "", context_error)) if context_error and fell_back else None)
    if no_config:
        tried = ", so it tried localhost:8080" if fell_back else ""
        return KubeError(
            f"{cmd}: kubectl has no cluster to talk to: {no_config}{tried}",
            hint="pick a context: kubectl config get-contexts, then kubectl config use-context NAME; "
                 "or pass {context} / {kubeconfig}", pod=pod, options=("context", "kubeconfig"))
    if m := re.search(r'namespaces "([^"]+)" not found', text):
        return KubeError(f"no namespace {m.group(1)!r}", hint="list them with: kubectl get namespaces", pod=pod)
    if m := re.search(r'pods "([^"]+)" not found', text):
        return KubeError(f"no pod {m.group(1)!r}{where}",
                         hint=f"list them with: kubectl get pods{' -n ' + namespace if namespace else ''}", pod=pod)
    if m := re.search(r"getting credentials: exec: executable (\S+) (not found|failed with exit code \d+)", text):
        plugin, outcome = m.groups()
        if outcome == "not found":
            # kubectl closes with the kubeconfig's own installHint, after its documentation link.
            install = re.search(r"client-go-credential-plugins\s+(\S.*)$", text)
            return KubeError(f"{cmd}: the kubeconfig's credential plugin is not installed: "
                             f"exec: executable {plugin} not found",
                             hint=_clip(install.group(1), 100) if install else
                             f"install {plugin}, or use a context that does not need it", pod=pod)
        words = _plugin_words(said)
        return KubeError(f"{cmd}: kubectl's credential plugin {plugin} {outcome}" + (f": {words}" if words else ""),
                         hint="log in again with the plugin's tool, e.g. gcloud auth login, aws sso login or "
                              "az login, then retry", pod=pod)
    if "getting credentials" in low or (any(p in low for p in _CREDENTIALS) and "forbidden" not in low):
        phrase = re.sub(r"^(error: )?(unable to connect to the server: )?", "", text, flags=re.I)
        return KubeError(f"{cmd}: the API server refused kubectl's credentials: {_clip(phrase)}",
                         hint="log in again or refresh this context's token, then retry", pod=pod)
    if "forbidden" in low:
        detail = re.sub(r"^(error: )?(error upgrading connection: )?(Error from server \(Forbidden\): )?", "", text)
        return KubeError(f"RBAC forbids {verb} on pod {pod}{where}: {_clip(detail)}",
                         hint=_RBAC_HINT.get(verb, "ask your cluster admin for access"), pod=pod)
    if "executable file not found" in text or "no such file or directory" in text and "exec" in text:
        target = f" --target={container}" if container else ""
        return NoShellInContainer(
            f"container {container or ''} of pod {pod} has no shell or kill (distroless image?)",
            hint=f"attach an ephemeral debug container: kubectl debug -it {pod}{target} --image=busybox "
                 f"-- kill -USR1 <pid>, then run again", pod=pod)
    if "not permitted" in text:
        return KubeError(f"not allowed to signal the process in pod {pod}: {_clip(text)}",
                         hint="it runs as another user than kubectl exec; pass {container}, or use "
                              "kubectl debug with --target", pod=pod, options=("container",))
    phrase = re.sub(r"^(error: )?unable to connect to the server: |"
                    r" - did you specify the right host or port\?$", "", text, flags=re.I)
    if ("tls:" in low or "x509:" in low or "certificate" in low or "http response to https client" in low) \
            and "handshake timeout" not in low:
        return KubeError(f"{cmd}: kubectl could not open a trusted TLS connection to the API server: {_clip(phrase)}",
                         hint="check the context's server address and certificate-authority: "
                              "kubectl config view --minify", pod=pod)
    if any(p in low for p in _UNREACHABLE):
        return KubeError(f"{cmd}: cannot reach the Kubernetes API server: {_clip(phrase)}",
                         hint="check the context's server and your VPN or tunnel: kubectl config view --minify",
                         pod=pod)
    return KubeError(f"kubectl {verb} failed for pod {pod}{where}: {_clip(text) or 'no error message'}", pod=pod)


def no_answer(args: Sequence[str], namespace: str | None, timeout: float, stderr: str) -> KubeError:
    """The KubeError for a kubectl call that did not finish within ``timeout`` s, with what it said meanwhile
    (client-go logs each failed attempt: ``net/http: TLS handshake timeout``, ``i/o timeout``)."""
    shown = list(args[:args.index("--")] if "--" in args else args)
    if "-o" in shown[:-1]:  # the output format is ours, not the user's concern
        i = shown.index("-o")
        del shown[i:i + 2]
    cmd = " ".join(["kubectl", *shown] + (["-n", namespace] if namespace else []))
    said = condense(stderr).final
    last = f"; it last said: {_clip(said.replace(_DISCOVERY_NOISE + ': ', ''))}" if said else ""
    err = KubeError(f"{cmd} did not finish within {timeout:.0f} s{last}",
                    hint="check the context's server and your VPN or tunnel: kubectl config view --minify",
                    stderr=stderr)
    if stderr.strip():
        err.add_note("kubectl's stderr:\n" + stderr.rstrip())
    return err


def _plugin_words(said: KubectlSaid) -> str:
    """A failed credential plugin's own words (its first line on stderr), at most ~100 characters."""
    for text in said.others:
        words = _unquote(text)
        if "ERROR:" in words:  # gcloud's "... (err: ERROR: (gcloud.x) You do not ...": the ERROR is the point
            words = re.sub(r"^ERROR: (\([^)]*\) )?", "", words[words.rindex("ERROR:"):])
        return _clip(words, 100)
    return ""
