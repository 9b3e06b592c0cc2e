"""ferroshap.Explainer: shap's algorithm choice and the Independent masker.

Tolerances: where the chosen explainer is exact, values are compared to shap's to 1e-10
relative to the output scale (the same sums of the same model outputs, in another order).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn import datasets, ensemble, neural_network

import ferroshap


@pytest.fixture(scope="module")
def diabetes():
    X, y = datasets.load_diabetes(return_X_y=True, as_frame=True)
    return X * 10, y


def test_tree_models_go_to_tree_explainer(diabetes):
    X, y = diabetes
    model = ensemble.GradientBoostingRegressor(n_estimators=10, max_depth=3, random_state=0)
    model.fit(X, y)
    explainer = ferroshap.Explainer(model, X)
    assert isinstance(explainer, ferroshap.TreeExplainer)
    got = explainer(X.iloc[:5])
    # shap also builds an interventional TreeExplainer over (at most 100 of) the rows.
    direct = ferroshap.TreeExplainer(model, ferroshap.maskers.Independent(X).data)(X.iloc[:5])
    np.testing.assert_array_equal(got.values, direct.values)
    assert got.feature_names == list(X.columns)


def test_black_boxes_go_to_exact_up_to_ten_features_then_permutation(diabetes):
    X, y = diabetes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = neural_network.MLPRegressor(hidden_layer_sizes=(8,), max_iter=100, random_state=0)
        model.fit(X, y)
    background = X.iloc[:20]
    explainer = ferroshap.Explainer(model.predict, background)
    assert isinstance(explainer, ferroshap.ExactExplainer)  # 10 features
    got = explainer(X.iloc[30:33], silent=True)
    theirs = shap.Explainer(model.predict, background)(X.iloc[30:33], silent=True)
    scale = np.abs(model.predict(X.iloc[30:33])).max()
    np.testing.assert_allclose(got.values, theirs.values, rtol=0, atol=1e-10 * scale)
    assert got.feature_names == list(X.columns)
    wide = pd.concat([X, X.iloc[:, :1].rename(columns=lambda c: c + "_copy")], axis=1)
    f = lambda A: np.asarray(A)[:, :10] @ np.arange(10.0)  # noqa: E731
    explainer = ferroshap.Explainer(f, wide.iloc[:20], seed=0)
    assert isinstance(explainer, ferroshap.PermutationExplainer)  # 11 features
    assert explainer(wide.iloc[40:42], silent=True).values.shape == (2, 11)


def test_independent_masker_subsamples_and_is_accepted(diabetes):
    X, _ = diabetes
    masker = ferroshap.maskers.Independent(X, max_samples=50)
    assert masker.shape == (50, 10)
    assert masker.feature_names == list(X.columns)
    f = lambda A: np.asarray(A)[:, 0] * np.asarray(A)[:, 1]  # noqa: E731
    explainer = ferroshap.Explainer(f, masker)
    assert explainer.data.shape == (50, 10)
    got = explainer(X.iloc[:2], silent=True)
    assert got.values.shape == (2, 10)
    np.testing.assert_allclose(got.values[:, 2:], 0.0, atol=0)
    # Raw data larger than max_samples is subsampled to 100 rows, as shap's masker.
    assert ferroshap.ExactExplainer(f, X).data.shape == (100, 10)
    with pytest.raises(ValueError, match="max_samples"):
        ferroshap.maskers.Independent(X, max_samples=0)


def test_bad_choices_are_refused(diabetes):
    X, _ = diabetes
    with pytest.raises(ValueError, match="algorithm must be one of"):
        ferroshap.Explainer(lambda A: A[:, 0], X, algorithm="kernel")
    with pytest.raises(ferroshap.InvalidModelError, match="needs a linear model"):
        ferroshap.Explainer(lambda A: A[:, 0], X, algorithm="linear")
    with pytest.raises(ValueError, match="masker cannot be None"):
        ferroshap.Explainer(lambda A: A[:, 0])


def test_pickles_and_polars_and_progress(diabetes, capsys, monkeypatch):
    import pickle

    import polars as pl

    from ferroshap.explainers import _engine

    X, y = diabetes
    model = ensemble.RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0)
    model.fit(X.values, y)
    explainer = ferroshap.PermutationExplainer(model.predict, X.values[:20], seed=1)
    want = explainer(X.values[:3], silent=True).values
    again = pickle.loads(pickle.dumps(explainer))
    np.testing.assert_array_equal(again(X.values[:3], silent=True).values, want)
    frame = pl.from_pandas(X.iloc[:3])
    np.testing.assert_array_equal(explainer(frame, silent=True).values, want)
    # The bar shows once a run passes the delay (0 here), and never with silent=True.
    monkeypatch.setattr(_engine, "_PROGRESS_DELAY_S", 0.0)
    explainer(X.values[:3], silent=True)
    assert "Permutation SHAP" not in capsys.readouterr().err
    explainer(X.values[:3])
    assert "Permutation SHAP" in capsys.readouterr().err


def test_shaps_short_names():
    # shap.explainers.Exact(...) and friends, as shap's documentation writes them.
    explainers = ferroshap.explainers
    for short in ("Additive", "Deep", "Exact", "Gradient", "Kernel", "Linear", "Permutation"):
        assert getattr(explainers, short) is getattr(ferroshap, short + "Explainer")
    assert explainers.Sampling is ferroshap.SamplingExplainer
    assert explainers.Tree is ferroshap.TreeExplainer


def test_every_explainer_is_an_explainer_as_in_shap(diabetes):
    """shap's explainers subclass shap.Explainer; code checks isinstance(e, shap.Explainer)."""
    X, y = diabetes
    model = ensemble.GradientBoostingRegressor(n_estimators=5).fit(X, y)
    built = [
        ferroshap.Explainer(model, X[:20]),
        ferroshap.TreeExplainer(model),
        ferroshap.KernelExplainer(model.predict, X[:5]),
        ferroshap.PermutationExplainer(model.predict, X[:20]),
        ferroshap.LinearExplainer((np.ones(X.shape[1]), 0.0), X[:20]),
    ]
    for explainer in built:
        assert isinstance(explainer, ferroshap.Explainer), type(explainer)
        assert isinstance(explainer, ferroshap.explainers.Explainer)
    assert issubclass(ferroshap.DeepExplainer, ferroshap.Explainer)
    assert issubclass(ferroshap.GPUTreeExplainer, ferroshap.Explainer)
    assert not isinstance(model, ferroshap.Explainer)
    assert not isinstance(X, ferroshap.Explainer)
    assert not issubclass(int, ferroshap.Explainer)
