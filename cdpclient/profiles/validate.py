"""``check_capture``: read a capture file the way the analysis will, so ``import`` refuses what ``top`` could not read.

The store checks every file's JSON structure while it streams it (``cdpclient.store.kinds``); it
sits below the readers and cannot ask them.  This check, handed to
:meth:`cdpclient.store.Store.import_files` as ``check=``, runs each kind's own reader: the heap
parser's checks (array shapes, index ranges, alignment; a chunk at a time, in constant memory), and the CPU profile,
sampling heap profile and allocation timeline readers.  Reports and watch recordings have no
further check.
"""

from __future__ import annotations

from pathlib import Path

from cdpclient.errors import AnalysisError


def check_capture(path: Path, kind: str) -> None:
    """Raise :class:`~cdpclient.errors.InvalidCaptureFile` when ``path`` (a plain file of ``kind``) is
    not what its kind's reader can analyse; the message says why, in one line."""
    path = Path(path)
    if kind in ("heapsnapshot", "heaptimeline"):
        from cdpclient.heap.parse import check_file

        check_file(path)
    if kind == "heaptimeline":
        from cdpclient.profiles.timeline import load_timeline

        try:
            load_timeline(path)
        except AnalysisError:  # a heap snapshot without traces: the store already named its kind
            pass
    elif kind == "cpuprofile":
        from cdpclient.profiles.cpuprofile import load_cpu_profile

        load_cpu_profile(path)
    elif kind == "heapprofile":
        from cdpclient.profiles.heapprofile import load_heap_profile

        load_heap_profile(path)
