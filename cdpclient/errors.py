"""Every error cdpclient raises derives from :class:`CDPClientError`.

The tree::

    CDPClientError
    ├── ConnectError                 could not reach or open a session with a target
    │   ├── ConnectionRefused        nothing listens at the address (or it refused us)
    │   ├── NotAnInspector           something answered, but it is not a V8/Node inspector
    │   └── HandshakeRejected        the inspector refused the websocket session (after retries)
    ├── TargetError
    │   ├── TargetNotFound           no target matches the id asked for
    │   └── AmbiguousTarget          several targets match; ``candidates`` lists them
    ├── ProtocolError                the target answered a command with a CDP error reply
    ├── CDPTimeout                   a command or event wait exceeded its timeout
    ├── ConnectionLost               the session dropped (target died, socket closed)
    ├── UsageError                   a bad value from the caller (duration, label, endpoint syntax)
    ├── CaptureError                 a capture failed; nothing that looks complete was left behind
    │   └── SnapshotRefused          the memory guard refused a heap snapshot (``--force`` overrides)
    ├── StoreError                   the recordings store could not do what was asked
    │   ├── CaptureNotFound          no capture matches an id / prefix / path
    │   ├── AmbiguousCapture         an id prefix matches several captures
    │   └── InvalidCaptureFile       a file is not a valid capture (truncated, wrong kind, empty)
    ├── KubeError                    kubectl failed or the pod cannot be reached; ``hint`` says what to do
    └── AnalysisError                a capture cannot be analysed as asked

Errors carry structured fields and build their text in ``__str__`` so the CLI
can print exactly one line.  Transport errors (OSError, websockets, aiohttp)
are translated into these at one boundary each, chained with ``from exc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class CDPClientError(Exception):
    """Root of every cdpclient error."""

    def __init__(self, message: str = "", **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        for key, value in fields.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return self.message


# --- connecting --------------------------------------------------------------


class ConnectError(CDPClientError):
    """Could not reach the target or open a session with it."""

    def __init__(self, message: str, *, endpoint: str | None = None) -> None:
        super().__init__(message, endpoint=endpoint)


class ConnectionRefused(ConnectError):
    """Nothing listens at the address."""


class NotAnInspector(ConnectError):
    """Something answered at the address, but not a Node/V8 inspector."""


class HandshakeRejected(ConnectError):
    """The inspector kept refusing the websocket handshake."""


# --- targets -----------------------------------------------------------------


class TargetError(CDPClientError):
    """Target selection failed."""


class TargetNotFound(TargetError):
    """No target matches."""

    def __init__(self, message: str, *, target_id: str | None = None, endpoint: str | None = None) -> None:
        super().__init__(message, target_id=target_id, endpoint=endpoint)


class AmbiguousTarget(TargetError):
    """Several targets match; ``candidates`` holds their ids."""

    def __init__(self, message: str, *, candidates: Sequence[str] = (), endpoint: str | None = None) -> None:
        super().__init__(message, candidates=list(candidates), endpoint=endpoint)


# --- the session -------------------------------------------------------------


class ProtocolError(CDPClientError):
    """The target answered a command with an error reply."""

    def __init__(self, method: str, code: int | None, message: str, data: Any = None) -> None:
        super().__init__(message, method=method, code=code, data=data)

    def __str__(self) -> str:
        text = f"{self.method} failed: {self.message}"
        if self.code is not None:
            text += f" (code {self.code})"
        if self.data:
            text += f": {self.data}"
        return text


class CDPTimeout(CDPClientError):
    """A command or an event wait took longer than its timeout."""

    def __init__(self, message: str, *, method: str | None = None, timeout: float | None = None) -> None:
        super().__init__(message, method=method, timeout=timeout)


class ConnectionLost(CDPClientError):
    """The session ended under us: the target died or the socket closed."""

    def __init__(self, message: str, *, method: str | None = None) -> None:
        super().__init__(message, method=method)


class UsageError(CDPClientError):
    """A value given by the caller is not valid (duration, label, endpoint)."""


# --- captures ----------------------------------------------------------------


class CaptureError(CDPClientError):
    """A capture failed; nothing that looks complete was left behind."""


class SnapshotRefused(CaptureError):
    """The memory guard refused to take a heap snapshot."""


# --- store -------------------------------------------------------------------


class StoreError(CDPClientError):
    """The recordings store could not do what was asked."""


class CaptureNotFound(StoreError):
    """No capture matches the given id, prefix or path."""


class AmbiguousCapture(StoreError):
    """An id prefix matches several captures."""


class InvalidCaptureFile(StoreError):
    """A file is not a valid capture."""


# --- kubernetes ----------------------------------------------------------------


class KubeError(CDPClientError):
    """kubectl failed or the pod cannot be reached; ``hint`` says what to do next."""

    def __init__(self, message: str, *, hint: str | None = None, pod: str | None = None) -> None:
        super().__init__(message, hint=hint, pod=pod)

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


# --- analysis ------------------------------------------------------------------


class AnalysisError(CDPClientError):
    """A capture cannot be analysed as asked."""
