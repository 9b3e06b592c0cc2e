"""KernelExplainer: parity with shap 0.51 where shap is exact, brute-force Shapley oracles
where shap is not, and clear errors on bad input.

Tolerances: with every coalition enumerated both libraries solve the same well-conditioned
weighted least squares in f64 (shap with LU, ferroshap with Cholesky) on the same model
outputs, so they agree to rounding; 1e-8 on values of order 1 leaves a wide margin.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import shap
from sklearn import datasets, ensemble, linear_model, neural_network

import ferroshap


def _shap_values(model, background, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.KernelExplainer(model, background, link=kwargs.pop("link", "identity"))
        return explainer, explainer.shap_values(X, silent=True, **kwargs)


def _brute_force(f, x, background, link="identity", weights=None):
    """Shapley values of v(S) = link(Σ_b w_b f(x_S, b)) by subset enumeration."""
    m = len(x)
    w = (
        np.full(len(background), 1 / len(background))
        if weights is None
        else weights / weights.sum()
    )
    cache = {}

    def v(subset):
        if subset not in cache:
            rows = background.copy()
            rows[:, list(subset)] = x[list(subset)]
            p = w @ np.asarray(f(rows), dtype=float)
            cache[subset] = np.log(p / (1 - p)) if link == "logit" else p
        return cache[subset]

    phi = []
    for j in range(m):
        others = [i for i in range(m) if i != j]
        total = 0.0
        for size in range(m):
            coef = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            for s in itertools.combinations(others, size):
                total = total + coef * (v(tuple(sorted(s + (j,)))) - v(s))
        phi.append(total)
    return np.array(phi)


@pytest.fixture(scope="module")
def diabetes():
    X, y = datasets.load_diabetes(return_X_y=True)
    return X, y


def test_exhaustive_parity_with_shap_regression(diabetes):
    X, y = diabetes  # 10 features: "auto" enumerates all 1022 coalitions
    model = ensemble.GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0)
    model.fit(X, y)
    background, rows = X[:12], X[100:106]
    shap_explainer, want = _shap_values(model.predict, background, rows, l1_reg=False)
    explainer = ferroshap.KernelExplainer(model.predict, background)
    got = explainer.shap_values(rows, silent=True)
    assert got.shape == want.shape == (6, 10)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)
    assert explainer.expected_value == pytest.approx(shap_explainer.expected_value, abs=1e-10)
    # Efficiency against the model itself.
    np.testing.assert_allclose(
        got.sum(axis=1) + explainer.expected_value, model.predict(rows), atol=1e-8
    )


@pytest.mark.parametrize(
    "l1_reg",
    ["num_features(1)", "num_features(3)", "num_features(7)", "num_features(10)", "aic", "bic"],
)
def test_lars_selection_parity_with_shap(diabetes, l1_reg):
    # shap keeps the first k features to enter scikit-learn's LAR path of its augmented
    # problem ("num_features(k)"), or the nonzero coefficients of LassoLarsIC's best knot
    # ("aic", "bic"), and refits on them; ferroshap's own LARS must choose the same features
    # in the same order (the last one is the one eliminated by the efficiency constraint).
    X, y = diabetes
    model = ensemble.GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0)
    model.fit(X, y / 100)
    background, rows = X[:12], X[100:110]
    _, want = _shap_values(model.predict, background, rows, l1_reg=l1_reg)
    got = ferroshap.KernelExplainer(model.predict, background).shap_values(
        rows, l1_reg=l1_reg, silent=True
    )
    if l1_reg.startswith("num_features"):
        # At most k (a row may have fewer varying features than k).
        assert np.all(np.count_nonzero(got, axis=1) <= int(l1_reg[13:-1]))
    np.testing.assert_array_equal(got != 0, want != 0)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


@pytest.mark.parametrize("alpha", [1e-6, 1e-5, 1e-4])
def test_lasso_alpha_parity_with_shap(diabetes, alpha):
    # shap keeps the nonzero coefficients of scikit-learn's Lasso(alpha) on its augmented
    # problem; ferroshap's coordinate descent follows the same iterations and stopping rule.
    X, y = diabetes
    model = ensemble.GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0)
    model.fit(X, y / 100)
    background, rows = X[:12], X[100:108]
    _, want = _shap_values(model.predict, background, rows, l1_reg=alpha)
    got = ferroshap.KernelExplainer(model.predict, background).shap_values(
        rows, l1_reg=alpha, silent=True
    )
    # Kernel weights sum to 1, so alphas that select are small; these keep 2 to 10 of 10.
    kept = np.count_nonzero(got, axis=1)
    assert kept.min() >= 1 and kept.min() < 10
    np.testing.assert_array_equal(got != 0, want != 0)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


def test_exhaustive_parity_with_shap_logit_multi_output():
    X, y = datasets.load_breast_cancer(return_X_y=True)
    X = X[:, :8]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = linear_model.LogisticRegression(max_iter=1000).fit(X, y)
    background, rows = X[:10], X[200:205]
    shap_explainer, want = _shap_values(
        model.predict_proba, background, rows, l1_reg=False, link="logit"
    )
    explainer = ferroshap.KernelExplainer(model, background, link="logit")  # uses predict_proba
    got = explainer.shap_values(rows, silent=True)
    assert got.shape == want.shape == (5, 8, 2)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)
    np.testing.assert_allclose(explainer.expected_value, shap_explainer.expected_value, atol=1e-10)
    for l1_reg in ("num_features(4)", "aic", "bic"):
        _, want = _shap_values(model.predict_proba, background, rows, l1_reg=l1_reg, link="logit")
        got = explainer.shap_values(rows, l1_reg=l1_reg, silent=True)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


def test_exhaustive_parity_with_shap_multiclass_and_frames():
    import pandas as pd

    data = datasets.load_iris(as_frame=True)
    X, y = data.data, data.target
    model = neural_network.MLPClassifier(hidden_layer_sizes=(8,), max_iter=2000, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X.to_numpy(), y)
    background, rows = X.iloc[::15], X.iloc[[3, 60, 120]]
    _, want = _shap_values(
        model.predict_proba, background.to_numpy(), rows.to_numpy(), l1_reg=False
    )
    explainer = ferroshap.KernelExplainer(model.predict_proba, background)
    got = explainer.shap_values(rows, silent=True)
    assert got.shape == (3, 4, 3)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)
    explanation = explainer(rows)
    assert explanation.feature_names == list(X.columns)
    np.testing.assert_allclose(explanation.values, got)
    assert explanation.base_values.shape == (3, 3)
    assert isinstance(rows, pd.DataFrame)


def test_shap_default_zeroes_features_on_an_exhaustive_design():
    # 11 features: "auto" (2*11 + 2048 = 2070) covers all 2046 coalitions, yet shap's default
    # l1_reg="num_features(10)" keeps only 10 features and refits, so one feature gets 0 and
    # the others absorb its effect. With no selection the enumeration is exact.
    X, y = datasets.load_diabetes(return_X_y=True)
    rng = np.random.default_rng(0)
    X = np.column_stack([X, X[:, 2] * X[:, 8] * 10 + 0.01 * rng.standard_normal(len(X))])
    model = neural_network.MLPRegressor(hidden_layer_sizes=(16,), max_iter=500, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    background, x = X[:5], X[300]
    exact = _brute_force(model.predict, x, background)
    _, shap_default = _shap_values(model.predict, background, x[None, :])
    got = ferroshap.KernelExplainer(model.predict, background).shap_values(x, silent=True)
    assert np.count_nonzero(shap_default[0]) == 10
    assert np.max(np.abs(shap_default[0] - exact)) > 1e-3
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-8)
    # Asked for explicitly, ferroshap reproduces shap's selection (and its error).
    explainer = ferroshap.KernelExplainer(model.predict, background)
    same = explainer.shap_values(x, l1_reg="num_features(10)", silent=True)
    np.testing.assert_allclose(same, shap_default[0], rtol=0, atol=1e-8)


def test_seed_gives_reproducible_sampled_values():
    X, y = datasets.load_diabetes(return_X_y=True)
    X = np.column_stack([X, X[:, :6] ** 2])  # 16 features: sampled design
    model = linear_model.Ridge().fit(X, y)
    background, rows = X[:8], X[50:53]
    a = ferroshap.KernelExplainer(model.predict, background, seed=7)
    b = ferroshap.KernelExplainer(model.predict, background, seed=7)
    va = a.shap_values(rows, nsamples=100, silent=True)
    np.testing.assert_array_equal(va, b.shap_values(rows, nsamples=100, silent=True))
    # A linear model is recovered exactly by any full-rank design.
    want = model.coef_ * (rows - background.mean(axis=0))
    np.testing.assert_allclose(va, want, atol=1e-8)
    # Row i's stream depends only on (seed, i), and outputs are summed in a fixed order, so
    # the batch size does not matter (for a model that computes each row on its own: BLAS
    # products such as Ridge.predict may round a row differently in another batch).
    rowwise = lambda Z: np.tanh(Z).sum(axis=1) + Z[:, 0] * Z[:, 1]  # noqa: E731
    c = ferroshap.KernelExplainer(rowwise, background, seed=7)
    np.testing.assert_array_equal(
        c.shap_values(rows, nsamples=100, silent=True),
        c.shap_values(rows, nsamples=100, silent=True, batch_size=37),
    )


def test_auto_selects_with_aic_only_below_a_fifth_of_the_coalitions(diabetes):
    X, y = diabetes
    X = np.column_stack([X, X[:, :6] ** 2])  # 16 features: 65,534 coalitions
    model = ensemble.GradientBoostingRegressor(n_estimators=20, random_state=0).fit(X, y)
    explainer = ferroshap.KernelExplainer(model.predict, X[:6], seed=5)
    rows = X[40:43]
    auto = explainer.shap_values(rows, nsamples=500, l1_reg="auto", silent=True)
    aic = explainer.shap_values(rows, nsamples=500, l1_reg="aic", silent=True)
    none = explainer.shap_values(rows, nsamples=500, silent=True)
    np.testing.assert_array_equal(auto, aic)
    assert not np.array_equal(auto, none)
    # Efficiency holds whatever was selected.
    total = auto.sum(axis=1) + explainer.expected_value
    np.testing.assert_allclose(total, model.predict(rows), atol=1e-8)


def test_kmeans_background_weights_are_carried_into_the_estimator(diabetes):
    X, y = diabetes
    model = ensemble.GradientBoostingRegressor(n_estimators=20, random_state=0).fit(X, y)
    summary = ferroshap.kmeans(X, 6)
    assert summary.data.shape == (6, 10) and summary.weights.sum() == len(X)
    # Every centre coordinate is a value observed in its column.
    assert all(np.isin(summary.data[:, j], X[:, j]).all() for j in range(10))
    explainer = ferroshap.KernelExplainer(model.predict, summary)
    w = summary.weights / summary.weights.sum()
    assert explainer.expected_value == pytest.approx(w @ model.predict(summary.data), abs=1e-12)
    x = X[7]
    got = explainer.shap_values(x, silent=True)
    exact = _brute_force(model.predict, x, summary.data, weights=summary.weights)
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-9)
    assert ferroshap.kmeans(X, 6).weights.tolist() == summary.weights.tolist()  # seeded


def test_sample_keeps_the_type_and_is_seeded():
    import pandas as pd
    import polars as pl

    X = np.arange(40.0).reshape(20, 2)
    a = ferroshap.sample(X, 5, random_state=1)
    assert a.shape == (5, 2) and np.array_equal(a, ferroshap.sample(X, 5, random_state=1))
    assert ferroshap.sample(X, 50) is X
    frame = pd.DataFrame(X, columns=["u", "v"])
    assert list(ferroshap.sample(frame, 5, random_state=1).columns) == ["u", "v"]
    np.testing.assert_array_equal(ferroshap.sample(frame, 5, random_state=1).to_numpy(), a)
    np.testing.assert_array_equal(
        ferroshap.sample(pl.DataFrame(frame), 5, random_state=1).to_numpy(), a
    )
    with pytest.raises(ValueError, match="nsamples"):
        ferroshap.sample(X, 0)


def test_native_tree_ensemble_path(diabetes):
    # A ferroshap TreeEnsemble runs the whole loop in Rust; it must give what the Python loop
    # gives for the same model as a plain function, and, with every coalition enumerated,
    # exact interventional Tree SHAP values for the same background.
    X, y = diabetes
    model = ensemble.GradientBoostingRegressor(n_estimators=20, random_state=0).fit(X, y)
    tree = ferroshap.TreeExplainer(model)
    ens = tree.ensemble
    background, rows = X[:8], X[60:70]
    native = ferroshap.KernelExplainer(ens, background, seed=4)
    python = ferroshap.KernelExplainer(lambda Z: ens.predict_margin(Z)[:, 0], background, seed=4)
    got = native.shap_values(rows, silent=True)
    np.testing.assert_allclose(got, python.shap_values(rows, silent=True), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        native.shap_values(rows, nsamples=300, silent=True),
        python.shap_values(rows, nsamples=300, silent=True),
        rtol=0,
        atol=1e-12,
    )
    exact = ferroshap.TreeExplainer(model, data=background).shap_values(rows)
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-9)
    assert native.expected_value == pytest.approx(python.expected_value, abs=1e-12)


def test_rows_with_zero_one_and_two_varying_features_match_shap():
    def f(X):
        return np.column_stack([X.sum(axis=1), X[:, 0] * X[:, 1]])

    background = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 2.0]])
    X = np.array([[0.5, 1.0, 2.0], [0.0, 1.0, 2.0], [3.0, 4.0, 2.0]])
    _, want = _shap_values(f, background, X, l1_reg=False)
    got = ferroshap.KernelExplainer(f, background).shap_values(X, silent=True)
    assert got.shape == (3, 3, 2)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    same = ferroshap.KernelExplainer(f, X[1:2]).shap_values(X[1:2], silent=True)
    np.testing.assert_array_equal(same, np.zeros((1, 3, 2)))


def test_polars_frames_and_explanations():
    import polars as pl

    explainer = ferroshap.KernelExplainer(
        lambda X: 2 * X[:, 0], pl.DataFrame({"a": [0.0, 1.0], "b": [1.0, 2.0]})
    )
    explanation = explainer(pl.DataFrame({"a": [3.0], "b": [5.0]}))
    assert explanation.feature_names == ["a", "b"]
    np.testing.assert_allclose(explanation.values, [[5.0, 0.0]])
    np.testing.assert_allclose(explanation.base_values, [1.0])


def test_sampled_explanations_carry_confidence_bounds():
    X, y = datasets.load_diabetes(return_X_y=True)
    X = np.column_stack([X, X[:, :6] ** 2])  # 16 features: sampled
    model = linear_model.Ridge().fit(X, y)
    f = lambda Z: model.predict(Z) + 50 * np.tanh(Z[:, 0] * Z[:, 1] * 100)  # noqa: E731
    explainer = ferroshap.KernelExplainer(f, X[:5], seed=1)
    explanation = explainer(X[20:22], nsamples=200)
    assert explanation.lower_bounds.shape == explanation.values.shape == (2, 16)
    assert np.all(explanation.lower_bounds <= explanation.values)
    assert np.all(explanation.upper_bounds > explanation.lower_bounds)
    g = lambda Z: Z.sum(axis=1) * Z[:, 0]  # noqa: E731
    exhaustive = ferroshap.KernelExplainer(g, X[:5, :8])
    assert exhaustive(X[20:22, :8]).lower_bounds is None


def test_stopping_rule_doubles_the_budget_until_errors_are_small():
    rng = np.random.default_rng(3)
    background, X = rng.standard_normal((5, 16)), rng.standard_normal((3, 16))
    f = lambda Z: np.tanh(Z).sum(axis=1) + Z[:, 0] * Z[:, 1] * Z[:, 2]  # noqa: E731
    explainer = ferroshap.KernelExplainer(f, background, seed=2)
    tol = 0.02
    explanation = explainer(X, nsamples=100, tol=tol)
    errors = (explanation.upper_bounds - explanation.values) / 1.96
    spread = explanation.values.max(axis=1) - explanation.values.min(axis=1)
    assert np.all(errors.max(axis=1) <= tol * spread + 1e-12)
    once = explainer(X, nsamples=100)
    assert np.any((once.upper_bounds - once.values).max(axis=1) / 1.96 > tol * spread)
    values = explainer.shap_values(X, nsamples=100, tol=tol, silent=True)
    np.testing.assert_allclose(values.sum(axis=1) + explainer.expected_value, f(X), atol=1e-9)
    with pytest.raises(ValueError, match="tol"):
        explainer.shap_values(X, tol=2.0, silent=True)


def test_model_returning_a_view_of_its_input():
    # Batches reuse one buffer; outputs that are views of it must be consumed before refills.
    rng = np.random.default_rng(0)
    background, X = rng.standard_normal((4, 5)), rng.standard_normal((3, 5))
    explainer = ferroshap.KernelExplainer(lambda Z: Z[:, 0], background)
    values = explainer.shap_values(X, batch_size=7, silent=True)
    want = np.zeros_like(X)
    want[:, 0] = X[:, 0] - background[:, 0].mean()
    np.testing.assert_allclose(values, want, atol=1e-12)


def test_nonvarying_features_get_zero():
    f = lambda X: X[:, 0] * X[:, 1] + X[:, 2]  # noqa: E731
    background = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 3.0]])
    x = np.array([[5.0, 1.0, 4.0]])
    got = ferroshap.KernelExplainer(f, background).shap_values(x, silent=True)
    assert got[0, 1] == 0.0
    assert got.sum() + np.mean(f(background)) == pytest.approx(f(x)[0], abs=1e-12)


def test_bad_model_outputs_are_clear_errors():
    background = np.zeros((3, 4))
    with pytest.raises(ValueError, match="shape"):
        ferroshap.KernelExplainer(lambda X: np.zeros((len(X) + 1,)), background)
    with pytest.raises(ValueError, match="NaN on the background"):
        ferroshap.KernelExplainer(lambda X: np.full(len(X), np.nan), background)

    def nan_off_background(X):
        out = X.sum(axis=1)
        out[X[:, 0] == 1.0] = np.nan
        return out

    explainer = ferroshap.KernelExplainer(nan_off_background, background)
    with pytest.raises(ValueError, match="NaN"):
        explainer.shap_values(np.array([[1.0, 2.0, 3.0, 4.0]]), silent=True)

    calls = []

    def changing_shape(X):
        calls.append(len(X))
        return X[:, :2] if len(calls) > 1 else X[:, 0]

    explainer = ferroshap.KernelExplainer(changing_shape, background)
    with pytest.raises(ValueError, match="one output"):
        explainer.shap_values(np.ones((1, 4)), silent=True)
    with pytest.raises(TypeError, match="predict"):
        ferroshap.KernelExplainer(object(), background)


def test_infinite_outputs_are_refused_naming_rows_and_outputs():
    background = np.zeros((4, 3))

    def infinite_on_hybrids(X):
        # Finite on the background and on the explained row, inf where feature 0 comes from
        # the row and feature 1 from the background: only the masked data has it.
        out = X.sum(axis=1)
        out[(X[:, 0] == 1.0) & (X[:, 1] == 0.0)] = -np.inf
        return out

    explainer = ferroshap.KernelExplainer(infinite_on_hybrids, background)
    # Before: all-NaN values, silently.
    with pytest.raises(ValueError, match=r"inf on the masked data: \d+ of \d+ rows .*finite"):
        explainer.shap_values(np.array([[1.0, 1.0, 1.0]]), silent=True)
    with pytest.raises(
        ValueError, match=r"inf on the explained rows: 1 of 2 rows \(first: row 1\)"
    ):
        ferroshap.KernelExplainer(
            lambda X: np.where(X[:, 0] == 1, np.inf, 0.0), background
        ).shap_values(np.array([[0.5, 0.0, 0.0], [1.0, 0.0, 0.0]]), silent=True)

    def second_output_infinite(X):
        return np.column_stack([X.sum(axis=1), np.where(X[:, 2] > 0, np.inf, 0.0)])

    explainer = ferroshap.KernelExplainer(second_output_infinite, background)
    with pytest.raises(ValueError, match=r"inf on the explained rows: 1 of 1 rows.* in output 1;"):
        explainer.shap_values(np.array([[0.0, 0.0, 2.0]]), silent=True)


def test_logit_link_needs_probabilities():
    rng = np.random.default_rng(0)
    background = rng.random((5, 3))
    # Before: clipped silently, a base value of 34.5 and values of 0.
    with pytest.raises(
        ValueError,
        match=r"link='logit' needs probabilities in \[0, 1\].*"
        r"from 1\.\d+ to [23]\.\d+ on the background data: 5 of 5 rows",
    ):
        ferroshap.KernelExplainer(lambda X: X.sum(axis=1) + 1, background, link="logit")
    explainer = ferroshap.KernelExplainer(lambda X: X.mean(axis=1), background, link="logit")
    with pytest.raises(ValueError, match="needs probabilities.* on the explained rows: 1 of 2"):
        explainer.shap_values(np.array([[0.5, 0.5, 0.5], [3.0, 3.0, 3.0]]), silent=True)
    # Probabilities of exactly 0 and 1 are probabilities (their logits are clipped).
    edge = ferroshap.KernelExplainer(lambda X: (X[:, 0] > 0.5).astype(float), background, "logit")
    assert np.all(np.isfinite(edge.shap_values(np.array([[1.0, 0.0, 0.0]]), silent=True)))


def test_bad_inputs_are_clear_errors():
    import pandas as pd

    f = lambda X: X.sum(axis=1)  # noqa: E731
    background = pd.DataFrame(np.zeros((3, 4)), columns=list("abcd"))
    explainer = ferroshap.KernelExplainer(f, background)
    with pytest.raises(ValueError, match="background data .4 columns: a, b, c, d.*5 features"):
        explainer.shap_values(np.ones((2, 5)), silent=True)
    with pytest.raises(ValueError, match="background data.*'e'"):
        explainer.shap_values(pd.DataFrame(np.ones((2, 4)), columns=list("abce")), silent=True)
    for bad in ("num_features(x)", "num_features(0)", "lasso", -1.0, True, float("nan")):
        with pytest.raises(ValueError, match="l1_reg"):
            explainer.shap_values(np.ones((1, 4)), l1_reg=bad, silent=True)
    # shap's deprecated "auto" selects nothing when the design is exhaustive.
    np.testing.assert_allclose(
        explainer.shap_values(np.ones((1, 4)), l1_reg="auto", silent=True), np.ones((1, 4))
    )
    with pytest.raises(ValueError, match="nsamples=3 is too small"):
        explainer.shap_values(np.arange(4.0)[None, :] + 1, nsamples=3, silent=True)
    for bad in (0, "many", 2.5, True):
        with pytest.raises(ValueError, match="nsamples"):
            explainer.shap_values(np.ones((1, 4)), nsamples=bad, silent=True)
    with pytest.raises(ValueError, match="nsamples"):
        ferroshap.KernelExplainer(f, background, nsamples=0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        ferroshap.KernelExplainer(f, background, nsample=100)
    with pytest.raises(ValueError, match="link"):
        ferroshap.KernelExplainer(f, background, link="probit")


def test_ill_conditioned_regressions_warn():
    f = lambda X: np.sin(X).sum(axis=1) + X[:, 0] * X[:, 1]  # noqa: E731
    rng = np.random.default_rng(1)
    background = rng.standard_normal((4, 20))
    explainer = ferroshap.KernelExplainer(f, background, seed=3)
    x = rng.standard_normal((1, 20))
    with pytest.warns(RuntimeWarning, match="ill-conditioned"):
        values = explainer.shap_values(x, nsamples=20, silent=True)
    assert np.all(np.isfinite(values))
    assert values.sum() + explainer.expected_value == pytest.approx(f(x)[0], abs=1e-9)


def _tree_models():
    """(name, fitted model, the function given to KernelExplainer, expected native output)."""
    import lightgbm

    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 9))
    y_reg = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + X[:, 3]
    y_bin = (y_reg > 0).astype(int)
    y_multi = np.digitize(y_reg, [-0.7, 0.7])
    hgb_reg = ensemble.HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y_reg)
    hgb_poisson = ensemble.HistGradientBoostingRegressor(
        loss="poisson", max_iter=20, random_state=0
    ).fit(X, np.exp(y_reg / 2))
    hgb_bin = ensemble.HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y_bin)
    hgb_multi = ensemble.HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y_multi)
    gb_bin = ensemble.GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, y_bin)
    forest = ensemble.RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0).fit(
        X, y_multi
    )
    lgbm = lightgbm.LGBMRegressor(n_estimators=20, num_leaves=8, verbose=-1).fit(X, y_reg)
    cases = [
        ("hgb predict", hgb_reg.predict, "margin"),
        ("hgb poisson predict", hgb_poisson.predict, "exp"),
        ("hgb binary predict_proba", hgb_bin.predict_proba, "logistic_pair"),
        ("hgb binary decision_function", hgb_bin.decision_function, "margin"),
        ("hgb binary model object", hgb_bin, "logistic_pair"),
        ("hgb 3-class predict_proba", hgb_multi.predict_proba, "softmax"),
        ("gb binary predict_proba", gb_bin.predict_proba, "logistic_pair"),
        ("forest predict_proba", forest.predict_proba, "margin"),
        ("lightgbm predict", lgbm.predict, "margin"),
    ]
    return X, cases


@pytest.fixture(scope="module")
def tree_models():
    return _tree_models()


@pytest.mark.parametrize("case", range(9))
def test_native_path_for_tree_models_equals_calling_the_model(tree_models, case):
    # A converted tree model (or its bound method) runs the game in Rust from the trees; the
    # designs and seeds are those of the function-calling path and the model outputs agree to
    # ~1e-15, so the values agree to rounding: 1e-9 leaves a wide margin on values of order
    # 0.01-1, while a wrong output transform or leaf moves them by far more.
    X, cases = tree_models
    name, f, output = cases[case]
    background, rows = X[:20], X[100:104]
    native = ferroshap.KernelExplainer(f, background, seed=3)
    called = ferroshap.KernelExplainer(f, background, seed=3, native=False)
    assert native.native_model is not None, name
    assert native._native.output == output
    assert called.native_model is None
    np.testing.assert_allclose(native.expected_value, called.expected_value, rtol=0, atol=1e-12)
    for nsamples in ("auto", 100):  # 9 features: "auto" enumerates; 100 samples
        got = native.shap_values(rows, nsamples=nsamples, silent=True)
        want = called.shap_values(rows, nsamples=nsamples, silent=True)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=name)
    link = native(rows, nsamples=100)
    np.testing.assert_allclose(link.values, got, rtol=0, atol=0)


def test_native_path_falls_back_when_the_model_is_not_its_trees():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 5))
    y = X[:, 0] - X[:, 1] * X[:, 2]

    class Shifted(ensemble.HistGradientBoostingRegressor):
        # Converts like its base class, but predicts something else for large x0.
        def predict(self, X):
            out = super().predict(X)
            return out + (np.asarray(X)[:, 0] > 2.5)

    model = Shifted(max_iter=20, random_state=0).fit(X, y)
    background = X[np.abs(X[:, 0]) < 2][:10]
    explainer = ferroshap.KernelExplainer(model.predict, background, seed=1)
    # The background rows agree (x0 < 2.5), so the converted model is chosen ...
    assert explainer.native_model is not None
    plain = ferroshap.KernelExplainer(model.predict, background, seed=1, native=False)
    row = np.array([[3.0, 0.5, -0.5, 1.0, 0.0]])
    # ... but not for a row where it does not reproduce predict: the model is called.
    got = explainer.shap_values(row, silent=True)
    np.testing.assert_array_equal(got, plain.shap_values(row, silent=True))
    exact = _brute_force(model.predict, row[0], background)
    np.testing.assert_allclose(got[0], exact, rtol=0, atol=1e-10)
    trees_only = ferroshap.KernelExplainer(explainer.native_model, background)
    assert np.abs(trees_only.shap_values(row, silent=True)[0, 0] - exact[0]) > 0.5
    with pytest.raises(ValueError, match="explained rows"):
        ferroshap.KernelExplainer(model.predict, background, native=True).shap_values(
            row, silent=True
        )
    # A model that differs on the background itself never uses its trees.
    doubled = ferroshap.KernelExplainer(lambda Z: 2 * model.predict(Z), background)
    assert doubled.native_model is None
    with pytest.raises(ValueError, match="native=True.*plain function"):
        ferroshap.KernelExplainer(lambda Z: 2 * model.predict(Z), background, native=True)
    with pytest.raises(ValueError, match="native=True.*does not reproduce.*background"):
        ferroshap.KernelExplainer(model.predict, X[:10] + 3, native=True)
    # Class labels are not something the trees output.
    clf = ensemble.HistGradientBoostingClassifier(max_iter=5).fit(X, y > 0)
    assert ferroshap.KernelExplainer(clf.predict, background).native_model is None
    with pytest.raises(ValueError, match="native"):
        ferroshap.KernelExplainer(clf.predict, background, native="yes")


def test_stratified_sampling_is_more_accurate_than_shaps_scheme():
    # The default design spends the budget left after the enumerated sizes on a fixed number
    # of distinct complementary pairs per size; shap's draws sizes at random with replacement.
    # Exact values: interventional Tree SHAP of the same model and background. Over 12 seeds
    # (deterministic), the mean relative error is lower at every budget; measured: 33% lower
    # at 128-2048 coalitions, 77% at 2M + 2 = 34, far beyond the seed-to-seed noise of a
    # 12-seed mean (~5%).
    X, y = datasets.load_diabetes(return_X_y=True)
    X = np.column_stack([X, X[:, :6] ** 2])  # 16 features
    model = ensemble.HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    background, rows = X[:8], X[200:206]
    exact = ferroshap.TreeExplainer(model, data=background).shap_values(rows)

    def error(sampling, budget):
        errs = []
        for seed in range(12):
            explainer = ferroshap.KernelExplainer(model.predict, background, seed=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # ill-conditioned at 2M+2
                v = explainer.shap_values(rows, nsamples=budget, sampling=sampling, silent=True)
            errs.append(np.linalg.norm(v - exact, axis=1) / np.linalg.norm(exact, axis=1))
            np.testing.assert_allclose(
                v.sum(axis=1) + explainer.expected_value, model.predict(rows), atol=1e-8
            )
        return float(np.mean(errs))

    for budget in (34, 128, 512, 2048):
        assert error("stratified", budget) < error("shap", budget), budget
    with pytest.raises(ValueError, match="sampling"):
        ferroshap.KernelExplainer(model.predict, background).shap_values(rows, sampling="lhs")


def test_native_path_for_xgboost_agrees_to_float32_precision():
    # XGBoost predicts in float32; the converted ensemble computes in float64. The outputs agree
    # to ~1e-7 of their scale (within the 1e-6 check), so the native path is taken and the
    # values agree with calling predict_proba to float32 rounding: 1e-5 on values of order 0.1.
    import xgboost

    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 8))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    model = xgboost.XGBClassifier(n_estimators=30, max_depth=4).fit(X, y)
    native = ferroshap.KernelExplainer(model.predict_proba, X[:10], seed=1)
    called = ferroshap.KernelExplainer(model.predict_proba, X[:10], seed=1, native=False)
    assert native.native_model is not None and called.native_model is None
    got = native.shap_values(X[50:53], nsamples=100, silent=True)
    want = called.shap_values(X[50:53], nsamples=100, silent=True)
    assert got.shape == want.shape == (3, 8, 2)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert np.abs(want).max() > 0.05


def test_a_budget_that_cannot_fit_in_memory_is_a_memory_error_before_allocating():
    # 10^12 coalitions of 40 features: tens of terabytes per row; refused at once, as shap
    # raises MemoryError (it aborted the process before rows were planned in blocks).
    rng = np.random.default_rng(0)
    background = rng.normal(size=(5, 40))
    explainer = ferroshap.KernelExplainer(lambda X: X.sum(axis=1), background, seed=0)
    with pytest.raises(MemoryError, match="nsamples=1000000000000 on 40 features"):
        explainer.shap_values(rng.normal(size=(2, 40)), nsamples=10**12)


def test_wide_rows_use_the_matrix_product_forms_and_stay_exact_for_a_linear_model():
    # 150 features take the wide normal equations and standard errors (>= 64 free
    # features); for a linear model every sampled design gives the exact values
    # w_j (x_j - E[X_j]) (the regression fits the game exactly), to rounding: 1e-8.
    rng = np.random.default_rng(1)
    m = 150
    w = rng.normal(size=m)
    background = rng.normal(size=(4, m))
    x = rng.normal(size=(2, m))
    explainer = ferroshap.KernelExplainer(lambda X: X @ w, background, seed=0)
    values = explainer.shap_values(x, nsamples=1000)
    np.testing.assert_allclose(values, w * (x - background.mean(axis=0)), atol=1e-8)


def test_shap_values_skip_the_standard_errors_without_changing_the_values():
    # shap_values() does not return standard errors, so it does not compute them; the
    # values are the same numbers explainer(X) gives (bit for bit: the same regression).
    rng = np.random.default_rng(2)
    background = rng.normal(size=(6, 70))
    x = rng.normal(size=(3, 70))
    explainer = ferroshap.KernelExplainer(
        lambda X: np.tanh(X[:, :5]).sum(axis=1), background, seed=4
    )
    values = explainer.shap_values(x, nsamples=500)
    explanation = explainer(x, nsamples=500)
    np.testing.assert_array_equal(values, explanation.values)
    assert explanation.upper_bounds is not None
    assert np.all(explanation.upper_bounds - explanation.values > 0)
