"""TreeExplainer's API: shapes, base values, options, threads, errors.

Numbers are checked against an independent brute-force computation of the path-dependent
value function on a hand-built ensemble (and, in tests/models, against the libraries' own
predictions and SHAP values).
"""

import itertools
import math
import threading

import numpy as np
import pytest

import ferroshap
from ferroshap import _core


def _stump_forest(n_outputs: int = 1, leaf_width: int = 1) -> _core.TreeEnsemble:
    """Three small trees over 3 features, feature 0 repeated along a path."""
    trees = []
    rng = np.random.default_rng(0)
    for t in range(3):
        # node 0: f0 <= 0.5 ; node 1: f1 <= 0 ; node 2: f0 <= 1.5 ; leaves 3..6
        trees.append(
            {
                "left": np.array([1, 3, 5, -1, -1, -1, -1], dtype=np.int64),
                "right": np.array([2, 4, 6, -1, -1, -1, -1], dtype=np.int64),
                "feature": np.array([0, 1 + t % 2, 0, 0, 0, 0, 0], dtype=np.int64),
                "threshold": np.array([0.5, 0.0, 1.5, 0, 0, 0, 0], dtype=np.float64),
                "default_left": np.array([True, False, True] + [False] * 4),
                "cover": np.array([10.0, 6.0, 4.0, 2.0, 4.0, 1.0, 3.0]),
                "value": rng.normal(size=7 * leaf_width),
                "output": 0 if leaf_width == n_outputs else t % n_outputs,
            }
        )
    return _core.TreeEnsemble.from_arrays(
        trees,
        n_features=3,
        n_outputs=n_outputs,
        leaf_width=leaf_width,
        base_offset=[0.25] * n_outputs,
        rules="lightgbm",
        feature_names=["a", "b", "c"],
    )


def _brute_force(ensemble: _core.TreeEnsemble, tree_dicts, x: np.ndarray) -> np.ndarray:
    """Shapley values of v(S) = E[f | x_S] by enumerating every subset (independent of Rust)."""
    m = len(x)

    def expect(t, node, known):
        if t["left"][node] < 0:
            return t["value"][node]
        f = t["feature"][node]
        left, right = t["left"][node], t["right"][node]
        if f in known:
            xv = x[f]
            go_left = t["default_left"][node] if math.isnan(xv) else xv <= t["threshold"][node]
            return expect(t, left if go_left else right, known)
        c = t["cover"]
        return (c[left] * expect(t, left, known) + c[right] * expect(t, right, known)) / c[node]

    def v(known):
        return sum(expect(t, 0, known) for t in tree_dicts)

    phi = np.zeros(m)
    for i in range(m):
        others = [j for j in range(m) if j != i]
        for size in range(m):
            w = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            for s in itertools.combinations(others, size):
                phi[i] += w * (v(set(s) | {i}) - v(set(s)))
    return phi


def test_values_match_independent_brute_force_and_add_up():
    rng = np.random.default_rng(1)
    trees = []
    for t in range(2):
        trees.append(
            {
                "left": np.array([1, 3, 5, -1, -1, -1, -1], dtype=np.int64),
                "right": np.array([2, 4, 6, -1, -1, -1, -1], dtype=np.int64),
                "feature": np.array([0, 1 + t, 0, 0, 0, 0, 0], dtype=np.int64),
                "threshold": np.array([0.5, 0.0, 1.5, 0, 0, 0, 0]),
                "default_left": np.array([True, False, True] + [False] * 4),
                "cover": np.array([10.0, 6.0, 4.0, 2.0, 4.0, 1.0, 3.0]),
                "value": rng.normal(size=7),
                "output": 0,
            }
        )
    ensemble = _core.TreeEnsemble.from_arrays(
        trees, n_features=3, n_outputs=1, leaf_width=1, base_offset=[0.0], rules="lightgbm"
    )
    X = np.array([[0.0, -1.0, 2.0], [1.0, 1.0, np.nan], [np.nan, 0.0, 0.0], [0.5, 0.0, 3.0]])
    explainer = ferroshap.TreeExplainer(ensemble)
    values = explainer.shap_values(X)
    margin = ensemble.predict_margin(X)[:, 0]
    for r in range(len(X)):
        # 1e-12: both sides are f64 sums of a handful of terms of order 1.
        np.testing.assert_allclose(values[r], _brute_force(ensemble, trees, X[r]), atol=1e-12)
    np.testing.assert_allclose(values.sum(axis=1) + explainer.expected_value, margin, atol=1e-12)


def test_tree_path_dependent_with_data_counts_covers_from_the_data():
    rng = np.random.default_rng(7)
    tree = {
        "left": np.array([1, 3, 5, -1, -1, -1, -1], dtype=np.int64),
        "right": np.array([2, 4, 6, -1, -1, -1, -1], dtype=np.int64),
        "feature": np.array([0, 1, 2, 0, 0, 0, 0], dtype=np.int64),
        "threshold": np.array([0.5, 0.0, 1.5, 0, 0, 0, 0]),
        "default_left": np.array([True, False, True] + [False] * 4),
        "cover": np.ones(7),
        "value": rng.normal(size=7),
        "output": 0,
    }
    ensemble = _core.TreeEnsemble.from_arrays(
        [tree], n_features=3, n_outputs=1, leaf_width=1, base_offset=[0.0], rules="lightgbm"
    )
    background = rng.normal(size=(40, 3)) * 2
    background[::7, 0] = np.nan
    explainer = ferroshap.TreeExplainer(
        ensemble, background, feature_perturbation="tree_path_dependent"
    )
    # Count by hand the background rows reaching each node.
    counts = np.zeros(7)
    for row in background:
        node = 0
        counts[node] += 1
        while tree["left"][node] >= 0:
            x = row[tree["feature"][node]]
            go_left = tree["default_left"][node] if np.isnan(x) else x <= tree["threshold"][node]
            node = tree["left"][node] if go_left else tree["right"][node]
            counts[node] += 1
    counted = dict(tree, cover=counts)
    X = rng.normal(size=(5, 3))
    values = explainer.shap_values(X)
    for r in range(len(X)):
        np.testing.assert_allclose(values[r], _brute_force(ensemble, [counted], X[r]), atol=1e-12)
    # The base value is then the mean prediction over the background.
    mean_prediction = ensemble.predict_margin(background)[:, 0].mean()
    np.testing.assert_allclose(explainer.expected_value, mean_prediction, rtol=1e-12)


def test_single_and_multi_output_shapes_follow_shap():
    X = np.random.default_rng(2).normal(size=(5, 3))
    single = ferroshap.TreeExplainer(_stump_forest())
    assert single.shap_values(X).shape == (5, 3)
    # shap's path-dependent explainers give a (1,) array here (issue 17).
    assert isinstance(single.expected_value, np.ndarray)
    assert single.expected_value.shape == (1,)
    assert single.shap_values(X[0]).shape == (3,)

    multi = ferroshap.TreeExplainer(_stump_forest(n_outputs=3))
    assert multi.shap_values(X).shape == (5, 3, 3)
    assert multi.expected_value.shape == (3,)
    vector = ferroshap.TreeExplainer(_stump_forest(n_outputs=2, leaf_width=2))
    assert vector.shap_values(X).shape == (5, 3, 2)


def test_call_returns_an_explanation():
    X = np.random.default_rng(3).normal(size=(4, 3))
    explainer = ferroshap.TreeExplainer(_stump_forest())
    exp = explainer(X)
    assert isinstance(exp, ferroshap.Explanation)
    np.testing.assert_array_equal(exp.values, explainer.shap_values(X))
    np.testing.assert_array_equal(exp.base_values, np.full(4, explainer.expected_value))
    np.testing.assert_array_equal(exp.data, X)
    assert list(exp.feature_names) == ["a", "b", "c"]

    multi = ferroshap.TreeExplainer(_stump_forest(n_outputs=3))(X)
    assert multi.values.shape == (4, 3, 3) and multi.base_values.shape == (4, 3)


def test_float32_float64_and_fortran_inputs_agree():
    X = np.random.default_rng(4).normal(size=(50, 3))
    explainer = ferroshap.TreeExplainer(_stump_forest())
    ref = explainer.shap_values(X)
    np.testing.assert_array_equal(ref, explainer.shap_values(np.asfortranarray(X)))
    np.testing.assert_array_equal(ref, explainer.shap_values(X[:, :]))  # a view
    x32 = X.astype(np.float32)
    np.testing.assert_array_equal(
        explainer.shap_values(x32), explainer.shap_values(x32.astype(np.float64))
    )


def test_results_do_not_depend_on_thread_count():
    X = np.random.default_rng(5).normal(size=(300, 3))
    ensemble = _stump_forest(n_outputs=2)
    one = ferroshap.TreeExplainer(ensemble, n_jobs=1).shap_values(X)
    two = ferroshap.TreeExplainer(ensemble, n_jobs=2).shap_values(X)
    every = ferroshap.TreeExplainer(ensemble, n_jobs=-1).shap_values(X)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, every)


@pytest.mark.parametrize("n_jobs", [0, -2, 1.5, "4", True])
def test_bad_n_jobs(n_jobs):
    with pytest.raises(ValueError, match="n_jobs"):
        ferroshap.TreeExplainer(_stump_forest(), n_jobs=n_jobs)


def test_wrong_number_of_features_is_a_clear_error():
    explainer = ferroshap.TreeExplainer(_stump_forest())
    with pytest.raises(ValueError, match="4 features.*3 features"):
        explainer.shap_values(np.zeros((2, 4)))
    # Background data is named as such, not "X" (which the user may not have passed yet).
    for perturbation in ("interventional", "tree_path_dependent"):
        with pytest.raises(ValueError, match=r"^the background data \(data=\) has 2 features"):
            ferroshap.TreeExplainer(
                _stump_forest(), data=np.zeros((5, 2)), feature_perturbation=perturbation
            )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model_output": "probability"}, "needs a classifier"),
        ({"model_output": "probability", "data": np.zeros((3, 3))}, "needs a classifier"),
        ({"model_output": "log_loss"}, "only defined with background data"),
        ({"model_output": "predict_proba"}, "has no method 'predict_proba'"),
        ({"model_output": 3}, "must be a string"),
    ],
)
def test_model_outputs_this_model_cannot_give_say_why(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ferroshap.TreeExplainer(_stump_forest(), **kwargs)


def test_unknown_options_are_rejected():
    with pytest.raises(ValueError, match="feature_perturbation"):
        ferroshap.TreeExplainer(_stump_forest(), feature_perturbation="marginal")
    with pytest.raises(TypeError, match="unexpected keyword"):
        ferroshap.TreeExplainer(_stump_forest(), lnk="logit")
    # shap ignores link=; ferroshap takes its default and says what to do for others.
    ferroshap.TreeExplainer(_stump_forest(), link=None, linearize_link=None)
    with pytest.raises(TypeError, match="model_output='probability'"):
        ferroshap.TreeExplainer(_stump_forest(), link="logit")
    explainer = ferroshap.TreeExplainer(_stump_forest())
    X = np.zeros((1, 3))
    with pytest.raises(ValueError, match="tree_limit=1000 is more than"):
        explainer.shap_values(X, tree_limit=1000)


def test_gil_is_released_while_computing():
    # A Python thread keeps counting while the core works on another thread; with the GIL
    # held for the whole computation the counter could not move until it finished.
    rng = np.random.default_rng(6)
    n_nodes = 2**11 - 1
    left = np.full(n_nodes, -1, dtype=np.int64)
    right = np.full(n_nodes, -1, dtype=np.int64)
    internal = np.arange(2**10 - 1)
    left[internal], right[internal] = 2 * internal + 1, 2 * internal + 2
    tree = {
        "left": left,
        "right": right,
        "feature": rng.integers(0, 20, n_nodes).astype(np.int64),
        "threshold": rng.normal(size=n_nodes),
        "default_left": np.zeros(n_nodes, dtype=bool),
        "cover": np.ones(n_nodes),
        "value": rng.normal(size=n_nodes),
        "output": 0,
    }
    ensemble = _core.TreeEnsemble.from_arrays(
        [tree] * 10, n_features=20, n_outputs=1, leaf_width=1, base_offset=[0.0], rules="xgboost"
    )
    X = rng.normal(size=(200, 20))
    counter = [0]
    done = threading.Event()

    def count():
        while not done.is_set():
            counter[0] += 1

    worker = threading.Thread(target=count)
    worker.start()
    try:
        before = counter[0]
        ensemble.shap_values(X, n_threads=1)
        during = counter[0] - before
    finally:
        done.set()
        worker.join()
    # Holding the GIL would allow at most a handful of increments (a switch just before the
    # call); a released GIL lets the counter run for the whole computation.
    assert during > 1000


def test_path_dependent_tables_are_reported_and_small():
    # The per-model tables hold 17 + 8 Q bytes per node (Q quadrature points, here 1) against
    # the model's ~49: reported in bytes, a fraction of the model here.
    ensemble = _stump_forest()
    model_bytes = ensemble.size_bytes
    tables = ensemble.path_dependent_table_bytes()
    assert model_bytes > 0
    assert 0 < tables <= model_bytes


def test_paths_beyond_the_quadrature_tables_are_a_clear_error():
    # A chain of 300 splits on 300 distinct features: beyond the 256 that path-dependent
    # Tree SHAP computes exactly, refused by name rather than computed inaccurately.
    n = 300
    size = 2 * n + 1
    left = -np.ones(size, dtype=np.int64)
    right = -np.ones(size, dtype=np.int64)
    feature = np.zeros(size, dtype=np.int64)
    cover = np.zeros(size)
    c = 1000.0
    for i in range(n):
        left[2 * i], right[2 * i], feature[2 * i] = 2 * i + 1, 2 * i + 2, i
        cover[2 * i], cover[2 * i + 1] = c, 0.1 * c
        c *= 0.9
    cover[-1] = c
    tree = {
        "left": left,
        "right": right,
        "feature": feature,
        "threshold": np.zeros(size),
        "default_left": np.zeros(size, dtype=bool),
        "cover": cover,
        "value": np.arange(size, dtype=np.float64),
        "output": 0,
    }
    ensemble = _core.TreeEnsemble.from_arrays(
        [tree],
        n_features=n,
        n_outputs=1,
        leaf_width=1,
        base_offset=[0.0],
        rules="sklearn_hist",
        link="identity",
    )
    with pytest.raises(ferroshap.UnsupportedModelError, match="more than 256 distinct features"):
        ensemble.shap_values(np.zeros((2, n)))
