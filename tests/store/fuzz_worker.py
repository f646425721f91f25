"""Runs cdpclient commands on hostile files, in-process, one after another, and says how each ended.

``python fuzz_worker.py CASES.json``: each case is ``{"name": ..., "args": [...]}``.  The worker
caps its own address space (``RLIMIT_AS``: a blow-up is a MemoryError, not a swapping machine),
bounds each command with an alarm (a hang ends the case, not the run) and prints one JSON line
per case: the exit code, the last stderr line, the seconds it took, whether it was an internal
error or a traceback.  Before a case starts it prints ``START name`` so a wedged kernel (an
alarm cannot interrupt a numba loop) is named by the parent's timeout.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
import time
import traceback
from pathlib import Path

HANG_S = 15
HEADROOM = 2 << 30  # address space a case may add to what the warmed-up worker holds


class Hang(BaseException):
    """The case ran past HANG_S (a BaseException: the CLI's own error net must not catch it)."""


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    from typer.testing import CliRunner

    import cdpclient.heap._kernels  # noqa: F401  (numba's JIT and LLVM loaded before the cap)
    from cdpclient_cli.app import app

    cases = json.loads(Path(sys.argv[1]).read_text())
    cap = _vm_size() + HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    def on_alarm(_sig: int, _frame: object) -> None:
        raise Hang()

    signal.signal(signal.SIGALRM, on_alarm)
    runner = CliRunner()
    for case in cases:
        print(f"START {case['name']}", flush=True)
        t0 = time.monotonic()
        signal.alarm(HANG_S)
        hang = False
        try:
            result = runner.invoke(app, case["args"], catch_exceptions=True)
            code, err = result.exit_code, result.stderr
            exc = result.exception
            trace = "" if exc is None or isinstance(exc, SystemExit) else "".join(
                traceback.format_exception(exc))
        except Hang:
            hang, code, err, trace = True, -1, "", ""
        finally:
            signal.alarm(0)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        print(json.dumps({"name": case["name"], "code": code, "last": lines[-1] if lines else "",
                          "stderr_lines": len([ln for ln in lines if "error" in ln]),
                          "internal": "internal error" in err, "traceback": bool(trace) or "Traceback" in err,
                          "trace": trace[-1500:], "hang": hang, "seconds": round(time.monotonic() - t0, 2)}),
              flush=True)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"maxrss": usage.ru_maxrss * 1024}), flush=True)


if __name__ == "__main__":
    main()
