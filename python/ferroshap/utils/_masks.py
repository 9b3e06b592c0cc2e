"""shap's helpers over a feature hierarchy (a scipy linkage matrix) and mask lists:
``partition_tree_shuffle``, ``make_masks``, ``delta_minimization_order``."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["delta_minimization_order", "make_masks", "partition_tree_shuffle"]


def partition_tree_shuffle(
    indexes: np.ndarray, index_mask: np.ndarray, partition_tree: Any, rng: Any = None
) -> None:
    """Fills ``indexes`` with the features where ``index_mask`` is true, in a random order that
    keeps every cluster of ``partition_tree`` contiguous: at each internal node a fair coin
    decides which child comes first (as shap's; shap draws inside numba, so its orders are
    not reproducible from numpy's seed; here ``rng`` makes them so).

    Parameters
    ----------
    indexes
        Output, ``index_mask.sum()`` ints.
    index_mask
        ``M`` booleans: the features to order.
    partition_tree
        The ``(M - 1, 4)`` linkage matrix.
    rng
        A ``numpy.random.Generator`` or a seed; fresh entropy by default.
    """
    rng = np.random.default_rng(rng)
    tree = np.asarray(partition_tree)
    mask = np.asarray(index_mask, dtype=bool)
    m = len(mask)
    if tree.ndim != 2 or tree.shape[0] != m - 1:
        raise ValueError(
            f"partition_tree must be a linkage matrix of {m - 1} rows for {m} features, got "
            f"shape {tree.shape}"
        )
    if len(indexes) != mask.sum():
        raise ValueError(f"indexes must hold {mask.sum()} entries (the masked features)")
    pos = 0
    stack = [m - 1 + m - 1]  # the root's node id
    while stack:
        node = stack.pop()
        if node < m:
            if mask[node]:
                indexes[pos] = node
                pos += 1
            continue
        left, right = int(tree[node - m, 0]), int(tree[node - m, 1])
        # The first child visited is pushed last.
        if rng.random() < 0.5:
            stack += [right, left]
        else:
            stack += [left, right]


def make_masks(cluster_matrix: Any) -> Any:
    """The features under every node of a hierarchy as a scipy CSR boolean matrix of shape
    ``(2M - 1, M)``: row ``i < M`` is feature ``i``, row ``M + t`` the union of the children of
    linkage row ``t`` (needs scipy)."""
    import scipy.sparse

    tree = np.asarray(cluster_matrix)
    m = tree.shape[0] + 1
    members: list[list[int]] = [[i] for i in range(m)]
    for left, right, *_ in tree:
        members.append(members[int(left)] + members[int(right)])
    indptr = np.concatenate([[0], np.cumsum([len(x) for x in members])])
    indices = np.fromiter((i for x in members for i in x), dtype=np.int64, count=int(indptr[-1]))
    data = np.ones(len(indices), dtype=bool)
    return scipy.sparse.csr_matrix((data, indices, indptr), shape=(2 * m - 1, m))


def delta_minimization_order(
    all_masks: np.ndarray, max_swap_size: int = 100, num_passes: int = 2
) -> np.ndarray:
    """An order of the masks (rows of ``all_masks``) in which neighbours differ in few
    entries: shap's greedy reversal of windows of 2 .. ``max_swap_size - 1`` masks whenever it
    lowers the number of entries that change at the window's two ends."""
    masks = np.asarray(all_masks, dtype=bool)
    order = np.arange(len(masks))

    def delta(a: int, b: int) -> int:
        return int(np.count_nonzero(masks[a] ^ masks[b]))

    for _ in range(num_passes):
        for length in range(2, max_swap_size):
            for i in range(1, len(order) - length):
                first, last, before, after = (
                    order[i],
                    order[i + length - 1],
                    order[i - 1],
                    order[i + length],
                )
                gain = delta(before, first) + delta(last, after)
                gain -= delta(before, last) + delta(first, after)
                if gain > 0:
                    order[i : i + length] = order[i : i + length][::-1].copy()
    return order
