"""scikit-learn adapters: margins equal scikit-learn's, SHAP values add up and equal shap's.

Tolerances:
- margins vs scikit-learn: 1e-9 relative to the output scale. Both sides sum the same f64 leaf
  values after the same routing (float32 X vs f64 thresholds for trees, f64 X for HistGB);
  only the summation order differs.
- SHAP values + expected value vs margin: 1e-9 relative (exact f64 algorithm).
- vs shap 0.51 (its C++ Tree SHAP in f64 on float32-cast X): 1e-9 relative; both compute the
  same path-dependent values in double precision.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn import ensemble, tree
from sklearn.datasets import make_classification, make_regression

from ferroshap import UnsupportedModelError
from ferroshap._data import to_matrix
from ferroshap.models import TreeModel, load_tree_model

RTOL = 1e-9


def _close(got, expected, rtol=RTOL):
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(got, expected, rtol=0, atol=rtol * scale)


def _regression(nan: bool = True):
    X, y = make_regression(300, 6, noise=1.0, random_state=0)
    if nan:
        X[::7, 2] = np.nan
        X[3::11, 4] = np.nan
    return X, y


def _classification(n_classes: int, nan: bool = True):
    X, y = make_classification(300, 6, n_informative=4, n_classes=n_classes, random_state=n_classes)
    if nan:
        X[::5, 1] = np.nan
    return X, y


def _check(model: TreeModel, X, margin, shap_reference=None) -> None:
    ensemble_ = model.ensemble
    got = ensemble_.predict_margin(X)
    _close(got, np.asarray(margin).reshape(got.shape))
    values = ensemble_.shap_values(X)
    assert values.shape == (X.shape[0], X.shape[1], ensemble_.n_outputs)
    _close(values.sum(axis=1) + ensemble_.expected_value(), got)
    if shap_reference is not None:
        reference = np.asarray(shap_reference)
        mine = values[:, :, 0] if model.single_output else values
        _close(mine, reference)


def _threshold_rows(model_trees, X):
    """Copies of rows of X with one feature set exactly to a split threshold."""
    rows = []
    for estimator in model_trees:
        t = estimator.tree_
        for node in np.flatnonzero(t.children_left >= 0)[:3]:
            row = np.nan_to_num(X[len(rows) % len(X)]).copy()
            row[t.feature[node]] = t.threshold[node]
            rows.append(row)
    return np.array(rows)


@pytest.mark.parametrize(
    "make",
    [
        lambda: tree.DecisionTreeRegressor(max_depth=6, random_state=0),
        lambda: tree.ExtraTreeRegressor(max_depth=6, random_state=0),
        lambda: ensemble.RandomForestRegressor(20, max_depth=6, random_state=0),
        lambda: ensemble.ExtraTreesRegressor(20, max_depth=6, random_state=0),
    ],
)
def test_tree_and_forest_regressors(make):
    X, y = _regression()
    model = make().fit(X, y)
    loaded = load_tree_model(model)
    assert loaded.source == "sklearn" and loaded.single_output
    assert loaded.ensemble.rules == "sklearn_tree"
    _check(loaded, X, model.predict(X), shap.TreeExplainer(model).shap_values(X))
    trees = getattr(model, "estimators_", [model])
    edge = _threshold_rows(trees, X)
    _check(loaded, edge, model.predict(edge))


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    "make",
    [
        lambda: tree.DecisionTreeClassifier(max_depth=6, random_state=0),
        lambda: tree.ExtraTreeClassifier(max_depth=6, random_state=0),
        lambda: ensemble.RandomForestClassifier(20, max_depth=6, random_state=0),
        lambda: ensemble.ExtraTreesClassifier(20, max_depth=6, random_state=0),
    ],
)
def test_tree_and_forest_classifiers(make, n_classes):
    X, y = _classification(n_classes)
    model = make().fit(X, y)
    loaded = load_tree_model(model)
    # shap returns (N, M, K) for scikit-learn classifiers, even with two classes.
    assert not loaded.single_output
    assert loaded.output_names == [str(c) for c in model.classes_]
    assert loaded.ensemble.n_outputs == n_classes
    _check(loaded, X, model.predict_proba(X), shap.TreeExplainer(model).shap_values(X))


def test_multi_output_regressor():
    X, y = _regression(nan=False)
    Y = np.column_stack([y, -2 * y + X[:, 0]])
    model = ensemble.RandomForestRegressor(10, max_depth=5, random_state=0).fit(X, Y)
    loaded = load_tree_model(model)
    assert not loaded.single_output and loaded.ensemble.n_outputs == 2
    _check(loaded, X, model.predict(X))


def test_multi_output_classifier_is_refused():
    X, y = _classification(2, nan=False)
    model = tree.DecisionTreeClassifier(max_depth=3).fit(X, np.column_stack([y, 1 - y]))
    with pytest.raises(UnsupportedModelError, match="multi-output"):
        load_tree_model(model)


def test_sample_weights_give_weighted_covers():
    X, y = _regression(nan=False)
    weights = np.random.default_rng(0).uniform(0.1, 3.0, len(y))
    model = ensemble.RandomForestRegressor(10, max_depth=5, random_state=0)
    model.fit(X, y, sample_weight=weights)
    _check(load_tree_model(model), X, model.predict(X), shap.TreeExplainer(model).shap_values(X))


@pytest.mark.parametrize("init", [None, "zero"])
def test_gradient_boosting_regressor(init):
    X, y = _regression(nan=False)
    model = ensemble.GradientBoostingRegressor(
        n_estimators=30, max_depth=3, learning_rate=0.2, init=init, random_state=0
    ).fit(X, y)
    loaded = load_tree_model(model)
    assert loaded.single_output and loaded.ensemble.link == "identity"
    # shap 0.51 refuses init="zero" ("Unsupported init model type").
    reference = shap.TreeExplainer(model).shap_values(X) if init is None else None
    _check(loaded, X, model.predict(X), reference)
    edge = _threshold_rows(model.estimators_[:, 0], X)
    _check(loaded, edge, model.predict(edge))


def test_gradient_boosting_binary():
    X, y = _classification(2, nan=False)
    model = ensemble.GradientBoostingClassifier(n_estimators=30, random_state=0).fit(X, y)
    loaded = load_tree_model(model)
    assert loaded.single_output and loaded.ensemble.link == "logistic"
    _check(loaded, X, model.decision_function(X), shap.TreeExplainer(model).shap_values(X))


def test_gradient_boosting_multiclass():
    # shap 0.51 does not support multi-class GradientBoosting: additivity and the margin only.
    X, y = _classification(3, nan=False)
    model = ensemble.GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, y)
    loaded = load_tree_model(model)
    assert not loaded.single_output and loaded.ensemble.link == "softmax"
    assert loaded.ensemble.n_trees == 60
    _check(loaded, X, model.decision_function(X))


def test_gradient_boosting_non_constant_init_is_refused():
    X, y = _regression(nan=False)
    model = ensemble.GradientBoostingRegressor(
        n_estimators=5, init=tree.DecisionTreeRegressor(max_depth=2)
    ).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="init"):
        load_tree_model(model)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_hist_gradient_boosting_regressor(dtype, order):
    X, y = _regression()
    model = ensemble.HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    loaded = load_tree_model(model)
    assert loaded.ensemble.rules == "sklearn_hist"
    Z = np.asarray(X, dtype=dtype, order=order)
    _check(loaded, Z, model._raw_predict(Z), shap.TreeExplainer(model).shap_values(Z))


def test_hist_gradient_boosting_thresholds_hit_exactly():
    # Histogram thresholds are midpoints or training values; put rows exactly on them.
    X, y = _regression(nan=False)
    X = np.round(X, 1)
    model = ensemble.HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y)
    nodes = model._predictors[0][0].nodes
    rows = []
    for node in nodes[nodes["is_leaf"] == 0]:
        row = X[len(rows)].copy()
        row[node["feature_idx"]] = node["num_threshold"]
        rows.append(row)
    Z = np.array(rows)
    _check(load_tree_model(model), Z, model._raw_predict(Z))


def test_hist_gradient_boosting_poisson():
    X, y = _regression(nan=True)
    y = np.exp(y / np.std(y))
    model = ensemble.HistGradientBoostingRegressor(loss="poisson", max_iter=20).fit(X, y)
    loaded = load_tree_model(model)
    assert loaded.ensemble.link == "exp"
    _check(loaded, X, model._raw_predict(X), shap.TreeExplainer(model).shap_values(X))
    np.testing.assert_allclose(np.exp(loaded.ensemble.predict_margin(X)[:, 0]), model.predict(X))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_hist_gradient_boosting_classifier(n_classes):
    X, y = _classification(n_classes)
    model = ensemble.HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    loaded = load_tree_model(model)
    assert loaded.single_output == (n_classes == 2)
    assert loaded.ensemble.link == ("logistic" if n_classes == 2 else "softmax")
    _check(loaded, X, model._raw_predict(X), shap.TreeExplainer(model).shap_values(X))


def _categorical_frame(n=400):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "color": pd.Categorical(rng.choice(["red", "green", "blue", "teal"], n)),
            "b": rng.normal(size=n),
            "size": pd.Categorical(rng.choice([3, 1, 7], n)),
        }
    )
    y = frame["color"].isin(["green", "teal"]) * 2.0 + frame["a"] + (frame["size"] == 7)
    frame.loc[::9, "color"] = np.nan
    return frame, y


def test_hist_gradient_boosting_pandas_categories():
    frame, y = _categorical_frame()
    model = ensemble.HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(frame, y)
    loaded = load_tree_model(model)
    assert loaded.feature_names == ["a", "color", "b", "size"]
    assert loaded.ensemble.categorical_features == [False, True, False, True]
    assert loaded.category_maps[1] == ["blue", "green", "red", "teal"]
    # The same categories in another order, plus one never seen in training (which
    # scikit-learn treats as missing).
    test = frame.copy()
    color = test["color"].astype(object).where(np.arange(len(test)) % 13 != 0, "mauve")
    test["color"] = pd.Categorical(color, categories=["teal", "mauve", "red", "green", "blue"])
    for data in (frame, test):
        matrix = to_matrix(
            data,
            n_features=4,
            feature_names=loaded.feature_names,
            category_maps=loaded.category_maps,
            categorical=loaded.ensemble.categorical_features,
        )
        _check(loaded, matrix.values, model.predict(data))


def test_hist_gradient_boosting_numeric_categories():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=400), rng.choice([0, 2, 5, 9], 400), rng.normal(size=400)])
    y = X[:, 0] + 3.0 * (X[:, 1] == 5) + (X[:, 1] == 9)
    model = ensemble.HistGradientBoostingRegressor(max_iter=20, categorical_features=[1])
    model.fit(X, y)
    loaded = load_tree_model(model)
    Z = X.copy()
    Z[::7, 1] = 3.0  # never seen in training: scikit-learn treats it as missing
    Z[::11, 1] = np.nan
    _check(loaded, Z, model._raw_predict(Z))
