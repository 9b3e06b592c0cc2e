"""TreeExplainer takes the inputs and models shap users pass (issue 17, items 2 and 3),
checked against shap on the same call.

Tolerances: scikit-learn models and dicts are computed in float64 by both (1e-10 on values
of order 1; measured below 1e-14). XGBoost values from shap come from XGBoost's own
float32 ``pred_contribs``, so 1e-5 (float32 rounding of sums of about ten leaf values).
"""

from __future__ import annotations

import warnings

import lightgbm as lgb
import numpy as np
import pytest
import scipy.sparse
import shap
import xgboost as xgb
from sklearn.ensemble import IsolationForest, RandomForestRegressor
from sklearn.linear_model import LinearRegression

import ferroshap
from ferroshap.explainers import _tree_inputs

EXACT = 1e-10
FLOAT32 = 1e-5


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def sparse_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    X[rng.random(X.shape) < 0.5] = 0.0
    y = X[:, 0] + X[:, 1] * X[:, 2] - X[:, 3]
    return X, scipy.sparse.csr_matrix(X), y


def test_sparse_rows_match_dense_rows_in_blocks(sparse_data, monkeypatch):
    X, csr, y = sparse_data
    forest = RandomForestRegressor(n_estimators=4, max_depth=4, random_state=0).fit(csr, y)
    explainer = ferroshap.TreeExplainer(forest)
    dense = explainer.shap_values(X[:30])
    # shap 0.51 fails on sparse rows for scikit-learn models; its dense values are ours.
    np.testing.assert_allclose(dense, shap.TreeExplainer(forest).shap_values(X[:30]), atol=EXACT)
    # Blocks of 3 rows (15 values): 10 blocks, each densified on its own.
    monkeypatch.setattr(_tree_inputs, "_BLOCK_VALUES", 15)
    for rows in (csr[:30], csr[:30].tocsc()):
        np.testing.assert_allclose(explainer.shap_values(rows), dense, atol=EXACT)
    explanation = explainer(csr[:30])
    np.testing.assert_allclose(explanation.values, dense, atol=EXACT)
    np.testing.assert_array_equal(explanation.data, X[:30])
    assert explanation.base_values.shape == (30,)
    inter = explainer.shap_interaction_values(csr[:7])
    np.testing.assert_allclose(inter, explainer.shap_interaction_values(X[:7]), atol=EXACT)
    joined = explainer(csr[:7], interactions=True)
    assert joined.axis_names == explainer(X[:7], interactions=True).axis_names
    np.testing.assert_allclose(joined.values, inter, atol=EXACT)


def test_xgboost_reads_absent_entries_as_missing(sparse_data):
    X, csr, y = sparse_data
    model = xgb.XGBRegressor(n_estimators=8, max_depth=3).fit(csr, y)
    ours = ferroshap.TreeExplainer(model)
    expected = _quiet(shap.TreeExplainer(model).shap_values, csr[:20])
    np.testing.assert_allclose(ours.shap_values(csr[:20]), expected, atol=FLOAT32)
    # Absent is not 0 for XGBoost: the dense zeros route differently.
    assert not np.allclose(ours.shap_values(X[:20]), expected, atol=FLOAT32)
    dmatrix = xgb.DMatrix(csr[:20])
    np.testing.assert_allclose(ours.shap_values(dmatrix), expected, atol=FLOAT32)
    theirs = _quiet(shap.TreeExplainer(model), dmatrix)
    explanation = ours(dmatrix)
    assert explanation.values.shape == theirs.values.shape
    np.testing.assert_allclose(explanation.values, theirs.values, atol=FLOAT32)
    # LightGBM reads absent entries as 0, like scikit-learn.
    booster = lgb.LGBMRegressor(n_estimators=5, verbose=-1).fit(csr, y)
    np.testing.assert_allclose(
        ferroshap.TreeExplainer(booster).shap_values(csr[:20]),
        ferroshap.TreeExplainer(booster).shap_values(X[:20]),
        atol=EXACT,
    )


def test_object_arrays_with_none_are_missing(sparse_data):
    X, _, y = sparse_data
    model = xgb.XGBRegressor(n_estimators=5, max_depth=3).fit(X, y)
    objects = X[:6].astype(object)
    objects[0, 1] = None
    objects[3, 4] = None
    with_nan = X[:6].copy()
    with_nan[0, 1] = with_nan[3, 4] = np.nan
    explainer = ferroshap.TreeExplainer(model)
    np.testing.assert_array_equal(explainer.shap_values(objects), explainer.shap_values(with_nan))
    np.testing.assert_allclose(
        explainer.shap_values(objects),
        _quiet(shap.TreeExplainer(model).shap_values, with_nan),
        atol=FLOAT32,
    )
    objects[2, 2] = "seven"
    with pytest.raises(TypeError, match="dtype object"):
        explainer.shap_values(objects)


def test_maskers_as_background(sparse_data):
    X, _, y = sparse_data
    forest = RandomForestRegressor(n_estimators=4, max_depth=4, random_state=0).fit(X, y)
    masker = shap.maskers.Independent(X[:40])
    ours = ferroshap.TreeExplainer(forest, masker)
    assert ours.feature_perturbation == "interventional"
    np.testing.assert_allclose(
        ours.shap_values(X[50:60]),
        ferroshap.TreeExplainer(forest, X[:40]).shap_values(X[50:60]),
        atol=EXACT,
    )
    theirs = shap.TreeExplainer(forest, masker)
    # shap's interventional routing reads thresholds in float32 (rows exactly at a
    # threshold may differ: not the case on these normal draws).
    np.testing.assert_allclose(ours.shap_values(X[50:60]), theirs.shap_values(X[50:60]), atol=1e-6)
    np.testing.assert_allclose(ours.expected_value, theirs.expected_value, atol=EXACT)


def _forest_dict(forest, input_dtype=None):
    n = len(forest.estimators_)
    model = {
        "trees": [
            {
                "children_left": e.tree_.children_left,
                "children_right": e.tree_.children_right,
                "children_default": e.tree_.children_right,
                "features": e.tree_.feature,
                "thresholds": e.tree_.threshold,
                "values": e.tree_.value[:, 0, :] / n,
                "node_sample_weight": e.tree_.weighted_n_node_samples,
            }
            for e in forest.estimators_
        ],
        "base_offset": 0.0,
    }
    if input_dtype is not None:
        model["input_dtype"] = input_dtype
    return model


def test_shaps_dict_format(sparse_data):
    X, _, y = sparse_data
    # Shallow trees on 5 features leave feature 4 unsplit: X's width decides.
    forest = RandomForestRegressor(n_estimators=3, max_depth=2, random_state=0).fit(X, y)
    model = _forest_dict(forest, np.float32)
    ours = ferroshap.TreeExplainer(model)
    values = ours.shap_values(X[:10])
    assert values.shape == (10, 5)
    np.testing.assert_allclose(values, shap.TreeExplainer(model).shap_values(X[:10]), atol=EXACT)
    np.testing.assert_allclose(
        values, ferroshap.TreeExplainer(forest).shap_values(X[:10]), atol=EXACT
    )
    np.testing.assert_allclose(
        values.sum(axis=1) + ours.expected_value, forest.predict(X[:10]), atol=EXACT
    )
    interventional = ferroshap.TreeExplainer(_forest_dict(forest), data=X[:20])
    np.testing.assert_allclose(
        interventional.shap_values(X[:10]),
        shap.TreeExplainer(_forest_dict(forest), data=X[:20]).shap_values(X[:10]),
        atol=1e-6,  # shap's interventional routing rounds thresholds to float32
    )
    with pytest.raises(ValueError, match="children_left"):
        ferroshap.TreeExplainer({"trees": [{"values": np.zeros(1)}]})


def test_isolation_forest_explains_the_mean_path_length(sparse_data):
    X, _, _ = sparse_data
    model = IsolationForest(n_estimators=12, max_features=3, random_state=0).fit(X)
    ours = ferroshap.TreeExplainer(model)
    theirs = shap.TreeExplainer(model)
    values = ours.shap_values(X[:15])
    np.testing.assert_allclose(values, theirs.shap_values(X[:15]), atol=EXACT)
    np.testing.assert_allclose(ours.expected_value, theirs.expected_value, atol=EXACT)
    # score_samples = -2 ** (-E[h(x)] / c(max_samples)): the values add up to E[h(x)].
    n = model.max_samples_
    c = 2.0 * (np.log(n - 1.0) + np.euler_gamma) - 2.0 * (n - 1.0) / n
    mean_path = -np.log2(-model.score_samples(X[:15])) * c
    np.testing.assert_allclose(values.sum(axis=1) + ours.expected_value, mean_path, atol=1e-9)


def test_unsupported_models_raise_invalid_model_error():
    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    with pytest.raises(ferroshap.InvalidModelError, match="LinearRegression") as ours:
        ferroshap.TreeExplainer(model)
    with pytest.raises(shap.utils._exceptions.InvalidModelError) as theirs:
        shap.TreeExplainer(model)
    # The same name and base as shap's (and a TypeError, as ferroshap raised before).
    assert type(theirs.value).__name__ in [c.__name__ for c in type(ours.value).__mro__]
    assert isinstance(ours.value, ValueError) and isinstance(ours.value, TypeError)
    assert "KernelExplainer" in str(ours.value)


def test_interventional_without_data_warns_and_falls_back(sparse_data):
    X, _, y = sparse_data
    forest = RandomForestRegressor(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    with pytest.warns(FutureWarning, match="needs background data") as ours:
        explainer = ferroshap.TreeExplainer(forest, feature_perturbation="interventional")
    with pytest.warns(FutureWarning) as theirs:
        reference = shap.TreeExplainer(forest, feature_perturbation="interventional")
    assert len(ours) == 1 and len(theirs) >= 1
    assert explainer.feature_perturbation == reference.feature_perturbation
    np.testing.assert_allclose(
        explainer.shap_values(X[:5]), reference.shap_values(X[:5]), atol=EXACT
    )


def test_one_row(sparse_data):
    X, _, y = sparse_data
    forest = RandomForestRegressor(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    ours = ferroshap.TreeExplainer(forest, X[:20])
    theirs = shap.TreeExplainer(forest, X[:20])
    values = ours.shap_values(X[30])
    assert values.shape == theirs.shap_values(X[30]).shape == (5,)
    explanation, reference = ours(X[30]), theirs(X[30])
    assert explanation.values.shape == reference.values.shape
    np.testing.assert_allclose(explanation.values, reference.values, atol=1e-6)
    # shap 0.51 tiles the base value once per feature here (shape (5,)); ferroshap keeps
    # the row's one base value, a scalar, which waterfall plots.
    assert np.ndim(explanation.base_values) == 0
    np.testing.assert_allclose(explanation.base_values, reference.base_values[0], atol=EXACT)
    assert type(ours.expected_value) is type(theirs.expected_value) is np.float64
    np.testing.assert_allclose(ours.expected_value, theirs.expected_value, atol=EXACT)


def test_save_and_load(sparse_data, tmp_path):
    X, _, y = sparse_data
    model = xgb.XGBClassifier(n_estimators=5, max_depth=3).fit(X, y > 0)
    explainer = ferroshap.TreeExplainer(model, X[:20], model_output="predict_proba")
    path = tmp_path / "tree.bin"
    explainer.save(path)
    loaded = ferroshap.TreeExplainer.load(str(path))
    np.testing.assert_array_equal(loaded.shap_values(X[:5]), explainer.shap_values(X[:5]))
    assert loaded(X[:5]).output_names == explainer(X[:5]).output_names
    with pytest.raises(ValueError, match="holds a TreeExplainer, not a KernelExplainer"):
        ferroshap.KernelExplainer.load(path)


@pytest.mark.parametrize("with_data", [False, True], ids=["no data", "data"])
def test_expected_value_has_shaps_type(sparse_data, with_data):
    # shap 0.51 (and 0.54, issue 17): a (1,) array from path-dependent explainers without
    # data (so expected_value[0] works), a numpy float with data; (K,) for K outputs.
    X, _, y = sparse_data
    data = X[:20] if with_data else None
    for model in (
        RandomForestRegressor(n_estimators=3, max_depth=3, random_state=0).fit(X, y),
        xgb.XGBRegressor(n_estimators=3, max_depth=3).fit(X, y),
        xgb.XGBClassifier(n_estimators=3, max_depth=3).fit(X, y > 0),
    ):
        ours, theirs = ferroshap.TreeExplainer(model, data), shap.TreeExplainer(model, data)
        assert type(ours.expected_value) is type(theirs.expected_value)
        assert np.shape(ours.expected_value) == np.shape(theirs.expected_value)
        # shap's XGBoost base value without data is corrected by its first call, which also
        # turns it into a scalar (shap #4414): types are compared before, values after.
        theirs.shap_values(X[:1])
        # float32 trees: shap's base value is summed in float32 (1e-6 of its size).
        np.testing.assert_allclose(ours.expected_value, theirs.expected_value, rtol=1e-5)
        row = ours(X[0])  # one 1-D row: its one base value, as for 2-D rows
        assert np.ndim(row.base_values) == 0
        np.testing.assert_allclose(row.base_values, np.ravel(ours.expected_value)[0])


def test_gpu_tree_explainer_name_runs_tree_shap_on_the_cpu(tmp_path):
    """shap's GPUTreeExplainer name: TreeExplainer's values (bit for bit: the same code),
    interventional too, and a save/load round trip keeps the class."""
    from sklearn.datasets import load_diabetes

    import ferroshap

    X, y = load_diabetes(return_X_y=True)
    model = xgb.XGBRegressor(n_estimators=20, max_depth=4).fit(X, y)
    for kwargs in ({}, {"data": X[:50]}):
        gpu = ferroshap.GPUTreeExplainer(model, **kwargs)
        cpu = ferroshap.TreeExplainer(model, **kwargs)
        np.testing.assert_array_equal(gpu.shap_values(X[:20]), cpu.shap_values(X[:20]))
        assert gpu.expected_value == cpu.expected_value
    np.testing.assert_array_equal(
        gpu.shap_interaction_values(X[:5]), cpu.shap_interaction_values(X[:5])
    )
    assert ferroshap.explainers.GPUTree is ferroshap.GPUTreeExplainer
    gpu.save(tmp_path / "gpu.bin")
    loaded = ferroshap.GPUTreeExplainer.load(tmp_path / "gpu.bin")
    assert type(loaded) is ferroshap.GPUTreeExplainer


def test_a_model_file_path_is_read_not_refused(tmp_path):
    """TreeExplainer("model.json") reads the file (as TreeExplainer.from_file) instead of
    calling a str an unsupported model; a corrupt file names the parse problem."""
    from sklearn.datasets import load_diabetes

    import ferroshap

    X, y = load_diabetes(return_X_y=True)
    model = xgb.XGBRegressor(n_estimators=10, max_depth=3).fit(X, y)
    path = tmp_path / "model.json"
    model.save_model(path)
    for source in (str(path), path):
        np.testing.assert_array_equal(
            ferroshap.TreeExplainer(source).shap_values(X[:5]),
            ferroshap.TreeExplainer(model).shap_values(X[:5]),
        )
    bad = tmp_path / "bad.json"
    bad.write_text(path.read_text()[:300])
    with pytest.raises(ferroshap.ModelFormatError, match="truncated"):
        ferroshap.TreeExplainer(str(bad))
    with pytest.raises(FileNotFoundError):
        ferroshap.TreeExplainer(str(tmp_path / "missing.json"))
