"""A weighted call tree in columnar form: the shape every profile kind is read into.

Nodes are numbered in preorder (a parent before its children), so a single reverse
pass sums subtrees and a single forward pass walks every root-to-node path.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cdpclient.profiles.frames import Frame

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True, slots=True)
class Metric:
    """One value measured at every node: ``name`` (``time``, ``bytes``...) and its ``unit``."""

    name: str
    unit: str  # "us", "bytes", "count"


@dataclass
class CallTree:
    """Call tree with per-node self values.

    ``parent[i]`` is the parent's index (-1 for the root, which is node 0),
    ``frame[i]`` indexes ``frames``, ``depth[i]`` is 0 for the root, and
    ``values[i, m]`` is node i's own (self) value of ``metrics[m]``.
    """

    frames: list[Frame]
    parent: np.ndarray   # int64
    frame: np.ndarray    # int64
    depth: np.ndarray    # int64
    values: np.ndarray   # float64, shape (n, len(metrics))
    metrics: list[Metric]
    new_index: np.ndarray | None = field(default=None, repr=False)  # input node index -> node index
    _subtree: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.parent)

    def metric_index(self, name: str) -> int:
        for i, metric in enumerate(self.metrics):
            if metric.name == name:
                return i
        raise KeyError(name)

    def subtree_values(self) -> np.ndarray:
        """Inclusive values: each node's self values plus all its descendants'."""
        if self._subtree is None:
            import numpy as np

            sub = self.values.copy()
            # Level by level from the deepest: each level's sums are final before
            # they are added to their parents.
            by_depth = np.argsort(self.depth, kind="stable")
            ends = np.cumsum(np.bincount(self.depth))
            for d in range(len(ends) - 1, 0, -1):
                level = by_depth[ends[d - 1]:ends[d]]
                np.add.at(sub, self.parent[level], sub[level])
            self._subtree = sub
        return self._subtree

    def totals(self) -> np.ndarray:
        """The whole profile's value per metric."""
        totals: np.ndarray = self.values.sum(axis=0)
        return totals

    def group(self, key: Callable[[Frame], Hashable]) -> tuple[list[Hashable], np.ndarray, np.ndarray]:
        """Self and total values per group of frames (``key`` maps a frame to its group).

        Returns ``(keys, self, total)`` with one row per key. A group's total counts
        each sample once even when the group appears several times on its stack
        (recursion, or a package calling itself through another), so it never
        exceeds the profile's total.
        """
        import numpy as np

        key_ids: dict[Hashable, int] = {}
        frame_key = np.array([key_ids.setdefault(key(f), len(key_ids)) for f in self.frames], dtype=np.int64)
        keys = list(key_ids)
        node_key = frame_key[self.frame] if len(self.frame) else np.zeros(0, dtype=np.int64)
        n_keys, n_metrics = len(keys), len(self.metrics)
        self_v = np.zeros((n_keys, n_metrics))
        np.add.at(self_v, node_key, self.values)
        topmost = self._topmost(node_key)
        total_v = np.zeros((n_keys, n_metrics))
        np.add.at(total_v, node_key[topmost], self.subtree_values()[topmost])
        return keys, self_v, total_v

    def _topmost(self, node_key: np.ndarray) -> np.ndarray:
        """Mask of nodes whose key does not appear among their ancestors."""
        import numpy as np

        n = len(node_key)
        mask = np.ones(n, dtype=bool)
        path: list[int] = []          # keys on the current root-to-node path
        on_path: dict[int, int] = {}  # key -> how often it is on the path
        depth = self.depth.tolist()
        keys = node_key.tolist()
        for i in range(n):
            d = depth[i]
            while len(path) > d:
                k = path.pop()
                on_path[k] -= 1
            k = keys[i]
            if on_path.get(k, 0):
                mask[i] = False
            path.append(k)
            on_path[k] = on_path.get(k, 0) + 1
        return mask

    def on_path(self, matches: Callable[[Frame], bool]) -> np.ndarray:
        """Mask of nodes with a frame that ``matches`` on their root-to-node path (themselves included)."""
        import numpy as np

        frame_hit = np.array([matches(f) for f in self.frames], dtype=bool)
        hit = frame_hit[self.frame] if len(self.frame) else np.zeros(0, dtype=bool)
        hit[0:1] = False  # the root is every sample's, it selects nothing
        by_depth = np.argsort(self.depth, kind="stable")
        ends = np.cumsum(np.bincount(self.depth)) if len(self.depth) else np.zeros(0, dtype=np.int64)
        for d in range(1, len(ends)):  # parents' levels are final before their children's
            level = by_depth[ends[d - 1]:ends[d]]
            hit[level] |= hit[self.parent[level]]
        return hit

    def keep(self, mask: np.ndarray) -> CallTree:
        """The same tree with the self values of nodes outside ``mask`` set to zero (pprof's focus/ignore)."""
        return CallTree(frames=self.frames, parent=self.parent, frame=self.frame, depth=self.depth,
                        values=self.values * mask[:, None], metrics=self.metrics, new_index=self.new_index)

    def stacks(self) -> Iterator[tuple[list[int], np.ndarray]]:
        """:meth:`node_stacks` without the node indexes."""
        for _node, stack, values in self.node_stacks():
            yield stack, values

    def node_stacks(self) -> Iterator[tuple[int, list[int], np.ndarray]]:
        """Each node with a non-zero self value: its stack (frame indexes, root first) and self values.

        The root frame is left out of every stack but its own: what the root holds itself
        (an allocation timeline's allocations without a JavaScript stack) comes out as the
        one-frame stack ``[root]``, so no value is lost.
        """
        path: list[int] = []
        depth = self.depth.tolist()
        frames = self.frame.tolist()
        values = self.values
        nonzero = (values != 0).any(axis=1).tolist()
        for i in range(len(frames)):
            del path[depth[i]:]
            path.append(frames[i])
            if nonzero[i]:
                yield i, (path[1:] if i else list(path)), values[i]


def build(frames: list[Frame], parent: Sequence[int], frame: Sequence[int], values: np.ndarray,
          metrics: list[Metric]) -> CallTree:
    """A :class:`CallTree` from nodes in any order (``parent`` as node indexes, -1 for the root).

    Reorders the nodes into preorder (``tree.new_index`` maps the input's node
    indexes to the tree's); exactly one node may have no parent.
    """
    import numpy as np

    n = len(parent)
    children: list[list[int]] = [[] for _ in range(n)]
    roots = []
    for i, p in enumerate(parent):
        if p < 0:
            roots.append(i)
        else:
            children[p].append(i)
    if len(roots) != 1:
        raise ValueError(f"call tree has {len(roots)} roots")
    order: list[int] = []
    depth_of = [0] * n
    stack = [roots[0]]
    while stack:
        i = stack.pop()
        order.append(i)
        for c in reversed(children[i]):
            depth_of[c] = depth_of[i] + 1
            stack.append(c)
    if len(order) != n:
        raise ValueError("call tree has nodes unreachable from its root (a cycle?)")
    new_index = np.empty(n, dtype=np.int64)
    new_index[np.array(order, dtype=np.int64)] = np.arange(n)
    old_parent = np.asarray(parent, dtype=np.int64)[order]
    new_parent = np.where(old_parent >= 0, new_index[np.maximum(old_parent, 0)], -1)
    return CallTree(
        frames=frames,
        parent=new_parent,
        frame=np.asarray(frame, dtype=np.int64)[order],
        depth=np.asarray(depth_of, dtype=np.int64)[order],
        values=np.asarray(values, dtype=np.float64)[order],
        metrics=metrics,
        new_index=new_index,
    )
