"""Which recorder, if any, sees this task's inspector traffic.

The seam is a context variable: :func:`cdpclient.discovery` requests and each
:class:`cdpclient.Connection` (when it opens) look it up once; when it is None (the
default) nothing else happens.  A context variable reaches every task the command
starts (asyncio copies it into each), and a fleet run sets one per pod task.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the writer (msgpack, zstandard) is imported only when a recording starts
    from cdpclient.recording.writer import Recorder

__all__ = ["active", "recording_to", "use"]

_current: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("cdpclient_recorder", default=None)


def active() -> Recorder | None:
    """The recorder for this context, or None."""
    return _current.get()


@contextlib.contextmanager
def use(recorder: Recorder | None) -> Iterator[Recorder | None]:
    """Make ``recorder`` the active one inside the block (None: none)."""
    token = _current.set(recorder)
    try:
        yield recorder
    finally:
        _current.reset(token)


@contextlib.contextmanager
def recording_to(path: str | os.PathLike[str], *, description: dict[str, Any] | None = None,
                 keep_chunks: bool = True, overwrite: bool = False) -> Iterator[Recorder]:
    """Record the inspector traffic of the block into ``path`` (a new 0600 file unless ``overwrite``)."""
    from cdpclient.recording.writer import Recorder

    recorder = Recorder(path, description=description, keep_chunks=keep_chunks, overwrite=overwrite)
    try:
        with use(recorder):
            yield recorder
    finally:
        recorder.close()
