"""CatBoost models: oblivious trees converted to the core's ensemble and explained.

Oracles: CatBoost's own ``predict(prediction_type="RawFormulaVal")`` for routing (every row
through every tree, NaN included) and additivity; CatBoost's
``get_feature_importance(type="ShapValues")`` for path-dependent values.

Tolerances and why: CatBoost stores leaf values and borders exactly in the JSON export and sums
leaves in float64, as the core does, so margins agree to the order of additions: 1e-9 of the
output scale. Its ShapValues are float64 TreeSHAP over the same leaf weights: 1e-8.
"""

from __future__ import annotations

import catboost
import numpy as np
import pandas as pd
import pytest

import ferroshap
from ferroshap.models._catboost import CatBoostFeatureError


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
    raw = np.asarray(model.predict(rows, prediction_type="RawFormulaVal"))
    return raw.reshape(raw.shape[0], -1)


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


def _one_hot_model(frame, y, **kwargs):
    return catboost.CatBoostClassifier(
        iterations=15,
        depth=3,
        verbose=0,
        thread_count=1,
        cat_features=["colour"],
        one_hot_max_size=10,
        allow_writing_files=False,
        **kwargs,
    ).fit(frame, y)


def test_one_hot_categorical_features_are_routed_as_catboost_routes_them():
    frame, y = _categorical_frame()
    model = _one_hot_model(frame, y)
    rows = frame.iloc[:40].copy()
    rows.loc[rows.index[:3], "colour"] = "purple"  # unseen in training
    explainer = ferroshap.TreeExplainer(model)
    assert explainer.ensemble.categorical_features[1]
    pool = catboost.Pool(rows, cat_features=["colour"])
    got = explainer.shap_values(rows)
    raw = _raw(model, pool)
    np.testing.assert_allclose(got.sum(axis=1) + explainer.expected_value, raw[:, 0], atol=1e-9)
    theirs = model.get_feature_importance(type="ShapValues", data=pool)
    np.testing.assert_allclose(got, theirs[:, :-1], rtol=0, atol=1e-8)
    interventional = ferroshap.TreeExplainer(model, data=frame.iloc[100:130])
    values = interventional.shap_values(rows)
    total = values.sum(axis=1) + interventional.expected_value
    np.testing.assert_allclose(total, raw[:, 0], rtol=0, atol=1e-9)
    # The same rows as a numpy object array.
    array = ferroshap.TreeExplainer(model).shap_values(rows.to_numpy(dtype=object))
    np.testing.assert_allclose(array, got, rtol=0, atol=0)


def test_integer_categories_are_hashed_as_their_digits():
    frame, y = _categorical_frame()
    frame["colour"] = frame["colour"].map({"red": 10, "green": 200, "blue": 3000})
    model = _one_hot_model(frame, y)
    rows = frame.iloc[:30]
    got = ferroshap.TreeExplainer(model).shap_values(rows)
    pool = catboost.Pool(rows, cat_features=["colour"])
    theirs = model.get_feature_importance(type="ShapValues", data=pool)
    np.testing.assert_allclose(got, theirs[:, :-1], rtol=0, atol=1e-8)


def test_category_hash_matches_catboost_for_every_length_class():
    """CityHash64 has separate code for 0-16, 17-32, 33-64 and longer strings; every
    one-hot split value of a model trained on such categories must be one of their hashes."""
    import json
    import string

    from ferroshap.models._cityhash import catboost_category_hash

    rng = np.random.default_rng(2)
    lengths = [1, 3, 5, 9, 16, 17, 31, 33, 64, 65, 130]
    categories = ["".join(rng.choice(list(string.ascii_letters), n)) for n in lengths]
    codes = rng.integers(len(categories), size=1500)
    effect = np.linspace(-3, 3, len(categories))
    frame = pd.DataFrame({"c": [categories[i] for i in codes]})
    y = effect[codes] + rng.normal(size=len(codes)) * 0.05
    model = catboost.CatBoostRegressor(
        iterations=60,
        depth=4,
        verbose=0,
        thread_count=1,
        cat_features=["c"],
        one_hot_max_size=255,
        allow_writing_files=False,
    ).fit(frame, y)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/m.json"
        model.save_model(path, format="json")
        with open(path) as f:
            document = json.load(f)
    split_values = {
        s["value"]
        for tree in document["oblivious_trees"]
        for s in tree["splits"]
        if s["split_type"] == "OneHotFeature"
    }
    ours = {catboost_category_hash(c): len(c) for c in categories}
    assert split_values <= set(ours), "a split tests a hash no training category has"
    covered = {ours[v] for v in split_values}
    for low, high in [(0, 16), (17, 32), (33, 64), (65, 10**6)]:
        assert any(low <= n <= high for n in covered), f"no split on a {low}-{high} string"


def test_unfitted_model_is_refused():
    with pytest.raises(ValueError, match="not fitted"):
        ferroshap.TreeExplainer(catboost.CatBoostRegressor(allow_writing_files=False))


def test_explainer_with_categorical_hashing_pickles():
    import pickle

    frame, y = _categorical_frame()
    model = _one_hot_model(frame, y)
    explainer = ferroshap.TreeExplainer(model)
    clone = pickle.loads(pickle.dumps(explainer))
    rows = frame.iloc[:10]
    np.testing.assert_array_equal(clone.shap_values(rows), explainer.shap_values(rows))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_oblivious_tables_equal_the_general_walk(name):
    """From max(2^depth, 64) rows on, oblivious trees are explained by per-tree tables of
    every split pattern; fewer rows take the general walk. Both are exact f64: 1e-12."""
    explainer = ferroshap.TreeExplainer(MODELS[name])
    rows = np.vstack([X[:60], np.full((1, X.shape[1]), np.nan), np.zeros((3, X.shape[1]))])
    assert len(rows) >= 2**explainer.ensemble.max_depth
    tables = explainer.shap_values(rows)
    walked = np.concatenate([explainer.shap_values(rows[i : i + 8]) for i in range(0, 64, 8)])
    np.testing.assert_allclose(tables, walked, rtol=0, atol=1e-12)
