"""The additivity check: it accepts every valid model, including ones whose effects cancel
(terms of 1e9 around a margin near 0), and still rejects values that are wrong by more than
the rounding error their sums can carry, in either direction.

The models are real LightGBM boosters; LightGBM's own ``predict(raw_score=True)`` and
``pred_contrib`` (f64 Tree SHAP) are the reference.
"""

import re

import lightgbm
import numpy as np
import pytest

import ferroshap


def _cancelling_regressor() -> tuple[lightgbm.LGBMRegressor, np.ndarray]:
    """Trained on targets of +-1e9 that cancel: rows with x0 = x1 = 1 predict about 1 from
    SHAP values of +-4e8."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, size=(400, 3)).astype(np.float64)
    y = 1e9 * X[:, 0] - 1e9 * X[:, 1] + X[:, 2] + 0.123456789
    model = lightgbm.LGBMRegressor(
        n_estimators=5, learning_rate=1.0, num_leaves=4, min_child_samples=1, verbose=-1
    ).fit(X, y)
    return model, X[(X[:, 0] == 1) & (X[:, 1] == 1)]


def _trees_that_cancel() -> tuple[lightgbm.Booster, np.ndarray]:
    """Two trees on the same feature with leaves of 1e9 and 2e10 that cancel each other, so
    the SHAP values themselves are small (about 0.2) while the sums behind them carried 2e10."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    params = {"objective": "regression", "num_leaves": 2, "learning_rate": 1.0}
    params |= {"min_data_in_leaf": 5, "verbose": -1}
    booster = lightgbm.train(params, lightgbm.Dataset(X, X[:, 0] + 0.1 * X[:, 1]), 3)
    blocks = booster.model_to_string().split("Tree=")
    # Tree 0 splits 102 : 98 rows, tree 1 9 : 191; leaves chosen so both trees' expected
    # values (-2e7 and +2e7) and outputs for x0 > 0 (+1e9 and -1e9) cancel.
    leaves = {1: [-1e9 + 0.1234567, 1e9 + 0.7654321], 2: [195e9 / 9 + 0.2718281, -1e9 - 0.31415]}
    for t, values in leaves.items():
        line = "leaf_value=" + " ".join(repr(v) for v in values)
        blocks[t] = re.sub(r"leaf_value=.*", line, blocks[t], count=1)
    # tree_sizes records each tree's byte length, which the new leaves change.
    text = re.sub(r"tree_sizes=.*\n", "", "Tree=".join(blocks))
    return lightgbm.Booster(model_str=text), X[X[:, 0] > 0][:50]


def _rounding(explainer, x: np.ndarray) -> float:
    """What the sums behind these values can carry in rounding: eps times the magnitudes
    summed (each tree's output, base value and SHAP values, in absolute value) times 20,
    about the number of terms summed (5 or 3 trees, 2 or 3 features, depth up to 3)."""
    magnitude = 0.0
    for t in range(explainer.ensemble.n_trees):
        tree = explainer.ensemble.select_trees([t])
        magnitude += np.abs(tree.predict_margin(x)).max() + np.abs(tree.expected_value()).max()
        magnitude += np.abs(tree.shap_values(x)).sum(1).max()
    return 2.2e-16 * 20 * magnitude


@pytest.mark.parametrize("build", [_cancelling_regressor, _trees_that_cancel])
def test_models_whose_effects_cancel_pass_and_match_lightgbm(build):
    model, x = build()
    booster = model.booster_ if hasattr(model, "booster_") else model
    explainer = ferroshap.TreeExplainer(model)
    values = explainer.shap_values(x)  # raised "additivity check failed" before
    margin = booster.predict(x, raw_score=True)
    tolerance = _rounding(explainer, x)
    assert tolerance < 1e-4  # the bound stays tiny next to the +-1e9 terms
    np.testing.assert_allclose(values.sum(1) + explainer.expected_value, margin, atol=tolerance)
    contrib = booster.predict(x, pred_contrib=True)
    np.testing.assert_allclose(values, contrib[:, :-1], atol=tolerance)
    interactions = explainer.shap_interaction_values(x)  # raised as well
    np.testing.assert_allclose(interactions.sum(2), values, atol=tolerance)
    np.testing.assert_allclose(
        interactions.sum((1, 2)) + explainer.expected_value, margin, atol=tolerance
    )


@pytest.mark.parametrize("build", [_cancelling_regressor, _trees_that_cancel])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_values_off_by_more_than_rounding_still_fail(build, sign):
    model, x = build()
    explainer = ferroshap.TreeExplainer(model)
    values = explainer.ensemble.shap_values(x)
    interactions = explainer.ensemble.shap_interaction_values(x)
    explainer._check_additivity(x, values, interactions=False)  # the true values pass
    explainer._check_additivity(x, interactions, interactions=True)
    # 100x the rounding the sums can carry, on one value of one row: must be caught.
    wrong = sign * 100 * _rounding(explainer, x)
    values[3, 1, 0] += wrong
    with pytest.raises(ferroshap.FerroshapError, match="additivity check failed.* row 3 "):
        explainer._check_additivity(x, values, interactions=False)
    interactions[3, 0, 1, 0] += wrong
    with pytest.raises(ferroshap.FerroshapError, match="additivity check failed.* row 3 "):
        explainer._check_additivity(x, interactions, interactions=True)


def test_check_additivity_false_is_honoured_for_interaction_values(monkeypatch):
    model, x = _cancelling_regressor()
    explainer = ferroshap.TreeExplainer(model)
    checked = []
    monkeypatch.setattr(
        explainer, "_check_additivity", lambda x, v, interactions: checked.append(interactions)
    )
    explainer.shap_interaction_values(x, check_additivity=False)
    explainer(x, interactions=True, check_additivity=False)
    explainer(x, check_additivity=False)
    assert checked == []
    explainer.shap_interaction_values(x)
    explainer(x, interactions=True)
    explainer(x)
    assert checked == [True, True, False]
