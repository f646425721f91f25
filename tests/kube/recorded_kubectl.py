"""A kubectl double that replays what the real kubectl printed on a broken cluster.

For failures this machine cannot produce on demand (a firewall that drops packets, a
credential plugin of a cloud SDK), or to test without kubectl installed.  Run as
``python recorded_kubectl.py CASE kubectl-args...``: ``kubectl config current-context``
prints ``kubectl_stderr/CASE.current-context.txt`` and exits 1 when that file exists
(else prints ``recorded-ctx``), ``kubectl config view`` prints nothing, and every
other call prints ``kubectl_stderr/CASE.txt`` on stderr, byte for byte, and exits 1
as kubectl does.

The texts, from kubectl v1.32.4 (client-go's klog lines included):

- ``no-context``: an empty kubeconfig (``current-context is not set``), recorded;
- ``gke-auth-plugin``: gke-gcloud-auth-plugin with no gcloud account logged in, recorded;
- ``tls-handshake-timeout``: a server that accepts connections and never answers,
  recorded (the real run takes 55 s: 10 s per attempt);
- ``io-timeout``: a server behind a firewall that drops packets, written in the form of
  the recorded runs with client-go's error for a dial that times out
  (``dial tcp HOST:PORT: i/o timeout``), 30 s apart as the dial timeout spaces them
  (no such firewall here to record one).

``CASE+hang`` prints all but the closing line, then waits (a kubectl still retrying).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

TEXTS = Path(__file__).parent / "kubectl_stderr"


def main(case: str, args: list[str]) -> int:
    if "current-context" in args:
        reason = TEXTS / f"{case.partition('+')[0]}.current-context.txt"
        if reason.exists():
            sys.stderr.write(reason.read_text())
            return 1
        print("recorded-ctx")
        return 0
    if "config" in args and "view" in args:
        return 0
    name, _, hang = case.partition("+")
    text = (TEXTS / f"{name}.txt").read_text()
    if hang:
        sys.stderr.write("".join(text.splitlines(keepends=True)[:-1]))
        sys.stderr.flush()
        time.sleep(600)
    sys.stderr.write(text)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
