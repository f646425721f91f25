"""Watching a target over hours: samples, conditions and the recording of what was seen.

    from cdpclient.watch import Sampler, parse_condition, WatchRecording, read_recording, write_svg

The parts: :mod:`.sample` (one cheap round trip per sample), :mod:`.conditions`
(``--when``: thresholds, growth, projected time to the limit; hysteresis and
cooldown), :mod:`.recording` (the msgpack recording kept in the store), :mod:`.plot` (a
recording as an SVG chart), :mod:`.export` (a recording as one JSON document).
"""

from __future__ import annotations

from cdpclient.watch.conditions import Condition, Trigger, parse_condition, parse_conditions
from cdpclient.watch.export import export_json, recording_document
from cdpclient.watch.plot import render_svg, write_svg
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
    # reading it back
    "render_svg",
    "write_svg",
    "recording_document",
    "export_json",
]
