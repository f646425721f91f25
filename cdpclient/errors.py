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
    │   └── NoShellInContainer       the container has no shell or kill (distroless): nothing to exec
    └── AnalysisError                a capture cannot be analysed as asked

Errors carry structured fields (declared attributes) and build their text in
``__str__`` so the CLI can print exactly one line.  Where a message names a
parameter of the caller, it says ``{name}`` and lists ``name`` in ``options``;
:meth:`CDPClientError.render` fills the placeholders: with the keyword
argument's own name by default, with a flag such as ``--older-than`` when the
CLI renders it.  Control flow matches exception types, never message text.
Transport errors (OSError, websockets, aiohttp) are translated into these at
one boundary each, chained with ``from exc``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def _keyword(name: str) -> str:
    return name


class CDPClientError(Exception):
    """Root of every cdpclient error.

    ``message`` may name caller parameters as ``{name}`` placeholders, each listed in
    ``options``; ``str()`` fills them with the parameter's own name, and :meth:`render`
    with whatever the caller calls it (the CLI: its flag).
    """

    message: str
    options: tuple[str, ...]

    def __init__(self, message: str = "", *, options: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.options = tuple(options)

    def _fill(self, text: str, name: Callable[[str], str]) -> str:
        for option in self.options:  # plain replacement: the rest of the text may hold braces of its own
            text = text.replace("{" + option + "}", name(option))
        return text

    def render(self, name: Callable[[str], str] = _keyword) -> str:
        """The one-line text, with each parameter the message names spelt by ``name(parameter)``."""
        return self._fill(self.message, name)

    def __str__(self) -> str:
        return self.render()

    def rename_path(self, old: object, new: object) -> None:
        """Say ``new`` where the message (and a ``path`` field) say ``old``: the reader saw a copy (a
        decompressed cache file, a staged import) and the user knows the file by its own name."""
        old_text, new_text = str(old), str(new)
        if old_text == new_text:
            return
        self.message = self.message.replace(old_text, new_text)
        self.args = (self.message,)
        if getattr(self, "path", None) == old_text:
            setattr(self, "path", new_text)  # noqa: B010  (a field of some subclasses only)


# --- connecting --------------------------------------------------------------


class ConnectError(CDPClientError):
    """Could not reach the target or open a session with it."""

    endpoint: str | None

    def __init__(self, message: str, *, endpoint: str | None = None, options: Sequence[str] = ()) -> None:
        super().__init__(message, options=options)
        self.endpoint = endpoint


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

    target_id: str | None
    endpoint: str | None

    def __init__(self, message: str, *, target_id: str | None = None, endpoint: str | None = None,
                 options: Sequence[str] = ()) -> None:
        super().__init__(message, options=options)
        self.target_id = target_id
        self.endpoint = endpoint


class AmbiguousTarget(TargetError):
    """Several targets match; ``candidates`` holds their ids."""

    candidates: list[str]
    endpoint: str | None

    def __init__(self, message: str, *, candidates: Sequence[str] = (), endpoint: str | None = None,
                 options: Sequence[str] = ()) -> None:
        super().__init__(message, options=options)
        self.candidates = list(candidates)
        self.endpoint = endpoint


# --- the session -------------------------------------------------------------


class ProtocolError(CDPClientError):
    """The target answered a command with an error reply."""

    method: str
    code: int | None
    data: Any

    def __init__(self, method: str, code: int | None, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.method = method
        self.code = code
        self.data = data

    def render(self, name: Callable[[str], str] = _keyword) -> str:
        text = f"{self.method} failed: {self.message}"
        if self.code is not None:
            text += f" (code {self.code})"
        if self.data:
            text += f": {self.data}"
        return text


class CDPTimeout(CDPClientError):
    """A command or an event wait took longer than its timeout."""

    method: str | None
    timeout: float | None

    def __init__(self, message: str, *, method: str | None = None, timeout: float | None = None,
                 options: Sequence[str] = ()) -> None:
        super().__init__(message, options=options)
        self.method = method
        self.timeout = timeout


class TargetUnresponsive(CDPTimeout):
    """The target sent nothing at all for ``silent_s`` seconds while a command waited for its reply.

    A stopped process (SIGSTOP, a debugger pause), a long GC or a busy loop on the
    main thread: the inspector only answers between JavaScript turns.
    """

    silent_s: float

    def __init__(self, message: str, *, method: str | None = None, timeout: float | None = None,
                 silent_s: float = 0.0) -> None:
        super().__init__(message, method=method, timeout=timeout)
        self.silent_s = silent_s


class ConnectionLost(CDPClientError):
    """The session ended under us: the target died or the socket closed."""

    method: str | None

    def __init__(self, message: str, *, method: str | None = None) -> None:
        super().__init__(message)
        self.method = method


class UsageError(CDPClientError):
    """A value given by the caller is not valid (duration, label, endpoint)."""


# --- captures ----------------------------------------------------------------


class CaptureError(CDPClientError):
    """A capture failed; nothing that looks complete was left behind."""


class SnapshotRefused(CaptureError):
    """The memory guard refused to take a heap snapshot; ``budget`` is the guard's reading."""

    budget: Any

    def __init__(self, message: str, *, budget: Any = None, options: Sequence[str] = ()) -> None:
        super().__init__(message, options=options)
        self.budget = budget


# --- store -------------------------------------------------------------------


class StoreError(CDPClientError):
    """The recordings store could not do what was asked."""


class CaptureNotFound(StoreError):
    """No capture matches the given id, prefix or path."""

    ref: str | None

    def __init__(self, message: str, *, ref: str | None = None) -> None:
        super().__init__(message)
        self.ref = ref


class AmbiguousCapture(StoreError):
    """An id prefix matches several captures."""

    ref: str | None
    candidates: list[str]

    def __init__(self, message: str, *, ref: str | None = None, candidates: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.ref = ref
        self.candidates = list(candidates)


class InvalidCaptureFile(StoreError):
    """A file is not a valid capture."""

    path: str | None
    kind: str | None
    ref: str | None

    def __init__(self, message: str, *, path: object = None, kind: str | None = None, ref: str | None = None,
                 options: Sequence[str] = ()) -> None:
        super().__init__(message, options=options)
        self.path = None if path is None else str(path)
        self.kind = kind
        self.ref = ref


# --- kubernetes ----------------------------------------------------------------


class KubeError(CDPClientError):
    """kubectl failed or the pod cannot be reached; ``hint`` says what to do next.

    ``stderr`` is everything kubectl printed when the error comes from a failed kubectl
    call (the message keeps only its meaning); ``None`` otherwise.
    """

    hint: str | None
    pod: str | None
    stderr: str | None

    def __init__(self, message: str, *, hint: str | None = None, pod: str | None = None,
                 options: Sequence[str] = (), stderr: str | None = None) -> None:
        super().__init__(message, options=options)
        self.hint = hint
        self.pod = pod
        self.stderr = stderr

    def render(self, name: Callable[[str], str] = _keyword) -> str:
        text = self._fill(self.message, name)
        return f"{text} ({self._fill(self.hint, name)})" if self.hint else text


class NoShellInContainer(KubeError):
    """The container has no shell or ``kill`` (a distroless image): nothing can be run in it."""


# --- analysis ------------------------------------------------------------------


class AnalysisError(CDPClientError):
    """A capture cannot be analysed as asked."""

    path: str | None
    kind: str | None

    def __init__(self, message: str, *, path: object = None, kind: str | None = None,
                 options: Sequence[str] = ()) -> None:
        super().__init__(message, options=options)
        self.path = None if path is None else str(path)
        self.kind = kind
