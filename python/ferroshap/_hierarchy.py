"""Hierarchies of features as linkage matrices in scipy's format, the structures Owen values
(``PartitionExplainer``, ``ExactExplainer`` with a clustering) are computed over.

Row ``t`` of a linkage ``(M - 1, 4)`` merges nodes ``[t, 0]`` and ``[t, 1]`` into node
``M + t`` (leaves are ``0..M``) at distance ``[t, 2]``, with ``[t, 3]`` leaves under it. The
three builders here give the trees shap's maskers give: the correlation clustering of tabular
features, the axis-aligned splits of an image, and the grouping of text tokens.
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

__all__ = [
    "check_linkage",
    "feature_linkage",
    "image_linkage",
    "owen_coalitions",
    "text_linkage",
]


def check_linkage(clustering: Any, n_features: int) -> np.ndarray:
    """``clustering`` as a float64 linkage over ``n_features`` leaves, or ValueError.

    The structure (each node merged once, children before parents) is checked again in Rust
    when the hierarchy is built; here the shape."""
    try:
        z = np.asarray(clustering, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"clustering must be a numeric linkage matrix: {e}") from None
    if n_features == 1 and z.size == 0:
        return np.zeros((0, 4))
    if z.ndim != 2 or z.shape[0] != n_features - 1 or z.shape[1] < 2:
        raise ValueError(
            f"clustering must be a linkage matrix of shape ({n_features - 1}, 4) for "
            f"{n_features} features (scipy.cluster.hierarchy's format), got shape {z.shape}"
        )
    if not np.isfinite(z[:, :2]).all():
        raise ValueError("clustering has non-finite node ids")
    if z.shape[1] < 4:
        z = _with_sizes(z)
    return np.ascontiguousarray(z)


def owen_coalitions(z: np.ndarray) -> int:
    """Coalitions exact Owen values take on the hierarchy ``z``: the empty and full ones and
    two per (cluster, context), a cluster having twice its parent's contexts (about ``⅔M²``
    for a balanced tree, ``2^M`` for a chain)."""
    m = len(z) + 1
    contexts = {2 * m - 2: 1}
    total = 2
    for t in range(len(z) - 1, -1, -1):
        c = contexts.get(m + t, 0)
        total += 2 * c
        for child in z[t, :2].astype(int):
            contexts[int(child)] = 2 * c
    return total


def _with_sizes(z: np.ndarray) -> np.ndarray:
    m = len(z) + 1
    out = np.zeros((len(z), 4))
    out[:, : z.shape[1]] = z
    if z.shape[1] < 3:
        out[:, 2] = 1.0
    for t, (a, b) in enumerate(z[:, :2].astype(int)):
        out[t, 3] = sum(1.0 if c < m else out[c - m, 3] for c in (a, b))
    return out


def feature_linkage(
    data: np.ndarray, metric: str = "correlation", method: str = "single", seed: int = 0
) -> np.ndarray:
    """Hierarchical (by default single-linkage) clustering of the columns of ``data`` (rows
    are samples), as shap's ``Partition`` masker builds it: ``scipy.cluster.hierarchy.single`` on
    ``pdist(data.T + 1e-8 * noise, metric)``, NaNs replaced by their column's mean. The
    noise (which breaks exact ties, e.g. between constant columns) comes from a fixed seed
    rather than numpy's global random state as in shap, so the tree is reproducible; trees
    differ from shap's only where distances tie to 1e-8. ``method`` may also be
    ``"complete"`` or ``"average"`` (``shap.utils.hclust``'s ``linkage``)."""
    try:
        from scipy.cluster import hierarchy
        from scipy.spatial.distance import pdist
    except ImportError:
        raise ImportError(
            "clustering the features needs scipy: pip install 'ferroshap[partition]' (or pass "
            "a linkage matrix as clustering=)"
        ) from None
    x = np.array(data, dtype=np.float64)
    if x.shape[1] == 1:
        return np.zeros((0, 4))
    missing = np.isnan(x)
    if missing.any():
        counts = (~missing).sum(axis=0)
        sums = np.where(missing, 0.0, x).sum(axis=0)
        means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        x = np.where(missing, means, x)
    if method not in ("single", "complete", "average"):
        raise ValueError(f"linkage must be 'single', 'complete' or 'average', got {method!r}")
    noise = np.random.default_rng(seed).standard_normal(x.T.shape) * 1e-8
    try:
        dist = pdist(x.T + noise, metric=metric)
    except ValueError as e:
        raise ValueError(f"cannot cluster the features with metric {metric!r}: {e}") from None
    if not np.isfinite(dist).all():
        raise ValueError(
            f"the {metric!r} distances between features are not all finite (constant columns "
            "have no correlation); pass another metric or a linkage matrix"
        )
    return getattr(hierarchy, method)(dist)


def image_linkage(shape: tuple[int, ...]) -> np.ndarray:
    """shap's hierarchy of an image of ``shape`` ``(height, width, channels)``: boxes split in
    half along their longest side (rows first on ties, channels last), larger boxes numbered
    first; leaf ``i`` is flat (C-order) pixel ``M - 1 - i`` as in shap's masker."""
    h, w, c = shape
    m = h * w * c
    z = np.zeros((m - 1, 4))
    # (−size, x0, x1, y0, y1, z0, z1, parent, is_left), popped in tuple order as shap does.
    heap = [(0, 0, h, 0, w, 0, c, -1, False)]
    ind = m - 2
    while heap:
        _, x0, x1, y0, y1, z0, z1, parent, left = heapq.heappop(heap)
        if parent >= 0:
            z[parent, 0 if left else 1] = ind + m
        wx, wy, wz = x1 - x0, y1 - y0, z1 - z0
        if wx > 1 or wy > 1 or wz > 1:
            lo, hi = [x0, x1, y0, y1, z0, z1], [x0, x1, y0, y1, z0, z1]
            if wx >= wy and wx > 1:
                lo[1] = hi[0] = x0 + wx // 2
            elif wy > 1:
                lo[3] = hi[2] = y0 + wy // 2
            else:
                lo[5] = hi[4] = z0 + wz // 2
            for box, is_left in ((lo, True), (hi, False)):
                size = (box[1] - box[0]) * (box[3] - box[2]) * (box[5] - box[4])
                heapq.heappush(heap, (-size, *box, ind, is_left))
        ind -= 1
    return _sizes_in_place(z, m)


def _sizes_in_place(z: np.ndarray, m: int) -> np.ndarray:
    for t in range(len(z)):
        a, b = int(z[t, 0]), int(z[t, 1])
        z[t, 3] = (1 if a < m else z[a - m, 3]) + (1 if b < m else z[b - m, 3])
    return z


# Token grouping (shap's heuristic for text): neighbouring groups merge best-score first.
_OPENERS = {"(": ")"}
_CLOSERS = {")": "("}
_CONNECTORS = ("but", "and", "or")
_ENDS = (".", "?", "!")


def _merge_score(
    tokens: list[str], balanced: list[bool], a: tuple[int, int], b: tuple[int, int], special
) -> float:
    """How much groups ``a`` and ``b`` (token ranges, ``a`` just before ``b``) want to merge."""
    first_a, last_a = tokens[a[0]], tokens[a[1] - 1]
    first_b, last_b = tokens[b[0]], tokens[b[1] - 1]
    len_b = b[1] - b[0]
    score = 0.0
    if special and last_a in special and first_b in special:
        score -= np.inf
    if first_b.startswith("##"):
        score += 20
    if first_b == "'" and (len_b == 1 or (len_b == 2 and tokens[b[0] + 1] in ("t", "s"))):
        score += 15
    if last_a == "'" and first_b in ("t", "s"):
        score += 15
    start_ctrl = first_a.startswith("[") and first_a.endswith("]")
    end_ctrl = last_b.startswith("[") and last_b.endswith("]")
    if start_ctrl != end_ctrl:
        score -= 1000
    if first_b in _OPENERS and not balanced[b[0]]:
        score -= 100
    if last_a in _CLOSERS and not balanced[a[1] - 1]:
        score -= 100
    # shap compares a token object with the closers here, which never matches: any group
    # that starts with an opener merges a little later.
    if first_a in _OPENERS:
        score -= 2
    if last_a in _CONNECTORS or first_b in _CONNECTORS:
        score -= 2
    if last_a == ",":
        score -= 10
    if first_b == ",":
        score -= 10 if len_b > 1 else 1
    if last_a in _ENDS:
        score -= 20
    if first_b in _ENDS:
        score -= 20 if len_b > 1 else 1
    return score - (a[1] - a[0]) - len_b


def text_linkage(tokens: list[str], special: tuple[str, ...] = ()) -> np.ndarray:
    """shap's hierarchy of a text's tokens: neighbouring groups merged best score first
    (word pieces, then apostrophes, ..., across commas, connectors and sentence ends last),
    with each merge's distance its size over the largest (shap's ``Text.clustering``)."""
    m = len(tokens)
    z = np.zeros((max(m - 1, 0), 4))
    if m <= 1:
        return z
    balanced = [not (t in _OPENERS or t in _CLOSERS) for t in tokens]
    groups = [(i, i + 1) for i in range(m)]
    ids = list(range(m))
    for t in range(m - 1):
        scores = [
            _merge_score(tokens, balanced, groups[i], groups[i + 1], special)
            for i in range(len(groups) - 1)
        ]
        i = int(np.argmax(scores))
        (a0, _), (_, b1) = groups[i], groups[i + 1]
        z[t, 0], z[t, 1] = ids[i], ids[i + 1]
        if tokens[a0] in _OPENERS and tokens[b1 - 1] == _OPENERS[tokens[a0]]:
            balanced[a0] = balanced[b1 - 1] = True
        groups[i : i + 2] = [(a0, b1)]
        ids[i : i + 2] = [m + t]
    _sizes_in_place(z, m)
    z[:, 2] = z[:, 3] / z[:, 3].max()
    return z
