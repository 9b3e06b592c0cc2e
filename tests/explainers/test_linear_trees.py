"""LightGBM ``linear_tree`` models: exact interventional SHAP values of piecewise-linear trees.

Tolerances:
- margins vs LightGBM ``predict(raw_score=True)``: 1e-12 of the output scale. Both evaluate
  ``const + sum coeff * x`` in double with the same numbers; only the order of the sums over
  trees may differ.
- values vs the brute-force Shapley values of v(S) = mean over background rows of LightGBM's
  own prediction on the hybrid rows (subset enumeration, 2^5 coalitions): 1e-10. Both sides
  are f64 sums of the same LightGBM outputs.
- additivity against LightGBM's predictions: 1e-10 (efficiency holds exactly per pair).
"""

from __future__ import annotations

import pickle

import lightgbm as lgb
import numpy as np
import pytest
import shap

import ferroshap

EXACT = 1e-10


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = 2 * X[:, 0] + X[:, 1] * X[:, 2] + (X[:, 3] > 0) - X[:, 4] ** 2
    # NaNs in leaf-model features (LightGBM then uses the leaf's constant value) and exact
    # zeros; the NaNs are also routed by the splits' missing-value rules.
    X[::9, 1] = np.nan
    X[::11, 0] = np.nan
    X[::13, 2] = 0.0
    return X, y


@pytest.fixture(scope="module")
def linear_model():
    X, y = _data()
    model = lgb.LGBMRegressor(
        n_estimators=8, num_leaves=5, linear_tree=True, verbose=-1, n_jobs=1
    ).fit(X, y)
    assert "is_linear=1" in model.booster_.model_to_string()
    return model, X


def test_predictions_equal_lightgbm(linear_model):
    model, X = linear_model
    explainer = ferroshap.TreeExplainer(model, data=X[:20])
    ours = explainer.ensemble.predict_margin(X)[:, 0]
    theirs = model.predict(X, raw_score=True)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12 * np.abs(theirs).max())


def test_values_match_brute_force_and_add_up(linear_model, subset_shapley):
    model, X = linear_model
    background = X[:6]
    explainer = ferroshap.TreeExplainer(model, data=background)
    rows = X[[0, 9, 11, 13, 50]]  # rows with NaNs and a zero among them
    values = explainer.shap_values(rows)

    def f(Z):
        return model.predict(Z, raw_score=True)

    for i, x in enumerate(rows):
        np.testing.assert_allclose(values[i], subset_shapley(f, x, background), atol=EXACT)
    np.testing.assert_allclose(values.sum(1) + explainer.expected_value, f(rows), atol=EXACT)
    np.testing.assert_allclose(explainer.expected_value, f(background).mean(), atol=EXACT)


def test_shap_silently_ignores_the_linear_part(linear_model):
    """shap reads only the leaves' constant values: its values add up to a different model."""
    model, X = linear_model
    rows = X[20:60]
    explainer = shap.TreeExplainer(model, data=X[:20])
    values = explainer.shap_values(rows, check_additivity=False)
    gap = np.abs(values.sum(1) + explainer.expected_value - model.predict(rows, raw_score=True))
    assert gap.max() > 0.1
    ours = ferroshap.TreeExplainer(model, data=X[:20])
    total = ours.shap_values(rows).sum(1) + ours.expected_value
    np.testing.assert_allclose(total, model.predict(rows, raw_score=True), atol=EXACT)


def test_model_file_pickle_and_tree_limit(linear_model, tmp_path):
    model, X = linear_model
    path = tmp_path / "linear.txt"
    model.booster_.save_model(str(path))
    from_file = ferroshap.TreeExplainer.from_file(path, data=X[:10])
    live = ferroshap.TreeExplainer(model, data=X[:10])
    np.testing.assert_allclose(from_file.shap_values(X[:5]), live.shap_values(X[:5]), atol=0)
    again = pickle.loads(pickle.dumps(live))
    np.testing.assert_allclose(again.shap_values(X[:5]), live.shap_values(X[:5]), atol=0)
    explanation = live(X[:5], tree_limit=3)
    np.testing.assert_allclose(
        explanation.values.sum(1) + explanation.base_values,
        model.predict(X[:5], raw_score=True, num_iteration=3),
        atol=EXACT,
    )
    assert pickle.loads(pickle.dumps(live._limited(3))).ensemble.n_trees == 3
    # The dump_model() JSON holds the same leaf models.
    dumped = ferroshap.TreeExplainer.from_dump(model.booster_.dump_model(), data=X[:10])
    np.testing.assert_allclose(dumped.shap_values(X[:5]), live.shap_values(X[:5]), atol=1e-12)
    again = pickle.loads(pickle.dumps(dumped))
    np.testing.assert_allclose(again.shap_values(X[:5]), live.shap_values(X[:5]), atol=1e-12)


def test_what_linear_trees_refuse(linear_model):
    model, X = linear_model
    with pytest.raises(ValueError, match="pass background data"):
        ferroshap.TreeExplainer(model)
    explainer = ferroshap.TreeExplainer(model, data=X[:10])
    with pytest.raises(NotImplementedError, match="interaction"):
        explainer.shap_interaction_values(X[:2])
    with pytest.raises(ValueError, match="path-dependent"):
        explainer.shap_values(X[:2], approximate=True)
    y = (X[:, 0] > 0).astype(int)
    classifier = lgb.LGBMClassifier(
        n_estimators=3, num_leaves=4, linear_tree=True, verbose=-1, n_jobs=1
    ).fit(np.nan_to_num(X), y)
    with pytest.raises(NotImplementedError, match="model_output='raw'"):
        ferroshap.TreeExplainer(classifier, data=X[:10], model_output="probability")
    # The margin of a linear classifier is explained.
    margin = ferroshap.TreeExplainer(classifier, data=X[:10])
    np.testing.assert_allclose(
        margin.shap_values(X[:5]).sum(1) + margin.expected_value,
        classifier.predict(X[:5], raw_score=True),
        atol=EXACT,
    )


def test_kernel_explainer_calls_a_linear_tree_model(linear_model):
    """The native tree game has no linear leaves: Kernel SHAP calls the model instead."""
    model, X = linear_model
    explainer = ferroshap.KernelExplainer(model.predict, X[:5])
    values = explainer.shap_values(X[20:22])
    np.testing.assert_allclose(
        values.sum(1) + explainer.expected_value, model.predict(X[20:22]), atol=1e-8
    )
