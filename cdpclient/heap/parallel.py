"""``together``: run a few calls at once on the machine's cores, for the analysis's independent parts.

The heap kernels release the GIL (numba ``nogil=True``), so plain threads run them in parallel: the
two snapshots of a diff, the nodes and the edges of one file, the distances beside the dominators.
The first call runs in the calling thread and the others in daemon threads, so Ctrl-C reaches the
caller at once and a process that stops early is not held up by a worker still computing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any


def cores() -> int:
    """The cores this process may run on (``CDPCLIENT_THREADS`` overrides; 1 turns the threads off)."""
    wanted = os.environ.get("CDPCLIENT_THREADS", "")
    if wanted.isdigit() and int(wanted) >= 1:
        return int(wanted)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def one_at_a_time(callback: Callable[[str], None] | None) -> Callable[[str], None]:
    """``callback`` (a progress report) made safe to call from the threads of :func:`together` and
    :func:`start`: one call at a time, so a caller's check-then-record (print only the first stage)
    sees each call whole."""
    if callback is None:
        return lambda _msg: None
    lock = threading.Lock()

    def call(message: str) -> None:
        with lock:
            callback(message)

    return call


def together(*calls: Callable[[], Any]) -> list[Any]:
    """The results of ``calls``, run at once when there is more than one core, else one after the other.

    The first exception (in the order of ``calls``) is raised once all have ended.
    """
    if len(calls) <= 1 or cores() == 1:
        return [call() for call in calls]
    started = [Started(call, threaded=True) for call in calls[1:]]
    first = Started(calls[0], threaded=False)
    for job in started:
        job.wait()
    return [job.result() for job in (first, *started)]


class Started:
    """A call running in a daemon thread (:func:`start`); :meth:`result` waits for it and returns or raises."""

    def __init__(self, call: Callable[[], Any], threaded: bool) -> None:
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, args=(call,), name="cdpclient-heap", daemon=True)
            self._thread.start()
        else:
            self._run(call)

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self._result = call()
        except BaseException as exc:  # handed to whoever asks for the result
            self._error = exc

    def wait(self) -> None:
        """Wait for the call to end (in slices: a KeyboardInterrupt is not held until it does)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.2)

    def failed(self) -> BaseException | None:
        self.wait()
        return self._error

    def result(self) -> Any:
        self.wait()
        if self._error is not None:
            raise self._error
        return self._result


def start(call: Callable[[], Any]) -> Started:
    """``call`` started in a daemon thread when there is a core to spare, else run here and now."""
    return Started(call, threaded=cores() > 1)
