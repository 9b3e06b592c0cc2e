"""``ferroshap.utils`` and ``ferroshap.links`` against shap's: the same rows sampled, the same
feature clusterings, the same row orders, and links usable wherever shap's are."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shap
from sklearn.linear_model import LogisticRegression

import ferroshap
from ferroshap import links, utils


@pytest.mark.parametrize("kind", ["array", "frame", "sparse", "list"])
def test_sample_picks_shaps_rows(kind):
    X = np.arange(60.0).reshape(30, 2)
    data = {
        "array": X,
        "frame": pd.DataFrame(X, columns=["a", "b"]),
        "sparse": sp.csr_matrix(X),
        "list": list(range(30)),
    }[kind]
    ours, theirs = utils.sample(data, 7, random_state=4), shap.utils.sample(data, 7, random_state=4)
    if kind == "sparse":
        assert (ours != theirs).nnz == 0
    elif kind == "frame":
        pd.testing.assert_frame_equal(ours, theirs)
    else:
        np.testing.assert_array_equal(ours, theirs)


def test_hclust_by_correlation_matches_shap():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 6))
    X[:, 3] = X[:, 0] + 0.1 * rng.normal(size=200)
    for linkage in ("single", "complete", "average"):
        ours = utils.hclust(X, linkage=linkage)
        theirs = shap.utils.hclust(X, linkage=linkage)
        # Same merges; heights differ only by the 1e-8 tie-breaking jitter (shap draws it
        # from NumPy's global state, ferroshap from a seeded generator).
        np.testing.assert_array_equal(ours[:, [0, 1, 3]], theirs[:, [0, 1, 3]])
        np.testing.assert_allclose(ours[:, 2], theirs[:, 2], atol=1e-6)


def test_hclust_by_redundancy_matches_shap():
    from scipy.cluster.hierarchy import average

    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 3))
    X[:, 2] = X[:, 0] + 0.05 * rng.normal(size=200)  # redundant with feature 0
    y = X[:, 0] + 0.5 * X[:, 1] + 0.1 * rng.normal(size=200)
    d = utils.xgboost_distances_r2(X, y)
    theirs = shap.utils._clustering.xgboost_distances_r2(X, y)
    # Same XGBoost models on the same split: float32 predictions, tolerance 1e-6.
    np.testing.assert_allclose(d, theirs, atol=1e-6)
    z = utils.hclust(X, y, linkage="average")
    i, j = np.triu_indices(3, k=1)
    np.testing.assert_allclose(z, average((theirs[i, j] + theirs[j, i]) / 2), atol=1e-6)
    assert sorted(z[0, :2].tolist()) == [0.0, 2.0]


def test_hclust_bad_input():
    with pytest.raises(ValueError, match="linkage"):
        utils.hclust(np.ones((5, 3)), linkage="ward")
    with pytest.raises(ValueError, match="2-dimensional"):
        utils.hclust(np.ones(5))
    with pytest.warns(UserWarning, match="ignores y"):
        utils.hclust(np.random.default_rng(0).normal(size=(20, 3)), np.ones(20), metric="euclidean")


def test_hclust_ordering_matches_shap():
    X = np.random.default_rng(1).normal(size=(30, 4))
    np.testing.assert_array_equal(utils.hclust_ordering(X), shap.utils.hclust_ordering(X))


def _interacting():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4))
    values = np.column_stack([X[:, 0] * X[:, 3], X[:, 1], 0.2 * X[:, 2], X[:, 3]])
    return X, values


def test_approximate_interactions_finds_the_planted_partner_as_shap_does():
    X, values = _interacting()
    ours = utils.approximate_interactions(0, values, X)
    assert sorted(ours.tolist()) == [0, 1, 2, 3] and ours[0] == 3 and ours[-1] == 0
    assert shap.utils.approximate_interactions(0, values, X)[0] == 3
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    np.testing.assert_array_equal(ferroshap.approximate_interactions("a", values, frame), ours)
    with pytest.raises(ValueError, match="unknown feature"):
        utils.approximate_interactions("zz", values, frame)


def test_potential_interactions_on_explanations():
    X, values = _interacting()
    sv = ferroshap.Explanation(values, data=X, feature_names=["a", "b", "c", "d"])
    order = utils.potential_interactions(sv[:, "a"], sv)
    assert order[0] == 3 and order[-1] == 0


def test_safe_isinstance():
    model = LogisticRegression()
    assert utils.safe_isinstance(model, "sklearn.linear_model.LogisticRegression")
    assert utils.safe_isinstance(
        model, ["xgboost.XGBClassifier", "sklearn.linear_model._logistic.LogisticRegression"]
    )
    assert not utils.safe_isinstance(model, "not_a_module_anyone_imported.Model")


def test_links_invert_and_work_as_shaps_in_kernel():
    p = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(links.logit.inverse(links.logit(p)), p, rtol=1e-15)
    np.testing.assert_allclose(links.logit(p), shap.links.logit(p), rtol=1e-15)
    assert links.identity(p) is p and links.identity.inverse(p) is p
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    model = LogisticRegression().fit(X, X[:, 0] + X[:, 1] > 0)
    by_object = ferroshap.KernelExplainer(model.predict_proba, X[:20], link=ferroshap.links.logit)
    by_name = ferroshap.KernelExplainer(model.predict_proba, X[:20], link="logit")
    np.testing.assert_array_equal(
        by_object.shap_values(X[:3], silent=True), by_name.shap_values(X[:3], silent=True)
    )


def test_small_helpers_equal_shaps():
    sv = np.array([[0.1, -2.0, 0.5], [0.3, 1.0, -0.2]])
    names = ["a", "b", "c"]
    for value in (-1.5, 1.5, 2.0, "x", "-12", ""):
        assert utils.format_value(value, "%0.03f") == shap.utils._general.format_value(
            value, "%0.03f"
        )
    for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111):
        assert utils.ordinal_str(n) == shap.utils.ordinal_str(n)
    for ind in ("b", "rank(0)", "rank(2)", "sum()", 2, None):
        assert utils.convert_name(ind, sv, names) == shap.utils.convert_name(ind, sv, names)
    with pytest.raises(ValueError, match="Could not find feature named: z"):
        utils.convert_name("z", sv, names)
    for n in (1, 4, 9):
        # 1e-15: the same weights computed with exact integers vs scipy's float comb.
        np.testing.assert_allclose(
            utils.shapley_coefficients(n), shap.utils.shapley_coefficients(n), rtol=1e-15
        )
    chain = utils.OpChain("shap.X").foo.foo(0, "b").foo(0, v1=10).baz
    assert repr(chain) == "shap.X.foo.foo(0, 'b').foo(0, v1=10).baz"
    sv_e = ferroshap.Explanation(sv)
    np.testing.assert_array_equal(
        utils.OpChain("e").abs.mean(0).apply(sv_e).values, np.abs(sv).mean(0)
    )


def test_partition_tree_shuffle_and_make_masks_equal_shaps():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 9))
    X[:, 1] += X[:, 0]
    tree = shap.utils.hclust(X, linkage="complete")
    mask = np.ones(9, dtype=bool)
    mask[[2, 5]] = False
    members = utils.make_masks(tree).toarray()[9:]  # each cluster's features
    orders = set()
    for seed in range(40):
        order = np.empty(7, dtype=np.int64)
        utils.partition_tree_shuffle(order, mask, tree, rng=seed)
        assert sorted(order) == list(np.flatnonzero(mask))
        position = {f: i for i, f in enumerate(order)}
        for cluster in members:  # every cluster's features sit together
            places = sorted(position[f] for f in np.flatnonzero(cluster & mask))
            assert places == list(range(places[0], places[0] + len(places))) if places else True
        again = np.empty(7, dtype=np.int64)
        utils.partition_tree_shuffle(again, mask, tree, rng=np.random.default_rng(seed))
        np.testing.assert_array_equal(order, again)  # the seed decides the order
        orders.add(tuple(order))
    assert len(orders) > 10  # random, not one fixed order
    # (shap draws inside numba, whose generator np.random.seed does not reach, so its orders
    # cannot be compared draw for draw.)
    a, b = utils.make_masks(tree), shap.utils.make_masks(tree)
    np.testing.assert_array_equal(a.toarray(), b.toarray())
    masks = rng.random((40, 9)) < 0.5
    np.testing.assert_array_equal(
        utils.delta_minimization_order(masks, 10, 2),
        shap.utils.delta_minimization_order(masks, 10, 2),
    )


def test_suppress_stderr_and_import_errors(capsys):
    import sys

    with utils.suppress_stderr():
        print("hidden", file=sys.stderr)
    print("shown", file=sys.stderr)
    assert capsys.readouterr().err == "shown\n"
    utils.record_import_error("nothing", "nothing is installed", ImportError("x"))
    from ferroshap.utils._general import import_errors

    assert import_errors["nothing"][0] == "nothing is installed"
