"""CatBoost models: oblivious trees converted to the core's ensemble and explained.

Oracles: CatBoost's own ``predict(prediction_type="RawFormulaVal")`` for routing (every row
through every tree, NaN included) and additivity; CatBoost's
``get_feature_importance(type="ShapValues")`` for path-dependent values.

Tolerances and why: CatBoost stores leaf values and borders exactly in the JSON export and sums
leaves in float64, as the core does, so margins agree to the order of additions: 1e-9 of the
output scale. Its ShapValues are float64 TreeSHAP over the same leaf weights: 1e-8.
"""

from __future__ import annotations

import numpy as np
import pytest

catboost = pytest.importorskip("catboost")

import ferroshap  # noqa: E402
from ferroshap.models._catboost import CatBoostFeatureError  # noqa: E402


def _data(n=300, m=5, seed=0, nans=True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, m))
    if nans:
        X[rng.random(size=X.shape) < 0.05] = np.nan
    signal = np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) * np.nan_to_num(X[:, 2])
    return X, signal


def _models():
    X, signal = _data()
    common = dict(
        iterations=25, depth=4, verbose=0, thread_count=1, random_seed=0, allow_writing_files=False
    )
    regressor = catboost.CatBoostRegressor(**common).fit(X, signal)
    binary = catboost.CatBoostClassifier(**common).fit(X, (signal > 0).astype(int))
    multi = catboost.CatBoostClassifier(loss_function="MultiClass", **common).fit(
        X, np.digitize(signal, [-0.5, 0.5])
    )
    nan_max = catboost.CatBoostRegressor(nan_mode="Max", **common).fit(X, signal)
    return {"regressor": regressor, "binary": binary, "multi": multi, "nan_max": nan_max}, X


MODELS, X = _models()


def _raw(model, rows):
    return np.asarray(model.predict(rows, prediction_type="RawFormulaVal")).reshape(len(rows), -1)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_margins_match_catboost_raw_predictions(name):
    model = MODELS[name]
    ensemble = ferroshap.TreeExplainer(model).ensemble
    rows = np.vstack([X, np.full((1, X.shape[1]), np.nan)])
    want = _raw(model, rows)
    np.testing.assert_allclose(ensemble.predict_margin(rows), want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_path_dependent_values_match_catboost_shap_values(name):
    model = MODELS[name]
    rows = X[:40]
    explainer = ferroshap.TreeExplainer(model)
    got = explainer.shap_values(rows)
    theirs = model.get_feature_importance(type="ShapValues", data=catboost.Pool(rows))
    if theirs.ndim == 3:  # (n, K, M + 1) -> (n, M, K)
        want, base = np.transpose(theirs[:, :, :-1], (0, 2, 1)), theirs[0, :, -1]
    else:
        want, base = theirs[:, :-1], theirs[0, -1]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)
    np.testing.assert_allclose(explainer.expected_value, base, rtol=0, atol=1e-8)


@pytest.mark.parametrize("name", ["binary", "multi"])
def test_interventional_values_and_interactions_add_up_to_catboost(name):
    model = MODELS[name]
    rows, background = X[50:60], X[:30]
    explainer = ferroshap.TreeExplainer(model, data=background)
    values = explainer.shap_values(rows)
    total = values.sum(axis=1) + explainer.expected_value
    np.testing.assert_allclose(total.reshape(len(rows), -1), _raw(model, rows), atol=1e-9)
    inter = explainer.shap_interaction_values(rows)
    np.testing.assert_allclose(inter.sum(axis=2), values, atol=1e-9)


def test_probability_output_adds_up_to_predict_proba():
    model = MODELS["multi"]
    rows = X[60:64]
    explainer = ferroshap.TreeExplainer(model, data=X[:20], model_output="probability")
    total = explainer.shap_values(rows).sum(axis=1) + explainer.expected_value
    np.testing.assert_allclose(total, model.predict_proba(rows), rtol=0, atol=1e-9)


def _categorical_frame():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    n = 300
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "b": rng.normal(size=n),
        }
    )
    y = ((frame.a + (frame.colour == "red")) > 0.5).astype(int)
    return frame, y


def test_ctr_features_are_refused_naming_their_categorical_feature():
    frame, y = _categorical_frame()
    model = catboost.CatBoostClassifier(
        iterations=10,
        depth=3,
        verbose=0,
        thread_count=1,
        cat_features=["colour"],
        allow_writing_files=False,
        one_hot_max_size=1,
    ).fit(frame, y)
    with pytest.raises(CatBoostFeatureError, match=r"CTR.*\['colour'\].*one_hot_max_size"):
        ferroshap.TreeExplainer(model)


def test_one_hot_features_are_refused_naming_them():
    frame, y = _categorical_frame()
    model = catboost.CatBoostClassifier(
        iterations=10,
        depth=3,
        verbose=0,
        thread_count=1,
        cat_features=["colour"],
        allow_writing_files=False,
        one_hot_max_size=10,
    ).fit(frame, y)
    with pytest.raises(CatBoostFeatureError, match=r"one-hot splits.*\['colour'\]"):
        ferroshap.TreeExplainer(model)


def test_unfitted_model_is_refused():
    with pytest.raises(ValueError, match="not fitted"):
        ferroshap.TreeExplainer(catboost.CatBoostRegressor(allow_writing_files=False))
