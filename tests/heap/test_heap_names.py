"""Functions named with their script and line, user-land paths, --by function, --fail-if, series notes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from nodeproc import NODE, run_cli  # type: ignore[attr-defined]

from cdpclient import heap
from cdpclient.errors import UsageError
from cdpclient.heap.gate import parse_gate
from cdpclient.heap.names import short_script
from cdpclient.store import CaptureRecord, order_by_time, series_notes

# Line numbers below are the truth the labels are checked against.
BUS_JS = """\
const EventEmitter = require('events');
class Bus extends EventEmitter {}
const bus = new Bus();
bus.setMaxListeners(0);
const handlers = new Map();
for (let i = 0; i < 300; i++) {
  bus.on('message', function onMessage(m) { return m + i; });
  handlers.set(i, () => i);
}
globalThis.keep = { bus, handlers };
require('v8').writeHeapSnapshot(process.argv[2]);
"""


@pytest.fixture(scope="module")
def bus_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("names")
    (where / "lib").mkdir()
    script = where / "lib" / "bus.js"
    script.write_text(BUS_JS)
    out = where / "bus.heapsnapshot"
    subprocess.run([NODE, str(script), str(out)], check=True, timeout=120, capture_output=True)
    return out


def test_closures_are_named_with_script_and_line(bus_snapshot: Path) -> None:
    snap = heap.load(bus_snapshot)
    closures = heap.functions_named(snap, "onMessage")
    assert len(closures) == 300
    assert heap.function_label(snap, closures[0]) == "onMessage (lib/bus.js:7)"
    rows = {f.name: f for f in heap.top_functions(snap, 50)}
    assert rows["onMessage (lib/bus.js:7)"].count == 300
    assert rows["(anonymous) (lib/bus.js:8)"].count == 300
    assert snap.object(closures[0]).label == "onMessage (lib/bus.js:7)"


def test_retainers_find_a_function_by_name_and_show_the_user_land_path(bus_snapshot: Path) -> None:
    snap = heap.load(bus_snapshot)
    result = heap.retainers(snap, "onMessage", paths=3)
    assert result.kind == "function" and result.count == 300
    text = str(heap.user_path(snap, result.paths[0].steps))
    assert text.startswith("Bus._events['message'] (Array) -> onMessage (lib/bus.js:7)"), text
    assert text.endswith("(via global.keep)"), text
    assert "system / Context" not in text
    r = run_cli("retainers", str(bus_snapshot), "onMessage", "--paths", "1")
    assert r.returncode == 0, r.stderr
    assert "onMessage (lib/bus.js:7): 300 closures" in r.stdout
    raw = run_cli("retainers", str(bus_snapshot), "onMessage", "--paths", "1", "--raw")
    assert "(GC roots) -> " in raw.stdout
    top = run_cli("top", str(bus_snapshot), "--by", "function", "--json")
    rows = json.loads(top.stdout)
    assert any(f["function"] == "onMessage (lib/bus.js:7)" and f["count"] == 300 for f in rows["functions"])
    assert rows["js_heap_size"] + rows["offheap_size"] == rows["total_size"]


def test_short_script_names() -> None:
    assert short_script("file:///srv/app/lib/feed.js") == "lib/feed.js"
    assert short_script("/srv/app/node_modules/ws/lib/websocket.js") == "ws/lib/websocket.js"
    assert short_script("node:internal/timers") == "node:internal/timers"


def test_fail_if_gates() -> None:
    assert parse_gate("growth>1MiB/snapshot").limit == 1 << 20
    assert parse_gate("count >= 1000/snapshot").strict is False
    assert parse_gate("share>10%").limit == 10.0
    assert parse_gate("retained>50MiB").figure == "retained"
    for bad in ("growth<1MiB", "share>10", "count>1k", "size>1"):
        with pytest.raises(UsageError):
            parse_gate(bad)


def _record(id_: str, created: str, pid: int | None, session: str | None, pod: str | None = None) -> CaptureRecord:
    return CaptureRecord(id=id_, kind="heapsnapshot", path=Path("/x"), created=created, size=1, sha256=None,
                         pid=pid, session=session, target={"namespace": "prod", "pod": pod} if pod else {})


def test_series_notes_name_different_processes_and_the_order() -> None:
    a = _record("A", "2026-12-03T06:00:00Z", 1, "s1", "api-1")
    b = _record("B", "2026-12-03T06:01:00Z", 1, "s2", "api-2")
    (note,) = series_notes([a, b])
    assert "different processes" in note and "pid 1 on prod/api-1" in note and "prod/api-2" in note
    c = _record("C", "2026-12-03T06:02:00Z", 7, "s1")
    d = _record("D", "2026-12-03T06:03:00Z", 7, "s2")
    (note,) = series_notes([c, d])
    assert "one process (pid 7)" in note and "different inspector sessions" in note
    assert series_notes([_record("E", "t", 7, "s1"), _record("F", "u", 7, "s1")]) == []
    ordered, why = order_by_time([d, c], key=lambda r: r)
    assert [r.id for r in ordered] == ["C", "D"] and why and "out of order" in why
    assert order_by_time([c, d], key=lambda r: r) == ([c, d], None)
