"""SamplingExplainer (IME): exact where every sample difference is exact, efficient always,
converging to the brute-force Shapley values as the budget grows, reproducible for any
thread count.

Tolerances: efficiency is imposed exactly, so it holds to rounding (1e-10 relative to the
output scale); with one background row an additive model's sample differences are all equal
to the Shapley value, so the values are exact to rounding.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import datasets, neural_network

import ferroshap


@pytest.fixture(scope="module")
def mlp():
    X, y = datasets.load_diabetes(return_X_y=True)
    X = X[:, :6] * 10
    model = neural_network.MLPRegressor(hidden_layer_sizes=(16,), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y), X


def test_additive_model_with_one_background_row_is_exact():
    beta = np.array([1.0, -2.0, 0.5, 3.0])
    f = lambda A: np.sin(A) @ beta  # noqa: E731
    background = np.array([[0.1, 0.2, -0.3, 0.4]])
    x = np.array([[1.0, -1.0, 2.0, 0.5]])
    got = ferroshap.SamplingExplainer(f, background, seed=0)(x, nsamples=40, silent=True)
    want = beta * (np.sin(x[0]) - np.sin(background[0]))
    np.testing.assert_allclose(got.values[0], want, rtol=0, atol=1e-12)
    # Every sample agreed: the intervals have zero width up to rounding.
    np.testing.assert_allclose(got.upper_bounds - got.lower_bounds, 0.0, atol=1e-12)


def test_efficient_and_converging(mlp, subset_shapley):
    model, X = mlp
    background, rows = X[:30], X[300:303]
    want = np.array([subset_shapley(model.predict, x, background) for x in rows])
    fx = model.predict(rows)
    errors = []
    for nsamples in (120, 12000):
        got = ferroshap.SamplingExplainer(model.predict, background, seed=4)(
            rows, nsamples=nsamples, silent=True
        )
        np.testing.assert_allclose(
            got.values.sum(axis=1) + got.base_values, fx, rtol=0, atol=1e-10 * np.abs(fx).max()
        )
        errors.append(np.sqrt(np.mean((got.values - want) ** 2)))
        assert got.lower_bounds is not None
    # 100x the samples: about 10x less error (1/sqrt(n)); 3x leaves room for one seed's luck.
    assert errors[1] < errors[0] / 3, errors


def test_seed_and_threads(mlp, monkeypatch):
    model, X = mlp
    runs = []
    for threads in ("1", "3"):
        monkeypatch.setenv("RAYON_NUM_THREADS", threads)
        explainer = ferroshap.SamplingExplainer(model.predict, X[:40], seed=9)
        runs.append(explainer.shap_values(X[100:110], nsamples=300, silent=True))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0].shape == (10, 6)


def test_bad_budgets_are_refused(mlp):
    model, X = mlp
    explainer = ferroshap.SamplingExplainer(model.predict, X[:10], seed=0)
    with pytest.raises(ValueError, match="nsamples=5 is too small"):
        explainer(X[100:101], nsamples=5, silent=True)
    with pytest.raises(ValueError, match="min_samples_per_feature"):
        explainer.shap_values(X[100:101], min_samples_per_feature=0)
