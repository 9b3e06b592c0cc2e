"""XGBoost adapter: margins equal XGBoost's, SHAP values add up and equal ``pred_contribs``.

Tolerances:
- margin vs ``predict(output_margin=True)``: 1e-5 relative to the output scale. XGBoost adds
  float32 leaf values in float32; ferroshap adds the same values in f64.
- SHAP values + expected value vs ferroshap's margin: 1e-9 relative (exact f64 algorithm).
- SHAP values vs ``predict(pred_contribs=True)``: 1e-4 absolute times the output scale
  (at least 1). XGBoost's Tree SHAP runs in float32; on outputs of order 1 its values are off
  by up to a few 1e-6, more with many trees.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.datasets import make_classification, make_regression

import ferroshap
from ferroshap._data import to_matrix
from ferroshap.models import load_tree_model

MARGIN_RTOL = 1e-5
EXACT_RTOL = 1e-9
CONTRIB_ATOL = 1e-4


def _scale(values) -> float:
    return max(1.0, float(np.max(np.abs(values))))


def _check(model, X, data=None, n_classes: int = 1):
    """Compare ferroshap with XGBoost on X (ferroshap's input) / data (XGBoost's input)."""
    loaded = load_tree_model(model)
    booster = model if isinstance(model, xgb.Booster) else model.get_booster()
    if data is None:
        dmatrix = xgb.DMatrix(X, feature_names=booster.feature_names)
    else:
        dmatrix = xgb.DMatrix(data, enable_categorical=True)
    ensemble = loaded.ensemble
    margin = ensemble.predict_margin(X)
    expected = booster.predict(dmatrix, output_margin=True).reshape(len(X), -1)
    assert margin.shape == expected.shape == (len(X), n_classes)
    scale = _scale(expected)
    np.testing.assert_allclose(margin, expected, rtol=0, atol=MARGIN_RTOL * scale)

    values = ensemble.shap_values(X)
    base = ensemble.expected_value()
    np.testing.assert_allclose(
        values.sum(axis=1) + base, margin, rtol=0, atol=EXACT_RTOL * _scale(margin)
    )
    contribs = booster.predict(dmatrix, pred_contribs=True)
    contribs = contribs.reshape(len(X), n_classes, -1).transpose(0, 2, 1)  # (N, M+1, K)
    np.testing.assert_allclose(values, contribs[:, :-1, :], rtol=0, atol=CONTRIB_ATOL * scale)
    np.testing.assert_allclose(
        np.broadcast_to(base, contribs[:, -1, :].shape),
        contribs[:, -1, :],
        rtol=0,
        atol=CONTRIB_ATOL * scale,
    )
    assert loaded.single_output == (n_classes == 1)
    return loaded


def _regression(nan=True, n=300):
    X, y = make_regression(n, 6, noise=1.0, random_state=0)
    y = y / np.std(y)
    if nan:
        X[::7, 2] = np.nan
        X[3::11, 4] = np.nan
    return X, y


def _classification(n_classes, nan=True):
    X, y = make_classification(300, 6, n_informative=4, n_classes=n_classes, random_state=1)
    if nan:
        X[::5, 1] = np.nan
    return X, y


SMALL = {"n_estimators": 30, "max_depth": 4, "learning_rate": 0.3}


@pytest.mark.parametrize("tree_method", ["hist", "exact", "approx"])
def test_regression_with_missing_values(tree_method):
    X, y = _regression()
    model = xgb.XGBRegressor(**SMALL, tree_method=tree_method).fit(X, y)
    loaded = _check(model, X)
    assert loaded.source == "xgboost" and loaded.ensemble.rules == "xgboost"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_input_dtype_and_order(dtype, order):
    X, y = _regression()
    model = xgb.XGBRegressor(**SMALL).fit(X, y)
    _check(model, np.asarray(X, dtype=dtype, order=order))


def test_thresholds_hit_exactly():
    # hist thresholds are bin cut values; rows equal to them test the strict `<` in float32.
    X, y = _regression(nan=False)
    X = np.round(X, 1)
    model = xgb.XGBRegressor(**SMALL, tree_method="hist").fit(X, y)
    trees = model.get_booster().trees_to_dataframe()
    splits = trees[trees["Feature"] != "Leaf"].head(60)
    rows = []
    for i, (feature, split) in enumerate(zip(splits["Feature"], splits["Split"], strict=True)):
        row = X[i % len(X)].copy()
        row[int(str(feature).lstrip("f"))] = split
        rows.append(row)
    Z = np.array(rows)
    _check(model, Z)
    _check(model, Z.astype(np.float32))


def test_binary():
    X, y = _classification(2)
    model = xgb.XGBClassifier(**SMALL).fit(X, y)
    loaded = _check(model, X)
    assert loaded.ensemble.link == "logistic"
    np.testing.assert_allclose(
        1 / (1 + np.exp(-loaded.ensemble.predict_margin(X)[:, 0])),
        model.predict_proba(X)[:, 1],
        rtol=1e-5,
    )


def test_multiclass():
    X, y = _classification(3)
    model = xgb.XGBClassifier(**SMALL).fit(X, y)
    loaded = _check(model, X, n_classes=3)
    assert loaded.output_names == ["0", "1", "2"]
    assert loaded.ensemble.link == "softmax"


def test_ten_classes_deep_trees_wide_data_and_single_rows():
    # The shapes users train: 10 classes, trees of depth 12-13, 120 features; the usual checks
    # against XGBoost, then one row at a time (one lane, trees split over threads) against
    # the batch (blocks of 16 rows): the same per-row arithmetic summed over trees in another
    # order, so 1e-12 of the output scale.
    X, y = make_classification(
        300, 120, n_informative=20, n_classes=10, n_clusters_per_class=1, random_state=5
    )
    X[::9, 7] = np.nan
    model = xgb.XGBClassifier(
        n_estimators=3, max_depth=13, learning_rate=0.5, min_child_weight=0.01, max_bin=32
    ).fit(X, y)
    assert max(_xgb_depths(model)) >= 12
    loaded = _check(model, X[:80], n_classes=10)
    batch = loaded.ensemble.shap_values(X[:80])
    for r in range(0, 80, 7):
        one = loaded.ensemble.shap_values(X[r : r + 1])
        np.testing.assert_allclose(one[0], batch[r], rtol=0, atol=1e-12 * _scale(batch))


def _xgb_depths(model) -> list[int]:
    """Depth of every tree of an XGBoost model, from its JSON dump."""
    import json

    def depth(node) -> int:
        return 1 + max((depth(c) for c in node.get("children", [])), default=-1)

    return [depth(json.loads(t)) for t in model.get_booster().get_dump(dump_format="json")]


def test_booster_with_feature_names():
    X, y = _regression()
    names = [f"feat_{i}" for i in range(X.shape[1])]
    booster = xgb.train(
        {"max_depth": 3, "eta": 0.3}, xgb.DMatrix(X, label=y, feature_names=names), 20
    )
    loaded = _check(booster, X)
    assert loaded.feature_names == names


def test_poisson():
    X, y = _regression()
    model = xgb.XGBRegressor(**SMALL, objective="count:poisson").fit(X, np.exp(y))
    loaded = _check(model, X)
    assert loaded.ensemble.link == "exp"


def test_dart():
    X, y = _regression()
    model = xgb.XGBRegressor(
        **SMALL, booster="dart", rate_drop=0.3, skip_drop=0.0, random_state=0
    ).fit(X, y)
    _check(model, X)


@pytest.mark.parametrize("n_classes", [1, 3])
def test_parallel_trees(n_classes):
    if n_classes == 1:
        X, y = _regression()
        model = xgb.XGBRegressor(n_estimators=8, num_parallel_tree=3, subsample=0.8, max_depth=3)
    else:
        X, y = _classification(n_classes)
        model = xgb.XGBClassifier(n_estimators=8, num_parallel_tree=3, subsample=0.8, max_depth=3)
    model.fit(X, y)
    _check(model, X, n_classes=n_classes)


def test_random_forests():
    X, y = _regression()
    _check(xgb.XGBRFRegressor(n_estimators=20, max_depth=4).fit(X, y), X)
    Xc, yc = _classification(2)
    _check(xgb.XGBRFClassifier(n_estimators=20, max_depth=4).fit(Xc, yc), Xc)


def test_ranker():
    X, y = _regression(nan=False)
    rel = np.digitize(y, np.quantile(y, [0.25, 0.5, 0.75]))
    qid = np.repeat(np.arange(30), 10)
    model = xgb.XGBRanker(**SMALL).fit(X, rel, qid=qid)
    _check(model, X)


def test_early_stopping_explains_every_tree():
    X, y = _regression(nan=False)
    model = xgb.XGBRegressor(n_estimators=200, learning_rate=0.5, early_stopping_rounds=3)
    model.fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])], verbose=False)
    loaded = _check(model.get_booster(), X)
    assert loaded.ensemble.n_trees == model.get_booster().num_boosted_rounds()


def _categorical_frame(n=400):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "color": pd.Categorical(
                rng.choice(["red", "green", "blue", "teal"], n),
                categories=["teal", "red", "green", "blue"],
            ),
            "size": pd.Categorical(rng.choice([3, 1, 7], n), categories=[7, 3, 1]),
        }
    )
    y = frame["color"].isin(["green", "teal"]) * 2.0 + frame["a"] + (frame["size"] == 1)
    frame.loc[::9, "color"] = np.nan
    return frame, y.to_numpy()


@pytest.mark.parametrize("max_cat_to_onehot", [1, 8])
def test_categorical_pandas(max_cat_to_onehot):
    frame, y = _categorical_frame()
    model = xgb.XGBRegressor(
        **SMALL, enable_categorical=True, max_cat_to_onehot=max_cat_to_onehot
    ).fit(frame, y)
    loaded = load_tree_model(model)
    assert loaded.feature_names == ["a", "color", "size"]
    assert loaded.category_maps == {1: ["teal", "red", "green", "blue"], 2: [7, 3, 1]}
    assert loaded.ensemble.categorical_features == [False, True, True]
    # The same categories in another order: XGBoost >= 3.1 re-codes by value.
    shuffled = frame.copy()
    shuffled["color"] = shuffled["color"].cat.reorder_categories(["blue", "green", "red", "teal"])
    shuffled["size"] = shuffled["size"].cat.reorder_categories([1, 3, 7])
    for data in (frame, shuffled):
        matrix = to_matrix(
            data,
            n_features=3,
            feature_names=loaded.feature_names,
            category_maps=loaded.category_maps,
            categorical=loaded.ensemble.categorical_features,
        )
        _check(model, matrix.values, data)


def test_categorical_multiclass():
    frame, y = _categorical_frame()
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    model = xgb.XGBClassifier(**SMALL, enable_categorical=True).fit(frame, labels)
    loaded = load_tree_model(model)
    matrix = to_matrix(frame, n_features=3, category_maps=loaded.category_maps)
    _check(model, matrix.values, frame, n_classes=3)


def test_model_file_round_trip(tmp_path):
    from ferroshap.models import load_tree_model_file

    frame, y = _categorical_frame()
    model = xgb.XGBRegressor(**SMALL, enable_categorical=True).fit(frame, y)
    live = load_tree_model(model)
    for suffix in (".json", ".ubj"):
        path = tmp_path / f"model{suffix}"
        model.save_model(path)
        loaded = load_tree_model_file(path)
        assert loaded.source == "xgboost"
        assert loaded.feature_names == live.feature_names
        assert loaded.category_maps == live.category_maps
        matrix = to_matrix(frame, n_features=3, category_maps=loaded.category_maps)
        np.testing.assert_array_equal(
            loaded.ensemble.predict_margin(matrix.values),
            live.ensemble.predict_margin(matrix.values),
        )


def test_one_row_layout_is_reported_and_bounded():
    # One 64-byte record per split and 16 Q + 8 bytes per edge (Q: the quadrature points,
    # 3 for these depth-6 trees): 1.8x the model's own arrays here, 3x allowed; built once
    # (on the first call with <= 8 rows, or when asked) and the same after that call.
    X, y = make_regression(300, 8, random_state=0)
    model = xgb.XGBRegressor(n_estimators=20, max_depth=6).fit(X, y)
    explainer = ferroshap.TreeExplainer(model)
    ensemble = explainer.ensemble
    before = ensemble.single_row_table_bytes()
    explainer.shap_values(X[:1])
    assert ensemble.single_row_table_bytes() == before
    assert 0 < before <= 3 * ensemble.size_bytes


def _data_with_a_missing_marker(marker: float, n: int = 200):
    """Classification data where 15% of the entries are ``marker`` (to be read as missing),
    and a few are float64 values next to it that round to the same float32 (missing for
    XGBoost too, which compares in float32)."""
    X, y = make_classification(n, 5, n_informative=3, random_state=2)
    X[np.random.default_rng(5).random(X.shape) < 0.15] = marker
    X[::17, 2] = np.nextafter(marker, 1.0)
    assert np.float32(X[0, 2]) == np.float32(marker) and X[0, 2] != marker
    return X, y


@pytest.mark.parametrize("cls", [xgb.XGBClassifier, xgb.XGBRFClassifier])
def test_a_missing_value_other_than_nan_is_read_as_missing(cls, tmp_path):
    marker = 1e-8
    X, y = _data_with_a_missing_marker(marker)
    model = cls(n_estimators=20, max_depth=4, missing=marker).fit(X, y)
    booster = model.get_booster()
    margin = model.predict(X, output_margin=True)
    # The marker matters: read as a number, many rows' margins differ (the silent error).
    as_number = booster.predict(xgb.DMatrix(X), output_margin=True)
    assert np.sum(np.abs(as_number - margin) > 1e-3) > 20
    scale = _scale(margin)

    explainer = ferroshap.TreeExplainer(model)
    values = explainer.shap_values(X)
    # Additivity against XGBoost's own prediction (ferroshap's own margin would hide it).
    np.testing.assert_allclose(
        values.sum(1) + explainer.expected_value, margin, rtol=0, atol=MARGIN_RTOL * scale
    )
    assert explainer.missing == marker
    dmatrix = xgb.DMatrix(X, missing=marker)
    contribs = booster.predict(dmatrix, pred_contribs=True)
    np.testing.assert_allclose(values, contribs[:, :-1], rtol=0, atol=CONTRIB_ATOL * scale)
    interactions = explainer.shap_interaction_values(X[:40])
    expected = booster.predict(xgb.DMatrix(X[:40], missing=marker), pred_interactions=True)
    np.testing.assert_allclose(
        interactions, expected[:, :-1, :-1], rtol=0, atol=CONTRIB_ATOL * scale
    )

    # Interventional: the background's markers are missing too.
    interventional = ferroshap.TreeExplainer(model, data=X[:40])
    assert interventional.expected_value == pytest.approx(
        float(np.mean(margin[:40])), abs=MARGIN_RTOL * scale
    )
    values = interventional.shap_values(X[40:])
    np.testing.assert_allclose(
        values.sum(1) + interventional.expected_value,
        margin[40:],
        rtol=0,
        atol=MARGIN_RTOL * scale,
    )
    probability = ferroshap.TreeExplainer(model, data=X[:40], model_output="probability")
    total = probability.shap_values(X[40:80]).sum(1) + probability.expected_value
    # predict_proba is float32: 1e-6 on probabilities.
    np.testing.assert_allclose(total, model.predict_proba(X[40:80])[:, 1], rtol=0, atol=1e-6)

    # Files and raw boosters do not record `missing`: it is given to the explainer.
    path = tmp_path / "model.json"
    model.save_model(path)
    assert ferroshap.TreeExplainer.from_file(path).missing is None
    reference = explainer.shap_values(X)
    for other in (
        ferroshap.TreeExplainer.from_file(path, missing=marker),
        ferroshap.TreeExplainer(booster, missing=marker),
    ):
        np.testing.assert_array_equal(other.shap_values(X), reference)
    # Unmarked data is passed through without a copy.
    clean = X[np.all(X.astype(np.float32) != np.float32(marker), axis=1)]
    assert explainer._matrix(clean).values is clean


def test_kernel_native_path_reads_the_missing_marker():
    marker = 1e-8
    X, y = _data_with_a_missing_marker(marker, n=120)
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3, missing=marker).fit(X, y)
    native = ferroshap.KernelExplainer(model.predict_proba, X[:20], seed=0)
    # Before, the converted trees did not reproduce predict_proba and were silently dropped.
    assert native.native_model is not None
    called = ferroshap.KernelExplainer(model.predict_proba, X[:20], seed=0, native=False)
    rows = X[20:26]
    # predict_proba is float32: 1e-6 of a probability.
    np.testing.assert_allclose(
        native.shap_values(rows, silent=True), called.shap_values(rows, silent=True), atol=1e-6
    )
