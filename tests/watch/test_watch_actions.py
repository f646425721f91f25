"""``--then`` actions: the capture commands' own names and options, read into what the captures take."""

from __future__ import annotations

import pytest

from cdpclient.errors import UsageError
from cdpclient.watch import parse_action
from cdpclient.watch.actions import ACTIONS


@pytest.mark.parametrize(("text", "kind", "options"), [
    ("snapshot", "heapsnapshot", {"count": 1, "every": 0.0, "gc": False, "force": False}),
    ("snapshot --count 3 --every 2m --gc", "heapsnapshot", {"count": 3, "every": 120.0, "gc": True, "force": False}),
    ("snapshot --count=2 --every=30s", "heapsnapshot", {"count": 2, "every": 30.0, "gc": False, "force": False}),
    ("cpu --duration 30s --interval 2ms", "cpuprofile", {"duration": 30.0, "interval": 0.002}),
    ("cpu -d 5s", "cpuprofile", {"duration": 5.0, "interval": 0.001}),
    ("sample --interval 64KiB --include-collected", "heapprofile",
     {"duration": 30.0, "interval": 65536, "include_collected": True}),
    ("timeline --duration 20s --force", "heaptimeline", {"duration": 20.0, "force": True}),
    ("report", "report", {}),
])
def test_actions_parse_like_the_commands(text: str, kind: str, options: dict[str, object]) -> None:
    action = parse_action(text)
    assert action.kind == kind and action.options == options and not action.compress
    assert action.snapshots == (kind in ("heapsnapshot", "heaptimeline"))
    assert str(action) == text


def test_compress_is_taken_by_every_action() -> None:
    assert all(parse_action(f"{name} --compress").compress for name in ACTIONS)


@pytest.mark.parametrize(("text", "words"), [
    ("", "empty"),
    ("dance", "unknown action 'dance'"),
    ("snapshot --count 3", "needs --every"),
    ("snapshot --count x --every 1m", "not a valid number"),
    ("cpu --duration", "needs a value"),
    ("cpu --duration soon", "not a valid duration"),
    ("cpu --gc", "cpu takes no option '--gc' (it takes: --compress, --duration, --interval, -d)"),
    ("report --duration 1s", "report takes no option"),
    ("sample --duration 0s", "must be more than zero"),
    ("snapshot 'unclosed", "No closing quotation"),
])
def test_bad_actions_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse_action(text)
    assert words in str(exc.value) and "actions: snapshot, cpu, sample, timeline, report" in str(exc.value)
