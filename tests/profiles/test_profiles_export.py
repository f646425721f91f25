"""Exports read back by independent readers: pprof through protobuf against profile.proto's schema,
speedscope against its file-format spec, collapsed stacks by their grammar."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cdpclient.errors import AnalysisError, InvalidCaptureFile, UsageError
from cdpclient.profiles import export_profile, load_profile

# The messages of github.com/google/pprof proto/profile.proto (package perftools.profiles),
# transcribed field by field from the published file: (name, number, type, repeated, message type).
_I64, _U64, _STR, _BOOL, _MSG = "int64", "uint64", "string", "bool", "message"
PROFILE_PROTO: dict[str, list[tuple[str, int, str, bool, str | None]]] = {
    "Profile": [("sample_type", 1, _MSG, True, "ValueType"), ("sample", 2, _MSG, True, "Sample"),
                ("mapping", 3, _MSG, True, "Mapping"), ("location", 4, _MSG, True, "Location"),
                ("function", 5, _MSG, True, "Function"), ("string_table", 6, _STR, True, None),
                ("drop_frames", 7, _I64, False, None), ("keep_frames", 8, _I64, False, None),
                ("time_nanos", 9, _I64, False, None), ("duration_nanos", 10, _I64, False, None),
                ("period_type", 11, _MSG, False, "ValueType"), ("period", 12, _I64, False, None),
                ("comment", 13, _I64, True, None), ("default_sample_type", 14, _I64, False, None)],
    "ValueType": [("type", 1, _I64, False, None), ("unit", 2, _I64, False, None)],
    "Sample": [("location_id", 1, _U64, True, None), ("value", 2, _I64, True, None),
               ("label", 3, _MSG, True, "Label")],
    "Label": [("key", 1, _I64, False, None), ("str", 2, _I64, False, None), ("num", 3, _I64, False, None),
              ("num_unit", 4, _I64, False, None)],
    "Mapping": [("id", 1, _U64, False, None), ("memory_start", 2, _U64, False, None),
                ("memory_limit", 3, _U64, False, None), ("file_offset", 4, _U64, False, None),
                ("filename", 5, _I64, False, None), ("build_id", 6, _I64, False, None),
                ("has_functions", 7, _BOOL, False, None), ("has_filenames", 8, _BOOL, False, None),
                ("has_line_numbers", 9, _BOOL, False, None), ("has_inline_frames", 10, _BOOL, False, None)],
    "Location": [("id", 1, _U64, False, None), ("mapping_id", 2, _U64, False, None),
                 ("address", 3, _U64, False, None), ("line", 4, _MSG, True, "Line"),
                 ("is_folded", 5, _BOOL, False, None)],
    "Line": [("function_id", 1, _U64, False, None), ("line", 2, _I64, False, None)],
    "Function": [("id", 1, _U64, False, None), ("name", 2, _I64, False, None),
                 ("system_name", 3, _I64, False, None), ("filename", 4, _I64, False, None),
                 ("start_line", 5, _I64, False, None)],
}


@pytest.fixture(scope="module")
def Profile() -> Any:  # noqa: N802 - a message class
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fd = descriptor_pb2.FileDescriptorProto(name="cdpclient_test_profile.proto", package="perftools.profiles",
                                            syntax="proto3")
    F = descriptor_pb2.FieldDescriptorProto
    types = {_I64: F.TYPE_INT64, _U64: F.TYPE_UINT64, _STR: F.TYPE_STRING, _BOOL: F.TYPE_BOOL, _MSG: F.TYPE_MESSAGE}
    for name, fields in PROFILE_PROTO.items():
        msg = fd.message_type.add(name=name)
        for fname, number, ftype, repeated, ref in fields:
            f = msg.field.add(name=fname, number=number, type=types[ftype],
                              label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
            if ref:
                f.type_name = f".perftools.profiles.{ref}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("perftools.profiles.Profile"))


def _decode(Profile: Any, path: Path) -> tuple[Any, list[str]]:  # noqa: N803
    raw = path.read_bytes()
    assert raw[:2] == b"\x1f\x8b", "pprof files are gzip-compressed"
    prof = Profile()
    prof.ParseFromString(gzip.decompress(raw))
    strings = list(prof.string_table)
    assert strings[0] == ""
    # Referential integrity, as pprof checks it.
    loc_ids = {loc.id for loc in prof.location}
    fn_ids = {fn.id for fn in prof.function}
    assert 0 not in loc_ids and 0 not in fn_ids and len(loc_ids) == len(prof.location)
    for s in prof.sample:
        assert s.location_id and set(s.location_id) <= loc_ids
        assert len(s.value) == len(prof.sample_type)
    for loc in prof.location:
        assert all(line.function_id in fn_ids for line in loc.line)
    for fn in prof.function:
        assert 0 <= fn.name < len(strings) and 0 <= fn.filename < len(strings)
    return prof, strings


def _types(prof: Any, strings: list[str]) -> list[tuple[str, str]]:
    return [(strings[t.type], strings[t.unit]) for t in prof.sample_type]


def _leaf_names(prof: Any, strings: list[str], value_index: int) -> dict[str, int]:
    fn_name = {fn.id: strings[fn.name] for fn in prof.function}
    loc_fn = {loc.id: loc.line[0].function_id for loc in prof.location}
    out: dict[str, int] = {}
    for s in prof.sample:
        name = fn_name[loc_fn[s.location_id[0]]]  # the leaf comes first
        out[name] = out.get(name, 0) + s.value[value_index]
    return out


@pytest.mark.compat
def test_cpu_pprof_decodes_against_profile_proto(cpu_profiles, tmp_path: Path, Profile) -> None:  # type: ignore[no-untyped-def]  # noqa: N803
    dest = export_profile(cpu_profiles.base, "cpuprofile", "pprof", tmp_path / "cpu.pb.gz")
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    prof, strings = _decode(Profile, dest)
    assert _types(prof, strings) == [("samples", "count"), ("cpu", "nanoseconds")]
    assert (strings[prof.period_type.type], strings[prof.period_type.unit]) == ("cpu", "nanoseconds")
    assert strings[prof.default_sample_type] == "cpu" and prof.period > 0 and prof.duration_nanos > 0
    profile = load_profile(cpu_profiles.base)
    assert sum(s.value[0] for s in prof.sample) == profile.sample_count
    assert sum(s.value[1] for s in prof.sample) == pytest.approx(profile.tree.totals()[0] * 1000, rel=1e-4)
    leaves = _leaf_names(prof, strings, 1)
    assert max(leaves, key=leaves.__getitem__) == "crunch"
    crunch = next(fn for fn in prof.function if strings[fn.name] == "crunch")
    assert strings[crunch.filename].endswith("node_modules/@acme/hog/index.js") and crunch.start_line == 3


@pytest.mark.compat
def test_heap_pprof_decodes_against_profile_proto(heap_profiles, tmp_path: Path, Profile) -> None:  # type: ignore[no-untyped-def]  # noqa: N803
    dest = export_profile(heap_profiles.small, "heapprofile", "pprof", tmp_path / "heap.pb.gz")
    prof, strings = _decode(Profile, dest)
    assert _types(prof, strings) == [("objects", "count"), ("space", "bytes")]
    assert strings[prof.default_sample_type] == "space"
    total = load_profile(heap_profiles.small).tree.totals()[0]
    assert sum(s.value[1] for s in prof.sample) == pytest.approx(total, abs=len(prof.sample))
    leaves = _leaf_names(prof, strings, 1)
    assert {"allocationHotSpot", "repeat"} >= set(sorted(leaves, key=leaves.__getitem__)[-2:])


def test_timeline_pprof(timeline_files, tmp_path: Path, Profile) -> None:  # type: ignore[no-untyped-def]  # noqa: N803
    dest = export_profile(timeline_files.timeline, "heaptimeline", "pprof", tmp_path / "tl.pb.gz")
    prof, strings = _decode(Profile, dest)
    assert [t for t, _ in _types(prof, strings)] == ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"]
    leaves = _leaf_names(prof, strings, 1)
    assert max(leaves, key=leaves.__getitem__) == "allocationHotSpot"


_COLLAPSED = re.compile(r"^[^;\n]+(;[^;\n]+)* \d+$")


def test_collapsed_stacks(cpu_profiles, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dest = export_profile(cpu_profiles.base, "cpuprofile", "collapsed", tmp_path / "cpu.txt")
    lines = dest.read_text().splitlines()
    assert lines and all(_COLLAPSED.match(line) for line in lines)
    assert len(set(line.rsplit(" ", 1)[0] for line in lines)) == len(lines)  # one line per stack
    total = sum(int(line.rsplit(" ", 1)[1]) for line in lines)
    assert total == pytest.approx(load_profile(cpu_profiles.base).tree.totals()[0], rel=0.01)
    crunch = [line for line in lines if line.split(" ", 1)[0] and ";crunch (" in line]
    assert crunch and all(line.startswith("(anonymous) (node:internal/main/run_main_module") for line in crunch)
    fib = max((line for line in lines if "fib (" in line), key=lambda line: line.count(";fib ("))
    assert fib.count(";fib (") > 10  # the recursion is kept, frame by frame


def _check_speedscope(doc: dict[str, Any]) -> None:
    """The speedscope file-format spec (src/lib/file-format-spec.ts), field by field."""
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = doc["shared"]["frames"]
    assert isinstance(frames, list) and frames
    for f in frames:
        assert isinstance(f["name"], str) and set(f) <= {"name", "file", "line", "col"}
        assert all(isinstance(f[k], int) for k in ("line", "col") if k in f)
        assert isinstance(f.get("file", ""), str)
    assert isinstance(doc.get("name", ""), str) and 0 <= doc.get("activeProfileIndex", 0) < len(doc["profiles"])
    for p in doc["profiles"]:
        assert p["type"] == "sampled"
        assert isinstance(p["name"], str)
        assert p["unit"] in ("none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes")
        assert p["endValue"] >= p["startValue"]
        assert len(p["samples"]) == len(p["weights"]) > 0
        assert all(isinstance(w, (int, float)) and w >= 0 for w in p["weights"])
        assert all(s and all(isinstance(i, int) and 0 <= i < len(frames) for i in s) for s in p["samples"])


@pytest.mark.compat
def test_speedscope_cpu(cpu_profiles, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dest = export_profile(cpu_profiles.base, "cpuprofile", "speedscope", tmp_path / "cpu.speedscope.json")
    doc = json.loads(dest.read_text())
    _check_speedscope(doc)
    (p,) = doc["profiles"]
    profile = load_profile(cpu_profiles.base)
    assert p["unit"] == "microseconds" and len(p["samples"]) == profile.sample_count  # time order kept
    assert sum(p["weights"]) == pytest.approx(profile.tree.totals()[0], rel=1e-4)
    names = [f["name"] for f in doc["shared"]["frames"]]
    assert "crunch" in names and "(root)" not in {names[s[0]] for s in p["samples"]}


def test_speedscope_heap_and_timeline(heap_profiles, timeline_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(export_profile(heap_profiles.small, None, "speedscope", tmp_path / "h.json").read_text())
    _check_speedscope(doc)
    assert [p["unit"] for p in doc["profiles"]] == ["bytes"]
    doc = json.loads(export_profile(timeline_files.timeline, "heaptimeline", "speedscope",
                                    tmp_path / "t.json").read_text())
    _check_speedscope(doc)
    assert len(doc["profiles"]) == 2  # allocated, and alive at the end


def test_export_refuses_bad_requests(cpu_profiles, tmp_path: Path, truncate) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="unknown export format 'svg'"):
        export_profile(cpu_profiles.base, "cpuprofile", "svg", tmp_path / "x")
    with pytest.raises(AnalysisError, match="heapsnapshot capture cannot be exported"):
        export_profile(cpu_profiles.base, "heapsnapshot", "pprof", tmp_path / "x")
    with pytest.raises(InvalidCaptureFile, match="truncated"):
        export_profile(truncate(cpu_profiles.base, 0.5), "cpuprofile", "pprof", tmp_path / "x")
    assert not list(tmp_path.glob("x*")) and not list(tmp_path.glob(".x*"))  # nothing half-written


def test_timeline_exports_keep_every_byte(timeline_files, tmp_path: Path, Profile) -> None:  # type: ignore[no-untyped-def]  # noqa: N803
    """Allocations without a JavaScript stack (held by the root itself) are not dropped."""
    tree = load_profile(timeline_files.timeline).tree
    assert tree.values[0, 0] > 0  # the recording has such allocations
    lines = export_profile(timeline_files.timeline, "heaptimeline", "collapsed", tmp_path / "t.txt").read_text()
    assert sum(int(line.rsplit(" ", 1)[1]) for line in lines.splitlines()) == tree.totals()[0]
    prof, _ = _decode(Profile, export_profile(timeline_files.timeline, "heaptimeline", "pprof", tmp_path / "t.pb"))
    assert sum(s.value[1] for s in prof.sample) == tree.totals()[0]


@pytest.mark.skipif(shutil.which("go") is None, reason="the Go toolchain (go tool pprof) is not installed")
def test_real_pprof_reads_the_exports(cpu_profiles, heap_profiles, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for src, kind, kind_line, leader in [(cpu_profiles.base, "cpuprofile", "Type: cpu", "crunch"),
                                        (heap_profiles.small, "heapprofile", "Type: space", "allocationHotSpot")]:
        dest = export_profile(src, kind, "pprof", tmp_path / f"{kind}.pb.gz")
        done = subprocess.run(["go", "tool", "pprof", "-top", "-nodecount=3", str(dest)], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
        assert done.returncode == 0, done.stderr
        assert kind_line in done.stdout
        rows = [line.split() for line in done.stdout.splitlines() if line.strip().endswith(leader)]
        assert rows, done.stdout


def test_cpu_pprof_puts_time_on_lines_and_names_a_mapping(cpu_profiles, tmp_path: Path, Profile) -> None:  # type: ignore[no-untyped-def]  # noqa: N803
    """V8's positionTicks become one leaf location per line (``pprof -list`` shows the hot line), the
    values still add up, and every location sits in one mapping (pprof: no 'Main binary filename')."""
    profile = load_profile(cpu_profiles.base)
    assert profile.line_ticks, "node --cpu-prof writes positionTicks"
    dest = export_profile(cpu_profiles.base, "cpuprofile", "pprof", tmp_path / "cpu.pb.gz")
    prof, strings = _decode(Profile, dest)
    assert len(prof.mapping) == 1 and strings[prof.mapping[0].filename] == "node"
    assert prof.mapping[0].has_functions and prof.mapping[0].has_line_numbers
    assert all(loc.mapping_id == prof.mapping[0].id for loc in prof.location)
    assert sum(s.value[0] for s in prof.sample) == profile.sample_count  # nothing lost in the split
    assert sum(s.value[1] for s in prof.sample) == pytest.approx(profile.tree.totals()[0] * 1000, rel=1e-4)
    crunch = next(fn for fn in prof.function if strings[fn.name] == "crunch")
    by_line: dict[int, int] = {}
    for s in prof.sample:
        leaf = next(loc for loc in prof.location if loc.id == s.location_id[0])
        if leaf.line[0].function_id == crunch.id:
            by_line[leaf.line[0].line] = by_line.get(leaf.line[0].line, 0) + s.value[0]
    ticks: dict[int, int] = {}
    for node, pairs in profile.line_ticks.items():
        if profile.tree.frames[int(profile.tree.frame[node])].name == "crunch":
            for line, count in pairs:
                ticks[line] = ticks.get(line, 0) + count
    assert set(by_line) == {line for line, count in ticks.items() if count}  # the lines V8 saw, not line 3
    hottest = max(ticks, key=ticks.__getitem__)
    assert by_line[hottest] >= 0.8 * max(by_line.values())  # the hot line leads (split by ticks, rounded)
    assert crunch.start_line == 3 and any(line > 3 for line in by_line)


class _Ingest:
    """A stand-in for Pyroscope's ``POST /ingest`` on 127.0.0.1 (aiohttp, in a thread of its own), checking
    what Pyroscope checks: the required query (name, from, until), format=pprof, a multipart body with a
    ``profile`` part; it keeps what it got, and answers ``status`` (400 with Pyroscope's words when the
    request lacks something)."""

    def __init__(self, status: int = 200) -> None:
        import asyncio
        import threading

        from aiohttp import web

        self.status = status
        self.got: list[dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def ingest(request: web.Request) -> web.Response:
            q = request.query
            missing = [k for k in ("name", "from", "until") if not q.get(k)]
            if missing or q.get("format") != "pprof" or not request.content_type.startswith("multipart/form-data"):
                return web.Response(status=400, text=f"bad request: missing {missing or 'format=pprof / multipart'}")
            if int(q["from"]) > int(q["until"]):
                return web.Response(status=400, text="from is after until")
            parts = {}
            reader = await request.multipart()
            async for part in reader:
                parts[part.name] = await part.read()  # type: ignore[union-attr]
            if "profile" not in parts:
                return web.Response(status=400, text="no profile part")
            self.got.append({"query": dict(q), "headers": dict(request.headers), "profile": bytes(parts["profile"])})
            return web.Response(status=self.status, text="" if self.status < 300 else "ingestion is down\nmore")

        async def start() -> None:
            app = web.Application()
            app.router.add_post("/ingest", ingest)
            self.runner = web.AppRunner(app)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        self.thread = threading.Thread(target=lambda: (self.loop.run_until_complete(start()), self.loop.run_forever()),
                                       daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def close(self) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def test_export_push_sends_what_a_pyroscope_ingest_reads(cpu_profiles, tmp_path: Path, Profile) -> None:  # type: ignore[no-untyped-def]  # noqa: N803
    from nodeproc import run_cli  # type: ignore[attr-defined]

    server = _Ingest()
    try:
        store = ["--store", str(tmp_path / "store")]
        done = run_cli("export", str(cpu_profiles.base), "--format", "pprof", "--push",
                       f"http://ops:s3cret@127.0.0.1:{server.port}", "--app", "checkout", "--tag", "env=prod",
                       "--tag", "region=eu", "--tenant", "team-a", "--json", *store,
                       env={"CDPCLIENT_PUSH_TOKEN": "tok-123"})
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["status"] == 200 and result["name"] == "checkout{env=prod,region=eu}"
        assert "s3cret" not in done.stdout + done.stderr and "tok-123" not in done.stdout + done.stderr
        (sent,) = server.got
        q, headers = sent["query"], sent["headers"]
        assert q["name"] == "checkout{env=prod,region=eu}" and q["spyName"] == "cdpclient"
        assert int(q["from"]) <= int(q["until"]) and int(q["sampleRate"]) > 0
        assert headers["X-Scope-OrgID"] == "team-a" and headers["Authorization"] == "Bearer tok-123"
        path = tmp_path / "sent.pb.gz"
        path.write_bytes(sent["profile"])
        prof, strings = _decode(Profile, path)  # the same pprof export, gzipped
        assert _types(prof, strings) == [("samples", "count"), ("cpu", "nanoseconds")]

        basic = run_cli("export", str(cpu_profiles.base), "--push", f"http://ops:s3cret@127.0.0.1:{server.port}/",
                        *store)
        assert basic.returncode == 0 and "pushed" in basic.stderr + basic.stdout
        assert server.got[1]["headers"]["Authorization"].startswith("Basic ")  # no token: the URL's user
        assert server.got[1]["query"]["name"] == "cdpclient"

        server.status = 503
        refused = run_cli("export", str(cpu_profiles.base), "--push", f"http://127.0.0.1:{server.port}", *store)
        assert refused.returncode == 1 and refused.stderr.strip().splitlines() == [
            f"cdpclient: error: http://127.0.0.1:{server.port}/ingest refused the profile: HTTP 503: ingestion is down"]
    finally:
        server.close()
    gone = run_cli("export", str(cpu_profiles.base), "--push", f"http://127.0.0.1:{server.port}", *store)
    assert gone.returncode == 1 and len(gone.stderr.strip().splitlines()) == 1
    assert f"cannot push to http://127.0.0.1:{server.port}/ingest" in gone.stderr
    bad = run_cli("export", str(cpu_profiles.base), "--push", "ftp://x", *store)
    assert bad.returncode == 2 and "not an http(s) URL" in bad.stderr
    heap = run_cli("export", str(cpu_profiles.base), "--push", "http://127.0.0.1:9", "--app", "a b", *store)
    assert heap.returncode == 2 and "application name" in heap.stderr
