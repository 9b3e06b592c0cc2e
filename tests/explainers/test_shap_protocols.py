"""shap's object protocols that user code (and shap's own tests) rely on beyond the explainers'
values: a masker called on a mask and a row gives the model's masked input, and every
explainer saves and loads with shap's method names."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import shap

import ferroshap


def _model(A):
    """Module level, so that explainers holding it pickle."""
    A = np.asarray(A, dtype=float)
    return A[:, 0] * A[:, 1] + 2 * A[:, 2] - A[:, 3]


def _additive(A):
    A = np.asarray(A, dtype=float)
    return 2 * A[:, 0] + A[:, 1] ** 2


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(0).normal(size=(40, 4))


@pytest.mark.parametrize("kind", ["Independent", "Partition"])
@pytest.mark.parametrize("frame", [False, True])
def test_masker_call_gives_shaps_masked_rows(data, kind, frame):
    bg = pd.DataFrame(data, columns=list("abcd")) if frame else data
    ours = getattr(ferroshap.maskers, kind)(bg)
    theirs = getattr(shap.maskers, kind)(bg)
    x = data[7] + 10.0
    mask = np.array([True, False, False, True])
    (rows,) = ours(mask, x)
    expected = theirs(mask, x)
    expected = expected[0] if isinstance(expected, tuple) else expected
    assert isinstance(rows, pd.DataFrame) == frame
    np.testing.assert_array_equal(np.asarray(rows), np.asarray(expected))
    assert ours.shape == theirs.shape


def test_masker_call_bad_input(data):
    masker = ferroshap.maskers.Independent(data)
    with pytest.raises(ValueError, match="mask must be 4 booleans"):
        masker(np.array([1, 0, 1, 0]), data[0])
    with pytest.raises(ValueError, match="x has 3 features"):
        masker(np.ones(4, dtype=bool), data[0, :3])
    with pytest.raises(ValueError, match="one row"):
        masker(np.ones(4, dtype=bool), data[:2])


@pytest.mark.parametrize(
    "build",
    [
        lambda X: ferroshap.PermutationExplainer(_model, X, seed=1),
        lambda X: ferroshap.ExactExplainer(_model, X),
        lambda X: ferroshap.SamplingExplainer(_model, X, seed=1),
        lambda X: ferroshap.PartitionExplainer(_model, ferroshap.maskers.Partition(X)),
        lambda X: ferroshap.AdditiveExplainer(_additive, X),
        lambda X: ferroshap.LinearExplainer((np.array([1.0, -2.0, 0.5, 3.0]), 0.25), X),
    ],
    ids=["permutation", "exact", "sampling", "partition", "additive", "linear"],
)
def test_save_and_load_round_trip(data, build):
    explainer = build(data[:20])
    buffer = io.BytesIO()
    explainer.save(buffer)
    buffer.seek(0)
    loaded = type(explainer).load(buffer)
    assert type(loaded) is type(explainer)
    rows = data[20:23]
    a, b = explainer(rows), loaded(rows)
    np.testing.assert_array_equal(a.values, b.values)  # same model, same settings: identical
    np.testing.assert_array_equal(a.base_values, b.base_values)
    buffer.seek(0)
    other = (
        ferroshap.ExactExplainer
        if not isinstance(explainer, ferroshap.ExactExplainer)
        else ferroshap.PermutationExplainer
    )
    with pytest.raises(ValueError, match="this file holds a"):
        other.load(buffer)


def test_save_refuses_an_unpicklable_model(data):
    explainer = ferroshap.PermutationExplainer(lambda A: np.asarray(A)[:, 0], data[:10])
    with pytest.raises(TypeError, match="cannot be pickled"):
        explainer.save(io.BytesIO())


def test_sampling_nsamples_at_construction_is_the_default_budget(data):
    explainer = ferroshap.SamplingExplainer(_model, data[:10], seed=2, nsamples=40)
    default = explainer.shap_values(data[10:12], silent=True)
    np.testing.assert_array_equal(
        default, explainer.shap_values(data[10:12], nsamples=40, silent=True)
    )
    assert not np.array_equal(
        default, explainer.shap_values(data[10:12], nsamples=400, silent=True)
    )
    with pytest.raises(ValueError, match="nsamples"):
        ferroshap.SamplingExplainer(_model, data[:10], nsamples=-1)


def test_masker_invariants_scalar_masks_and_shap_attributes(data):
    from ferroshap.utils._exceptions import DimensionError

    masker = ferroshap.maskers.Independent(data[:5])
    x = data[2].copy()
    x[1] += 1.0
    inv = masker.invariants(x)
    np.testing.assert_array_equal(inv, shap.maskers.Independent(data[:5]).invariants(x))
    assert inv[2].tolist() == [True, False, True, True]
    (all_x,) = masker(True, x)
    np.testing.assert_array_equal(all_x, np.tile(x, (5, 1)))
    np.testing.assert_array_equal(masker(False, x)[0], data[:5])
    assert masker.clustering is None and masker.partition is None
    with pytest.raises(DimensionError, match="x has 3 features"):
        masker.invariants(x[:3])
    assert issubclass(DimensionError, ValueError)


def test_masker_mean_dict_and_subsampling_notice(data, caplog):
    mean = data.mean(axis=0)
    masker = ferroshap.maskers.Independent({"mean": mean, "cov": np.eye(4)})
    np.testing.assert_array_equal(masker.data, mean[None, :])
    with caplog.at_level("WARNING", logger="ferroshap"):
        ferroshap.maskers.Independent(data, max_samples=10)
    assert [r.getMessage() for r in caplog.records] == [
        "background data of 40 rows subsampled to max_samples=10 rows"
    ]


def test_single_tree_from_lightgbm_dump_and_in_a_model_dict(data):
    import lightgbm

    from ferroshap.explainers._tree import SingleTree

    y = data[:, 0] + (data[:, 1] > 0)
    model = lightgbm.LGBMRegressor(n_estimators=5, num_leaves=4, min_child_samples=3, verbose=-1)
    model.fit(data, y)
    dump = model.booster_.dump_model()
    trees = [SingleTree(t) for t in dump["tree_info"]]
    root = dump["tree_info"][0]["tree_structure"]
    assert trees[0].node_sample_weight[0] == root["internal_count"]
    assert trees[0].features[0] == root["split_feature"]
    # The hand-converted trees explain exactly like the LightGBM model itself (float64 sums
    # of the same leaf values: 1e-12).
    ours = ferroshap.TreeExplainer({"trees": trees, "n_features": 4}).shap_values(data[:5])
    native = ferroshap.TreeExplainer(model).shap_values(data[:5])
    np.testing.assert_allclose(ours, native, atol=1e-12)
    with pytest.raises(TypeError, match="reads a dict"):
        SingleTree([1, 2])


def test_impute_masker_is_the_correlation_dependent_linear_explainer(data):
    from ferroshap.utils._exceptions import InvalidFeaturePerturbationError

    coef = np.array([1.0, -2.0, 0.5, 3.0])
    by_masker = ferroshap.LinearExplainer((coef, 0.25), ferroshap.maskers.Impute(data), seed=4)
    by_option = ferroshap.LinearExplainer(
        (coef, 0.25), data, feature_perturbation="correlation_dependent", seed=4
    )
    assert by_masker.feature_perturbation == "correlation_dependent"
    np.testing.assert_array_equal(by_masker.shap_values(data[:3]), by_option.shap_values(data[:3]))
    # shap's tied pair: two features correlated at 0.999999 share the value of one.
    tied = np.array([[1, 0.999999, 0], [0.999999, 1, 0], [0, 0, 1]])
    pair = ferroshap.LinearExplainer(
        (np.array([1.0, 0.0, 0.0]), 0.0),
        ferroshap.maskers.Impute({"mean": np.zeros(3), "cov": tied}),
        seed=0,
    )
    np.testing.assert_allclose(pair.shap_values(np.ones((1, 3))), [[0.5, 0.5, 0.0]], atol=0.05)
    alone = ferroshap.LinearExplainer(
        (np.array([1.0, 0.0, 0.0]), 0.0),
        ferroshap.maskers.Independent({"mean": np.zeros(3), "cov": tied}),
    )
    np.testing.assert_allclose(alone.shap_values(np.ones((1, 3))), [[1.0, 0.0, 0.0]])
    with pytest.raises(InvalidFeaturePerturbationError, match="must be one of"):
        ferroshap.LinearExplainer((coef, 0.0), data, feature_perturbation="nonsense")
    with pytest.raises(NotImplementedError, match="cannot use an Impute masker"):
        ferroshap.PermutationExplainer(_model, ferroshap.maskers.Impute(data))


def test_linear_warns_on_a_singular_background_covariance(data):
    with pytest.warns(UserWarning, match="covariance is singular"):
        ferroshap.LinearExplainer(
            (np.ones(4), 0.0), data[:3], feature_perturbation="correlation_dependent"
        )


def test_tree_explainer_model_is_shaps_view_of_the_trees(data):
    import pickle

    import xgboost

    y = (data[:, 0] + data[:, 1] > 0).astype(int) + (data[:, 2] > 1)
    model = xgboost.XGBClassifier(n_estimators=8, max_depth=3).fit(data, y)
    explainer = ferroshap.TreeExplainer(model)
    view = explainer.model
    # float32 margins inside XGBoost against float64 sums here: 1e-5.
    np.testing.assert_allclose(
        view.predict(data), model.predict(data, output_margin=True), atol=1e-5
    )
    np.testing.assert_allclose(view.predict(data[0]), view.predict(data[:1])[0])
    assert view.num_outputs == 3 and view.tree_limit is None
    assert view.original_model is model and list(view.classes_) == [0, 1, 2]
    limited = view.predict(data[:4], tree_limit=2)
    first_two = model.predict(data[:4], output_margin=True, iteration_range=(0, 2))
    np.testing.assert_allclose(limited, first_two, atol=1e-5)
    with pytest.raises(ValueError, match="raw output only"):
        view.predict(data, output="probability")
    with pytest.raises(AttributeError, match="original_model"):
        view.no_such_attribute  # noqa: B018
    restored = pickle.loads(pickle.dumps(explainer))
    assert restored.model.original_model is None
    np.testing.assert_array_equal(restored.model.predict(data[:3]), view.predict(data[:3]))


@pytest.mark.parametrize(
    "a, b",
    [
        (0, 0),
        (0, 1),
        (0, np.nan),
        (np.nan, np.nan),
        ("0", "0"),
        ("A", "B"),
        ("0", None),
        (1.5, "x"),
    ],
)
def test_kernel_not_equal_is_shaps(a, b):
    assert ferroshap.KernelExplainer.not_equal(a, b) == shap.KernelExplainer.not_equal(a, b)
