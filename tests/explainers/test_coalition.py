"""CoalitionExplainer (Winter values over a user-given hierarchy) against shap 0.51's
CoalitionExplainer on real models, against ferroshap's Exact (flat hierarchy) and Partition /
exact Owen values (binary hierarchy), and its refusal of malformed hierarchies.

Tolerances: shap and ferroshap sum the same model outputs (the model's own float32/float64
predictions on the same masked rows) with the same weights in another order, so values agree
to rounding: 1e-8 absolute on standardised outputs of order 1 (observed ~1e-15). Flat and
binary hierarchies run ferroshap's other estimators over the same coalition values, and
additivity is a telescoping sum of them: 1e-10. The brute-force Winter oracle (orderings that
keep every group together) lives in the Rust tests (crates/ferroshap/tests/it/winter.rs).
"""

from __future__ import annotations

import io
import pickle
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
import shap
import xgboost
from sklearn import datasets, ensemble

import ferroshap
from ferroshap.explainers._coalition import create_partition_hierarchy


def shap_values(explainer, rows):
    """shap's values. Its CoalitionExplainer converts one-element arrays with ``float()``,
    which numpy deprecates, and its masker hands a model fitted on a frame plain arrays, which
    scikit-learn warns about: both errors under this suite's warnings-as-errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return explainer(rows)


needs_shap_coalition = pytest.mark.skipif(
    not hasattr(shap, "CoalitionExplainer"),
    reason="shap's CoalitionExplainer appeared in shap 0.47; the installed shap is older",
)

DIABETES_TREE = {
    "Demographics": ["age", "sex"],
    "Body": ["bmi", "bp"],
    "Serum": {"Lipids": ["s1", "s2", "s3", "s4"], "Other": ["s5", "s6"]},
}


@pytest.fixture(scope="module")
def diabetes():
    """An XGBoost regressor on standardised diabetes data (outputs of order 1)."""
    data = datasets.load_diabetes(as_frame=True)
    X = data.data
    y = (data.target - data.target.mean()) / data.target.std()
    model = xgboost.XGBRegressor(
        n_estimators=30, max_depth=3, tree_method="exact", seed=0, n_jobs=1
    )
    model.fit(X.to_numpy(), y.to_numpy())
    return X, model


@pytest.fixture(scope="module")
def wine():
    """A random forest classifier on the wine data (three classes, float64 probabilities)."""
    data = datasets.load_wine(as_frame=True)
    model = ensemble.RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0)
    model.fit(data.data, data.target.to_numpy())
    return data.data, model


WINE_TREE = {
    "Acidity": ["malic_acid", "ash", "alcalinity_of_ash"],
    "Phenols": {
        "Flavour": ["total_phenols", "flavanoids", "nonflavanoid_phenols"],
        "Colour": ["proanthocyanins", "color_intensity", "hue"],
    },
    "Other": ["alcohol", "magnesium", "od280/od315_of_diluted_wines", "proline"],
}


@needs_shap_coalition
def test_equals_shaps_values_on_a_nested_hierarchy(diabetes):
    X, model = diabetes
    background, rows = X.to_numpy()[:30], X.to_numpy()[100:102]

    def twice(rows):
        # shap 0.51 cannot explain a single output under numpy >= 2.3 (it calls float() on
        # one-element arrays); the same output twice gives its values for it.
        return np.column_stack([model.predict(rows)] * 2)

    theirs = shap.maskers.Partition(background)
    theirs.feature_names = list(X.columns)
    want = shap_values(shap.CoalitionExplainer(twice, theirs, partition_tree=DIABETES_TREE), rows)
    ours = ferroshap.maskers.Partition(background)
    ours.feature_names = list(X.columns)
    # native=False: shap calls XGBoost's float32 predict, so ferroshap does too.
    explainer = ferroshap.CoalitionExplainer(
        model.predict, ours, partition_tree=DIABETES_TREE, native=False
    )
    got = explainer(rows, silent=True)
    assert got.values.shape == (2, 10)
    np.testing.assert_allclose(got.values, want.values[..., 0], atol=1e-8)
    np.testing.assert_allclose(got.base_values, want.base_values[:, 0], atol=1e-8)
    assert got.feature_names == list(X.columns)
    # shap's own masker (its rows and the names set on it) gives the same values.
    from_shap_masker = ferroshap.explainers.Coalition(
        model.predict, theirs, partition_tree=DIABETES_TREE, native=False
    )
    np.testing.assert_allclose(from_shap_masker(rows, silent=True).values, got.values, atol=1e-12)
    # Efficiency: the values add up to the prediction (float32 predictions, summed in f64).
    total = got.base_values + got.values.sum(axis=1)
    np.testing.assert_allclose(total, model.predict(rows), atol=1e-6)


@needs_shap_coalition
def test_multi_output_equals_shap_and_the_trees_stand_in_for_the_model(wine):
    X, model = wine
    background, rows = X.iloc[:25], X.iloc[60:62]
    theirs = shap.maskers.Partition(background)
    want = shap_values(
        shap.CoalitionExplainer(model.predict_proba, theirs, partition_tree=WINE_TREE), rows
    )
    explainer = ferroshap.CoalitionExplainer(
        model.predict_proba, background, partition_tree=WINE_TREE
    )
    # The forest's probabilities are float64, so its converted trees evaluate the game.
    assert explainer.native_model is not None
    got = explainer(rows, silent=True)
    assert got.values.shape == (2, 13, 3)
    np.testing.assert_allclose(got.values, want.values, atol=1e-8)
    np.testing.assert_allclose(got.base_values, want.base_values, atol=1e-8)
    called = ferroshap.CoalitionExplainer(
        model.predict_proba, background, partition_tree=WINE_TREE, native=False
    )(rows, silent=True)
    np.testing.assert_allclose(got.values, called.values, atol=1e-10)
    proba = model.predict_proba(rows)
    np.testing.assert_allclose(got.base_values + got.values.sum(axis=1), proba, atol=1e-10)
    # outputs= explains those outputs only: the same values as indexing the full run.
    picked = explainer(rows, outputs=[2, 0], silent=True)
    np.testing.assert_array_equal(picked.values, got.values[..., [2, 0]])


@needs_shap_coalition
def test_logit_link_equals_shap(wine):
    X, model = wine

    def proba(rows):
        # Kept inside (0, 1): the forest gives exact zeros, whose logit is infinite.
        return 0.05 + 0.9 * model.predict_proba(rows)

    background, rows = X.iloc[:20], X.iloc[70:72]
    # shap 0.51 cannot linearize the link here (its masked model drops the index of the
    # empty coalition and crashes), so both take the logit of the mean output.
    theirs = shap.maskers.Partition(background)
    want = shap_values(
        shap.CoalitionExplainer(
            proba, theirs, partition_tree=WINE_TREE, link=shap.links.logit, linearize_link=False
        ),
        rows,
    )
    got = ferroshap.CoalitionExplainer(
        proba, background, partition_tree=WINE_TREE, link="logit", linearize_link=False
    )(rows, silent=True)
    np.testing.assert_allclose(got.values, want.values, atol=1e-8)
    np.testing.assert_allclose(got.base_values, want.base_values, atol=1e-8)
    logit = np.log(proba(rows) / (1 - proba(rows)))
    np.testing.assert_allclose(got.base_values + got.values.sum(axis=1), logit, atol=1e-10)
    # Linearized (ferroshap's default, as shap's): a flat hierarchy gives Exact's values.
    flat = ferroshap.CoalitionExplainer(
        proba, background, partition_tree=list(X.columns), link="logit"
    )
    exact = ferroshap.ExactExplainer(proba, background, link="logit")
    np.testing.assert_allclose(
        flat(rows, silent=True).values, exact(rows, silent=True).values, atol=1e-10
    )


def test_a_flat_hierarchy_gives_the_exact_shapley_values(diabetes):
    X, model = diabetes
    background, rows = X.iloc[:20], X.iloc[200:203]
    flat = {name: name for name in X.columns}  # shap's test writes the flat tree this way
    got = ferroshap.CoalitionExplainer(model.predict, background, partition_tree=flat)(
        rows, silent=True
    )
    want = ferroshap.ExactExplainer(model.predict, background)(rows, silent=True)
    np.testing.assert_allclose(got.values, want.values, atol=1e-10)
    as_list = ferroshap.CoalitionExplainer(
        model.predict, background, partition_tree=list(X.columns)
    )
    np.testing.assert_allclose(as_list(rows, silent=True).values, got.values, atol=1e-10)


def test_a_binary_hierarchy_gives_the_exact_owen_values(diabetes):
    X, model = diabetes
    background, rows = X.iloc[:20], X.iloc[300:303]
    linkage = ferroshap.utils.partition_tree(background)
    tree = create_partition_hierarchy(linkage, list(X.columns))
    got = ferroshap.CoalitionExplainer(model.predict, background, partition_tree=tree)(
        rows, silent=True
    )
    masker = ferroshap.maskers.Partition(background, clustering=linkage)
    owen = ferroshap.ExactExplainer(model.predict, masker)(rows, silent=True)
    partition = ferroshap.PartitionExplainer(model.predict, masker)(
        rows, max_evals=10_000, silent=True
    )
    np.testing.assert_allclose(got.values, owen.values, atol=1e-10)
    np.testing.assert_allclose(got.values, partition.values, atol=1e-10)
    # Grouping matters: the Owen values are not the Shapley values here.
    shapley = ferroshap.ExactExplainer(model.predict, background)(rows, silent=True)
    assert np.abs(got.values - shapley.values).max() > 1e-3


def test_numpy_pandas_polars_and_one_row_agree(diabetes):
    X, model = diabetes
    names = list(X.columns)
    background, rows = X.iloc[:15], X.iloc[50:53]
    from_frame = ferroshap.CoalitionExplainer(
        model.predict, background, partition_tree=DIABETES_TREE
    )
    want = from_frame(rows, silent=True)
    from_numpy = ferroshap.CoalitionExplainer(
        model.predict, background.to_numpy(), partition_tree=DIABETES_TREE, feature_names=names
    )
    from_polars = ferroshap.CoalitionExplainer(
        model.predict, pl.from_pandas(background), partition_tree=DIABETES_TREE
    )
    for explainer, data in [
        (from_numpy, rows.to_numpy()),
        (from_polars, pl.from_pandas(rows)),
        (from_frame, rows.to_numpy()),
    ]:
        got = explainer(data, silent=True)
        np.testing.assert_allclose(got.values, want.values, atol=1e-12)
        assert got.feature_names == names
    one = from_frame(rows.to_numpy()[0], silent=True)
    assert one.values.shape == (10,)
    np.testing.assert_allclose(one.values, want.values[0], atol=1e-12)
    assert np.ndim(one.base_values) == 0


def test_weighted_background_and_other_tree_forms(diabetes):
    X, model = diabetes
    names = list(X.columns)
    summary = ferroshap.kmeans(X.iloc[:60], 6)
    tree = ["age", "sex", {"Body": ["bmi", "bp"], "Serum": [f"s{j}" for j in range(1, 7)]}]
    got = ferroshap.CoalitionExplainer(
        model.predict, summary, partition_tree=tree, feature_names=names
    )(X.iloc[:2], silent=True)
    # The cluster sizes weight the background: the base value is the weighted mean output.
    weights = summary.weights / summary.weights.sum()
    base = weights @ model.predict(summary.data)
    np.testing.assert_allclose(got.base_values, base, atol=1e-6)
    total = got.base_values + got.values.sum(axis=1)
    np.testing.assert_allclose(total, model.predict(X.iloc[:2].to_numpy()), atol=1e-6)
    # One feature: a lone name is its hierarchy (create_partition_hierarchy's output then).
    one = ferroshap.CoalitionExplainer(
        lambda rows: 2.0 * rows[:, 0], np.zeros((3, 1)), partition_tree="x", feature_names=["x"]
    )
    np.testing.assert_allclose(one(np.array([[1.5]]), silent=True).values, [[3.0]])


def test_save_load_and_pickle_keep_the_hierarchy(diabetes):
    X, model = diabetes
    explainer = ferroshap.CoalitionExplainer(model, X.iloc[:10], partition_tree=DIABETES_TREE)
    rows = X.iloc[20:22]
    want = explainer(rows, silent=True).values
    buffer = io.BytesIO()
    explainer.save(buffer)
    buffer.seek(0)
    loaded = ferroshap.CoalitionExplainer.load(buffer)
    np.testing.assert_array_equal(loaded(rows, silent=True).values, want)
    copied = pickle.loads(pickle.dumps(explainer))
    np.testing.assert_array_equal(copied(rows, silent=True).values, want)
    assert copied.partition_tree == DIABETES_TREE


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"A": ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s9"]}, "'s9'"),
        ({"A": ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5"]}, r"leaves out .*'s6'"),
        (
            {"A": ["age", "sex", "bmi", "bp", "s1"], "B": ["s1", "s2", "s3", "s4", "s5", "s6"]},
            "'s1' twice: in group A and in group B",
        ),
        (
            {"A": ["age", "age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]},
            "'age' twice",
        ),
        ({**DIABETES_TREE, "Empty": []}, "group Empty is empty"),
        ({**DIABETES_TREE, "Serum": {"Lipids": {}, "x": list("")}}, "group Serum/Lipids is empty"),
        ({"Demographics": "age"}, "maps 'Demographics' .* to 'age'"),
        (42, "feature 42"),
    ],
)
def test_malformed_hierarchies_are_refused_by_name(diabetes, tree, message):
    X, model = diabetes
    with pytest.raises(ValueError, match=message):
        ferroshap.CoalitionExplainer(model.predict, X.iloc[:5], partition_tree=tree)


def test_missing_names_tree_or_an_oversized_hierarchy_are_refused():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(5, 21))

    def f(rows):
        return rows.sum(axis=1)

    with pytest.raises(ValueError, match="needs a partition_tree"):
        ferroshap.CoalitionExplainer(f, data)
    with pytest.raises(ValueError, match="no feature names"):
        ferroshap.CoalitionExplainer(f, data, partition_tree={"a": ["Feature 0"]})
    names = [f"x{j}" for j in range(21)]
    with pytest.raises(ValueError, match=r"2097152 coalitions .* limit of 16777216"):
        ferroshap.CoalitionExplainer(f, data, partition_tree={"all": names}, feature_names=names)
    # Split into two groups the same features are cheap: 2^2 + 2 (2^11 + 2^10 - 4) coalitions.
    split = {"a": names[:11], "b": names[11:]}
    explainer = ferroshap.CoalitionExplainer(f, data, partition_tree=split, feature_names=names)
    values = explainer(data[:2], silent=True).values
    # A sum of the features: each feature's value is its own deviation from the background.
    np.testing.assert_allclose(values, data[:2] - data.mean(axis=0), atol=1e-12)


def test_create_partition_hierarchy_and_partition_tree_are_shaps():
    from shap.explainers._coalition import create_partition_hierarchy as theirs
    from shap.utils import partition_tree as shap_partition_tree

    rng = np.random.default_rng(1)
    base = rng.normal(size=(60, 3))
    X = pd.DataFrame(
        np.column_stack([base[:, 0], base[:, 0] + 0.1 * base[:, 1], base[:, 2], -base[:, 2]]),
        columns=["a", "b", "c", "d"],
    )
    ours = ferroshap.utils.partition_tree(X)
    # shap draws its 1e-8 jitter from numpy's global state: the merges are the same.
    want = shap_partition_tree(X)
    np.testing.assert_array_equal(ours[:, [0, 1, 3]], want[:, [0, 1, 3]])
    np.testing.assert_allclose(ours[:, 2], want[:, 2], atol=1e-6)
    columns = list(X.columns)
    assert create_partition_hierarchy(ours, columns) == theirs(want, columns)
    assert create_partition_hierarchy(np.zeros((0, 4)), ["only"]) == "only"
    with pytest.raises(ValueError, match="shape"):
        create_partition_hierarchy(ours, columns[:3])
