"""cdpclient: capture and compare heap snapshots and profiles of live Node.js processes.

    from cdpclient.store import Store

    async with cdpclient.connect("127.0.0.1:9229") as target:
        info = await target.process_info()
        record = await cdpclient.capture_to_store(target, Store.open(), "heapsnapshot", gc=True)

    async with cdpclient.attach_pod("api-7f9c", namespace="prod") as target:
        await target.heap_snapshot("api.heapsnapshot")

    with cdpclient.sync.connect("127.0.0.1:9229") as target:   # not async: scripts, notebooks
        target.heap_snapshot("a.heapsnapshot")
"""

from __future__ import annotations

from importlib import import_module as _import_module
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:  # what type checkers see; at run time each name is imported on first use (below)
    from cdpclient import kube as kube  # the subpackage, reachable as cdpclient.kube
    from cdpclient import sync as sync  # the blocking facade for scripts and notebooks: cdpclient.sync.connect
    from cdpclient.captures import CaptureResult, CaptureState, CaptureTarget, Progress
    from cdpclient.captures.stored import StoreTarget, capture_to_file, capture_to_store, heap_snapshot_series_to_store
    from cdpclient.connection import DEFAULT_TIMEOUT, Connection, Subscription
    from cdpclient.discovery import Endpoint, TargetInfo, get_version, list_targets, parse_endpoint
    from cdpclient.errors import (
        AmbiguousCapture,
        AmbiguousTarget,
        AnalysisError,
        CaptureError,
        CaptureNotFound,
        CDPClientError,
        CDPTimeout,
        ConnectError,
        ConnectionLost,
        ConnectionRefused,
        HandshakeRejected,
        InvalidCaptureFile,
        KubeError,
        NoShellInContainer,
        NotAnInspector,
        ProtocolError,
        SnapshotRefused,
        StoreError,
        TargetError,
        TargetNotFound,
        TargetUnresponsive,
        UsageError,
    )
    from cdpclient.kube import attach_pod
    from cdpclient.memory import MemoryReading
    from cdpclient.target import ProcessInfo, Target, connect, open_target
    from cdpclient.units import format_duration, parse_duration, parse_size

__version__ = "0.1.0"

# Each public name and the module that defines it. ``import cdpclient`` imports none of them, so a
# command that never connects (``cdpclient --help``, ``ls``) does not pay for aiohttp and websockets
# (PEP 562: the module's ``__getattr__`` imports a name's module the first time the name is asked for).
_LAZY: dict[str, str] = {
    "attach_pod": "cdpclient.kube",
    "CaptureResult": "cdpclient.captures",
    "CaptureState": "cdpclient.captures",
    "CaptureTarget": "cdpclient.captures",
    "Progress": "cdpclient.captures",
    "StoreTarget": "cdpclient.captures.stored",
    "capture_to_file": "cdpclient.captures.stored",
    "capture_to_store": "cdpclient.captures.stored",
    "heap_snapshot_series_to_store": "cdpclient.captures.stored",
    "DEFAULT_TIMEOUT": "cdpclient.connection",
    "Connection": "cdpclient.connection",
    "Subscription": "cdpclient.connection",
    "Endpoint": "cdpclient.discovery",
    "TargetInfo": "cdpclient.discovery",
    "get_version": "cdpclient.discovery",
    "list_targets": "cdpclient.discovery",
    "parse_endpoint": "cdpclient.discovery",
    "AmbiguousCapture": "cdpclient.errors",
    "AmbiguousTarget": "cdpclient.errors",
    "AnalysisError": "cdpclient.errors",
    "CaptureError": "cdpclient.errors",
    "CaptureNotFound": "cdpclient.errors",
    "CDPClientError": "cdpclient.errors",
    "CDPTimeout": "cdpclient.errors",
    "ConnectError": "cdpclient.errors",
    "ConnectionLost": "cdpclient.errors",
    "ConnectionRefused": "cdpclient.errors",
    "HandshakeRejected": "cdpclient.errors",
    "InvalidCaptureFile": "cdpclient.errors",
    "KubeError": "cdpclient.errors",
    "NoShellInContainer": "cdpclient.errors",
    "NotAnInspector": "cdpclient.errors",
    "ProtocolError": "cdpclient.errors",
    "SnapshotRefused": "cdpclient.errors",
    "StoreError": "cdpclient.errors",
    "TargetError": "cdpclient.errors",
    "TargetNotFound": "cdpclient.errors",
    "TargetUnresponsive": "cdpclient.errors",
    "UsageError": "cdpclient.errors",
    "MemoryReading": "cdpclient.memory",
    "ProcessInfo": "cdpclient.target",
    "Target": "cdpclient.target",
    "connect": "cdpclient.target",
    "open_target": "cdpclient.target",
    "format_duration": "cdpclient.units",
    "parse_duration": "cdpclient.units",
    "parse_size": "cdpclient.units",
}
_SUBPACKAGES = frozenset({"kube", "sync"})  # cdpclient.kube, cdpclient.sync


def __getattr__(name: str) -> _Any:
    if name in _SUBPACKAGES:
        return _import_module(f"{__name__}.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBPACKAGES})


__all__ = [
    # connecting
    "connect",
    "open_target",
    "attach_pod",
    "Target",
    "ProcessInfo",
    "Connection",
    "Subscription",
    "DEFAULT_TIMEOUT",
    # captures (the Target methods take them into files)
    "capture_to_store",
    "heap_snapshot_series_to_store",
    "capture_to_file",
    "CaptureResult",
    "Progress",
    "CaptureTarget",
    "StoreTarget",
    "CaptureState",
    "MemoryReading",
    # discovery
    "Endpoint",
    "TargetInfo",
    "parse_endpoint",
    "list_targets",
    "get_version",
    # units
    "parse_duration",
    "parse_size",
    "format_duration",
    # errors
    "CDPClientError",
    "ConnectError",
    "ConnectionRefused",
    "NotAnInspector",
    "HandshakeRejected",
    "TargetError",
    "TargetNotFound",
    "AmbiguousTarget",
    "ProtocolError",
    "CDPTimeout",
    "TargetUnresponsive",
    "ConnectionLost",
    "UsageError",
    "CaptureError",
    "SnapshotRefused",
    "StoreError",
    "CaptureNotFound",
    "AmbiguousCapture",
    "InvalidCaptureFile",
    "KubeError",
    "NoShellInContainer",
    "AnalysisError",
]
