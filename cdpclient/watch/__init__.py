"""Watching a target over hours: samples, conditions and the recording of what was seen.

    from cdpclient.watch import Sampler, parse_condition, WatchRecording, read_recording

The parts: :mod:`.sample` (one cheap round trip per sample), :mod:`.conditions`
(``--when``: thresholds, growth, projected time to the limit; hysteresis and
cooldown), :mod:`.recording` (the msgpack recording kept in the store).
"""

from __future__ import annotations

from cdpclient.watch.conditions import Condition, Trigger, parse_condition, parse_conditions
from cdpclient.watch.recording import Recording, WatchRecording, read_recording
from cdpclient.watch.sample import SAMPLE_KEYS, Sampler, sampling

__all__ = [
    # sampling
    "SAMPLE_KEYS",
    "Sampler",
    "sampling",
    # conditions
    "Condition",
    "Trigger",
    "parse_condition",
    "parse_conditions",
    # recording
    "WatchRecording",
    "Recording",
    "read_recording",
]
