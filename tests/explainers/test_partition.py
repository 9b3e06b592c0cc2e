"""PartitionExplainer and the Partition masker on tabular data: shap's PartitionExplainer at
budgets that complete the hierarchy and at smaller ones (same evaluation order), exact Owen
values (ExactExplainer with a clustering) against shap's and against Partition, and
``ferroshap.Explainer``'s choice for a Partition masker.

Tolerance 1e-8 on outputs of order 1: both sides sum the same model outputs with the same
weights, in a different order, so they differ by rounding (about 1e-15 here); the brute-force
Owen oracle lives in the Rust tests (crates/ferroshap/tests/it/owen.rs).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import shap
from sklearn import datasets, ensemble, neural_network

import ferroshap
from ferroshap._hierarchy import owen_coalitions


@pytest.fixture(scope="module")
def wine():
    X, y = datasets.load_wine(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = neural_network.MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X[:, :9], y)
    return X[:, :9], model


@pytest.fixture(scope="module")
def maskers(wine):
    X, _ = wine
    theirs = shap.maskers.Partition(X[:40])
    ours = ferroshap.maskers.Partition(X[:40], clustering=theirs.clustering)
    return theirs, ours


def test_clustering_is_shaps_for_the_same_background(wine):
    X, _ = wine
    ours = ferroshap.maskers.Partition(X[:40]).clustering
    theirs = shap.maskers.Partition(X[:40]).clustering
    # Same merges; distances differ by the 1e-8 jitter (drawn from another generator).
    np.testing.assert_array_equal(ours[:, [0, 1, 3]], theirs[:, [0, 1, 3]])
    np.testing.assert_allclose(ours[:, 2], theirs[:, 2], atol=1e-6)


@pytest.mark.parametrize("max_evals", [12, 40, 90])
def test_equals_shap_at_budgets_too_small_to_finish(wine, maskers, max_evals):
    X, model = wine
    theirs, ours = maskers
    assert max_evals < owen_coalitions(ours.clustering)
    rows = X[100:104]
    want = shap.PartitionExplainer(model.predict_proba, theirs)(
        rows, max_evals=max_evals, silent=True
    )
    got = ferroshap.PartitionExplainer(model.predict_proba, ours)(
        rows, max_evals=max_evals, silent=True
    )
    np.testing.assert_allclose(got.values, want.values, atol=1e-8)
    np.testing.assert_allclose(got.base_values, want.base_values, atol=1e-12)


@pytest.mark.parametrize("fixed_context", [0, 1])
def test_fixed_contexts_equal_shaps(wine, maskers, fixed_context):
    X, model = wine
    theirs, ours = maskers
    rows = X[110:113]
    for max_evals in (30, 500):
        want = shap.PartitionExplainer(model.predict_proba, theirs)(
            rows, max_evals=max_evals, fixed_context=fixed_context, silent=True
        )
        got = ferroshap.PartitionExplainer(model.predict_proba, ours)(
            rows, max_evals=max_evals, fixed_context=fixed_context, silent=True
        )
        np.testing.assert_allclose(got.values, want.values, atol=1e-8)


def test_complete_budget_gives_exact_owen_values_as_shap(wine, maskers):
    X, model = wine
    theirs, ours = maskers
    rows = X[120:123]
    full = owen_coalitions(ours.clustering)
    partition = ferroshap.PartitionExplainer(model.predict_proba, ours)(
        rows, max_evals=full, silent=True
    )
    exact = ferroshap.ExactExplainer(model.predict_proba, ours)(rows, silent=True)
    shap_exact = shap.ExactExplainer(model.predict_proba, theirs)(rows, silent=True)
    shap_partition = shap.PartitionExplainer(model.predict_proba, theirs)(
        rows, max_evals=full, silent=True
    )
    np.testing.assert_allclose(exact.values, shap_exact.values, atol=1e-8)
    np.testing.assert_allclose(partition.values, exact.values, atol=1e-8)
    np.testing.assert_allclose(partition.values, shap_partition.values, atol=1e-8)
    # Efficiency: the values add up to the model's output.
    total = partition.values.sum(axis=1) + partition.base_values
    np.testing.assert_allclose(total, model.predict_proba(rows), atol=1e-10)
    # A larger budget changes nothing once the hierarchy is complete (but the batches, and
    # so the order of the sums, to rounding).
    more = ferroshap.PartitionExplainer(model.predict_proba, ours)(
        rows, max_evals=10 * full, silent=True
    )
    np.testing.assert_allclose(more.values, partition.values, atol=1e-12)


def test_error_falls_as_the_budget_grows(wine, maskers):
    X, model = wine
    _, ours = maskers
    rows = X[130:140]
    exact = ferroshap.ExactExplainer(model.predict_proba, ours)(rows, silent=True).values
    explainer = ferroshap.PartitionExplainer(model.predict_proba, ours)
    errors = [
        np.abs(explainer(rows, max_evals=b, silent=True).values - exact).max()
        for b in (8, 40, owen_coalitions(ours.clustering))
    ]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-10


def test_tree_models_are_evaluated_from_their_trees(wine, maskers):
    # The native tree game gives the coalitions' values the model would: the same values.
    X, _ = wine
    _, ours = maskers
    model = ensemble.GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0)
    model.fit(X, X[:, 0] * X[:, 1] + np.sin(X[:, 2]))
    native = ferroshap.PartitionExplainer(model, ours)
    assert native.native_model is not None
    got = native(X[:4], max_evals=60, silent=True)
    want = ferroshap.PartitionExplainer(model.predict, ours)(X[:4], max_evals=60, silent=True)
    np.testing.assert_allclose(got.values, want.values, atol=1e-10)


def test_dispatch_and_names(wine, maskers):
    X, model = wine
    _, ours = maskers
    # shap: a Partition masker over at most 32 features gets exact Owen values.
    assert type(ferroshap.Explainer(model.predict_proba, ours)).__name__ == "ExactExplainer"
    chosen = ferroshap.Explainer(model.predict_proba, ours, algorithm="partition")
    assert isinstance(chosen, ferroshap.PartitionExplainer)
    assert ferroshap.explainers.Partition is ferroshap.PartitionExplainer
    # A chain of 20 features needs 2^20 coalitions for exact values: Partition instead.
    chain = np.array([[0 if t == 0 else 19 + t, t + 1, t, t + 2] for t in range(19)], dtype=float)
    wide = ferroshap.maskers.Partition(np.zeros((2, 20)), clustering=chain)
    assert isinstance(ferroshap.Explainer(lambda x: x.sum(1), wide), ferroshap.PartitionExplainer)
    # shap's masker is taken as it is: its background rows and clustering.
    theirs, _ = maskers
    from_shap = ferroshap.PartitionExplainer(model.predict_proba, theirs)
    np.testing.assert_array_equal(from_shap.masker.clustering, theirs.clustering)
    np.testing.assert_array_equal(from_shap.masker.data, theirs.data)
    # Raw background data is clustered by correlation.
    raw = ferroshap.PartitionExplainer(model.predict_proba, X[:30])
    assert raw.masker.clustering.shape == (8, 4)


def test_call_defaults_and_hierarchy_only_changes_owen_not_sum(wine, maskers):
    X, model = wine
    _, ours = maskers
    explainer = ferroshap.PartitionExplainer(model.predict_proba, ours, max_evals=20, silent=True)
    got = explainer(X[:2])
    want = ferroshap.PartitionExplainer(model.predict_proba, ours)(X[:2], max_evals=20, silent=True)
    np.testing.assert_array_equal(got.values, want.values)
    np.testing.assert_array_equal(got.clustering, ours.clustering)


def test_bad_input_is_refused(wine, maskers):
    X, model = wine
    _, ours = maskers
    explainer = ferroshap.PartitionExplainer(model.predict_proba, ours)
    with pytest.raises(ValueError, match="max_evals=3 is too low"):
        explainer(X[:1], max_evals=3, silent=True)
    with pytest.raises(ValueError, match="does not match the background"):
        explainer(X[:1, :5], silent=True)
    with pytest.raises(ValueError, match="batch_size"):
        explainer(X[:1], batch_size=0, silent=True)
    with pytest.raises(ValueError, match="fixed_context must be 0, 1 or None"):
        explainer(X[:1], fixed_context=2, silent=True)
    with pytest.raises(ValueError, match="linkage matrix of shape \\(8, 4\\)"):
        ferroshap.maskers.Partition(X[:10], clustering=np.zeros((3, 4)))
    bad_tree = ferroshap.maskers.Partition(X[:10, :3], clustering=[[0, 0, 1, 2], [1, 3, 1, 3]])
    with pytest.raises(ValueError, match="already a child"):
        ferroshap.PartitionExplainer(lambda x: x.sum(1), bad_tree)(X[:1, :3], silent=True)
    with pytest.raises(ValueError, match="needs a masker with a clustering"):
        ferroshap.PartitionExplainer(model.predict_proba, ferroshap.maskers.Independent(X[:10]))

    def wrong_rows(rows):
        return np.zeros(len(rows) + 1)

    with pytest.raises(ValueError, match="expected"):
        ferroshap.PartitionExplainer(wrong_rows, ours)


@pytest.mark.parametrize("outputs", [2, [0, 2]])
def test_outputs_select_what_is_explained_as_shap(wine, maskers, outputs):
    X, model = wine
    theirs, ours = maskers
    rows = X[100:103]
    # A budget too small to split every cluster: the selected outputs alone set the order
    # of splitting, so the values differ from the all-output run's and must match shap's.
    want = shap.PartitionExplainer(model.predict_proba, theirs)(
        rows, max_evals=40, outputs=np.atleast_1d(outputs), silent=True
    )
    got = ferroshap.PartitionExplainer(model.predict_proba, ours)(
        rows, max_evals=40, outputs=outputs, main_effects=True, silent=True
    )
    k = len(np.atleast_1d(outputs))
    assert got.values.shape == want.values.shape == (3, 9, k)
    np.testing.assert_allclose(got.values, want.values, rtol=0, atol=1e-8)
    np.testing.assert_allclose(got.base_values, want.base_values, rtol=0, atol=1e-8)
    with pytest.raises(ValueError, match="out of range for a model of 3 outputs"):
        ferroshap.PartitionExplainer(model.predict_proba, ours)(rows, outputs=[3], silent=True)
