"""ExactExplainer: brute-force Shapley values by subset enumeration, shap's
ExactExplainer to 1e-10, and clear refusals when 2^M coalitions are too many.

Tolerance 1e-10 relative to the output scale: both sides sum the same model outputs with the
same Shapley weights in a different order, so they differ by rounding only (about 1e-14 on
2^M terms of order 1).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import shap
from sklearn import datasets, ensemble, linear_model, neural_network

import ferroshap


@pytest.fixture(scope="module")
def wine():
    X, y = datasets.load_wine(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


@pytest.fixture(scope="module")
def mlp(wine):
    X, y = wine
    model = neural_network.MLPRegressor(hidden_layer_sizes=(12,), max_iter=200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X[:, :9], y)


def test_equals_brute_force_and_shap(wine, mlp, subset_shapley):
    X, _ = wine
    background, rows = X[:12, :9], X[100:104, :9]
    got = ferroshap.ExactExplainer(mlp.predict, background)(rows, silent=True)
    scale = np.abs(mlp.predict(rows)).max()
    for i, x in enumerate(rows):
        want = subset_shapley(mlp.predict, x, background)
        np.testing.assert_allclose(got.values[i], want, rtol=0, atol=1e-10 * scale)
    theirs = shap.ExactExplainer(mlp.predict, background)(rows, silent=True)
    np.testing.assert_allclose(got.values, theirs.values, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(got.base_values, theirs.base_values, rtol=0, atol=1e-10 * scale)


def test_multi_output_classifier_matches_shap(wine):
    X, y = wine
    model = ensemble.RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0)
    model.fit(X[:, :5], y)
    background, rows = X[::20, :5], X[3:6, :5]
    # A bound method is explained as a black box (the tree path is TreeExplainer's).
    got = ferroshap.ExactExplainer(model.predict_proba, background)(rows, silent=True)
    theirs = shap.ExactExplainer(model.predict_proba, background)(rows, silent=True)
    assert got.values.shape == theirs.values.shape == (3, 5, 3)
    np.testing.assert_allclose(got.values, theirs.values, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.base_values, theirs.base_values, rtol=0, atol=1e-10)


def test_features_equal_to_the_background_get_zero(wine, mlp):
    X, _ = wine
    background = X[:1, :9]
    row = X[50, :9].copy()
    row[[2, 5]] = background[0, [2, 5]]
    got = ferroshap.ExactExplainer(mlp.predict, background)(row, silent=True)
    assert got.values.shape == (9,)
    assert got.values[2] == 0.0 and got.values[5] == 0.0
    np.testing.assert_allclose(
        got.values.sum() + got.base_values, mlp.predict(row[None])[0], rtol=0, atol=1e-10
    )


def test_too_many_coalitions_are_refused():
    rng = np.random.default_rng(0)
    background, x = rng.normal(size=(2, 17)), rng.normal(size=(1, 17))
    explainer = ferroshap.ExactExplainer(lambda A: A.sum(axis=1), background)
    with pytest.raises(ValueError, match=r"2\^17 = 131072 masked evaluations.*max_evals=100000"):
        explainer(x, silent=True)
    wide = ferroshap.ExactExplainer(lambda A: A.sum(axis=1), rng.normal(size=(2, 25)))
    with pytest.raises(ValueError, match="at most 24"):
        wide(rng.normal(size=(1, 25)), max_evals=None, silent=True)


def test_seed_free_and_thread_count_free(wine, mlp, monkeypatch):
    X, _ = wine
    runs = []
    for threads in ("1", "3"):
        monkeypatch.setenv("RAYON_NUM_THREADS", threads)
        explainer = ferroshap.ExactExplainer(mlp.predict, X[:7, :9])
        runs.append(explainer(X[60:70, :9], silent=True, batch_size=1000).values)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_linear_model_closed_form(wine):
    X, y = wine
    model = linear_model.LinearRegression().fit(X[:, :6], y)
    background, rows = X[:40, :6], X[100:110, :6]
    got = ferroshap.ExactExplainer(model.predict, background)(rows, silent=True)
    want = model.coef_ * (rows - background.mean(axis=0))
    np.testing.assert_allclose(got.values, want, rtol=0, atol=1e-10)


def test_tree_models_are_evaluated_from_their_trees(wine):
    # The game of a scikit-learn forest's predict_proba, from its trees in Rust, equals the
    # game from masked rows and predict_proba (the same outputs summed in another order).
    X, y = wine
    model = ensemble.RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    model.fit(X[:, :7], y)
    background, rows = X[::15, :7], X[5:9, :7]
    native = ferroshap.ExactExplainer(model.predict_proba, background)
    assert native.native_model is not None
    called = ferroshap.ExactExplainer(model.predict_proba, background, native=False)
    assert called.native_model is None
    np.testing.assert_allclose(
        native(rows, silent=True).values, called(rows, silent=True).values, rtol=0, atol=1e-12
    )
    walks = [
        ferroshap.PermutationExplainer(model.predict_proba, background, seed=2, native=n)(
            rows, max_evals=60, silent=True
        ).values
        for n in ("auto", False)
    ]
    np.testing.assert_allclose(walks[0], walks[1], rtol=0, atol=1e-12)


def test_interactions_equal_shaps_shapley_taylor_values():
    """``interactions=True`` (== 1 in Python, so it must not come back as plain values): shap's
    Exact interaction values (Shapley-Taylor index of order 2, main effects on the diagonal),
    equal to shap to 1e-10 (the same sums in another order, outputs of order 100 / 1);
    efficiency to 1e-9; one row and several outputs too."""
    from sklearn.datasets import load_diabetes, load_iris
    from sklearn.neural_network import MLPRegressor

    X, y = load_diabetes(return_X_y=True)
    X = X[:, :6]
    with warnings.catch_warnings():  # a few iterations are enough for a nonlinear model
        warnings.simplefilter("ignore")
        model = MLPRegressor(hidden_layer_sizes=(8,), max_iter=300, random_state=0).fit(X, y)
    bg, rows = X[:20], X[100:103]
    theirs = shap.ExactExplainer(model.predict, bg)(rows, interactions=True)
    ours = ferroshap.ExactExplainer(model.predict, bg)(rows, interactions=True)
    assert ours.values.shape == (3, 6, 6)
    np.testing.assert_allclose(ours.values, theirs.values, atol=1e-10)
    np.testing.assert_allclose(
        ours.values.sum((1, 2)) + ours.base_values, model.predict(rows), atol=1e-9
    )
    one = ferroshap.ExactExplainer(model.predict, bg)(rows[0], interactions=True)
    np.testing.assert_allclose(one.values, ours.values[0], atol=1e-12)
    Xi, yi = load_iris(return_X_y=True)
    clf = linear_model.LogisticRegression(max_iter=1000).fit(Xi, yi)
    theirs = shap.ExactExplainer(clf.predict_proba, Xi[:15])(Xi[50:52], interactions=2)
    ours = ferroshap.ExactExplainer(clf.predict_proba, Xi[:15])(Xi[50:52], interactions=2)
    assert ours.values.shape == (2, 4, 4, 3)
    # shap 0.51 returns these as (2, 4, 12) (the last two axes run together): same numbers.
    np.testing.assert_allclose(ours.values.reshape(2, 4, 12), theirs.values, atol=1e-10)
    with pytest.raises(NotImplementedError, match="above 2"):
        ferroshap.ExactExplainer(clf.predict_proba, Xi[:15])(Xi[50:52], interactions=3)
    plain = ferroshap.ExactExplainer(clf.predict_proba, Xi[:15])(Xi[50:52], interactions=1)
    assert plain.values.shape == (2, 4, 3)


def test_main_effects_are_each_feature_alone_against_the_background():
    """``main_effects=True`` (shap 0.51 accepts it and returns None): ``v({i}) - v({})``, the
    background-mean output with only feature i taken from the row, minus the base value; checked
    against that computed directly (1e-12: the same means)."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    clf = linear_model.LogisticRegression(max_iter=1000).fit(X, y)
    bg, rows = X[:15], X[50:53]
    want = np.zeros((3, 4, 3))
    for r, row in enumerate(rows):
        base = clf.predict_proba(bg).mean(0)
        for i in range(4):
            masked = bg.copy()
            masked[:, i] = row[i]
            want[r, i] = clf.predict_proba(masked).mean(0) - base
    for cls in (ferroshap.ExactExplainer, ferroshap.PermutationExplainer):
        got = cls(clf.predict_proba, bg)(rows, main_effects=True)
        np.testing.assert_allclose(got.main_effects, want, atol=1e-12)
        assert got.main_effects.shape == got.values.shape
        one = cls(lambda A: clf.predict_proba(A)[:, 1], bg)(rows[0], main_effects=True)
        np.testing.assert_allclose(one.main_effects, want[0, :, 1], atol=1e-12)
    with pytest.raises(NotImplementedError, match="identity link"):
        ferroshap.ExactExplainer(clf.predict_proba, bg, link="logit")(rows, main_effects=True)
