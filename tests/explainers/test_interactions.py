"""SHAP interaction values (``TreeExplainer.shap_interaction_values``) on real models.

Oracles and tolerances:

- Brute force: the Shapley interaction index by enumerating every subset S of v(S), halved
  off the diagonal, diagonal = brute-force Shapley value minus the rest of the row.
  Interventional v(S): the model's own ``predict`` on every hybrid row (x on S, background row
  elsewhere), averaged: f64 for LightGBM and scikit-learn (1e-9 of the output scale: sums of
  ~2^M terms of order 1 in a different order), float32 predictions for XGBoost (1e-5 of the
  output scale: a few float32 ulps per tree). Path-dependent v(S): an independent recursion
  over scikit-learn's own node arrays (cover-weighted expectation), 1e-9.
- XGBoost's ``pred_interactions`` computes in float32: 1e-4 of the output scale (as for
  ``pred_contribs`` in the foundation's tests; ~40 trees of float32 sums).
- LightGBM's ``pred_contrib`` is exact f64 path-dependent Tree SHAP: rows of our matrices sum
  to it within 1e-9 of the output scale.
- shap 0.51 (path-dependent, scikit-learn): its C++ stores thresholds and values as float32;
  on float32-valued data routing agrees and values differ by ~1e-8: 1e-6 of the output scale.
"""

from __future__ import annotations

import itertools
import math

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap
import xgboost as xgb
from sklearn import ensemble
from sklearn.datasets import make_regression

import ferroshap


def _scale(a) -> float:
    return max(1.0, float(np.max(np.abs(a))))


def _close(got, want, rel):
    np.testing.assert_allclose(got, want, rtol=0, atol=rel * _scale(want))


def _interactions_by_enumeration(v: dict[frozenset, np.ndarray], m: int) -> np.ndarray:
    """(M, M, K) interaction values from v(S) for every subset S."""
    k = len(next(iter(v.values())))
    out = np.zeros((m, m, k))
    phi = np.zeros((m, k))
    for i in range(m):
        for size in range(m):
            for s in itertools.combinations([f for f in range(m) if f != i], size):
                s = frozenset(s)
                w = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
                phi[i] += w * (v[s | {i}] - v[s])
    for i, j in itertools.permutations(range(m), 2):
        rest = [f for f in range(m) if f not in (i, j)]
        for size in range(m - 1):
            for s in itertools.combinations(rest, size):
                s = frozenset(s)
                w = math.factorial(size) * math.factorial(m - size - 2) / math.factorial(m - 1)
                out[i, j] += 0.5 * w * (v[s | {i, j}] - v[s | {i}] - v[s | {j}] + v[s])
    for i in range(m):
        out[i, i] = phi[i] - (out[i].sum(axis=0) - out[i, i])
    return out


def _interventional_oracle(predict, x, background) -> np.ndarray:
    m = len(x)
    subsets = [frozenset(s) for n in range(m + 1) for s in itertools.combinations(range(m), n)]
    hybrids = []
    for s in subsets:
        h = background.copy()
        cols = sorted(s)
        h.iloc[:, cols] = x.iloc[cols].to_numpy()
        hybrids.append(h)
    out = np.asarray(predict(pd.concat(hybrids, ignore_index=True)), dtype=np.float64)
    out = out.reshape(len(subsets), len(background), -1).mean(axis=1)
    return _interactions_by_enumeration(dict(zip(subsets, out, strict=True)), m)


def _regression(n=200, m=5, seed=0):
    X, y = make_regression(n, m, noise=1.0, random_state=seed)
    X = pd.DataFrame(X.astype(np.float32).astype(np.float64), columns=[f"f{i}" for i in range(m)])
    return X, y / np.std(y)


def _with_category(X, y):
    X = X.copy()
    codes = np.arange(len(X)) % 5
    X["f2"] = pd.Categorical(codes)
    return X, y + np.where(codes % 2 == 1, 2.0, 0.0) * (X["f0"] > 0)


# Let LightGBM split on small categories (its defaults need 100 rows per category).
_LGB_CAT = {"min_data_per_group": 5, "cat_smooth": 1.0}


def _squeeze(values):
    return values if values.ndim == 4 else values[..., None]


@pytest.mark.parametrize("kind", ["xgb", "xgb_cat", "lgb", "lgb_cat", "rf", "hist_gb"])
def test_interventional_interactions_match_brute_force(kind):
    X, y = _regression()
    if kind.endswith("cat"):
        X, y = _with_category(X, y)
    if kind.startswith("xgb"):
        model = xgb.XGBRegressor(
            n_estimators=20, max_depth=4, enable_categorical=True, tree_method="hist"
        ).fit(X, y)

        def predict(d):
            return model.predict(d, output_margin=True)

        rel = 1e-5
    elif kind.startswith("lgb"):
        model = lgb.LGBMRegressor(n_estimators=20, num_leaves=12, verbose=-1, **_LGB_CAT).fit(X, y)

        def predict(d):
            return model.predict(d, raw_score=True)

        rel = 1e-9
    elif kind == "rf":
        model = ensemble.RandomForestRegressor(10, max_depth=5, random_state=0).fit(X, y)
        predict = model.predict
        rel = 1e-9
    else:
        model = ensemble.HistGradientBoostingRegressor(max_iter=20).fit(X, y)
        predict = model.predict
        rel = 1e-9
    background = X.iloc[:12].reset_index(drop=True)
    explainer = ferroshap.TreeExplainer(model, data=background)
    got = explainer.shap_interaction_values(X.iloc[20:24])
    assert got.shape == (4, 5, 5)
    for r in range(4):
        want = _interventional_oracle(predict, X.iloc[20 + r], background)[..., 0]
        _close(got[r], want, rel)
    _close(got.sum(axis=2), explainer.shap_values(X.iloc[20:24]), 1e-9)
    if kind.endswith("cat"):
        assert np.abs(got[:, 2]).max() > 0.05, "the model uses the categorical feature"


def test_shap_returns_zeros_for_interventional_interactions():
    # shap 0.51 prints "does not support interactions" and returns zeros; ours are the exact
    # interaction values (checked against brute force above), clearly non-zero here.
    X, y = _regression()
    model = lgb.LGBMRegressor(n_estimators=20, num_leaves=12, verbose=-1).fit(X, y)
    background = X.iloc[:12].to_numpy()
    theirs = shap.TreeExplainer(model, data=background).shap_interaction_values(
        X.iloc[20:24].to_numpy()
    )
    ours = ferroshap.TreeExplainer(model, data=background).shap_interaction_values(X.iloc[20:24])
    assert np.all(theirs == 0)
    off_diagonal = ours[:, ~np.eye(5, dtype=bool)]
    assert np.abs(off_diagonal).max() > 1e-3


def _sklearn_path_dependent_oracle(model, x) -> np.ndarray:
    """Brute force of the path-dependent game from scikit-learn's own node arrays."""
    if isinstance(model, ensemble.GradientBoostingRegressor):
        trees = [(e.tree_, model.learning_rate) for e in model.estimators_[:, 0]]
        base = float(model.init_.constant_[0, 0])
    else:
        trees = [(e.tree_, 1.0 / len(model.estimators_)) for e in model.estimators_]
        base = 0.0
    x32 = x.astype(np.float32)

    def expectation(t, node, known):
        if t.children_left[node] < 0:
            return t.value[node, 0, 0]
        f = t.feature[node]
        left, right = t.children_left[node], t.children_right[node]
        if f in known:
            child = left if x32[f] <= t.threshold[node] else right
            return expectation(t, child, known)
        n = t.weighted_n_node_samples
        return (
            n[left] * expectation(t, left, known) + n[right] * expectation(t, right, known)
        ) / n[node]

    m = len(x)
    v = {}
    for size in range(m + 1):
        for s in itertools.combinations(range(m), size):
            s = frozenset(s)
            v[s] = np.array([base + sum(w * expectation(t, 0, s) for t, w in trees)])
    return _interactions_by_enumeration(v, m)[..., 0]


@pytest.mark.parametrize("kind", ["gb", "rf"])
def test_path_dependent_interactions_match_brute_force_and_shap(kind):
    X, y = _regression()
    X = X.to_numpy()
    if kind == "gb":
        model = ensemble.GradientBoostingRegressor(n_estimators=15, max_depth=3).fit(X, y)
    else:
        model = ensemble.RandomForestRegressor(8, max_depth=5, random_state=0).fit(X, y)
    explainer = ferroshap.TreeExplainer(model)
    got = explainer.shap_interaction_values(X[:4])
    for r in range(4):
        _close(got[r], _sklearn_path_dependent_oracle(model, X[r]), 1e-9)
    theirs = shap.TreeExplainer(model).shap_interaction_values(X[:4])
    _close(got, theirs, 1e-6)
    assert np.allclose(got, np.swapaxes(got, 1, 2), rtol=0, atol=1e-15)


@pytest.mark.parametrize("objective", ["reg", "multi"])
def test_xgboost_pred_interactions_parity(objective):
    X, y = _regression(m=6)
    X = X.to_numpy()
    if objective == "reg":
        model = xgb.XGBRegressor(n_estimators=40, max_depth=5).fit(X, y)
    else:
        model = xgb.XGBClassifier(n_estimators=15, max_depth=4).fit(X, np.digitize(y, [-0.5, 0.5]))
    explainer = ferroshap.TreeExplainer(model)
    got = _squeeze(explainer.shap_interaction_values(X[:50]))
    native = model.get_booster().predict(xgb.DMatrix(X[:50]), pred_interactions=True)
    if native.ndim == 3:
        native = native[:, None]
    # (n, K, M+1, M+1) -> (n, M, M, K), the bias row and column dropped.
    want = np.moveaxis(native[:, :, :-1, :-1], 1, 3)
    assert got.shape == want.shape
    _close(got, want, 1e-4)


def test_lightgbm_rows_sum_to_pred_contrib_and_shap_fails_on_categories():
    X, y = _regression()
    X, y = _with_category(X, y)
    model = lgb.LGBMRegressor(n_estimators=30, num_leaves=12, verbose=-1, **_LGB_CAT).fit(X, y)
    explainer = ferroshap.TreeExplainer(model)
    got = explainer.shap_interaction_values(X.iloc[:40])
    contrib = model.predict(X.iloc[:40], pred_contrib=True)[:, :-1]
    assert np.abs(contrib[:, 2]).max() > 0.1, "the model splits on the categorical feature"
    _close(got.sum(axis=2), contrib, 1e-9)
    _close(got.sum(axis=(1, 2)) + explainer.expected_value, model.predict(X.iloc[:40]), 1e-9)
    # shap reads LightGBM's categorical splits as thresholds: its matrices no longer add up
    # to LightGBM's own SHAP values.
    theirs = shap.TreeExplainer(model).shap_interaction_values(X.iloc[:40])
    assert np.abs(theirs.sum(axis=2) - contrib).max() > 1e-3


def test_shapes_subsets_and_explanation():
    X, y = _regression()
    Xm = X.to_numpy()
    labels = np.digitize(y, [-0.5, 0.5])
    multi = lgb.LGBMClassifier(n_estimators=10, num_leaves=8, verbose=-1).fit(Xm, labels)
    explainer = ferroshap.TreeExplainer(multi)
    full = explainer.shap_interaction_values(Xm[:6])
    assert full.shape == (6, 5, 5, 3)
    _close(full.sum(axis=2), explainer.shap_values(Xm[:6]), 1e-9)
    assert explainer.shap_interaction_values(Xm[0]).shape == (5, 5, 3)
    part = explainer.shap_interaction_values(Xm[:6], features=[3, 1])
    np.testing.assert_array_equal(part, full[:, [3, 1]][:, :, [3, 1]])

    single = xgb.XGBRegressor(n_estimators=10, max_depth=3).fit(X, y)
    explainer = ferroshap.TreeExplainer(single)
    by_name = explainer.shap_interaction_values(X.iloc[:6], features=["f4", "f0"])
    by_index = explainer.shap_interaction_values(X.iloc[:6], features=[4, 0])
    assert by_name.shape == (6, 2, 2)
    np.testing.assert_array_equal(by_name, by_index)
    exp = explainer(X.iloc[:6], interactions=True)
    assert exp.values.shape == (6, 5, 5)
    np.testing.assert_array_equal(exp.values, explainer.shap_interaction_values(X.iloc[:6]))
    assert exp.feature_names == list(X.columns)
    assert exp[0].values.shape == (5, 5)
    # Without data expected_value is a (1,) array, as shap's (issue 17).
    np.testing.assert_allclose(exp.base_values, explainer.expected_value[0])


def test_bad_interaction_requests_are_clear_errors():
    X, y = _regression()
    model = xgb.XGBRegressor(n_estimators=5, max_depth=3).fit(X, y)
    explainer = ferroshap.TreeExplainer(model)
    # 200 rows x 5 x 5 x 8 bytes = 40,000 bytes.
    with pytest.raises(MemoryError, match=r"200 rows x 5 x 5 features.*39\.1 KiB.*features="):
        explainer.shap_interaction_values(X, max_memory=10_000)
    assert explainer.shap_interaction_values(X, features=[0], max_memory=10_000).shape == (
        200,
        1,
        1,
    )
    with pytest.raises(ValueError, match="out of range"):
        explainer.shap_interaction_values(X, features=[5])
    with pytest.raises(ValueError, match="more than once"):
        explainer.shap_interaction_values(X, features=["f1", 1])
    with pytest.raises(ValueError, match="unknown feature name 'nope'"):
        explainer.shap_interaction_values(X, features=["nope"])
    with pytest.raises(ValueError, match="empty"):
        explainer.shap_interaction_values(X, features=[])
    with pytest.raises(TypeError, match="indices or names"):
        explainer.shap_interaction_values(X, features="f1")
    with pytest.raises(ValueError, match="max_memory"):
        explainer.shap_interaction_values(X, max_memory=-1)
    with pytest.raises(ValueError, match="tree_limit=1000 is more than"):
        explainer.shap_interaction_values(X, tree_limit=1000)
    with pytest.raises(ValueError, match="features"):
        explainer.shap_interaction_values(X.iloc[:, :4])
