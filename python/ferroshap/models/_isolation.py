"""scikit-learn's IsolationForest, with shap's convention: each leaf holds the isolation path
length of the rows that reach it, so the explained output is the mean path length over the
trees, ``E[h(x)]`` (larger means more normal). ``score_samples`` is ``-2 ** (-E[h(x)] /
c(max_samples))`` of it, a monotone transform.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap.models import TreeModel
from ferroshap.models._sklearn import _ensemble, _feature_names, _read_trees

__all__ = ["isolation_forest"]


def _average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n): the mean path length of an unsuccessful search in a binary search tree of ``n``
    rows (scikit-learn's and the isolation forest paper's correction for unsplit leaves)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _depths(tree: Any) -> np.ndarray:
    depth = np.zeros(tree.node_count, dtype=np.float64)
    for node in range(tree.node_count):  # children always follow their parent
        for child in (tree.children_left[node], tree.children_right[node]):
            if child >= 0:
                depth[child] = depth[node] + 1.0
    return depth


def isolation_forest(model: Any) -> TreeModel:
    """A fitted ``sklearn.ensemble.IsolationForest`` as a :class:`TreeModel` whose output is
    the mean isolation path length (see the module docstring)."""
    n_features = int(model.n_features_in_)
    scale = 1.0 / len(model.estimators_)
    trees = [estimator.tree_ for estimator in model.estimators_]
    nodes = _read_trees(trees)
    lengths, features = [], []
    for tree, used in zip(trees, model.estimators_features_, strict=True):
        lengths.append(_depths(tree) + _average_path_length(tree.n_node_samples))
        # Each tree sees a subset of the features: map its indices to the model's.
        features.append(np.asarray(used)[np.where(tree.feature >= 0, tree.feature, 0)])
    values = np.where(nodes.leaf, np.concatenate(lengths), 0.0)[:, None] * scale
    names = _feature_names(model)
    ensemble = _ensemble(
        nodes,
        values,
        np.zeros(len(trees), dtype=np.int64),
        nan_follows_tree=True,
        feature=np.concatenate(features),
        n_features=n_features,
        n_outputs=1,
        leaf_width=1,
        base_offset=[0.0],
        rules="sklearn_tree",
        link="identity",
        objective="isolation_path_length",
        feature_names=names,
    )
    return TreeModel(
        ensemble=ensemble,
        source="sklearn",
        feature_names=names,
        category_maps=None,
        output_names=None,
        single_output=True,
    )
