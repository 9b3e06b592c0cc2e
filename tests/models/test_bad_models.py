"""Bad models fail with a clear, typed error: never a panic, a crash or a hang."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb

import ferroshap
from ferroshap import InvalidModelError, ModelFormatError, UnsupportedModelError
from ferroshap._core import TreeEnsemble
from ferroshap.models import load_tree_model

# --- objects that are not tree models -------------------------------------------------------


def test_linear_regression_is_a_type_error():
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    with pytest.raises(TypeError, match="LinearRegression"):
        load_tree_model(model)


@pytest.mark.parametrize("obj", [None, 3, object(), np.zeros(3)])
def test_other_objects_are_type_errors(obj):
    with pytest.raises(TypeError, match=type(obj).__name__):
        load_tree_model(obj)


def test_unfitted_sklearn_model():
    from sklearn.ensemble import RandomForestRegressor

    with pytest.raises(ValueError, match="not fitted"):
        load_tree_model(RandomForestRegressor())


def test_unsupported_sklearn_ensembles_name_their_type():
    from sklearn.ensemble import AdaBoostRegressor

    model = AdaBoostRegressor(n_estimators=3, random_state=0).fit(
        np.random.default_rng(0).random((20, 2)), np.arange(20.0)
    )
    # shap raises InvalidModelError (a ValueError); ferroshap's is that and a TypeError.
    with pytest.raises(InvalidModelError, match="AdaBoostRegressor") as caught:
        load_tree_model(model)
    assert isinstance(caught.value, TypeError)


# --- from_arrays: impossible trees ----------------------------------------------------------


def _stump(**override):
    tree = {
        "left": np.array([1, -1, -1], dtype=np.int64),
        "right": np.array([2, -1, -1], dtype=np.int64),
        "feature": np.array([0, 0, 0], dtype=np.int64),
        "threshold": np.array([0.5, 0.0, 0.0]),
        "default_left": np.zeros(3, dtype=bool),
        "cover": np.array([2.0, 1.0, 1.0]),
        "value": np.array([0.0, -1.0, 1.0]),
        "output": 0,
    }
    tree.update(override)
    return tree


def _build(tree, n_features=2):
    return TreeEnsemble.from_arrays(
        [tree],
        n_features=n_features,
        n_outputs=1,
        leaf_width=1,
        base_offset=[0.0],
        rules="sklearn_tree",
    )


def test_valid_stump_builds():
    ensemble = _build(_stump())
    np.testing.assert_array_equal(
        ensemble.predict_margin(np.array([[0.0, 0], [1, 0]])), [[-1], [1]]
    )


def test_child_out_of_range():
    with pytest.raises(InvalidModelError, match="out of range"):
        _build(_stump(right=np.array([7, -1, -1], dtype=np.int64)))


def test_cycle():
    # Node 1 points back to the root.
    tree = _stump(
        left=np.array([1, 0, -1], dtype=np.int64), right=np.array([2, 2, -1], dtype=np.int64)
    )
    with pytest.raises(InvalidModelError):
        _build(tree)


def test_self_loop():
    tree = _stump(left=np.array([0, -1, -1], dtype=np.int64))
    with pytest.raises(InvalidModelError):
        _build(tree)


def test_feature_out_of_range():
    with pytest.raises(InvalidModelError, match="feature"):
        _build(_stump(feature=np.array([2, 0, 0], dtype=np.int64)), n_features=2)


def test_negative_feature():
    with pytest.raises(InvalidModelError, match="feature"):
        _build(_stump(feature=np.array([-3, 0, 0], dtype=np.int64)))


def test_wrong_lengths_and_values():
    with pytest.raises(InvalidModelError):
        _build(_stump(cover=np.array([1.0, 1.0])))
    with pytest.raises(InvalidModelError):
        _build(_stump(value=np.array([0.0, np.inf, 1.0])))
    with pytest.raises(InvalidModelError):
        _build(_stump(threshold=np.array([np.nan, 0.0, 0.0])))


def test_invalid_errors_are_value_errors():
    assert issubclass(InvalidModelError, ValueError)
    assert issubclass(ModelFormatError, ValueError)
    assert issubclass(UnsupportedModelError, NotImplementedError)


# --- corrupt model bytes --------------------------------------------------------------------


def _xgboost_bytes(raw_format):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    booster = xgb.train({"max_depth": 3}, xgb.DMatrix(X, label=X[:, 0] + rng.normal(size=200)), 10)
    return bytes(booster.save_raw(raw_format))


def _lightgbm_text():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    model = lgb.LGBMRegressor(n_estimators=10, num_leaves=7, verbose=-1)
    model.fit(X, X[:, 0] + rng.normal(size=200))
    return model.booster_.model_to_string().encode()


def _sources():
    return [
        ("xgboost_json", lambda: _xgboost_bytes("json")),
        ("xgboost_ubjson", lambda: _xgboost_bytes("ubj")),
        ("lightgbm_text", _lightgbm_text),
    ]


@pytest.mark.parametrize(("fmt", "make"), _sources())
def test_valid_bytes_parse(fmt, make):
    data = make()
    assert TreeEnsemble.from_bytes(data, fmt).n_trees == 10
    assert TreeEnsemble.from_bytes(data).n_trees == 10


@pytest.mark.parametrize(("fmt", "make"), _sources())
@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.1, 0.5, 0.8])
def test_truncated_bytes(fmt, make, fraction):
    data = make()
    if fmt == "lightgbm_text":
        # Cut inside the trees: what follows them (importances, parameters) is optional.
        data = data[: data.index(b"end of trees")]
    cut = data[: int(len(data) * fraction)]
    with pytest.raises(ModelFormatError):
        TreeEnsemble.from_bytes(cut, fmt)


@pytest.mark.parametrize(("fmt", "make"), _sources())
def test_corrupt_bytes_never_crash(fmt, make):
    data = bytearray(make())
    rng = np.random.default_rng(1)
    for _ in range(40):
        corrupt = bytearray(data)
        for i in rng.integers(0, len(corrupt), size=3):
            corrupt[i] = int(rng.integers(0, 256))
        try:
            ensemble = TreeEnsemble.from_bytes(bytes(corrupt), fmt)
        except (ModelFormatError, InvalidModelError, UnsupportedModelError):
            continue
        # A corruption that still parses (a changed digit) must give a usable model.
        ensemble.predict_margin(np.zeros((2, ensemble.n_features)))


@pytest.mark.parametrize("data", [b"", b"\x00" * 64, b"{}", b"[1, 2", b"tree\nversion=v4\n"])
def test_garbage_bytes(data):
    with pytest.raises((ModelFormatError, UnsupportedModelError)):
        TreeEnsemble.from_bytes(data)


def test_lightgbm_linear_tree_needs_background_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    model = lgb.LGBMRegressor(n_estimators=5, linear_tree=True, verbose=-1)
    model.fit(X, 2 * X[:, 0] + X[:, 1])
    # The constant-leaf ensemble refuses linear trees; the model loads as a linear ensemble.
    with pytest.raises(UnsupportedModelError, match="linear"):
        TreeEnsemble.from_bytes(model.booster_.model_to_string().encode(), "lightgbm_text")
    assert load_tree_model(model).ensemble.is_linear
    with pytest.raises(ValueError, match="pass background data"):
        ferroshap.TreeExplainer(model)
