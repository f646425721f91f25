"""Measure the store's costs on a real capture file (not a test; run by hand, once).

    .venv/bin/python tests/store/measure_store.py FILE.heapsnapshot

Prints the zstd ratio and speed at levels 1, 3 and 6, sha256 and validation speed,
import and publish times with and without compression, decompression into the
cache, and redaction speed.  Make a file to measure with, for example,
``node -e "require('v8').writeHeapSnapshot('x.heapsnapshot')"`` in a process that
holds a service-like heap.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(src: Path) -> None:
    import zstandard

    from cdpclient.store import Store, validate_file
    from cdpclient.store.redact import redact_heapsnapshot

    size = src.stat().st_size
    mb = size / 1e6
    print(f"{src}: {mb:.1f} MB")
    data = src.read_bytes()
    for level in (1, 3, 6):
        t = time.perf_counter()
        packed = zstandard.ZstdCompressor(level=level).compress(data)
        dc = time.perf_counter() - t
        t = time.perf_counter()
        zstandard.ZstdDecompressor().decompress(packed)
        dd = time.perf_counter() - t
        print(f"zstd level {level}: ratio {size / len(packed):.2f}x, compress {mb / dc:.0f} MB/s, "
              f"decompress {mb / dd:.0f} MB/s")
    t = time.perf_counter()
    hashlib.sha256(data).hexdigest()
    print(f"sha256: {mb / (time.perf_counter() - t):.0f} MB/s")
    del data
    t = time.perf_counter()
    kind = validate_file(src)
    print(f"validate ({kind}, streaming): {mb / (time.perf_counter() - t):.0f} MB/s")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "rec")
        for compress in (False, True):
            t = time.perf_counter()
            rec = store.import_file(src, compress=compress)
            di = time.perf_counter() - t
            with store.new_capture(kind, compress=compress) as pending:
                shutil.copyfile(src, pending.path)
                t = time.perf_counter()
            dp = time.perf_counter() - t
            print(f"compress={compress}: import {di:.1f} s ({mb / di:.0f} MB/s), publish {dp:.1f} s "
                  f"({mb / dp:.0f} MB/s), stored {rec.stored_size / 1e6:.1f} MB")
            if compress:
                t = time.perf_counter()
                store.materialize(rec)
                print(f"materialize (decompress into the cache): {mb / (time.perf_counter() - t):.0f} MB/s")
        if kind in ("heapsnapshot", "heaptimeline"):
            out = Path(tmp) / "redacted"
            out.touch()
            t = time.perf_counter()
            counts = redact_heapsnapshot(src, out)
            print(f"redact: {mb / (time.perf_counter() - t):.0f} MB/s {counts}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
