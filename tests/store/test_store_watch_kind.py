"""The watch kind: a msgpack stream (not JSON) through detection, import, ls, show, verify, export,
compression at rest, and live captures (registered at the start, appended in place, finished at the end
or by reindex after the writer died)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdpclient import msgstream
from cdpclient.errors import InvalidCaptureFile
from cdpclient.store import Store, detect_kind, validate_file
from cdpclient.store.kinds import EXTENSIONS
from cdpclient_cli.app import app

ROOT = Path(__file__).parent.parent.parent
Write = Callable[..., Path]


def test_a_stream_is_detected_from_its_content(tmp_path: Path, write_watch: Write) -> None:
    src = write_watch(tmp_path / "renamed.bin")
    assert detect_kind(src) == validate_file(src) == "watch"
    assert EXTENSIONS["watch"] == ".watch"


def test_a_cut_stream_is_still_a_watch_recording(tmp_path: Path, write_watch: Write) -> None:
    src = write_watch(tmp_path / "a.watch")
    src.write_bytes(src.read_bytes()[:-5])  # the writer died mid-record
    assert validate_file(src) == "watch"


def test_other_streams_and_binary_files_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.bin"
    with msgstream.StreamWriter(other, "cdpclient.other") as w:  # cdpclient.session is a kind: recording
        w.write({"t": "x"})
    with pytest.raises(InvalidCaptureFile, match="cdpclient.other"):
        validate_file(other)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x85\xa6stream" + b"\xc1" * 20)  # starts like a stream, is not one
    with pytest.raises(InvalidCaptureFile):
        validate_file(junk)


@pytest.mark.parametrize("compress", [False, True])
def test_import_export_show_verify(store: Store, tmp_path: Path, compress: bool, write_watch: Write) -> None:
    src = write_watch(tmp_path / "w.watch", samples=7)
    rec = store.import_file(src, labels={"incident": "9"}, compress=compress)
    assert rec.kind == "watch" and rec.compressed == compress
    assert rec.meta["records"] == {"end": 1, "firing": 1, "sample": 7}
    assert rec.meta["span_s"] == 8.0 and rec.meta["end_reason"] == "for elapsed"
    assert rec.meta["truncated_bytes"] == 0
    assert [r.id for r in store.list(kind="watch")] == [rec.id]
    assert store.verify(rec.id).status == "ok"
    out = store.export(rec.id, tmp_path)
    assert out.name == rec.id + ".watch" and out.read_bytes() == src.read_bytes()  # as is, decompressed
    assert len(msgstream.read(store.materialize(rec)).records) == 9


def test_ls_and_show_on_the_command_line(cli_runner: CliRunner, tmp_path: Path, write_watch: Write) -> None:
    env = {"CDPCLIENT_STORE": str(tmp_path / "rec")}
    src = write_watch(tmp_path / "w.watch", samples=3)
    assert cli_runner.invoke(app, ["import", str(src)], env=env).exit_code == 0
    listed = cli_runner.invoke(app, ["ls", "--kind", "watch", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert row["kind"] == "watch" and row["status"] == "ok"
    shown = cli_runner.invoke(app, ["show", row["id"]], env=env)
    assert shown.exit_code == 0, shown.output
    assert '"sample": 3' in shown.output and "span_s" in shown.output and "end_reason" in shown.output
    assert cli_runner.invoke(app, ["store", "verify", row["id"]], env=env).exit_code == 0


def test_a_live_capture_is_listed_while_written_then_finished(store: Store) -> None:
    pending = store.begin_live("watch")
    writer = msgstream.StreamWriter(pending.path, "cdpclient.watch", every_s=1.0)
    rec = store.publish_live(pending, labels={"watch": "w1"}, target={"endpoint": "x"})
    assert rec.status == "recording" and rec.path.parent.parent == store.layout.captures_dir
    writer.path = pending.path
    for i in range(4):
        writer.write({"t": "sample", "ts": 10.0 + i})
    [listed] = store.list(kind="watch")
    assert listed.status == "recording"
    checked = store.verify(rec.id)
    assert checked.status == "recording" and checked.meta["records"] == {"sample": 4}
    writer.close()
    done = store.finish_live(pending, meta={"watch_id": "w1"}, compress=True)
    assert done.status == "ok" and done.compressed and done.meta["records"] == {"sample": 4}
    assert store.verify(done.id).status == "ok"
    assert oct(done.path.stat().st_mode & 0o777) == "0o600"
    assert not (done.path.parent / (done.id + ".watch")).exists()


DIE = textwrap.dedent("""
    import os, sys
    from cdpclient import msgstream
    from cdpclient.store import Store
    store = Store.open(sys.argv[1])
    pending = store.begin_live("watch")
    w = msgstream.StreamWriter(pending.path, "cdpclient.watch", every_s=1.0)
    store.publish_live(pending)
    for i in range(3):
        w.write({"t": "sample", "ts": float(i)})
    os.write(w._fd, b"\\x82\\xa1t")  # half a record
    print(pending.id, flush=True)
    os.kill(os.getpid(), 9)
""")


def test_a_dead_writers_capture_is_listed_readable_and_reindex_finishes_it(store: Store, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", DIE, str(store.root)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    capture_id = proc.stdout.strip()
    [rec] = store.list(kind="watch")
    assert rec.id == capture_id and rec.status == "interrupted"
    stream = msgstream.read(rec.path)
    assert len(stream.records) == 3 and stream.truncated_bytes == 3
    assert store.reindex() == {"captures": 1, "skipped": []}
    fixed = store.verify(capture_id)
    assert fixed.status == "ok" and fixed.meta["interrupted"] is True
    assert fixed.meta["records"] == {"sample": 3} and fixed.meta["truncated_bytes"] == 3
    assert "writer" not in fixed.meta and fixed.size == rec.path.stat().st_size
    assert not os.listdir(store.layout.tmp_dir)
