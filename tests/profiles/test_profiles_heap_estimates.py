"""Object estimates of sampling heap profiles, against an app that knows what it allocated.

Each sample of a sampling heap profile stands for about ``samplingInterval`` bytes, so the
sample count is no object count: 200,000 objects of 32 bytes give about 200 samples at
V8's default interval. ``~objects`` is estimated from the sampled sizes and the interval.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from nodeproc import run_cli, start_node, wait_output  # type: ignore[attr-defined]

import cdpclient
from cdpclient.captures.sampling import sampler_running
from cdpclient.profiles import top

REPO = Path(__file__).parent.parent.parent


@dataclass
class Sampled:
    site: str  # the function that allocated them
    count: int  # how many objects it allocated (and kept)
    args: list[str]  # how to name the profile to the CLI


async def _wait_sampling(endpoint: str) -> None:
    async with cdpclient.connect(endpoint) as target:
        for _ in range(600):
            if await sampler_running(target):
                return
            await asyncio.sleep(0.05)
    raise AssertionError("the sampler never started")


def _sample(kind: str, count: int, capture: list[str]) -> list[str]:
    """Run ``cdpclient sample`` on the app; the app allocates once the sampler runs."""
    node = start_node("sampled_allocations.js", kind, str(count))
    try:
        wait_output(node, "ready")
        proc = subprocess.Popen([sys.executable, "-m", "cdpclient_cli.app", "sample", node.endpoint,
                                 "--duration", "4s", "--json", *capture],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        try:
            asyncio.run(_wait_sampling(node.endpoint))
            os.kill(node.pid, signal.SIGUSR2)
            wait_output(node, f"allocated {count} {kind}", timeout=30)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err
        return [json.loads(out)["id"]] if "--out" not in capture else []
    finally:
        node.stop()


@pytest.fixture(scope="module")
def sampled(tmp_path_factory) -> dict[str, Sampled]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("heap-estimates")
    store = ["--store", str(root / "store")]
    # 32-byte objects into the store at V8's default interval (recorded with the capture) ...
    small = _sample("small", 200_000, store)
    # ... 4 KiB strings into a plain file at another interval (which the file does not record).
    plain = root / "large.heapprofile"
    _sample("large", 20_000, ["--out", str(plain), "--interval", "16384"])
    return {"small": Sampled("allocateSmall", 200_000, [*small, *store]),
            "large": Sampled("allocateLarge", 20_000, [str(plain), *store])}


@pytest.mark.compat
@pytest.mark.parametrize(("kind", "interval", "source"), [("small", 32768, "capture"), ("large", 16384, "file")])
def test_objects_are_estimated_from_sizes_and_interval(sampled, kind: str, interval: int,  # type: ignore[no-untyped-def]
                                                       source: str) -> None:
    s = sampled[kind]
    done = run_cli("top", *s.args, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["header"]["sampling_interval"] == interval and data["header"]["interval_source"] == source
    row = next(r for r in data["rows"] if r["name"] == s.site)
    estimate, samples = row["total"]["objects"], row["total"]["samples"]
    print(f"{kind}: ~objects {estimate:,.0f} for {s.count:,} allocated, {samples:,.0f} samples")
    assert 0.7 * s.count <= estimate <= 1.4 * s.count, (estimate, s.count)
    # The samples stay the raw count: far fewer than the objects when they are small.
    assert samples == int(samples) and 0 < samples < estimate
    if kind == "small":
        assert samples < s.count / 100
    # The table says which is which.
    done = run_cli("top", *s.args, "--limit", "3")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"(one per ~{interval:,} bytes allocated" in lines[0]
    assert lines[1].split()[:6] == ["self", "size", "self", "%", "~objects", "samples"]
    assert ("read off its samples" in done.stderr) == (source == "file")


def test_estimate_recovers_v8s_own_count_from_the_scaled_figures() -> None:
    """A profile written the way V8 writes one (ScaleSample): sizes 32 and 48 B share a site,
    and 32 and 40 B scale to the same sample size; selfSize tells which one the site had."""
    import math

    from cdpclient.profiles.heapprofile import parse_heap_profile

    interval = 32768

    def scaled(size: int, count: int) -> int:
        return int(count / (1.0 - math.exp(-size / interval)) + 0.5)

    assert 32 * scaled(32, 1) == 40 * scaled(40, 1) == 32800  # one sample size, two object sizes
    sites = {2: [(32, 193), (48, 14)], 3: [(40, 50)], 4: [(4096, 120)]}
    root = {"callFrame": {"functionName": "(root)", "url": ""}, "selfSize": 0, "id": 1, "children": [
        {"callFrame": {"functionName": f"site{node}", "url": "app.js", "lineNumber": node, "columnNumber": 0},
         "id": node, "children": [], "selfSize": sum(s * scaled(s, n) for s, n in groups)}
        for node, groups in sites.items()]}
    samples = [{"size": s * scaled(s, 1), "nodeId": node, "ordinal": 0}
               for node, groups in sites.items() for s, n in groups for _ in range(n)]
    profile = parse_heap_profile({"head": root, "samples": samples}, interval=interval)
    rows = {r.name: r for r in top(profile, limit=None).rows}
    for node, groups in sites.items():
        assert rows[f"site{node}"].self["objects"] == sum(scaled(s, n) for s, n in groups)
        assert rows[f"site{node}"].self["samples"] == sum(n for _s, n in groups)
