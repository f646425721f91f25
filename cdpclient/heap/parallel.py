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


def together(*calls: Callable[[], Any]) -> list[Any]:
    """The results of ``calls``, run at once when there is more than one core, else one after the other.

    The first exception (in the order of ``calls``) is raised once all have ended.
    """
    if len(calls) <= 1 or cores() == 1:
        return [call() for call in calls]
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # handed to the caller below
            errors[i] = exc

    threads = [threading.Thread(target=run, args=(i,), name=f"cdpclient-heap-{i}", daemon=True)
               for i in range(1, len(calls))]
    for thread in threads:
        thread.start()
    run(0)
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # in slices: a KeyboardInterrupt is not held until the join returns
    for exc in errors:
        if exc is not None:
            raise exc
    return results
