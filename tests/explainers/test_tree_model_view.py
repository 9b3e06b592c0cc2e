"""``TreeExplainer.model``'s node arrays (shap's ``TreeEnsemble`` attributes), read from
ferroshap's converted trees and compared with shap 0.51's on XGBoost, LightGBM and
scikit-learn models, and checked by a brute-force Tree SHAP over them."""

import itertools
import math
import pickle

import lightgbm
import numpy as np
import pytest
import shap
import xgboost
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

import ferroshap
from ferroshap.explainers._tree import SingleTree, TreeEnsemble


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = X[:, 0] + X[:, 1] * X[:, 2] - X[:, 4] ** 2
    classes = (y > 0).astype(int) + (y > 1)
    return X, y, classes


MODELS = {
    "sklearn-forest": lambda X, y, c: RandomForestRegressor(8, max_depth=4, random_state=0).fit(
        X, y
    ),
    "sklearn-gbm": lambda X, y, c: GradientBoostingRegressor(n_estimators=8, random_state=0).fit(
        X, y
    ),
    "xgboost": lambda X, y, c: xgboost.XGBRegressor(n_estimators=8, max_depth=3).fit(X, y),
    "xgboost-multiclass": lambda X, y, c: xgboost.XGBClassifier(n_estimators=4, max_depth=3).fit(
        X, c
    ),
    "lightgbm": lambda X, y, c: lightgbm.LGBMRegressor(n_estimators=8, verbose=-1).fit(X, y),
    "lightgbm-multiclass": lambda X, y, c: lightgbm.LGBMClassifier(n_estimators=4, verbose=-1).fit(
        X, c
    ),
}


def _preorder(view, tree):
    """The tree's nodes from the root, left child first: shap and ferroshap number LightGBM's
    nodes differently, so trees are compared node by node in this order."""
    order, stack = [], [0]
    while stack:
        node = stack.pop()
        order.append(node)
        if view.children_left[tree, node] >= 0:
            stack += [view.children_right[tree, node], view.children_left[tree, node]]
    return np.array(order)


def _walk(view, tree):
    """The tree's arrays in preorder, child indices replaced by preorder positions."""
    order = _preorder(view, tree)
    position = np.full(view.children_left.shape[1], -1)
    position[order] = np.arange(len(order))
    left = view.children_left[tree, order]
    return {
        "left": np.where(left >= 0, position[left], -1),
        "right": np.where(left >= 0, position[view.children_right[tree, order]], -1),
        "feature": np.where(left >= 0, view.features[tree, order], -1),
        "threshold": np.where(left >= 0, view.thresholds[tree, order], 0.0),
        "cover": view.node_sample_weight[tree, order],
        "value": view.values[tree, order],
        "leaf": left < 0,
    }


@pytest.mark.parametrize("name", MODELS)
def test_node_arrays_equal_shaps(data, name):
    model = MODELS[name](*data)
    ours, theirs = ferroshap.TreeExplainer(model).model, shap.TreeExplainer(model).model
    assert isinstance(ours, TreeEnsemble)
    assert all(isinstance(t, SingleTree) for t in ours.trees)
    assert len(ours.trees) == len(theirs.trees)
    assert ours.values.shape == theirs.values.shape
    np.testing.assert_array_equal(ours.num_nodes, theirs.num_nodes)
    assert ours.max_depth == theirs.max_depth
    for t in range(len(ours.trees)):
        a, b = _walk(ours, t), _walk(theirs, t)
        for key in ("left", "right", "feature"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"tree {t} {key}")
        # Covers and leaf values are the converted model's numbers: equal to rounding.
        np.testing.assert_allclose(a["cover"], b["cover"], rtol=1e-12)
        np.testing.assert_allclose(a["value"][a["leaf"]], b["value"][b["leaf"]], rtol=1e-12)
        if name.startswith("xgboost"):
            # XGBoost splits at x < c in float32; ferroshap keeps the largest float32 below c
            # (a row goes left when x <= t), shap a float64 just below c: one float32 step
            # apart at most, and every float32 input is routed alike.
            np.testing.assert_allclose(a["threshold"], b["threshold"], rtol=2.0**-23, atol=0)
            f32 = a["threshold"].astype(np.float32)
            assert np.array_equal(f32 <= a["threshold"], f32 <= b["threshold"])
        else:
            np.testing.assert_array_equal(a["threshold"], b["threshold"])
        if name.startswith("sklearn"):
            # scikit-learn's node values are its node means: the cover-weighted means of the
            # children that ferroshap computes (to rounding of a few sums).
            np.testing.assert_allclose(a["value"], b["value"], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", MODELS)
def test_children_default_routes_missing_values_as_the_model(data, name):
    """A row of NaNs follows children_default in every tree to the model's own prediction.
    (shap's arrays send scikit-learn's missing values to the wrong child where the trees saw
    none in training, so they are not the reference here.)"""
    model = MODELS[name](*data)
    explainer = ferroshap.TreeExplainer(model)
    view = explainer.model
    total = np.array(view.base_offset, dtype=float).reshape(-1).copy()
    for t in range(len(view.trees)):
        node = 0
        while view.children_left[t, node] >= 0:
            node = view.children_default[t, node]
        total = total + view.values[t, node]
    nan_row = np.full((1, data[0].shape[1]), np.nan)
    margin = np.asarray(view.predict(nan_row), dtype=float).reshape(-1)
    # A sum of a few dozen leaf values: rounding only.
    np.testing.assert_allclose(total, margin, rtol=1e-9, atol=1e-9)


def _conditional_expectation(view, tree, node, subset, x):
    """E[f_tree(x) | x_subset] over the covers (Tree SHAP's path-dependent game)."""
    left = view.children_left[tree, node]
    if left < 0:
        return view.values[tree, node, 0]
    right = view.children_right[tree, node]
    f = view.features[tree, node]
    if f in subset:
        child = left if x[f] <= view.thresholds[tree, node] else right
        return _conditional_expectation(view, tree, child, subset, x)
    lw, rw = view.node_sample_weight[tree, left], view.node_sample_weight[tree, right]
    a = _conditional_expectation(view, tree, left, subset, x)
    b = _conditional_expectation(view, tree, right, subset, x)
    return (a * lw + b * rw) / (lw + rw)


def test_brute_force_tree_shap_over_the_arrays_gives_the_explainers_values():
    """The arrays mean what shap's do: Tree SHAP computed by brute force over them (every
    feature order) equals the explainer's path-dependent values."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    y = X[:, 0] * X[:, 1] + np.abs(X[:, 2])
    model = GradientBoostingRegressor(n_estimators=3, max_depth=2, random_state=0).fit(X, y)
    explainer = ferroshap.TreeExplainer(model)
    view = explainer.model
    x = X[7]
    phi = np.zeros(3)
    for order in itertools.permutations(range(3)):
        for i, f in enumerate(order):
            with_f = sum(_conditional_expectation(view, t, 0, order[: i + 1], x) for t in range(3))
            without = sum(_conditional_expectation(view, t, 0, order[:i], x) for t in range(3))
            phi[f] += with_f - without
    # Sums of a few dozen O(1) terms in another order: rounding only.
    np.testing.assert_allclose(phi / math.factorial(3), explainer.shap_values(x), atol=1e-10)


def test_node_arrays_are_not_pickled(data):
    model = MODELS["lightgbm"](*data)
    explainer = ferroshap.TreeExplainer(model)
    before = len(pickle.dumps(explainer))
    left = explainer.model.children_left  # builds and keeps the arrays
    assert len(pickle.dumps(explainer)) <= before + 64  # only the empty cache's name
    loaded = pickle.loads(pickle.dumps(explainer))
    np.testing.assert_array_equal(loaded.model.children_left, left)  # read again
