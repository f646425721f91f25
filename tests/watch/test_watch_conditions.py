"""``--when`` conditions and the trigger's hysteresis, cooldown and cap, on synthetic sample sequences."""

from __future__ import annotations

import math

import pytest

from cdpclient.errors import UsageError
from cdpclient.watch.conditions import Trigger, parse_condition, parse_conditions, projected_seconds_to_limit

MiB = 1024 * 1024
GiB = 1024 * MiB


def sample(ts: float, **figures: float | None) -> dict[str, float | None]:
    base: dict[str, float | None] = {
        "ts": ts, "heap_used": 100 * MiB, "heap_total": 150 * MiB, "heap_limit": 1000 * MiB, "external": 10 * MiB,
        "array_buffers": 5 * MiB, "rss": 300 * MiB, "cgroup_current": None, "cgroup_limit": None,
        "memory_limit": 1 * GiB, "fds": 20, "fd_limit": 1000, "handles": 5, "loop_delay_ms": 12.0, "cost_ms": 1.0}
    base.update(figures)
    return base


def fire_times(trigger: Trigger, samples: list[dict[str, float | None]]) -> list[float]:
    return [f.ts for s in samples for f in trigger.observe(s)]


@pytest.mark.parametrize("text, figure, amount, of", [
    ("heap>85%", "heap_used", 85, "heap_limit"),
    ("rss>90%limit", "rss", 90, "memory_limit"),
    ("external>512MiB", "external", 512 * MiB, None),
    ("fds>80%", "fds", 80, "fd_limit"),
    ("handles>1000", "handles", 1000, None),
    ("loop>200ms", "loop_delay_ms", 200, None),
    ("HEAP > 1.5GiB", "heap_used", 1.5 * GiB, None),
    ("cgroup>95%", "cgroup_current", 95, "cgroup_limit"),
    ("buffers>100MiB", "array_buffers", 100 * MiB, None),
    ("heap_total>50%limit", "heap_total", 50, "memory_limit"),
])
def test_thresholds_parse(text: str, figure: str, amount: float, of: str | None) -> None:
    cond = parse_condition(text)
    assert (cond.kind, cond.figure, cond.amount, cond.of, cond.op) == ("threshold", figure, amount, of, ">")
    assert cond.text == text.strip()


def test_growth_and_oom_parse() -> None:
    growth = parse_condition("heap+100MiB/10m")
    assert (growth.kind, growth.figure, growth.amount, growth.window) == ("growth", "heap_used", 100 * MiB, 600)
    fds = parse_condition("fds+500/5m")
    assert (fds.kind, fds.figure, fds.amount, fds.window) == ("growth", "fds", 500, 300)
    oom = parse_condition("oom<30m")
    assert (oom.kind, oom.amount, oom.window, oom.op) == ("oom", 1800, 600, "<")
    assert parse_condition("oom<1h/20m").window == 1200


@pytest.mark.parametrize("text, words", [
    ("heap>", "threshold"),
    ("memroy>5MiB", "unknown figure 'memroy'"),
    ("heap>85%bogus", "unknown limit 'bogus'"),
    ("handles>50%", "no limit"),
    ("heap>150%", "between 0 and 100"),
    ("fds>50%limit", "count"),
    ("heap+100MiB/0s", "longer than zero"),
    ("heap+lots/10m", "threshold"),
    ("oom<soon", "threshold"),
    ("external>12 parsecs", "invalid size"),
])
def test_bad_conditions_are_usage_errors_naming_when(text: str, words: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_condition(text)
    err = info.value
    assert "when" in err.options and words in str(err)
    assert "--when" in err.render(lambda name: "--" + name) and repr(text) in str(err)


def test_threshold_fires_at_the_threshold_and_not_before() -> None:
    trigger = Trigger(parse_conditions(["heap>85%"]))
    heaps = [800, 840, 849, 851, 900]  # limit 1000 MiB: 85% is 850 MiB
    fired = [trigger.observe(sample(i, heap_used=h * MiB)) for i, h in enumerate(heaps)]
    assert [bool(f) for f in fired] == [False, False, False, True, False]
    firing = fired[3][0]
    assert firing.value == 851 * MiB and firing.threshold == pytest.approx(850 * MiB)
    assert firing.to_dict()["condition"] == "heap>85%"


def test_hysteresis_rearms_only_below_the_threshold_by_the_margin() -> None:
    trigger = Trigger(parse_conditions(["external>100MiB"]), margin=0.1)
    ext = [50, 101, 99, 95, 120, 89, 110]  # re-arms below 90 MiB only
    assert fire_times(trigger, [sample(i, external=e * MiB) for i, e in enumerate(ext)]) == [1, 6]


def test_cooldown_delays_a_second_firing() -> None:
    trigger = Trigger(parse_conditions(["fds>100"]), cooldown=60, margin=0.0)
    # fires at 0; falls back (re-armed) and exceeds again at 10, 30: still cooling down; at 70 it may fire
    seq = [(0, 150), (5, 50), (10, 150), (30, 150), (70, 150), (80, 150)]
    assert fire_times(trigger, [sample(t, fds=n) for t, n in seq]) == [0, 70]


def test_max_firings_exhausts_the_trigger() -> None:
    trigger = Trigger(parse_conditions(["fds>100"]), max_firings=2, margin=0.0)
    seq = [150, 50, 150, 50, 150, 50, 150]
    assert fire_times(trigger, [sample(i, fds=n) for i, n in enumerate(seq)]) == [0, 2]
    assert trigger.exhausted and trigger.firings == 2


def test_any_one_condition_fires_and_one_firing_per_sample() -> None:
    trigger = Trigger(parse_conditions(["heap>85%", "fds>80%"]))
    fired = trigger.observe(sample(0, heap_used=900 * MiB, fds=900))
    assert [f.condition.text for f in fired] == ["heap>85%"]
    # fds stayed armed: it fires on the next sample
    assert [f.condition.text for f in trigger.observe(sample(1, heap_used=900 * MiB, fds=900))] == ["fds>80%"]


def test_unknown_figures_or_limits_never_fire() -> None:
    trigger = Trigger(parse_conditions(["cgroup>50%", "fds>80%"]))
    assert trigger.observe(sample(0, cgroup_current=None, fds=None)) == []
    assert trigger.readings == {"cgroup>50%": None, "fds>80%": None}


def test_growth_over_a_window() -> None:
    trigger = Trigger(parse_conditions(["heap+100MiB/10m"]))
    # 10 MiB a minute: 100 MiB of growth takes 10 minutes, so the window holds exactly 100 at t=600 (not more)
    times = fire_times(trigger, [sample(t, heap_used=(200 + t / 6) * MiB) for t in range(0, 1200, 60)])
    assert times == []
    trigger = Trigger(parse_conditions(["heap+100MiB/10m"]))
    # 20 MiB a minute: fires once 100 MiB is exceeded (after 5 minutes), measured from the lowest point
    seq = [sample(t, heap_used=(200 + t / 3) * MiB) for t in range(0, 600, 60)]
    assert fire_times(trigger, seq) == [360]


def test_growth_measures_from_the_lowest_point_within_the_window() -> None:
    trigger = Trigger(parse_conditions(["fds+50/1m"]))
    seq = [(0, 100), (30, 20), (60, 60), (90, 75)]  # from 20 at 30 s: 55 more at 90 s
    assert fire_times(trigger, [sample(t, fds=n) for t, n in seq]) == [90]


def test_history_is_bounded_by_the_longest_window() -> None:
    trigger = Trigger(parse_conditions(["heap+100MiB/10m", "fds>80%"]))
    for t in range(0, 36000, 15):
        trigger.observe(sample(t))
    assert len(trigger.history) <= 600 / 15 + 2


def test_oom_projection_from_a_linear_trend() -> None:
    # rss grows 1 MiB/s towards a 1 GiB limit from 300 MiB: 724 s to go at t=0
    seq = [sample(t, rss=(300 + t) * MiB) for t in range(0, 60, 10)]
    eta = projected_seconds_to_limit(seq, 600)
    assert eta == pytest.approx(1024 - 350, rel=1e-6)
    trigger = Trigger(parse_conditions(["oom<10m"]))
    times = fire_times(trigger, [sample(t, rss=(300 + t) * MiB) for t in range(0, 300, 10)])
    assert times == [130]  # 1024 - 430 = 594 s < 600 s


def test_oom_follows_the_soonest_limit_and_needs_history() -> None:
    assert projected_seconds_to_limit([sample(0), sample(10)], 600) is None
    flat = [sample(t) for t in range(0, 50, 10)]
    assert projected_seconds_to_limit(flat, 600) == math.inf
    # the heap nears V8's limit sooner than rss nears the memory limit
    heap = [sample(t, heap_used=(900 + t) * MiB) for t in range(0, 50, 10)]
    assert projected_seconds_to_limit(heap, 600) == pytest.approx(60, rel=1e-6)
    # the cgroup's own limit, when the target has one
    cg = [sample(t, cgroup_current=(400 + 2 * t) * MiB, cgroup_limit=512 * MiB) for t in range(0, 50, 10)]
    assert projected_seconds_to_limit(cg, 600) == pytest.approx((512 - 480) / 2, rel=1e-6)


def test_oom_rearms_when_the_projection_recedes() -> None:
    trigger = Trigger(parse_conditions(["oom<10m/1m"]), margin=0.1)
    seq = [sample(t, rss=(700 + t) * MiB) for t in range(0, 60, 10)]           # eta ~ 274 s: fires at 20
    seq += [sample(t, rss=750 * MiB) for t in range(60, 200, 10)]              # flat: eta inf, re-armed
    seq += [sample(t, rss=(750 + 2 * (t - 200)) * MiB) for t in range(200, 300, 10)]  # grows again
    times = fire_times(trigger, seq)
    assert times[0] == 20 and len(times) == 2 and times[1] > 200
