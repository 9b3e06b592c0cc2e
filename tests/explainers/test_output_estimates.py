"""Transformed outputs above ``max_pair_features``: estimated pairs and shap's rescaling.

Oracles: the exact values of the same explainer with the default (large) limit, which the
core computes by tables checked against brute force in test_model_output.py; the model's own
``predict_proba`` for efficiency; shap 0.51 for ``model_output_method="shap_rescale"``.

Tolerances and why:

- Estimated values: within 5 of their own standard errors of the exact values (a false alarm
  has odds ~6e-7 per value under the normal approximation of a mean of >= 32 antithetic
  pairs), and those standard errors within the requested tolerance.
- Efficiency of estimates is exact per permutation (the corrections telescope), so values +
  base match ``predict_proba`` to XGBoost's float32 prediction rounding: 1e-6.
- shap parity: shap stores leaves as float32, 1e-6 of the output scale.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, make_classification

import ferroshap


def _small_model(n_classes: int = 2):
    X, y = make_classification(
        n_samples=240,
        n_features=6,
        n_informative=5,
        n_redundant=0,
        n_classes=n_classes,
        random_state=7,
    )
    X = X.astype(np.float32).astype(np.float64)
    model = xgb.XGBClassifier(n_estimators=20, max_depth=4, n_jobs=1).fit(X, y)
    return model, X


@pytest.mark.parametrize("n_classes", [2, 3])
def test_estimated_pairs_agree_with_exact_values_within_their_standard_errors(n_classes):
    model, X = _small_model(n_classes)
    background, rows = X[:15], X[100:106]
    exact = ferroshap.TreeExplainer(model, data=background, model_output="probability")
    want = exact.shap_values(rows)
    assert exact.n_estimated_pairs == 0
    tolerance = 1e-3
    estimated = ferroshap.TreeExplainer(
        model,
        data=background,
        model_output="probability",
        max_pair_features=1,
        estimate_tolerance=tolerance,
    )
    explanation = estimated(rows)
    got, errors = explanation.values, explanation.error_std
    assert estimated.n_estimated_pairs > 0.5 * len(rows) * len(background)
    assert errors.shape == got.shape
    assert np.all(errors <= tolerance * 1.0001) and np.any(errors > 0)
    assert np.all(np.abs(got - want) <= 5 * errors + 1e-12)
    assert np.max(np.abs(got - want)) > 0, "estimates are not the exact values"
    np.testing.assert_allclose(explanation.lower_bounds, got - 1.96 * errors)
    np.testing.assert_allclose(explanation.upper_bounds, got + 1.96 * errors)
    proba = model.predict_proba(rows)
    proba = proba[:, 1] if n_classes == 2 else proba
    np.testing.assert_allclose(got.sum(axis=1) + explanation.base_values, proba, rtol=0, atol=1e-6)


def test_estimates_do_not_depend_on_threads_and_follow_the_seed():
    model, X = _small_model(3)
    kwargs = dict(
        data=X[:10], model_output="probability", max_pair_features=2, estimate_tolerance=5e-3
    )
    rows = X[100:120]
    one = ferroshap.TreeExplainer(model, n_jobs=1, **kwargs).shap_values(rows)
    two = ferroshap.TreeExplainer(model, n_jobs=3, **kwargs).shap_values(rows)
    np.testing.assert_array_equal(one, two)
    other = ferroshap.TreeExplainer(model, n_jobs=1, seed=1, **kwargs).shap_values(rows)
    assert not np.array_equal(one, other)


def test_exact_explanations_have_zero_width_bounds():
    model, X = _small_model()
    explanation = ferroshap.TreeExplainer(model, data=X[:8], model_output="probability")(X[:3])
    assert np.all(explanation.error_std == 0)
    np.testing.assert_array_equal(explanation.lower_bounds, explanation.values)


def test_breast_cancer_probability_returns_and_adds_up():
    """The issue's call: 30 features, pairs parting on more than the exact limit."""
    X, y = load_breast_cancer(return_X_y=True)
    model = xgb.XGBClassifier(n_estimators=50, n_jobs=1).fit(X, y)
    explainer = ferroshap.TreeExplainer(model, data=X[:100], model_output="probability")
    rows = X[:5]
    explanation = explainer(rows)
    assert explainer.n_estimated_pairs > 0, "this model has pairs above the exact limit"
    np.testing.assert_allclose(
        explanation.values.sum(axis=1) + explanation.base_values,
        model.predict_proba(rows)[:, 1],
        rtol=0,
        atol=1e-6,
    )
    # The standard error target holds for every value.
    assert np.max(explanation.error_std) <= explainer.estimate_tolerance * 1.0001


def test_shap_rescale_reproduces_shap():
    import shap

    model, X = _small_model()
    background, rows = X[:30], X[100:110]
    ours = ferroshap.TreeExplainer(
        model, data=background, model_output="probability", model_output_method="shap_rescale"
    )
    got = ours.shap_values(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = shap.TreeExplainer(model, background, model_output="probability").shap_values(rows)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    exact = ferroshap.TreeExplainer(model, data=background, model_output="probability")
    assert np.max(np.abs(exact.shap_values(rows) - got)) > 1e-4, "rescaling is not exact"
    assert ours.n_estimated_pairs == 0
