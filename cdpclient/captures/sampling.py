"""Sampling heap profiles: where the allocations that stay alive (or die) come from."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from cdpclient.captures._output import stream_file, write_profile
from cdpclient.captures._session import process_identity, timed_run, utc_now
from cdpclient.captures.result import CaptureResult, ProgressCallback
from cdpclient.captures.state import CaptureTarget
from cdpclient.errors import CaptureError, ProtocolError, UsageError

__all__ = ["take_sampling_heap_profile", "DEFAULT_SAMPLING_INTERVAL", "sampler_running"]

DEFAULT_SAMPLING_INTERVAL = 32768
"""Mean bytes between samples (V8's default)."""

_STOP_TIMEOUT = 300.0


async def sampler_running(target: CaptureTarget) -> bool:
    """Whether V8's sampling heap profiler runs in the target (from any session).

    The sampler is one per isolate, not per session: ``getSamplingProfile``
    answers from whichever session started it, and fails when none runs.
    """
    try:
        await target.send("HeapProfiler.getSamplingProfile", timeout=60)
    except ProtocolError:
        return False
    return True


EMPTY_NOTE = ("the profile holds no samples: every object sampled was collected before it stopped (only "
              "what is still alive is kept); --include-collected keeps the collected ones too")


async def take_sampling_heap_profile(target: CaptureTarget, path: str | os.PathLike[str], *, duration: float,
                                     interval: int = DEFAULT_SAMPLING_INTERVAL, include_collected: bool = False,
                                     stop: asyncio.Event | None = None, progress: ProgressCallback | None = None,
                                     compress: bool = False) -> CaptureResult:
    """Sample the target's allocations for ``duration`` seconds; write the ``.heapprofile`` to ``path``.

    ``interval`` is the mean number of bytes between samples.
    ``include_collected`` keeps samples of objects collected by major and minor
    GCs (otherwise the profile shows only what was still alive at the end).
    ``stop`` ends early and saves; cancellation stops the sampler, saves nothing.

    Raises :class:`CaptureError` when another session's sampler already runs:
    there is one per process, and starting ours would silently hijack it.
    """
    if duration <= 0:
        raise UsageError(f"duration must be positive, not {duration:g}s")
    if interval < 1:
        raise UsageError(f"sampling interval must be at least 1 byte, not {interval}")
    started, t0 = utc_now(), time.monotonic()
    pid, node_version = await process_identity(target)
    if await sampler_running(target):
        raise CaptureError("a sampling heap profile is already running in the target (another client "
                           "started it); V8 runs one per process, so wait for it to finish")
    # The file is opened first: a bad path fails before minutes of profiling, not after.
    with stream_file(path, compress=compress) as out:
        reply, elapsed, early = await timed_run(
            target, start=[("HeapProfiler.startSampling", {
                "samplingInterval": interval,
                "includeObjectsCollectedByMajorGC": include_collected,
                "includeObjectsCollectedByMinorGC": include_collected,
            })], stop_command=("HeapProfiler.stopSampling", None), cleanup=[],
            duration=duration, stop=stop, progress=progress, stop_timeout=_STOP_TIMEOUT)
        size, profile = write_profile(out, reply, "HeapProfiler.stopSampling")
    samples = len(profile.get("samples", ()))
    meta: dict[str, object] = {}
    if not samples:  # saved anyway (it is what V8 said), but never without a word
        meta["note"] = (EMPTY_NOTE if not include_collected else
                        "the profile holds no samples: nothing was allocated while it ran, or less than one "
                        "sampling interval of it; a smaller --interval samples more")
    return CaptureResult(
        kind="heapprofile", path=Path(path), size=size, duration_s=time.monotonic() - t0, started=started,
        session=target.session_id, pid=pid, node_version=node_version,
        options={"duration_s": duration, "interval_bytes": interval, "include_collected": include_collected},
        meta={"profiled_s": round(elapsed, 3), "stopped_early": early, "samples": samples,
              "compressed": compress, **meta})
