"""PermutationExplainer: exact where its theory says so (models with at most pairwise
interactions), efficient always, converging to the brute-force Shapley values as the budget
grows, equal to shap where shap is deterministic, reproducible for any thread count.

Tolerances: where the estimator is exact, ours and the oracle are short f64 sums of the same
model outputs, so they agree to rounding (1e-10 relative to the output scale, values of order
1-100). Efficiency telescopes inside each walk, so it holds to the same rounding.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import shap
from sklearn import datasets, linear_model, neural_network, pipeline, preprocessing

import ferroshap


@pytest.fixture(scope="module")
def diabetes():
    X, y = datasets.load_diabetes(return_X_y=True)
    return X * 10, y


@pytest.fixture(scope="module")
def pairwise_model(diabetes):
    """Degree-2 polynomial regression: only main effects and pairwise interactions."""
    X, y = diabetes
    model = pipeline.make_pipeline(
        preprocessing.PolynomialFeatures(degree=2), linear_model.Ridge(alpha=1e-3)
    )
    return model.fit(X, y)


@pytest.fixture(scope="module")
def mlp(diabetes):
    X, y = diabetes
    X = X[:, :8]
    model = neural_network.MLPRegressor(hidden_layer_sizes=(16,), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y), X


def test_one_permutation_is_exact_for_pairwise_models(diabetes, pairwise_model, subset_shapley):
    X, _ = diabetes
    background, rows = X[:20], X[100:103]
    explainer = ferroshap.PermutationExplainer(pairwise_model.predict, background, seed=3)
    # 2M + 1 = 21 evaluations: a single antithetic permutation per row.
    got = explainer(rows, max_evals=21, silent=True)
    scale = np.abs(pairwise_model.predict(rows)).max()
    for i, x in enumerate(rows):
        want = subset_shapley(pairwise_model.predict, x, background)
        np.testing.assert_allclose(got.values[i], want, rtol=0, atol=1e-10 * scale)
    # shap's estimator is exact here too: the same values, whatever the permutations.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = shap.PermutationExplainer(pairwise_model.predict, background, seed=0)(
            rows, max_evals=21, silent=True
        )
    np.testing.assert_allclose(got.values, theirs.values, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(got.base_values, theirs.base_values, rtol=0, atol=1e-10 * scale)


def test_values_add_up_and_converge_to_the_shapley_values(mlp, subset_shapley):
    model, X = mlp
    background, rows = X[:10], X[200:204]
    want = np.array([subset_shapley(model.predict, x, background) for x in rows])
    fx = model.predict(rows)
    errors = []
    for budget in (17 * 2, 17 * 128):
        explainer = ferroshap.PermutationExplainer(model.predict, background, seed=11)
        got = explainer(rows, max_evals=budget, silent=True)
        # Efficiency: each walk telescopes from the empty to the full coalition.
        np.testing.assert_allclose(
            got.values.sum(axis=1) + got.base_values, fx, rtol=0, atol=1e-10 * np.abs(fx).max()
        )
        errors.append(np.sqrt(np.mean((got.values - want) ** 2)))
    # 64x the permutations: the error falls about 8x (1/sqrt(n)); 3x leaves room for the
    # spread of a single seed.
    assert errors[1] < errors[0] / 3, errors


def test_seed_gives_the_same_values_for_any_thread_count(mlp, monkeypatch):
    model, X = mlp
    background, rows = X[:10], X[200:230]
    results = []
    for threads in ("1", "3"):
        monkeypatch.setenv("RAYON_NUM_THREADS", threads)
        explainer = ferroshap.PermutationExplainer(model.predict, background, seed=5)
        results.append(explainer(rows, max_evals=100, silent=True, batch_size=37).values)
    np.testing.assert_array_equal(results[0], results[1])
    other = ferroshap.PermutationExplainer(model.predict, background, seed=6)
    assert not np.array_equal(other(rows, max_evals=100, silent=True).values, results[0])


def test_thousands_of_features_use_wide_coalitions():
    # Coalitions wider than one 64-bit word: a linear model's values are exact,
    # φ_j = β_j (x_j − mean b_j), for any permutation.
    rng = np.random.default_rng(0)
    m = 1500
    beta = rng.normal(size=m)
    background, x = rng.normal(size=(4, m)), rng.normal(size=(1, m))
    explainer = ferroshap.PermutationExplainer(lambda X: X @ beta, background, seed=1)
    got = explainer(x, max_evals=2 * m + 1, silent=True)
    np.testing.assert_allclose(got.values[0], beta * (x[0] - background.mean(axis=0)), atol=1e-9)


def test_shapes_as_shap(diabetes):
    X, y = diabetes
    classifier = linear_model.LogisticRegression(max_iter=500).fit(X[:, :4], y > 140)
    background = X[:30, :4]
    explainer = ferroshap.PermutationExplainer(classifier, background, seed=0)
    got = explainer(X[50:55, :4], silent=True)
    assert got.values.shape == (5, 4, 2)
    assert got.base_values.shape == (5, 2)
    one = explainer(X[50, :4], silent=True)
    assert one.values.shape == (4, 2)
    legacy = ferroshap.PermutationExplainer(
        lambda A: classifier.predict_proba(A)[:, 1], background, seed=0
    ).shap_values(X[50:55, :4], silent=True)
    assert legacy.shape == (5, 4)
    # shap's legacy budget: npermutations * M evaluations, ValueError when below 2M + 1.
    with pytest.raises(ValueError, match="max_evals=4 is too low"):
        ferroshap.PermutationExplainer(classifier, background).shap_values(
            X[50:51, :4], npermutations=1
        )


def test_bad_input_is_refused_clearly(diabetes):
    X, _ = diabetes
    background = X[:10, :3]
    good = ferroshap.PermutationExplainer(lambda A: A.sum(axis=1), background, seed=0)
    with pytest.raises(ValueError, match="3 columns"):
        good(X[:2, :4], silent=True)
    with pytest.raises(ValueError, match="too low"):
        good(X[:2, :3], max_evals=5, silent=True)

    def nan_on_masked(A):
        out = A.sum(axis=1)
        return np.where(np.abs(A[:, 0] - X[20, 0]) < 1e-12, np.nan, out)

    with pytest.raises(ValueError, match="NaN on the masked data"):
        ferroshap.PermutationExplainer(nan_on_masked, background, seed=0)(X[20:21, :3], silent=True)
    calls = {"n": 0}

    def shape_changes(A):
        calls["n"] += 1
        return A[:, :1] if calls["n"] == 1 else A[:, :2]

    with pytest.raises(ValueError, match="outputs per row on the background"):
        ferroshap.PermutationExplainer(shape_changes, background, seed=0)(X[20:21, :3], silent=True)
    with pytest.raises(ValueError, match="link='logit' needs probabilities"):
        ferroshap.PermutationExplainer(lambda A: A[:, 0], background, link="logit")


def test_outputs_selects_the_outputs_to_explain():
    """``outputs=`` (which shap 0.51 accepts and ignores here, returning every output) gives
    exactly those outputs' values: the same permutations, so equal to indexing the full run."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    explainer = ferroshap.PermutationExplainer(model.predict_proba, X[:30], seed=0)
    full = explainer(X[:4])
    # An output axis is kept even for one output, as Partition's outputs= (and shap's) does.
    for outputs, pick in ((1, [1]), ([2, 0], [2, 0]), (-1, [2])):
        got = ferroshap.PermutationExplainer(model.predict_proba, X[:30], seed=0)(
            X[:4], outputs=outputs
        )
        np.testing.assert_array_equal(got.values, full.values[..., pick])
        np.testing.assert_array_equal(got.base_values, full.base_values[..., pick])
    with pytest.raises(ValueError, match="out of range"):
        explainer(X[:1], outputs=3)
    with pytest.raises(ValueError, match="this model has one"):
        ferroshap.PermutationExplainer(model.predict, X[:30])(X[:1], outputs=0)
