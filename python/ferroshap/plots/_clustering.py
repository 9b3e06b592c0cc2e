"""Feature clustering in plots: a dendrogram-consistent feature order and its drawing."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap.plots._common import NEUTRAL

__all__ = ["check_linkage", "clustered_order", "draw_dendrogram", "merge_close"]


class _NotALinkage(ValueError, TypeError):
    """A ``clustering=`` that is not a linkage matrix (shap raises a TypeError; this is both)."""


def check_linkage(linkage: Any, n_features: int) -> np.ndarray:
    """``linkage`` as a float array of shape ``(n_features - 1, 4)`` (scipy's layout)."""
    z = np.asarray(linkage, dtype=np.float64)
    if z.ndim == 3:  # one clustering per row, all alike for tabular explainers
        z = z[0]
    if z.shape != (n_features - 1, 4):
        raise _NotALinkage(
            f"clustering of shape {z.shape} does not seem to be a partition tree: it must be a "
            f"linkage matrix of shape ({n_features - 1}, 4) for {n_features} features"
        )
    ids = z[:, :2]
    if len(z) and (np.any(ids != np.round(ids)) or ids.min() < 0 or ids.max() > 2 * len(z)):
        raise ValueError("clustering: the first two linkage columns must be node ids")
    return z


def _children(z: np.ndarray) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in z[:, :2]]


def clustered_order(z: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """All features in a leaf order of the dendrogram ``z``; at each merge the subtree with the
    larger total ``keys`` comes first, so the most important cluster is drawn on top."""
    n = len(keys)
    children = _children(z)
    weight = np.concatenate([np.asarray(keys, dtype=np.float64), np.zeros(n - 1)])
    for i, (a, b) in enumerate(children):
        weight[n + i] = weight[a] + weight[b]
    order: list[int] = []
    stack = [2 * n - 2] if n > 1 else [0]
    while stack:  # explicit stack: a chain-shaped tree would overflow recursion
        node = stack.pop()
        if node < n:
            order.append(node)
            continue
        a, b = children[node - n]
        first, second = (a, b) if weight[a] >= weight[b] else (b, a)
        stack += [second, first]
    return np.asarray(order)


def _sub_linkage(z: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """The dendrogram ``z`` induced on the features ``subset`` (merges and heights kept)."""
    n = z.shape[0] + 1
    cluster_of = {int(j): i for i, j in enumerate(subset)}  # node -> id in the sub-tree
    size = {i: 1 for i in range(len(subset))}
    rows = []
    next_id = len(subset)
    for i, (a, b) in enumerate(_children(z)):
        ca, cb = cluster_of.get(a), cluster_of.get(b)
        node = n + i
        if ca is not None and cb is not None:
            rows.append([ca, cb, z[i, 2], size[ca] + size[cb]])
            size[next_id] = size[ca] + size[cb]
            cluster_of[node] = next_id
            next_id += 1
        elif ca is not None or cb is not None:
            cluster_of[node] = ca if ca is not None else cb
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def draw_dendrogram(ax: Any, z: np.ndarray, shown: np.ndarray, y: np.ndarray, cutoff: float) -> Any:
    """Draw the dendrogram of the ``shown`` features (at heights ``y``) in a narrow panel to
    the right of ``ax``; merges above ``cutoff`` are left out. Returns the panel's Axes."""
    from matplotlib.collections import LineCollection

    sub = _sub_linkage(z, shown)
    k = len(shown)
    ypos = list(np.asarray(y, dtype=np.float64)) + [0.0] * len(sub)
    xpos = [0.0] * k + [0.0] * len(sub)
    segments = []
    for i, (a, b, d, _) in enumerate(sub):
        a, b = int(a), int(b)
        ypos[k + i] = (ypos[a] + ypos[b]) / 2
        xpos[k + i] = d
        if d <= cutoff:
            segments.append([(xpos[a], ypos[a]), (d, ypos[a]), (d, ypos[b]), (xpos[b], ypos[b])])
    panel = ax.inset_axes((1.01, 0.0, 0.12, 1.0), sharey=ax)
    panel.add_collection(LineCollection(segments, colors=NEUTRAL, linewidths=1.2))
    top = max([d for _, _, d, _ in sub if d <= cutoff], default=cutoff)
    panel.set_xlim(0, top * 1.05 if top > 0 else 1.0)
    panel.axis("off")
    return panel


def merge_close(z: np.ndarray, threshold: float, target: int) -> list[list[int]]:
    """Feature groups: the closest clusters of ``z`` merged, closest first, while there are more
    than ``target`` groups and the merge distance is at most ``threshold`` (shap's beeswarm
    rule). Every feature is in exactly one group."""
    n = z.shape[0] + 1
    members: dict[int, list[int]] = {j: [j] for j in range(n)}
    for i in np.argsort(z[:, 2], kind="stable"):
        if len(members) <= target or z[i, 2] > threshold:
            break
        a, b = int(z[i, 0]), int(z[i, 1])
        if a in members and b in members:
            members[n + int(i)] = members.pop(a) + members.pop(b)
    return sorted(members.values())
