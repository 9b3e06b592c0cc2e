"""XGBoost vector-leaf models (``multi_strategy="multi_output_tree"``): one tree per round
whose leaves hold a value per target or class.

XGBoost itself cannot explain them (``pred_contribs`` fails: "Predict contribution support for
multi-target tree is not yet implemented"), so the oracles are its own predictions (routing
and additivity) and brute-force Shapley values of the interventional game with XGBoost's
``predict`` as the value function.

Tolerances and why: XGBoost predicts in float32, so its margins carry ~1e-7 relative rounding
per prediction; sums and Shapley combinations of 2^M of them stay below 1e-5 on outputs of
order 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xgboost as xgb

import ferroshap

M = 4


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, M)).astype(np.float32).astype(np.float64)
    X[rng.random(size=X.shape) < 0.05] = np.nan
    return X


def _models():
    X = _data()
    z = np.nan_to_num(X)
    common = dict(n_estimators=6, max_depth=3, tree_method="hist", n_jobs=1)
    common["multi_strategy"] = "multi_output_tree"
    regressor = xgb.XGBRegressor(**common).fit(X, np.c_[z[:, 0] + z[:, 1], z[:, 2] * z[:, 0]])
    classes = (z[:, 0] > 0).astype(int) + (z[:, 1] > 0.3)
    classifier = xgb.XGBClassifier(**common).fit(X, classes)
    return {"regressor": regressor, "classifier": classifier}, X


MODELS, X = _models()


def _margin(model, rows):
    return model.get_booster().predict(xgb.DMatrix(rows), output_margin=True)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_margins_match_xgboost(name):
    model = MODELS[name]
    explainer = ferroshap.TreeExplainer(model)
    assert explainer.ensemble.leaf_width == explainer.ensemble.n_outputs > 1
    got = explainer.ensemble.predict_margin(X)
    np.testing.assert_allclose(got, _margin(model, X), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_path_dependent_values_add_up_to_xgboost_margins(name):
    model = MODELS[name]
    explainer = ferroshap.TreeExplainer(model)
    rows = X[:30]
    values = explainer.shap_values(rows)
    assert values.shape == (30, M, explainer.ensemble.n_outputs)
    total = values.sum(axis=1) + explainer.expected_value
    np.testing.assert_allclose(total, _margin(model, rows), rtol=0, atol=1e-5)


def _brute_force(model, row, background):
    """Shapley values (M, K) of v(S) = mean over r of margin(x_S, r_rest)."""
    hybrids = []
    for s in range(1 << M):
        h = background.copy()
        for j in range(M):
            if s >> j & 1:
                h[:, j] = row[j]
        hybrids.append(h)
    out = _margin(model, np.vstack(hybrids)).reshape(1 << M, len(background), -1).mean(axis=1)
    phi = np.zeros((M, out.shape[1]))
    for i in range(M):
        for s in range(1 << M):
            if s >> i & 1:
                continue
            k = bin(s).count("1")
            w = math.factorial(k) * math.factorial(M - k - 1) / math.factorial(M)
            phi[i] += w * (out[s | 1 << i] - out[s])
    return phi


@pytest.mark.parametrize("name", sorted(MODELS))
def test_interventional_values_match_brute_force(name):
    model = MODELS[name]
    background = X[:15]
    explainer = ferroshap.TreeExplainer(model, data=background)
    rows = X[100:104]
    got = explainer.shap_values(rows)
    for r, row in enumerate(rows):
        np.testing.assert_allclose(got[r], _brute_force(model, row, background), atol=1e-5)


def test_probability_of_a_vector_leaf_classifier_adds_up():
    model = MODELS["classifier"]
    explainer = ferroshap.TreeExplainer(model, data=X[:20], model_output="probability")
    rows = X[200:205]
    total = explainer.shap_values(rows).sum(axis=1) + explainer.expected_value
    np.testing.assert_allclose(total, model.predict_proba(rows), rtol=0, atol=1e-6)
