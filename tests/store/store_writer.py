"""A separate writer process for the store's integrity tests (not a test module).

    store_writer.py STORE slow          start a capture, print "writing", keep writing until killed
    store_writer.py STORE many N TAG    store N captures labelled writer=TAG, then print "done"
    store_writer.py STORE fill MB       write MB megabytes into one capture (to hit a full disk)
"""

from __future__ import annotations

import sys
import time

from cdpclient.errors import CDPClientError
from cdpclient.store import Store


def main() -> int:
    store = Store.open(sys.argv[1])
    mode = sys.argv[2]
    if mode == "slow":
        with store.new_capture("heapsnapshot") as pending:
            with open(pending.path, "w") as fh:
                fh.write('{"snapshot":{"meta":{}},"nodes":[')
                fh.flush()
                print("writing", pending.temp_dir, flush=True)
                while True:
                    fh.write("0," * 1000)
                    fh.flush()
                    time.sleep(0.01)
    if mode == "many":
        count, tag = int(sys.argv[3]), sys.argv[4]
        for i in range(count):
            with store.new_capture("cpuprofile", labels={"writer": tag, "i": str(i)}) as pending:
                pending.path.write_text('{"nodes":[],"startTime":0,"endTime":1,"samples":[]}')
        print("done", flush=True)
        return 0
    if mode == "fill":
        try:
            with store.new_capture("heapsnapshot") as pending:
                with open(pending.path, "wb") as fh:
                    for _ in range(int(sys.argv[3])):
                        fh.write(b"0" * (1 << 20))
        except CDPClientError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return 1
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
