"""Frames (function, script, position) and how they group: by function, file or npm package."""

from __future__ import annotations

import re
from dataclasses import dataclass

# V8 pseudo-frames: they have no script and stand for time or memory outside JS.
# They keep their own rows in every grouping (a busy GC is an answer too).
META_FRAMES = frozenset({"(root)", "(program)", "(idle)", "(garbage collector)"})
# Sampling heap profiles add V8 VM states as frames: (BYTECODE_COMPILER), (GC), (EXTERNAL)...
_VM_STATE = re.compile(r"^\([A-Z][A-Z_ ]*\)$")
ROOT = "(root)"

_NODE_MODULES = re.compile(r"(?:^|[/\\])node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True, slots=True)
class Frame:
    """One call frame. ``line`` and ``column`` are 1-based; 0 when unknown."""

    name: str
    url: str
    line: int = 0
    column: int = 0

    @property
    def label(self) -> str:
        """The function's display name (V8 leaves anonymous functions nameless)."""
        return self.name or "(anonymous)"

    @property
    def location(self) -> str:
        """``url:line:column``, or '' for frames without a script."""
        if not self.url:
            return ""
        if self.line <= 0:
            return self.url
        return f"{self.url}:{self.line}:{self.column}" if self.column > 0 else f"{self.url}:{self.line}"

    @property
    def display(self) -> str:
        """``name url:line:column`` as shown in tables and flame graphs."""
        loc = self.location
        return f"{self.label} {loc}" if loc else self.label

    @property
    def is_meta(self) -> bool:
        return not self.url and (self.name in META_FRAMES or bool(_VM_STATE.match(self.name)))


def is_node_internal(url: str) -> bool:
    """True for Node's own modules: ``node:fs``, ``node:internal/...``, ``internal/...``, ``events``."""
    if url.startswith("node:"):
        return True
    if not url or url.startswith(("/", "\\", ".")) or _SCHEME.match(url) or re.match(r"^[A-Za-z]:[\\/]", url):
        return False
    # A bare relative name without a scheme is a builtin as older Node versions and the
    # sampling heap profiler spell them ("internal/process/task_queues", "events").
    return True


def package_of(frame: Frame) -> str:
    """The npm package a frame belongs to.

    ``node_modules/<pkg>`` or ``node_modules/@scope/<pkg>`` (the innermost one for
    nested node_modules); ``(node)`` for Node's own modules; pseudo-frames such as
    ``(program)`` keep their name; code without a script is ``(native)``; the
    application's own files are ``(app)``.
    """
    url = frame.url
    if not url:
        return frame.name if frame.is_meta else "(native)"
    if is_node_internal(url):
        return "(node)"
    matches = _NODE_MODULES.findall(url)
    if matches:
        return str(matches[-1]).replace("\\", "/")
    return "(app)"


def file_of(frame: Frame) -> str:
    """The script a frame belongs to; pseudo-frames keep their name, scriptless code is ``(native)``."""
    if frame.url:
        return frame.url
    return frame.name if frame.is_meta else "(native)"
