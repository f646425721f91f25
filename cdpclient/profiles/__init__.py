"""Profile analysis: CPU profiles, sampling heap profiles and allocation timelines.

Reads files only (no dependency on capture code). Every profile kind is read into a
:class:`CallTree` (columnar: parent, frame and per-node self values), and the tables,
flame graphs and exports work on that tree::

    from cdpclient.profiles import load_profile, top, diff, flame_svg, export_profile

    profile = load_profile(Path("x.cpuprofile"))      # kind from the name or contents
    result = top(profile, by="package", limit=20)      # TopResult; .to_dict() for JSON
    export_profile(Path("x.cpuprofile"), "cpuprofile", "pprof", Path("x.pb.gz"))
"""

from __future__ import annotations

from cdpclient.profiles.analysis import (
    GROUPINGS,
    DiffResult,
    DiffRow,
    Profile,
    Row,
    Selection,
    TopResult,
    diff,
    load_profile,
    select,
    top,
)
from cdpclient.profiles.calltree import CallTree, Metric
from cdpclient.profiles.cpuprofile import CpuProfile, load_cpu_profile
from cdpclient.profiles.export import FORMATS, collapsed, export_profile, pprof, speedscope
from cdpclient.profiles.flame import flame_svg
from cdpclient.profiles.frames import Frame, file_of, package_of
from cdpclient.profiles.heapprofile import HeapProfile, load_heap_profile
from cdpclient.profiles.timeline import GrowthPoint, Timeline, load_timeline

__all__ = [
    # reading
    "load_profile", "load_cpu_profile", "load_heap_profile", "load_timeline",
    "Profile", "CpuProfile", "HeapProfile", "Timeline", "GrowthPoint", "CallTree", "Metric",
    # frames and grouping
    "Frame", "package_of", "file_of", "GROUPINGS",
    # tables
    "top", "diff", "TopResult", "Row", "DiffResult", "DiffRow", "Selection", "select",
    # pictures and formats
    "flame_svg", "export_profile", "FORMATS", "collapsed", "speedscope", "pprof",
]
