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
