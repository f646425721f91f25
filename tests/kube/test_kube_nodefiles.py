"""Where Node writes its diagnostic files, from its flags; the container listing parsed."""

from __future__ import annotations

from cdpclient.kube.nodefiles import flags, globs, globs_for_dirs, parse_listing
from cdpclient.kube.procscan import Proc, parse_scan


def test_flags_from_command_line_and_node_options_the_command_line_wins():
    p = Proc(pid=1, comm="node", cwd="/app",
             argv=["node", "--diagnostic-dir", "diag", "--report-directory=/reports", "server.js",
                   "--diagnostic-dir=/not-node"],
             node_options="--diagnostic-dir=/env --cpu-prof-dir='/my profiles' --heap_prof_dir=/hp")
    f = flags(p)
    assert f["diagnostic-dir"] == "diag"  # the app's own argument after the script is not Node's
    assert f["report-directory"] == "/reports" and f["cpu-prof-dir"] == "/my profiles" and f["heap-prof-dir"] == "/hp"
    found = globs(p)
    assert "/app/diag/*.heapsnapshot" in found and "/app/*.heapsnapshot" in found
    assert "/reports/report.*.json" in found and "/app/diag/report.*.json" in found
    assert "/my profiles/*.cpuprofile" in found and "/hp/*.heapprofile" in found
    assert len(found) == len(set(found))


def test_named_files_become_globs():
    p = Proc(pid=7, comm="node", cwd="/srv",
             argv=["node", "--report-filename=crash-${pid}.json", "--cpu-prof-name=cpu.[x].cpuprofile", "app.js"])
    found = globs(p)
    assert "/srv/crash-*.json" in found and "/srv/cpu.?x?.cpuprofile" in found
    stdout = Proc(pid=7, comm="node", cwd="/srv", argv=["node", "--report-filename=stdout", "app.js"])
    assert not any(g.endswith("stdout") for g in globs(stdout))
    assert globs_for_dirs(["/d"]) == ["/d/*.heapsnapshot", "/d/report.*.json", "/d/*.cpuprofile",
                                      "/d/*.heapprofile"]


def test_parse_procs_and_listing():
    raw = (b"\036P 1 node\nnode\0--diagnostic-dir=/d\0server.js\0\036C /app\n\036E\nPATH=/bin\0NODE_OPTIONS="
           b"--max-old-space-size=100\0\036P 42 node\nnode\0\036C \n\036E\n\036P 43 sh\nsh\0")
    procs = parse_scan(raw).node_procs
    assert [(p.pid, p.cwd) for p in procs] == [(1, "/app"), (42, "")]
    assert procs[0].argv == ["node", "--diagnostic-dir=/d", "server.js"]
    assert procs[0].node_options == "--max-old-space-size=100"
    listing = parse_listing(
        b"\036F 10 1700000000\n/d/Heap.20261203.101010.1.0.001.heapsnapshot"
        b"\036F 5 1690000000\n/app/report with space.json"
        b"\036F x y\n/bad"
        b"\036W\n/proc/1/fd/:\n"
        b"l-wx------ 1 root root 64 Dec  3 06:03 3 -> /d/Heap.20261203.101010.1.0.001.heapsnapshot\n"
        b"lr-x------ 1 root root 64 Dec  3 06:03 4 -> /app/report with space.json\n"
        b"\036Z /bin/gzip\n")
    assert listing.gzip
    assert [(f.path, f.size, f.writing) for f in listing.files] == [
        ("/app/report with space.json", 5, False), ("/d/Heap.20261203.101010.1.0.001.heapsnapshot", 10, True)]
    assert listing.files[1].writer_pid == 1 and listing.files[1].expected_kind == "heapsnapshot"
    assert listing.files[0].writer_pid is None
    assert not parse_listing(b"\036W\n\036Z \n").gzip
