"""Interventional Tree SHAP on a LightGBM model whose trees have paths splitting on more than
64 distinct features (the width of the fast path's bitsets): those trees are explained by the
pair-by-pair fallback, the others by the fast path, and the values must be the same exact
Shapley values as everywhere else.

The model: deep leaf-wise trees (many leaves, one sample per leaf allowed) on sparse binary
"bag of words" features whose target is a sum over many of them, so the trees peel off a few
rows per split and grow long paths over different words.

Tolerances and why:

- Additivity against LightGBM's ``raw_score``: both are f64 sums over the same leaves, differing
  only in the order of additions: 1e-9 of the output scale (as in test_interventional.py).
- Parity with shap 0.51's interventional explainer (50 background rows, so shap uses them all):
  shap stores leaf values as float32, which leaves ~1e-8 absolute differences on values of order
  1; the features are 0/1, far from every threshold, so routing is the same: 1e-6 of the scale.
"""

from __future__ import annotations

import warnings

import lightgbm as lgb
import numpy as np
import pytest

import ferroshap


def _max_distinct_path_features(model) -> int:
    """The most distinct features any root-to-leaf path of the model splits on."""
    best = 0
    for tree in model.booster_.dump_model()["tree_info"]:
        stack = [(tree["tree_structure"], frozenset())]
        while stack:
            node, features = stack.pop()
            if "split_feature" not in node:
                best = max(best, len(features))
                continue
            features = features | {node["split_feature"]}
            stack += [(node["left_child"], features), (node["right_child"], features)]
    return best


@pytest.fixture(scope="module")
def wide_model():
    rng = np.random.default_rng(0)
    X = (rng.random((1000, 200)) < 0.02).astype(np.float64)
    y = X @ rng.normal(size=200) + 0.01 * rng.normal(size=1000)
    model = lgb.LGBMRegressor(
        n_estimators=5,
        num_leaves=400,
        min_child_samples=1,
        min_child_weight=0,
        min_data_in_bin=1,
        learning_rate=0.5,
        verbose=-1,
    ).fit(X, y)
    return model, X


def _scale(a) -> float:
    return max(1.0, float(np.max(np.abs(a))))


def test_the_model_has_paths_past_the_fast_path_width(wide_model):
    model, _ = wide_model
    # The point of this file: without these paths the fallback would not run.
    assert _max_distinct_path_features(model) > 64


def test_values_add_up_to_the_raw_score_minus_the_background_mean(wide_model):
    model, X = wide_model
    background, rows = X[:50], X[100:140]
    explainer = ferroshap.TreeExplainer(model, data=background)
    assert explainer.feature_perturbation == "interventional"
    values = explainer.shap_values(rows)
    assert values.shape == rows.shape
    margin = model.predict(rows, raw_score=True)
    base = model.predict(background, raw_score=True).mean()
    np.testing.assert_allclose(explainer.expected_value, base, rtol=0, atol=1e-9 * _scale(base))
    np.testing.assert_allclose(
        values.sum(axis=1), margin - base, rtol=0, atol=1e-9 * _scale(margin)
    )


def test_parity_with_shap(wide_model):
    import shap

    model, X = wide_model
    background, rows = X[:50], X[100:120]
    got = ferroshap.TreeExplainer(
        model, data=background, feature_perturbation="interventional"
    ).shap_values(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = shap.TreeExplainer(model, data=background, feature_perturbation="interventional")
        expected = theirs.shap_values(rows, check_additivity=False)
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6 * _scale(expected))
