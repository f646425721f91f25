"""Parsing what the /proc scan prints, and reading inspector flags (no kubectl needed)."""

from __future__ import annotations

import pytest

from cdpclient.errors import KubeError
from cdpclient.kube.procscan import Proc, Scan, parse_scan, pick_node_process

TCP = (b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
       b"   0: 0100007F:2405 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 1 1\n"
       b"   1: 0100007F:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000  1000 0 2 1\n"
       b"   0: 00000000000000000000000001000000:2406 00000000000000000000000000000000:0000 0A 0 0 0 0\n")


def _scan_output(*procs: tuple[int, str, list[str], str | None]) -> bytes:
    out = b"\n"
    for pid, comm, argv, env in procs:
        out += f"\036P {pid} {comm}\n".encode() + b"\0".join(a.encode() for a in argv) + b"\0"
        if env is not None:
            out += b"\036E\n" + env.encode().replace(b" ", b"\0")
    return out + b"\036T\n" + TCP


def test_parse_scan_processes_environment_and_listening_ports():
    scan = parse_scan(_scan_output(
        (1, "node", ["node", "--max-old-space-size=512", "server.js"], "HOME=/root NODE_OPTIONS=--inspect-port=9230"),
        (7, "sh", ["/bin/sh"], None),
    ))
    assert [(p.pid, p.comm, p.is_node) for p in scan.procs] == [(1, "node", True), (7, "sh", False)]
    assert scan.procs[0].argv == ["node", "--max-old-space-size=512", "server.js"]
    assert scan.procs[0].node_options == "--inspect-port=9230"
    assert scan.listening == {9221, 9222}  # 0x2405 and 0x2406 (tcp6), not the established 8080


@pytest.mark.parametrize("argv, node_options, expected", [
    (["node", "app.js"], "", (False, None)),
    (["node", "--inspect", "app.js"], "", (True, None)),
    (["node", "--inspect=9230", "app.js"], "", (True, 9230)),
    (["node", "--inspect-brk=0.0.0.0:9231", "app.js"], "", (True, 9231)),
    (["node", "--inspect=[::1]:9232", "app.js"], "", (True, 9232)),
    (["node", "--inspect-port=9233", "app.js"], "", (False, 9233)),
    (["node", "app.js"], "--max-old-space-size=100 --inspect=127.0.0.1:9234", (True, 9234)),
])
def test_inspect_flags(argv, node_options, expected):
    flags = Proc(1, "node", argv, node_options).inspect_flags()
    assert (flags.open_at_start, flags.port) == expected


def test_process_title_changed_still_node():
    assert Proc(1, "api-server", ["/usr/local/bin/node", "dist/main.js"]).is_node


def test_pick_node_process():
    one = Scan(procs=[Proc(1, "tini", ["tini", "--", "node", "a.js"]), Proc(6, "node", ["node", "a.js"])])
    assert pick_node_process(one, None, pod="p", container="c", inspect_port=9229).pid == 6
    two = Scan(procs=[Proc(5, "node", ["node", "--inspect", "a.js"]), Proc(6, "node", ["node", "b.js"])],
               listening={9229})
    assert pick_node_process(two, None, pod="p", container="c", inspect_port=9229).pid == 5
    two.listening = set()
    with pytest.raises(KubeError, match="several Node.js processes"):
        pick_node_process(two, None, pod="p", container="c", inspect_port=9229)
    with pytest.raises(KubeError, match="no process 99"):
        pick_node_process(two, 99, pod="p", container="c", inspect_port=9229)
    with pytest.raises(KubeError, match="no Node.js process in container c of pod p"):
        pick_node_process(Scan(procs=[Proc(1, "python", ["python"])]), None, pod="p", container="c",
                          inspect_port=9229)
