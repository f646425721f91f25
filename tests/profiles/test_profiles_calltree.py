"""The call tree's grouping: totals count a group once per stack, also through mutual recursion."""

from __future__ import annotations

import numpy as np

from cdpclient.profiles.calltree import Metric, build
from cdpclient.profiles.frames import Frame, package_of


def test_mutual_recursion_and_packages() -> None:
    root, a, b = Frame("(root)", ""), Frame("a", "/app/node_modules/x/a.js", 1, 1), Frame("b", "/app/b.js", 2, 1)
    frames = [root, a, b]
    # root -> a -> b -> a(10) ; root -> a(5) ; root -> b(1). Input order is not preorder on purpose.
    parent = [-1, 0, 1, 2, 0, 0]
    frame = [0, 1, 2, 1, 1, 2]
    values = np.array([[0.0], [0.0], [0.0], [10.0], [5.0], [1.0]])
    tree = build(frames, parent, frame, values, [Metric("time", "us")])
    assert tree.parent[0] == -1 and all(tree.parent[i] < i for i in range(1, len(tree)))
    keys, self_v, total_v = tree.group(lambda f: f)
    got = {k.name: (s[0], t[0]) for k, s, t in zip(keys, self_v, total_v, strict=True)}
    assert got == {"(root)": (0, 16), "a": (15, 15), "b": (1, 11)}
    keys, self_v, total_v = tree.group(package_of)
    got = {k: (s[0], t[0]) for k, s, t in zip(keys, self_v, total_v, strict=True)}
    assert got["x"] == (15, 15) and got["(app)"] == (1, 11)
    stacks = {tuple(frames[f].name for f in stack): v[0] for stack, v in tree.stacks()}
    assert stacks == {("a", "b", "a"): 10, ("a",): 5, ("b",): 1}
