"""scikit-learn conversion in one pass: the same core model as reading each tree's attributes,
and no stale conversion after a refit.

The reference below builds every tree's node arrays from the public ``tree_`` attributes, one
dict per tree, through ``TreeEnsemble.from_arrays`` (how ferroshap converted these models
before the one-pass reader). Both must give the same model to the last bit (``to_bytes``
equal); SHAP values are then compared at 1e-12 of their scale, which only rounding-free equal
models meet (any wrong node, threshold or value moves them by far more).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import ensemble
from sklearn.datasets import make_classification, make_regression

import ferroshap
from ferroshap import _core
from ferroshap.models import load_tree_model


def _reference_arrays(tree, values, output, nan_follows_tree):
    left = tree.children_left.astype(np.int64)
    internal = left >= 0
    nan_left = tree.missing_go_to_left.astype(bool) if nan_follows_tree else np.zeros(len(left))
    return {
        "left": left,
        "right": tree.children_right.astype(np.int64),
        "feature": np.where(internal, tree.feature, 0).astype(np.int64),
        "threshold": np.where(internal, tree.threshold, 0.0).astype(np.float64),
        "default_left": nan_left.astype(bool) & internal,
        "cover": tree.weighted_n_node_samples.astype(np.float64),
        "value": np.ascontiguousarray(values, dtype=np.float64).ravel(),
        "output": output,
    }


def _reference(model):
    """The model converted tree by tree from its attributes (see the module docstring)."""
    common = {"rules": "sklearn_tree", "feature_names": None, "n_features": model.n_features_in_}
    if isinstance(model, (ensemble.GradientBoostingRegressor, ensemble.GradientBoostingClassifier)):
        rate = model.learning_rate
        trees = [
            _reference_arrays(e.tree_, e.tree_.value[:, 0, :1] * rate, out, False)
            for stage in model.estimators_
            for out, e in enumerate(stage)
        ]
        loaded = load_tree_model(model).ensemble  # base offset and link as the adapter reads them
        k = model.estimators_.shape[1]
        return _core.TreeEnsemble.from_arrays(
            trees,
            n_outputs=k,
            leaf_width=1,
            base_offset=list(loaded.base_offset),
            link=loaded.link,
            objective=loaded.objective,
            **common,
        )
    classifier = hasattr(model, "classes_")
    scale = 1.0 / len(model.estimators_)
    trees = []
    for e in model.estimators_:
        raw = e.tree_.value[:, 0, :] if classifier else e.tree_.value[:, :, 0]
        if classifier:
            totals = raw.sum(axis=1, keepdims=True)
            raw = np.divide(raw, totals, out=np.zeros_like(raw), where=totals > 0)
        trees.append(_reference_arrays(e.tree_, raw * scale, 0, True))
    width = len(model.classes_) if classifier else 1
    return _core.TreeEnsemble.from_arrays(
        trees,
        n_outputs=width,
        leaf_width=width,
        base_offset=[0.0] * width,
        objective="classification" if classifier else "regression",
        **common,
    )


def _data(classes: int):
    if classes:
        X, y = make_classification(200, 5, n_informative=3, n_classes=classes, random_state=classes)
    else:
        X, y = make_regression(200, 5, noise=1.0, random_state=0)
    X[::9, 1] = np.nan  # NaN routing: missing_go_to_left for forests, always right for GB
    return X, y


MODELS = [
    (ensemble.GradientBoostingRegressor, 0),
    (ensemble.GradientBoostingClassifier, 2),
    (ensemble.GradientBoostingClassifier, 3),
    (ensemble.RandomForestRegressor, 0),
    (ensemble.RandomForestClassifier, 3),
    (ensemble.ExtraTreesRegressor, 0),
    (ensemble.ExtraTreesClassifier, 2),
]


@pytest.mark.parametrize(("make", "classes"), MODELS)
def test_one_pass_conversion_is_the_tree_by_tree_model(make, classes):
    X, y = _data(classes)
    kwargs = {"max_depth": 4, "random_state": 0, "n_estimators": 20}
    if make in (ensemble.GradientBoostingRegressor, ensemble.GradientBoostingClassifier):
        X = np.nan_to_num(X)  # GradientBoosting refuses NaN in fit
    model = make(**kwargs).fit(X, y)
    got = load_tree_model(model).ensemble
    want = _reference(model)
    assert got.to_bytes() == want.to_bytes()
    mine, theirs = got.shap_values(X[:20]), want.shap_values(X[:20])
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize(
    ("make", "classes"),
    [*MODELS, (ensemble.HistGradientBoostingRegressor, 0)]
    + [(ensemble.HistGradientBoostingClassifier, c) for c in (2, 3)],
)
def test_native_permutation_values_equal_calling_the_model(make, classes):
    """The native tree game on the converted model and the model called on masked rows give
    the same values: both sum the same model outputs, in a different order (1e-10 of the
    output scale covers that rounding; a wrong tree, leaf or route moves values by 1e-3 or
    more)."""
    X, y = _data(classes)
    X = np.nan_to_num(X)
    kwargs = {"max_depth": 3, "random_state": 0}
    hist = (ensemble.HistGradientBoostingRegressor, ensemble.HistGradientBoostingClassifier)
    kwargs["max_iter" if make in hist else "n_estimators"] = 10
    model = make(**kwargs).fit(X, y)
    f = model.predict_proba if classes else model.predict
    background, rows = X[:30], X[100:103]
    native = ferroshap.PermutationExplainer(f, background, seed=5)
    called = ferroshap.PermutationExplainer(f, background, seed=5, native=False)
    assert native.native_model is not None
    got = native(rows, max_evals=200, silent=True).values
    want = called(rows, max_evals=200, silent=True).values
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * scale)


def test_a_refit_model_is_converted_again_and_a_stale_conversion_is_not_used():
    X, y = _data(0)
    X = np.nan_to_num(X)
    model = ensemble.GradientBoostingRegressor(n_estimators=10, max_depth=3, random_state=0)
    model.fit(X, y)
    background, rows = X[:30], X[100:103]
    before = ferroshap.PermutationExplainer(model.predict, background, seed=1)
    calling = ferroshap.PermutationExplainer(model.predict, background, seed=1, native=False)
    strict = ferroshap.PermutationExplainer(model.predict, background, seed=1, native=True)
    old_trees = before.native_model.predict(background, "margin")[:, 0]
    model.fit(X, -3.0 * y)  # the same object, refit in place: other trees
    new = ferroshap.PermutationExplainer(model.predict, background, seed=1)
    np.testing.assert_allclose(
        new.native_model.predict(background, "margin")[:, 0], model.predict(background), atol=1e-9
    )
    assert not np.allclose(old_trees, model.predict(background))
    # The explainer made before the refit checks its trees against the model on the explained
    # rows, finds them stale and calls the model instead: exactly what the explainer that
    # always calls the model computes.
    np.testing.assert_array_equal(
        before(rows, max_evals=100, silent=True).values,
        calling(rows, max_evals=100, silent=True).values,
    )
    with pytest.raises(ValueError, match="does not reproduce.*explained rows"):
        strict(rows, max_evals=100, silent=True)
