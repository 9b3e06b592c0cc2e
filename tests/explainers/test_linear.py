"""LinearExplainer: parity with shap's LinearExplainer, closed forms and oracles.

Tolerances: interventional values are ``coef * (x - mean)``, the same few products as shap's,
so they agree to 1e-12 of the output scale (only the order of the mean's sum may differ).
Correlation-dependent values come from the same random feature orders as shap's (same seed)
but the inverses grow in another order of operations: 1e-9 of the output scale (the
covariances here have condition numbers below 1e4, so rounding stays far below that).
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import shap
from sklearn import datasets, linear_model

import ferroshap


@pytest.fixture(scope="module")
def diabetes():
    X, y = datasets.load_diabetes(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def iris():
    return datasets.load_iris(return_X_y=True)


def _shap_linear(*args, global_seed=None, **kwargs):
    """shap's explainer; with ``global_seed``, built after ``np.random.seed(global_seed)``
    (shap draws its feature orders from NumPy's global state), which is then restored."""
    state = np.random.get_state()  # noqa: NPY002
    try:
        if global_seed is not None:
            np.random.seed(global_seed)  # noqa: NPY002
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # shap's FutureWarning on feature_perturbation
            return shap.LinearExplainer(*args, **kwargs)
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _scale(values):
    return max(1.0, float(np.abs(values).max()))


@pytest.mark.parametrize(
    "make",
    [
        lambda: linear_model.LinearRegression(),
        lambda: linear_model.Ridge(alpha=0.5),
        lambda: linear_model.Lasso(alpha=0.1),
        lambda: linear_model.ElasticNet(alpha=0.05),
    ],
    ids=["LinearRegression", "Ridge", "Lasso", "ElasticNet"],
)
def test_interventional_regressors_match_shap(diabetes, make):
    X, y = diabetes
    model = make().fit(X, y)
    background = X.iloc[:80]  # <= 100 rows: shap's masker keeps them all
    ours = ferroshap.LinearExplainer(model, background)
    theirs = _shap_linear(model, background)
    assert isinstance(ours.expected_value, float)
    assert ours.expected_value == pytest.approx(theirs.expected_value, rel=1e-12)
    got, want = ours.shap_values(X), theirs.shap_values(X)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * _scale(want))
    # Closed form and additivity: f(x) - E[f] exactly (up to rounding of M products).
    np.testing.assert_allclose(got.sum(axis=1) + ours.expected_value, model.predict(X), atol=1e-9)
    explanation, theirs_explanation = ours(X.iloc[:5]), theirs(X.iloc[:5])
    np.testing.assert_allclose(explanation.values, theirs_explanation.values, atol=1e-12 * 400)
    np.testing.assert_allclose(explanation.base_values, theirs_explanation.base_values)
    assert explanation.feature_names == list(X.columns) == list(theirs_explanation.feature_names)
    np.testing.assert_array_equal(explanation.data, X.iloc[:5].to_numpy())


@pytest.mark.parametrize(
    "make",
    [
        lambda: linear_model.LogisticRegression(max_iter=1000),
        lambda: linear_model.SGDClassifier(random_state=0),
    ],
    ids=["LogisticRegression", "SGDClassifier"],
)
def test_classifiers_binary_and_multiclass_match_shap(iris, make):
    X, y = iris
    for target in (y == 2, y):  # binary: coef_ (1, M), one output; three classes: (3, M)
        model = make().fit(X, target)
        ours, theirs = ferroshap.LinearExplainer(model, X[::2]), _shap_linear(model, X[::2])
        got, want = ours.shap_values(X), theirs.shap_values(X)
        assert got.shape == want.shape == ((150, 4) if target.dtype == bool else (150, 4, 3))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * _scale(want))
        np.testing.assert_allclose(ours.expected_value, theirs.expected_value, rtol=1e-12)
        margin = model.decision_function(X)
        np.testing.assert_allclose(got.sum(axis=1) + ours.expected_value, margin, atol=1e-9)
        explanation = ours(X[:4])
        want = theirs(X[:4])
        assert explanation.values.shape == want.values.shape
        assert explanation.base_values.shape == want.base_values.shape
        np.testing.assert_allclose(explanation.base_values, want.base_values, rtol=1e-12)


def test_pairs_maskers_and_sparse_input_match_shap(diabetes):
    X, y = diabetes
    model = linear_model.Ridge().fit(X, y)
    data = X.to_numpy()
    pair = (model.coef_, model.intercept_)
    want = _shap_linear(pair, data[:60]).shap_values(data)
    scale = _scale(want)
    for background in (
        data[:60],
        ferroshap.maskers.Independent(data[:60]),
        (data[:60].mean(axis=0), np.cov(data[:60], rowvar=False)),
        {"mean": data[:60].mean(axis=0), "cov": None},
        shap.maskers.Independent({"mean": data[:60].mean(axis=0), "cov": None}),
        (list(data[:60].mean(axis=0)), None),
        scipy.sparse.csr_matrix(data[:60]),
    ):
        got = ferroshap.LinearExplainer(pair, background).shap_values(data)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * scale)
    got = ferroshap.LinearExplainer(model, data[:60]).shap_values(scipy.sparse.csr_matrix(data))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * scale)


def test_polars_and_shaps_own_masker(diabetes):
    import polars as pl

    X, y = diabetes
    model = linear_model.LinearRegression().fit(X, y)
    want = ferroshap.LinearExplainer(model, X.iloc[:50])(X.iloc[:5])
    got = ferroshap.LinearExplainer(model, pl.from_pandas(X.iloc[:50]))(pl.from_pandas(X.iloc[:5]))
    # The mean is summed in another memory order: rounding only.
    np.testing.assert_allclose(got.values, want.values, rtol=1e-12, atol=1e-12)
    assert got.feature_names == want.feature_names == list(X.columns)
    masker = shap.maskers.Independent(X.iloc[:50])  # shap's masker: its .data rows
    np.testing.assert_array_equal(
        ferroshap.LinearExplainer(model, masker)(X.iloc[:5]).values, want.values
    )


def test_all_background_rows_are_used(diabetes):
    # shap's Independent masker keeps a random 100 rows, so its mean is that of a sample;
    # ferroshap uses every row (only their mean is needed): coef * (x - mean of all rows).
    X, y = diabetes
    model = linear_model.LinearRegression().fit(X, y)
    explainer = ferroshap.LinearExplainer(model, X)
    np.testing.assert_allclose(explainer.mean, X.to_numpy().mean(axis=0), rtol=1e-13)
    want = (X.to_numpy()[:5] - X.to_numpy().mean(axis=0)) * model.coef_
    np.testing.assert_allclose(explainer.shap_values(X.iloc[:5]), want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("nsamples", [1, 20, 300])
def test_correlation_dependent_matches_shap_with_the_same_seed(diabetes, nsamples):
    X, y = diabetes
    model = linear_model.LinearRegression().fit(X, y)
    theirs = _shap_linear(
        model, X, feature_perturbation="correlation_dependent", nsamples=nsamples, global_seed=7
    )
    ours = ferroshap.LinearExplainer(
        model, X, feature_perturbation="correlation_dependent", nsamples=nsamples, seed=7
    )
    want = theirs.shap_values(X.iloc[:40])
    got = ours.shap_values(X.iloc[:40])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * _scale(want))
    assert ours.expected_value == pytest.approx(theirs.expected_value, rel=1e-12)
    # Efficiency holds for every order: f(x) - E[f].
    np.testing.assert_allclose(
        got.sum(axis=1) + ours.expected_value, model.predict(X.iloc[:40]), atol=1e-8
    )


def test_correlation_dependent_with_redundant_and_constant_features():
    # Columns 5-6 duplicate 1 and (affinely) 2, column 7 is constant: shap groups the
    # duplicates (sharing their group's value equally) and gives the constant 0.
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(300, 5))
    Z = np.column_stack([Z, Z[:, 1], 2 * Z[:, 2] + 1, np.ones(300), Z[:, 0] + Z[:, 3]])
    pair = (rng.normal(size=9), 0.3)
    for masker in (Z, (Z.mean(axis=0), np.cov(Z, rowvar=False))):
        theirs = _shap_linear(
            pair, masker, feature_perturbation="correlation_dependent", global_seed=5
        )
        ours = ferroshap.LinearExplainer(
            pair, masker, feature_perturbation="correlation_dependent", seed=5
        )
        want, got = theirs.shap_values(Z[:20]), ours.shap_values(Z[:20])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * _scale(want))
        np.testing.assert_array_equal(got[:, 7], 0.0)
        np.testing.assert_allclose(got[:, 1], got[:, 5], rtol=1e-12)


def _gaussian_shapley(coef, mean, cov, x):
    """Exact correlation-dependent values by subset enumeration: v(S) = E[f | x_S] for a
    Gaussian background, ``coef_S x_S + coef_~S (mean_~S + C_~SS C_SS^-1 (x_S - mean_S))``."""
    m = len(coef)

    def v(S):
        S = list(S)
        rest = [j for j in range(m) if j not in S]
        imputed = mean.copy()
        if S:
            imputed[rest] += cov[np.ix_(rest, S)] @ np.linalg.solve(
                cov[np.ix_(S, S)], x[S] - mean[S]
            )
            imputed[S] = x[S]
        return coef @ imputed

    phi = np.zeros(m)
    for j in range(m):
        others = [k for k in range(m) if k != j]
        for size in range(m):
            for S in itertools.combinations(others, size):
                weight = 1.0 / (m * math.comb(m - 1, size))
                phi[j] += weight * (v(S + (j,)) - v(S))
    return phi


def test_correlation_dependent_converges_to_the_exact_values():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 4))
    data = rng.normal(size=(2000, 4)) @ A
    coef = np.array([1.0, -2.0, 0.5, 3.0])
    mean, cov = data.mean(axis=0), np.cov(data, rowvar=False)
    x = data[0] + 1.0
    exact = _gaussian_shapley(coef, mean, cov, x)
    errors = []
    for nsamples in (20, 20000):
        explainer = ferroshap.LinearExplainer(
            (coef, 0.0),
            data,
            feature_perturbation="correlation_dependent",
            nsamples=nsamples,
            seed=3,
        )
        errors.append(np.abs(explainer.shap_values(x) - exact).max())
    # 24 orders in all: 20,000 random ones leave a relative error of order 1/sqrt(20000).
    assert errors[1] < 0.03 * np.abs(exact).max()
    assert errors[1] < errors[0]


def test_correlation_dependent_on_independent_features_is_interventional():
    # With a diagonal covariance imputation changes nothing: any order gives coef*(x-mean).
    coef = np.array([1.0, -2.0, 0.5])
    mean, cov = np.array([0.1, 0.2, 0.3]), np.diag([1.0, 2.0, 3.0])
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 4.0]])
    explainer = ferroshap.LinearExplainer(
        (coef, 1.0), (mean, cov), feature_perturbation="correlation_dependent", nsamples=3
    )
    np.testing.assert_allclose(explainer.shap_values(x), (x - mean) * coef, atol=1e-14)


def test_correlation_dependent_multiclass_is_per_class(iris):
    # shap 0.51 fails here (IndexError); ferroshap explains each class's margin, with the
    # same orders for every class, so each equals a single-output explainer of that class.
    X, y = iris
    model = linear_model.LogisticRegression(max_iter=1000).fit(X, y)
    kw = dict(feature_perturbation="correlation_dependent", nsamples=50, seed=2)
    got = ferroshap.LinearExplainer(model, X, **kw).shap_values(X[:10])
    assert got.shape == (10, 4, 3)
    for k in range(3):
        single = ferroshap.LinearExplainer((model.coef_[k], model.intercept_[k]), X, **kw)
        np.testing.assert_allclose(got[..., k], single.shap_values(X[:10]), atol=1e-12)


def test_one_row_and_frames(diabetes):
    X, y = diabetes
    model = linear_model.LinearRegression().fit(X, y)
    explainer = ferroshap.LinearExplainer(model, X)
    row = explainer(X.iloc[3])  # a Series: one row (shap 0.51 raises here)
    assert row.values.shape == (10,)
    assert np.ndim(row.base_values) == 0
    np.testing.assert_allclose(row.values, explainer.shap_values(X.to_numpy()[3]))
    assert row.feature_names == list(X.columns)
    # shap 0.51 reads columns by position; ferroshap refuses frames in another order.
    with pytest.raises(ValueError, match="another order"):
        explainer.shap_values(X.iloc[:3, ::-1])


def test_bad_input_is_refused(diabetes):
    X, y = diabetes
    model = linear_model.LinearRegression().fit(X, y)
    with pytest.raises(ferroshap.InvalidModelError, match="RandomForest"):
        from sklearn.ensemble import RandomForestRegressor

        ferroshap.LinearExplainer(RandomForestRegressor(n_estimators=2).fit(X, y), X)
    with pytest.raises(ValueError, match="10 coefficients per output but the background"):
        ferroshap.LinearExplainer(model, X.iloc[:, :5])
    with pytest.raises(ValueError, match="X does not match the model"):
        ferroshap.LinearExplainer(model, X).shap_values(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="feature_perturbation must be"):
        ferroshap.LinearExplainer(model, X, feature_perturbation="conditional")
    with pytest.raises(ValueError, match="nsamples must be a positive int"):
        ferroshap.LinearExplainer(model, X, nsamples=0)
    with pytest.raises(NotImplementedError, match="sparse"):
        sparse = scipy.sparse.csr_matrix(X.to_numpy())
        ferroshap.LinearExplainer(model, sparse, feature_perturbation="correlation_dependent")
    with pytest.raises(ValueError, match="NaN"):
        ferroshap.LinearExplainer(model, X.to_numpy() * np.nan)
    with pytest.raises(ferroshap.InvalidModelError, match="does not match coef"):
        ferroshap.LinearExplainer((np.ones((2, 3)), np.ones(3)), np.zeros((2, 3)))
    with pytest.raises(TypeError, match="background data"):
        ferroshap.LinearExplainer(model)
    rows = X.to_numpy()[:3].copy()
    rows[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf \(first: row 1, feature 2\)"):
        ferroshap.LinearExplainer(model, X).shap_values(rows)
    with pytest.raises(ValueError, match="link must be"):
        ferroshap.LinearExplainer(model, X, link=np.exp)


def test_logit_link_and_pickling(iris):
    import pickle

    # shap's Explainer(model, X, link=shap.links.logit) on a logistic regression: the values
    # are the margin's (the logit of the probability), with or without the link.
    X, y = iris
    model = linear_model.LogisticRegression(max_iter=1000).fit(X, y == 1)
    plain = ferroshap.LinearExplainer(model, X)
    logit = ferroshap.Explainer(model, X, link=shap.links.logit)
    assert isinstance(logit, ferroshap.LinearExplainer) and logit.link == "logit"
    np.testing.assert_array_equal(logit.shap_values(X[:5]), plain.shap_values(X[:5]))
    again = pickle.loads(pickle.dumps(plain))
    np.testing.assert_array_equal(again.shap_values(X[:5]), plain.shap_values(X[:5]))


def test_explainer_dispatch_picks_linear_like_shap(diabetes, iris):
    X, y = diabetes
    model = linear_model.LinearRegression().fit(X, y)
    ours = ferroshap.Explainer(model, X.iloc[:50])
    assert isinstance(ours, ferroshap.LinearExplainer)
    assert isinstance(ferroshap.explainers.Linear(model, X), ferroshap.LinearExplainer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = shap.Explainer(model, X.iloc[:50])
    assert type(theirs).__name__ == "LinearExplainer"
    np.testing.assert_allclose(ours(X.iloc[:5]).values, theirs(X.iloc[:5]).values, atol=1e-9)
    pair = ferroshap.Explainer((model.coef_, model.intercept_), X.iloc[:50])
    assert isinstance(pair, ferroshap.LinearExplainer)
    # A bound predict is a black box (as in shap); algorithm="linear" needs the model itself.
    assert isinstance(ferroshap.Explainer(model.predict, X.iloc[:50]), ferroshap.ExactExplainer)
    forced = ferroshap.Explainer(
        model, X, algorithm="linear", feature_perturbation="correlation_dependent", seed=1
    )
    assert forced.feature_perturbation == "correlation_dependent"
    Xi, yi = iris
    clf = linear_model.LogisticRegression(max_iter=1000).fit(Xi, yi)
    assert ferroshap.Explainer(clf, pd.DataFrame(Xi)).shap_values(Xi[:2]).shape == (2, 4, 3)
