"""AdditiveExplainer: parity with shap's AdditiveExplainer and the brute-force oracle.

Tolerance 1e-12 of the output scale: both compute each value as the difference of a few
model outputs and background means (the same outputs; sums in another order).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn import datasets
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer

import ferroshap


def _gam(Z):
    Z = np.asarray(Z)
    return Z[:, 0] ** 2 + np.sin(Z[:, 1]) + 3 * Z[:, 2] - np.exp(0.3 * Z[:, 3])


def test_matches_shap_and_the_oracle(subset_shapley):
    rng = np.random.default_rng(0)
    background, X = rng.normal(size=(40, 4)), rng.normal(size=(7, 4))
    ours = ferroshap.AdditiveExplainer(_gam, background)
    theirs = shap.AdditiveExplainer(_gam, background)
    got, want = ours(X), theirs(X)
    scale = np.abs(_gam(X)).max()
    np.testing.assert_allclose(got.values, want.values, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(got.base_values, want.base_values, rtol=0, atol=1e-12 * scale)
    assert got.base_values.shape == want.base_values.shape == (7,)
    for i in range(len(X)):
        oracle = subset_shapley(_gam, X[i], background)
        np.testing.assert_allclose(got.values[i], oracle, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(ours.shap_values(X), got.values)
    np.testing.assert_allclose(got.values.sum(axis=1) + got.base_values, _gam(X), atol=1e-12)


def test_several_outputs_and_one_row(subset_shapley):
    # shap's AdditiveExplainer fails on several outputs; each output is explained here.
    rng = np.random.default_rng(1)
    background, X = rng.normal(size=(30, 3)), rng.normal(size=(4, 3))

    def f(Z):
        return np.column_stack([np.tanh(Z[:, 0]) + Z[:, 2] ** 3, np.cos(Z[:, 1]) - Z[:, 0]])

    explainer = ferroshap.AdditiveExplainer(f, background)
    got = explainer(X)
    assert got.values.shape == (4, 3, 2)
    assert got.base_values.shape == (4, 2)
    for i in range(len(X)):
        oracle = subset_shapley(f, X[i], background)
        np.testing.assert_allclose(got.values[i], oracle, rtol=0, atol=1e-12)
    row = explainer(X[1])
    assert row.values.shape == (3, 2) and row.base_values.shape == (2,)
    np.testing.assert_allclose(row.values, got.values[1])


def test_a_spline_gam_fitted_on_a_frame_matches_shap():
    X, y = datasets.load_diabetes(return_X_y=True, as_frame=True)
    model = make_pipeline(SplineTransformer(n_knots=4), Ridge(alpha=1e-3)).fit(X, y)
    background = X.iloc[:50]
    ours = ferroshap.Explainer(model.predict, background, algorithm="additive")
    assert isinstance(ours, ferroshap.AdditiveExplainer)
    assert isinstance(ferroshap.explainers.Additive(model.predict, background), type(ours))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = shap.Explainer(model.predict, background, algorithm="additive")
        want = theirs(X.iloc[60:70])  # shap calls the pipeline with arrays: warnings
    # The pipeline was fitted on a frame: it receives frames (no feature-name warnings,
    # which pytest would turn into errors).
    got = ours(X.iloc[60:70])
    scale = np.abs(model.predict(X)).max()
    np.testing.assert_allclose(got.values, want.values, rtol=0, atol=1e-12 * scale)
    assert got.feature_names == list(X.columns)
    np.testing.assert_allclose(
        got.values.sum(axis=1) + got.base_values, model.predict(X.iloc[60:70]), atol=1e-9
    )


def test_pickles():
    import pickle

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(10, 4)), columns=list("abcd"))
    explainer = ferroshap.AdditiveExplainer(_gam, frame)
    again = pickle.loads(pickle.dumps(explainer))
    np.testing.assert_array_equal(again(frame).values, explainer(frame).values)


def test_models_with_interactions_are_flagged():
    rng = np.random.default_rng(2)
    explainer = ferroshap.AdditiveExplainer(lambda Z: Z[:, 0] * Z[:, 1], rng.normal(size=(20, 2)))
    with pytest.warns(RuntimeWarning, match="not additive"):
        explainer(rng.normal(size=(3, 2)))


def test_bad_input_is_refused():
    background = np.zeros((5, 3))
    with pytest.raises(TypeError, match="needs background data"):
        ferroshap.AdditiveExplainer(_gam, None)
    with pytest.raises(NotImplementedError, match="identity link"):
        ferroshap.AdditiveExplainer(_gam, background, link="logit")
    explainer = ferroshap.AdditiveExplainer(lambda Z: Z.sum(axis=1), background)
    with pytest.raises(ValueError, match="does not match the background"):
        explainer(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        ferroshap.AdditiveExplainer(lambda Z: np.full(len(Z), np.nan), background)
    frame = pd.DataFrame(background, columns=["a", "b", "c"])
    with pytest.raises(ValueError, match="another order"):
        explainer = ferroshap.AdditiveExplainer(lambda Z: np.asarray(Z).sum(axis=1), frame)
        explainer(frame[["c", "b", "a"]])
