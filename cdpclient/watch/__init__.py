"""Watching a target over hours: samples, conditions and the recording of what was seen.

    from cdpclient.watch import WatchPlan, endpoint_source, parse_actions, parse_conditions, watch

    plan = WatchPlan(every=15, duration=6 * 3600, conditions=tuple(parse_conditions(["heap>85%", "oom<30m"])),
                     actions=tuple(parse_actions(["snapshot --count 3 --every 2m --gc"])))
    with Store.open() as store:
        result = await watch(endpoint_source("127.0.0.1:9229"), store, plan)

The parts: :mod:`.sample` (one cheap round trip per sample), :mod:`.conditions`
(``--when``: thresholds, growth, projected time to the limit; hysteresis and
cooldown), :mod:`.actions` (``--then``: the captures taken on a firing, the
memory guard at that moment), :mod:`.loop` (the watch: sessions, reconnects,
firings, ways out), :mod:`.sources` (endpoints, pods, selectors),
:mod:`.recording` (the msgpack recording kept in the store), :mod:`.plot` (a
recording as an SVG chart), :mod:`.export` (a recording as one JSON document).
"""

from __future__ import annotations

from cdpclient.watch.actions import Action, ActionOutcome, parse_action, parse_actions
from cdpclient.watch.conditions import Condition, Trigger, parse_condition, parse_conditions
from cdpclient.watch.export import export_json, recording_document
from cdpclient.watch.loop import Source, Watch, WatchPlan, WatchResult, watch, watch_fleet
from cdpclient.watch.plot import render_svg, write_svg
from cdpclient.watch.recording import Recording, WatchRecording, read_recording
from cdpclient.watch.sample import SAMPLE_KEYS, Sampler, sampling
from cdpclient.watch.sources import endpoint_source, pod_lister, pod_source

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
    # actions
    "Action",
    "ActionOutcome",
    "parse_action",
    "parse_actions",
    # the watch
    "WatchPlan",
    "WatchResult",
    "Watch",
    "Source",
    "watch",
    "watch_fleet",
    "endpoint_source",
    "pod_source",
    "pod_lister",
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
