"""The sans-IO bookkeeping, driven by messages as the Node inspector sends them."""

from __future__ import annotations

import json

import pytest

from cdpclient.errors import ProtocolError
from cdpclient.protocol import Event, MalformedMessage, Protocol, Reply


def test_ids_replies_and_events() -> None:
    proto = Protocol()
    id1, text1 = proto.request("Runtime.evaluate", {"expression": "1"})
    id2, _ = proto.request("HeapProfiler.enable")
    assert json.loads(text1) == {"id": id1, "method": "Runtime.evaluate", "params": {"expression": "1"}}
    assert id2 == id1 + 1 and proto.pending == {id1: "Runtime.evaluate", id2: "HeapProfiler.enable"}

    reply = proto.receive(json.dumps({"id": id2, "result": {}}))
    assert reply == Reply(id2, "HeapProfiler.enable", result={})
    event = proto.receive('{"method":"HeapProfiler.reportHeapSnapshotProgress","params":{"done":1,"total":2}}')
    assert event == Event("HeapProfiler.reportHeapSnapshotProgress", {"done": 1, "total": 2})

    error = proto.receive(json.dumps({"id": id1, "error": {"code": -32601, "message": "'X' wasn't found"}}))
    assert isinstance(error, Reply) and isinstance(error.error, ProtocolError)
    assert error.error.code == -32601 and error.error.method == "Runtime.evaluate"
    assert proto.pending == {}


def test_late_reply_is_ignored_and_fail_all() -> None:
    proto = Protocol()
    msg_id, _ = proto.request("Profiler.stop")
    proto.forget(msg_id)
    assert proto.receive(json.dumps({"id": msg_id, "result": {}})) is None
    proto.request("A.b")
    assert list(proto.fail_all().values()) == ["A.b"] and proto.pending == {}


@pytest.mark.parametrize("data", ["not json", "[1,2]", '{"foo": 1}'])
def test_malformed(data: str) -> None:
    with pytest.raises(MalformedMessage):
        Protocol().receive(data)
