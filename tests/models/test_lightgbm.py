"""LightGBM adapter: margins equal LightGBM's, SHAP values add up and equal ``pred_contrib``.

Tolerances (all relative to the output scale, at least 1): LightGBM routes and sums in f64
and its ``pred_contrib`` is f64 Tree SHAP, so margins, additivity and SHAP values all agree
to 1e-9 (only the order of additions differs).
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

from ferroshap._core import TreeEnsemble
from ferroshap._data import to_matrix
from ferroshap.models import load_tree_model, load_tree_model_file

RTOL = 1e-9
SMALL = {"n_estimators": 30, "num_leaves": 15, "learning_rate": 0.2, "verbose": -1}


def _close(got, expected):
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(got, expected, rtol=0, atol=RTOL * scale)


def _check(model, X, data=None, n_classes: int = 1):
    """Compare ferroshap (on X) with LightGBM (on data, default X)."""
    loaded = load_tree_model(model)
    booster = model if isinstance(model, lgb.Booster) else model.booster_
    data = X if data is None else data
    ensemble = loaded.ensemble
    margin = ensemble.predict_margin(X)
    expected = booster.predict(data, raw_score=True, num_iteration=-1).reshape(len(X), -1)
    assert margin.shape == expected.shape == (len(X), n_classes)
    _close(margin, expected)
    values = ensemble.shap_values(X)
    base = ensemble.expected_value()
    _close(values.sum(axis=1) + base, margin)
    contribs = booster.predict(data, pred_contrib=True, num_iteration=-1)
    contribs = np.asarray(contribs).reshape(len(X), n_classes, -1).transpose(0, 2, 1)
    _close(values, contribs[:, :-1, :])
    _close(np.broadcast_to(base, contribs[:, -1, :].shape), contribs[:, -1, :])
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


def test_regression_with_missing_values():
    X, y = _regression()
    loaded = _check(lgb.LGBMRegressor(**SMALL).fit(X, y), X)
    assert loaded.source == "lightgbm" and loaded.ensemble.rules == "lightgbm"
    assert loaded.feature_names is None  # generated Column_i names


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_input_dtype_and_order(dtype, order):
    X, y = _regression()
    model = lgb.LGBMRegressor(**SMALL).fit(X, y)
    _check(model, np.asarray(X, dtype=dtype, order=order))


def test_thresholds_hit_exactly():
    X, y = _regression(nan=False)
    X = np.round(X, 1)
    model = lgb.LGBMRegressor(**SMALL).fit(X, y)
    trees = model.booster_.trees_to_dataframe()
    splits = trees[trees["split_feature"].notna()].head(60)
    rows = []
    for i, (feature, threshold) in enumerate(
        zip(splits["split_feature"], splits["threshold"], strict=True)
    ):
        row = X[i % len(X)].copy()
        row[int(str(feature).split("_")[-1])] = threshold
        rows.append(row)
    _check(model, np.array(rows))


def test_binary():
    X, y = _classification(2)
    loaded = _check(lgb.LGBMClassifier(**SMALL).fit(X, y), X)
    assert loaded.ensemble.link == "logistic"


def test_multiclass():
    X, y = _classification(3)
    loaded = _check(lgb.LGBMClassifier(**SMALL).fit(X, y), X, n_classes=3)
    assert loaded.output_names == ["0", "1", "2"]
    assert loaded.ensemble.link == "softmax"


def test_poisson():
    X, y = _regression()
    loaded = _check(lgb.LGBMRegressor(**SMALL, objective="poisson").fit(X, np.exp(y)), X)
    assert loaded.ensemble.link == "exp"


@pytest.mark.parametrize("n_classes", [1, 3])
def test_random_forest(n_classes):
    params = dict(SMALL, boosting_type="rf", bagging_freq=1, bagging_fraction=0.7)
    if n_classes == 1:
        X, y = _regression()
        model = lgb.LGBMRegressor(**params).fit(X, y)
    else:
        X, y = _classification(n_classes)
        model = lgb.LGBMClassifier(**params).fit(X, y)
    _check(model, X, n_classes=n_classes)


def test_ranker_and_booster_with_names():
    X, y = _regression(nan=False)
    rel = np.digitize(y, np.quantile(y, [0.25, 0.5, 0.75]))
    model = lgb.LGBMRanker(**SMALL, min_child_samples=5).fit(X, rel, group=[10] * 30)
    _check(model, X)
    names = [f"feat_{i}" for i in range(X.shape[1])]
    booster = lgb.train({"verbose": -1, "num_leaves": 7}, lgb.Dataset(X, y, feature_name=names), 10)
    assert _check(booster, X).feature_names == names


@pytest.mark.parametrize(
    "params",
    [
        {"use_missing": True, "zero_as_missing": False},
        {"use_missing": True, "zero_as_missing": True},
        {"use_missing": False},
    ],
)
def test_missing_value_edge_rows(params):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 4))
    X[rng.random(X.shape) < 0.2] = 0.0
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.nan_to_num(X[:, 0]) + (X[:, 1] == 0) + np.isnan(X[:, 2]) * 2.0
    model = lgb.LGBMRegressor(**SMALL, **params).fit(X, y)
    # LightGBM reads |x| <= 1e-35f (float: 1.0000000180025095e-35) as zero.
    edges = np.array([0.0, -0.0, 1e-40, -1e-40, 1e-35, 1.0000000180025095e-35, 2e-35, np.nan])
    rows = np.tile(np.nanmedian(X, axis=0), (len(edges) * 4, 1))
    for i, value in enumerate(edges):
        rows[i * 4 : i * 4 + 4][np.arange(4), np.arange(4)] = value
    _check(model, np.vstack([X, rows]))


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


@pytest.mark.parametrize("n_classes", [1, 3])
def test_categorical_pandas(n_classes):
    frame, y = _categorical_frame()
    params = dict(SMALL, min_data_per_group=5, cat_smooth=1.0)
    if n_classes == 1:
        model = lgb.LGBMRegressor(**params).fit(frame, y)
    else:
        labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
        model = lgb.LGBMClassifier(**params).fit(frame, labels)
    loaded = load_tree_model(model)
    assert loaded.feature_names == ["a", "color", "size"]
    assert loaded.category_maps == {1: ["teal", "red", "green", "blue"], 2: [7, 3, 1]}
    shuffled = frame.copy()
    shuffled["color"] = shuffled["color"].cat.reorder_categories(["blue", "green", "red", "teal"])
    for data in (frame, shuffled):
        matrix = to_matrix(data, n_features=3, category_maps=loaded.category_maps)
        _check(model, matrix.values, data, n_classes=n_classes)


def test_categorical_by_index_with_unseen_and_negative_codes():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=400), rng.integers(0, 40, 400), rng.normal(size=400)])
    y = X[:, 0] + np.isin(X[:, 1], [3, 5, 33, 38]) * 2.0
    model = lgb.LGBMRegressor(**SMALL, min_data_per_group=2, max_cat_threshold=64)
    model.fit(X, y, categorical_feature=[1])
    loaded = load_tree_model(model)
    assert loaded.category_maps is None
    Z = X.copy()
    Z[::5, 1] = 45.0  # never seen
    Z[1::7, 1] = -2.0  # negative: goes right
    Z[2::9, 1] = np.nan
    Z[3::11, 1] = 5.7  # truncated to 5
    _check(model, Z)


def test_model_file_round_trip(tmp_path):
    frame, y = _categorical_frame()
    model = lgb.LGBMRegressor(**SMALL).fit(frame, y)
    live = load_tree_model(model)
    path = tmp_path / "model.txt"
    model.booster_.save_model(path)
    loaded = load_tree_model_file(path)
    assert loaded.source == "lightgbm"
    assert loaded.feature_names == live.feature_names
    assert loaded.category_maps == live.category_maps
    matrix = to_matrix(frame, n_features=3, category_maps=loaded.category_maps)
    np.testing.assert_array_equal(
        loaded.ensemble.predict_margin(matrix.values), live.ensemble.predict_margin(matrix.values)
    )


def test_lightgbm_zero_threshold_is_the_float_1e35():
    # LightGBM 4.7: a split `x <= -1.0000000180025095e-35` (what LightGBM writes for "is x
    # negative") sends x = -1.0000000180025095e-35 RIGHT, as it reads the value as 0.
    tree = {
        "left": np.array([1, -1, -1], dtype=np.int64),
        "right": np.array([2, -1, -1], dtype=np.int64),
        "feature": np.zeros(3, dtype=np.int64),
        "threshold": np.array([-1.0000000180025095e-35, 0.0, 0.0]),
        "default_left": np.array([True, False, False]),
        "cover": np.array([2.0, 1.0, 1.0]),
        "value": np.array([0.0, -1.0, 1.0]),
        "output": 0,
    }
    ensemble = TreeEnsemble.from_arrays(
        [tree], n_features=1, n_outputs=1, leaf_width=1, base_offset=[0.0], rules="lightgbm"
    )
    x = np.array([[-1.0000000180025095e-35], [-2e-35], [0.0]])
    np.testing.assert_array_equal(ensemble.predict_margin(x)[:, 0], [1.0, -1.0, 1.0])


def test_column_names_with_spaces_match_lightgbms_stored_names():
    # LightGBM saves "sepal length (cm)" as "sepal_length_(cm)"; the frame keeps its spaces.
    import ferroshap

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["sepal length", "petal  width", "x"])
    y = X["sepal length"] * 2 + rng.normal(size=200)
    model = lgb.LGBMRegressor(n_estimators=10, verbose=-1).fit(X, y)
    assert model.booster_.feature_name() == ["sepal_length", "petal__width", "x"]
    explainer = ferroshap.TreeExplainer(model)
    explanation = explainer(X)
    assert explanation.feature_names == ["sepal length", "petal  width", "x"]
    margin = model.predict(X, raw_score=True)
    # 1e-9 of the output scale: both sides are f64 sums over the same trees.
    np.testing.assert_allclose(
        explanation.values.sum(axis=1) + explainer.expected_value, margin, atol=1e-9 * 10
    )
    # A tab inside a name survives LightGBM's save (it splits its names on spaces only).
    tabbed = X.rename(columns={"x": "x\ty"})
    model = lgb.LGBMRegressor(n_estimators=5, verbose=-1).fit(tabbed, y)
    values = ferroshap.TreeExplainer(model).shap_values(tabbed)
    np.testing.assert_allclose(
        values.sum(axis=1) + ferroshap.TreeExplainer(model).expected_value,
        model.predict(tabbed, raw_score=True),
        atol=1e-9 * 10,
    )
    # A truly different column is still refused.
    with pytest.raises(ValueError, match="do not match"):
        explainer.shap_values(X.rename(columns={"x": "y"}))


def _frame_with_awkward_category_columns(n=300):
    """Category columns LightGBM does not list as categorical features: a constant one
    (``feature_infos=none``), an ordered one (read as numbers) and, with an explicit
    ``categorical_feature``, one left out; besides an integer column that may be named."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "a": pd.Categorical(rng.choice(["x", "y", "z"], n)),
            "const": pd.Categorical(["k"] * n),
            "num": rng.normal(size=n),
            "b": pd.Categorical(rng.choice(["p", "q", "r", "s"], n)),
            "level": pd.Categorical(
                rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi"], ordered=True
            ),
            "ints": rng.integers(0, 4, n),
        }
    )
    y = (
        1.5 * frame["a"].cat.codes
        - frame["b"].cat.codes
        + frame["num"]
        + frame["level"].cat.codes
        + 0.7 * frame["ints"]
    )
    return frame, y.to_numpy(dtype=np.float64)


@pytest.mark.parametrize(
    "columns, categorical_feature",
    [
        (["a", "const", "num", "b"], "auto"),  # the constant category column alone
        (["a", "const", "num", "b", "level", "ints"], "auto"),
        (["a", "const", "num", "b", "level", "ints"], ["a", "ints"]),
    ],
)
def test_training_frame_with_constant_ordered_or_unlisted_category_columns(
    tmp_path, columns, categorical_feature
):
    import ferroshap

    frame, y = _frame_with_awkward_category_columns()
    frame = frame[columns]
    params = dict(SMALL, min_child_samples=5, min_data_per_group=5, cat_smooth=1.0)
    model = lgb.LGBMRegressor(**params).fit(frame, y, categorical_feature=categorical_feature)
    booster = model.booster_
    assert "none" in booster.model_to_string().split("feature_infos=")[1].split("\n")[0]
    shuffled = frame.iloc[::-1].copy()
    shuffled["a"] = shuffled["a"].cat.reorder_categories(["z", "x", "y"])
    shuffled["b"] = pd.Categorical(["p", "new"] * (len(frame) // 2))  # 'new' never seen
    path = tmp_path / "model.txt"
    booster.save_model(path)
    explainers = [ferroshap.TreeExplainer(model), ferroshap.TreeExplainer.from_file(path)]
    for explainer in explainers:
        for data in (frame, shuffled):
            # The training frame itself was refused before (and aligned wrongly by hand).
            values = explainer.shap_values(data)
            margin = booster.predict(data, raw_score=True)
            _close(values.sum(1) + explainer.expected_value, margin)
            _close(values, booster.predict(data, pred_contrib=True)[:, :-1])
    interventional = ferroshap.TreeExplainer(model, data=frame[:60])
    values = interventional.shap_values(shuffled)
    _close(values.sum(1) + interventional.expected_value, booster.predict(shuffled, raw_score=True))


def test_constant_category_column_maps_strings_and_refuses_a_missing_category_column():
    import polars as pl

    import ferroshap

    frame, y = _frame_with_awkward_category_columns()
    frame = frame[["a", "const", "num", "b"]]
    params = dict(SMALL, min_child_samples=5, min_data_per_group=5, cat_smooth=1.0)
    model = lgb.LGBMRegressor(**params).fit(frame, y)
    loaded = load_tree_model(model)
    # The constant column is an unused feature, but still has its list (categorical_feature).
    assert loaded.category_maps == {0: ["x", "y", "z"], 1: ["k"], 3: ["p", "q", "r", "s"]}
    explainer = ferroshap.TreeExplainer(model)
    strings = pl.from_pandas(frame.astype({c: str for c in ("a", "const", "b")}))
    np.testing.assert_array_equal(explainer.shap_values(strings), explainer.shap_values(frame))
    # LightGBM refuses a frame whose category columns are not the training frame's; so does
    # ferroshap, rather than giving the constant column's list to the next category column.
    codes = frame.assign(const=frame["const"].cat.codes)
    with pytest.raises(ValueError, match="train and valid dataset categorical_feature"):
        model.predict(codes)
    with pytest.raises(ValueError, match=r"X has 2 category column\(s\) \('a', 'b'\).* 3"):
        explainer.shap_values(codes)
