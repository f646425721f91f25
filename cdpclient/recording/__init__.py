"""Recording inspector sessions and replaying them.

* :func:`recording_to` / :class:`Recorder` (``writer``): the conversation with a target
  (discovery HTTP, every websocket message both ways, timestamps) written as it goes.
* :func:`read_recording` / :func:`iter_records` (``reader``): the records back, a file
  cut short read up to its last complete record.
* :class:`Script` (``script``): what a replay answers to each client message, without I/O.
* :class:`ReplayServer` (``replay``): an inspector on loopback that plays a recording.
* :func:`summarize` (``summary``): what ``cdpclient show`` says about one.

The format is described in :mod:`cdpclient.recording.format` and docs/recordings.md.
"""

from __future__ import annotations

from typing import Any

from cdpclient.recording.active import active, recording_to, use

__all__ = ["active", "recording_to", "use", "Recorder", "Recording", "read_recording", "iter_records",
           "is_recording", "Script", "ReplayServer", "summarize", "summarize_file", "pod_path"]

_LAZY = {"Recorder": "writer", "Recording": "reader", "read_recording": "reader", "iter_records": "reader",
         "is_recording": "reader", "Script": "script", "ReplayServer": "replay", "summarize": "summary",
         "summarize_file": "summary", "pod_path": "writer"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
