"""--record on a fleet run: one recording per pod, each a replayable session of that pod."""

from __future__ import annotations

import json

from cdpclient.recording import format as fmt
from cdpclient.recording import read_recording, summarize
from cdpclient_cli import common, fleet


def test_fleet_records_one_file_per_pod(add_pod, cluster, kube_args, tmp_path, capsys):
    for name in ("rec-1", "rec-2"):
        add_pod(name, labels={"app": "rec"})

    async def capture_one(spec: common.TargetSpec):
        async with common.open_target(spec) as target:
            return {"id": spec.pod, "size": 0, "value": await target.evaluate("6 * 7")}

    spec = common.TargetSpec(selector="app=rec", kubeconfig=str(cluster.kubeconfig), kubectl=kube_args["kubectl"],
                             record=str(tmp_path / "fleet.cdprec"))
    code = fleet.run(spec, capture_one, as_json=True)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert [r["ok"] for r in json.loads(out.out)] == [True, True]
    for name in ("rec-1", "rec-2"):
        recording = read_recording(tmp_path / f"fleet.{name}.cdprec")
        assert not recording.truncated
        assert recording.description["target"] == name
        info = summarize(recording)
        assert info["commands"].get("Runtime.evaluate", 0) >= 1 and info["sessions"] >= 1
        assert any(r["t"] == fmt.RECV and '"value":42' in r["text"] for r in recording.records)
    assert not (tmp_path / "fleet.cdprec").exists()
