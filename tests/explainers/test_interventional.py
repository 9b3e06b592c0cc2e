"""Interventional Tree SHAP (``TreeExplainer(model, data=background)``) on real models.

Tolerances and why:

- Additivity (values + expected_value == margin): ferroshap's margin, LightGBM's
  ``raw_score`` and scikit-learn's predictions are f64 sums over the same leaves, so they agree
  to 1e-9 of the output scale (only the order of additions differs). XGBoost predicts in
  float32, so against ``output_margin=True`` the tolerance is float32's: 1e-5 of the output
  scale (a few float32 ulps per tree over 30 trees); against ferroshap's own f64 margin it is
  1e-9.
- Parity with shap 0.51's interventional explainer (<= 100 background rows, so shap uses them
  all): shap stores thresholds and leaf values as float32. The data below are float32-valued
  and continuous, so no row lies between a threshold and its float32 rounding (no routing
  difference); the leaf values' float32 rounding leaves ~1e-8 absolute differences on values
  of order 1, so the test allows 1e-6 of the output scale.
- Brute force (categorical models, where shap fails): the model's own ``predict`` on every
  hybrid row (x on S, background row elsewhere), averaged and combined by subset enumeration:
  f64 for LightGBM (1e-9), float32 predictions for XGBoost (1e-5 of the output scale).
"""

from __future__ import annotations

import itertools
import math
import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn import ensemble
from sklearn.datasets import make_classification, make_regression

import ferroshap
from ferroshap import _core


def _scale(a) -> float:
    return max(1.0, float(np.max(np.abs(a))))


def _close(got, want, rel):
    np.testing.assert_allclose(got, want, rtol=0, atol=rel * _scale(want))


def _regression(n=300):
    X, y = make_regression(n, 6, noise=1.0, random_state=0)
    # float32-valued, so every library reads the same numbers.
    return X.astype(np.float32).astype(np.float64), y / np.std(y)


def _classification(n_classes):
    X, y = make_classification(300, 6, n_informative=4, n_classes=n_classes, random_state=1)
    return X.astype(np.float32).astype(np.float64), y


def _models():
    X, y = _regression()
    Xb, yb = _classification(2)
    Xm, ym = _classification(3)
    small_lgb = {"n_estimators": 30, "num_leaves": 15, "verbose": -1}
    return {
        "xgb_regressor": (xgb.XGBRegressor(n_estimators=30, max_depth=4).fit(X, y), X),
        "xgb_binary": (xgb.XGBClassifier(n_estimators=30, max_depth=4).fit(Xb, yb), Xb),
        "xgb_multiclass": (xgb.XGBClassifier(n_estimators=20, max_depth=4).fit(Xm, ym), Xm),
        "lgb_regressor": (lgb.LGBMRegressor(**small_lgb).fit(X, y), X),
        "lgb_binary": (lgb.LGBMClassifier(**small_lgb).fit(Xb, yb), Xb),
        "lgb_multiclass": (lgb.LGBMClassifier(**small_lgb).fit(Xm, ym), Xm),
        "rf_regressor": (
            ensemble.RandomForestRegressor(20, max_depth=6, random_state=0).fit(X, y),
            X,
        ),
        "gb_regressor": (
            ensemble.GradientBoostingRegressor(n_estimators=30, random_state=0).fit(X, y),
            X,
        ),
        "hist_gb_regressor": (ensemble.HistGradientBoostingRegressor(max_iter=30).fit(X, y), X),
    }


MODELS = _models()


def _library_margin(model, X):
    """The library's own raw output, (n, K); and the tolerance its precision allows."""
    if isinstance(model, xgb.XGBModel):
        return model.predict(X, output_margin=True).reshape(len(X), -1), 1e-5
    if isinstance(model, lgb.LGBMModel):
        return model.predict(X, raw_score=True).reshape(len(X), -1), 1e-9
    if hasattr(model, "decision_function"):
        return model.decision_function(X).reshape(len(X), -1), 1e-9
    return model.predict(X).reshape(len(X), -1), 1e-9


@pytest.mark.parametrize("name", sorted(MODELS))
def test_values_add_up_to_the_margin(name):
    model, X = MODELS[name]
    background, rows = X[:150], X[200:260]
    explainer = ferroshap.TreeExplainer(model, data=background)
    assert explainer.feature_perturbation == "interventional"
    values = explainer.shap_values(rows)
    if values.ndim == 2:
        values = values[:, :, None]
    total = values.sum(axis=1) + np.atleast_1d(explainer.expected_value)
    _close(total, explainer.ensemble.predict_margin(rows), 1e-9)
    margin, tol = _library_margin(model, rows)
    _close(total, margin, tol)
    # The base value is the mean margin over every one of the 150 background rows.
    library_bg, tol = _library_margin(model, background)
    _close(np.atleast_1d(explainer.expected_value), library_bg.mean(axis=0), tol)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parity_with_shap(name):
    import shap

    model, X = MODELS[name]
    background, rows = X[:80], X[200:230]  # <= 100 rows: shap uses every one of them
    ours = ferroshap.TreeExplainer(model, data=background, feature_perturbation="interventional")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = shap.TreeExplainer(model, data=background, feature_perturbation="interventional")
        expected = theirs.shap_values(rows, check_additivity=False)
    got = ours.shap_values(rows)
    assert got.shape == np.shape(expected)
    _close(got, expected, 1e-6)
    if name == "xgb_multiclass":
        # shap reads only the first of XGBoost >= 3.1's per-class intercepts, so its
        # expected_value is off for the other classes and its values no longer add up to
        # the margin; ferroshap's do (test_values_add_up_to_the_margin).
        margin = model.predict(rows, output_margin=True)
        shap_gap = np.max(np.abs(np.sum(expected, axis=1) + theirs.expected_value - margin))
        assert shap_gap > 1e-3
    else:
        _close(np.atleast_1d(ours.expected_value), np.atleast_1d(theirs.expected_value), 1e-6)


def _categorical_frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "color": pd.Categorical(
                rng.choice(["red", "green", "blue", "teal"], n),
                categories=["teal", "red", "green", "blue"],
            ),
            "b": rng.normal(size=n),
            "size": pd.Categorical(rng.choice([3, 1, 7], n), categories=[7, 3, 1]),
        }
    )
    y = (
        frame["color"].isin(["green", "teal"]) * 2.0
        + frame["a"]
        + (frame["size"] == 1)
        + frame["a"] * frame["b"]
    )
    frame.loc[::9, "color"] = np.nan
    frame.loc[::7, "b"] = np.nan
    return frame, y.to_numpy()


def _brute_force(predict, rows: pd.DataFrame, background: pd.DataFrame) -> np.ndarray:
    """Interventional Shapley values (n, M) by enumerating subsets, with the model's predict
    on hybrid rows; independent of ferroshap's routing and of its algorithm."""
    cols = list(rows.columns)
    m, nb = len(cols), len(background)
    bg = background.reset_index(drop=True)
    out = np.zeros((len(rows), m))
    for i in range(len(rows)):
        x = rows.iloc[[i] * nb].reset_index(drop=True)
        subsets = list(itertools.product([False, True], repeat=m))
        hybrids = pd.concat(
            [
                pd.DataFrame({c: (x[c] if s[j] else bg[c]) for j, c in enumerate(cols)})
                for s in subsets
            ],
            ignore_index=True,
        )
        v = dict(zip(subsets, predict(hybrids).reshape(len(subsets), nb).mean(axis=1), strict=True))
        for j in range(m):
            for s in subsets:
                if s[j]:
                    continue
                k = sum(s)
                with_j = tuple(True if t == j else s[t] for t in range(m))
                w = math.factorial(k) * math.factorial(m - k - 1) / math.factorial(m)
                out[i, j] += w * (v[with_j] - v[s])
    return out


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_categorical_model_with_background_where_shap_fails(library):
    import shap

    frame, y = _categorical_frame()
    if library == "lightgbm":
        model = lgb.LGBMRegressor(
            n_estimators=20, num_leaves=8, verbose=-1, min_data_per_group=5, cat_smooth=1.0
        ).fit(frame, y)
        predict, tol = (lambda d: model.predict(d, raw_score=True)), 1e-9
    else:
        model = xgb.XGBRegressor(n_estimators=20, max_depth=3, enable_categorical=True)
        model.fit(frame, y)
        predict, tol = (lambda d: model.predict(d, output_margin=True).astype(np.float64)), 1e-5
    background, rows = frame.iloc[:12], frame.iloc[100:104]
    # shap 0.51 refuses categorical splits with background data: ExplainerError for LightGBM,
    # TypeError (an object array it cannot cast) for XGBoost.
    error = shap.utils._exceptions.ExplainerError if library == "lightgbm" else TypeError
    with warnings.catch_warnings(), pytest.raises(error):
        warnings.simplefilter("ignore")
        shap.TreeExplainer(
            model, data=background, feature_perturbation="interventional"
        ).shap_values(rows)
    explainer = ferroshap.TreeExplainer(model, data=background)
    values = explainer.shap_values(rows)
    oracle = _brute_force(predict, rows, background)
    _close(values, oracle, tol)
    _close(values.sum(axis=1) + explainer.expected_value, predict(rows), tol)
    assert np.max(np.abs(values[:, 1])) > 1e-2, "the categorical feature matters"


def test_every_background_row_is_used():
    model, X = MODELS["lgb_regressor"]
    background = np.vstack([X] * 3)  # 900 rows; shap would keep 100 of them
    explainer = ferroshap.TreeExplainer(model, data=background)
    margin = model.predict(background, raw_score=True)
    _close(explainer.expected_value, margin.mean(), 1e-9)
    # Weighting by repetition is exact: three copies of X is X.
    once = ferroshap.TreeExplainer(model, data=X)
    _close(explainer.shap_values(X[:20]), once.shap_values(X[:20]), 1e-12)


def test_background_from_data_frames():
    import polars as pl

    model, X = MODELS["lgb_regressor"]
    background, rows = X[:30], X[50:55]
    expected = ferroshap.TreeExplainer(model, data=background).shap_values(rows)
    frame = pd.DataFrame(background, columns=[f"Column_{i}" for i in range(6)])
    for data in (frame, pl.from_pandas(frame), np.asfortranarray(background)):
        got = ferroshap.TreeExplainer(model, data=data).shap_values(rows)
        np.testing.assert_array_equal(got, expected)


def test_auto_and_path_dependent_with_data():
    model, X = MODELS["xgb_regressor"]
    background = X[:50]
    auto = ferroshap.TreeExplainer(model, data=background)
    assert auto.feature_perturbation == "interventional"
    pd_data = ferroshap.TreeExplainer(
        model, data=background, feature_perturbation="tree_path_dependent"
    )
    assert pd_data.feature_perturbation == "tree_path_dependent"
    no_data = ferroshap.TreeExplainer(model)
    assert no_data.feature_perturbation == "tree_path_dependent"
    rows = X[100:110]
    a, p = auto.shap_values(rows), pd_data.shap_values(rows)
    assert not np.allclose(a, p), "the two value functions differ"
    explanation = auto(rows)
    np.testing.assert_array_equal(explanation.values, a)
    np.testing.assert_array_equal(explanation.base_values, np.full(10, auto.expected_value))


def test_bad_background_is_a_clear_error():
    model, X = MODELS["lgb_regressor"]
    with pytest.raises(ValueError, match=r"4 features.*6 features"):
        ferroshap.TreeExplainer(model, data=X[:10, :4])
    with pytest.raises(ValueError, match="no rows"):
        ferroshap.TreeExplainer(model, data=X[:0])
    # As shap 0.51: a FutureWarning, and path-dependent values (tests/test_dropin.py).
    with pytest.warns(FutureWarning, match="needs background data"):
        ferroshap.TreeExplainer(model, feature_perturbation="interventional")
    with pytest.raises(ValueError, match="needs a classifier"):
        ferroshap.TreeExplainer(model, data=X[:10], model_output="probability")
    ensemble_ = ferroshap.TreeExplainer(model).ensemble
    with pytest.raises(ValueError, match="background weights"):
        ensemble_.interventional_shap_values(X[:2], X[:3], weights=np.ones(2))
    with pytest.raises(ValueError, match=">= 0"):
        ensemble_.interventional_expected_value(X[:2], weights=np.array([1.0, -1.0]))
    with pytest.raises(TypeError, match="background"):
        ensemble_.interventional_shap_values(X[:2], [[1, 2]])
    assert isinstance(ensemble_, _core.TreeEnsemble)


def test_weights_are_a_weighted_mean():
    model, X = MODELS["rf_regressor"]
    ens = ferroshap.TreeExplainer(model).ensemble
    background = X[:40]
    w = np.arange(40, dtype=np.float64) % 4
    repeated = np.repeat(background, w.astype(int), axis=0)
    _close(
        ens.interventional_shap_values(X[100:105], background, weights=w),
        ens.interventional_shap_values(X[100:105], repeated),
        1e-12,
    )
    _close(
        ens.interventional_expected_value(background, weights=w),
        ens.interventional_expected_value(repeated),
        1e-12,
    )
