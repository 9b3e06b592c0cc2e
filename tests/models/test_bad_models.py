"""Bad models fail with a clear, typed error: never a panic, a crash or a hang."""

from __future__ import annotations

import numpy as np
import pytest

from ferroshap import InvalidModelError, ModelFormatError, UnsupportedModelError
from ferroshap._core import TreeEnsemble
from ferroshap.models import load_tree_model

# --- objects that are not tree models -------------------------------------------------------


def test_linear_regression_is_a_type_error():
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    with pytest.raises(TypeError, match="LinearRegression"):
        load_tree_model(model)


@pytest.mark.parametrize("obj", [None, 3, "model.json", object(), np.zeros(3)])
def test_other_objects_are_type_errors(obj):
    with pytest.raises(TypeError, match=type(obj).__name__):
        load_tree_model(obj)


def test_unfitted_sklearn_model():
    from sklearn.ensemble import RandomForestRegressor

    with pytest.raises(ValueError, match="not fitted"):
        load_tree_model(RandomForestRegressor())


def test_isolation_forest_is_not_a_supported_forest():
    from sklearn.ensemble import IsolationForest

    model = IsolationForest(n_estimators=3, random_state=0).fit(
        np.random.default_rng(0).random((20, 2))
    )
    with pytest.raises(TypeError, match="IsolationForest"):
        load_tree_model(model)


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
