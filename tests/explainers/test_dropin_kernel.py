"""KernelExplainer takes the calls shap users make (issue 17, item 1), checked against shap.

shap is compared with ``l1_reg=False`` on designs that enumerate every coalition (at most 11
varying features), where both compute the exact Shapley values of the background-averaged
model by weighted least squares: they agree to rounding, so the tolerance is 1e-10 on
values of order 1 (measured: below 1e-15).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import shap
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import ferroshap

EXACT = 1e-10


def _shap_values(explainer, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shap's own deprecation noise
        return explainer.shap_values(X, silent=True, l1_reg=False, **kwargs)


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        rng.normal(size=(40, 4)),
        columns=["age", "bmi", "bp", "s1"],
        index=pd.Index(np.arange(1000, 1040), name="patient"),
    )
    y = X.age + 2 * X.bmi - X.bp * X.s1
    return X, y


def test_constructor_keywords_have_shaps_meaning(frame):
    X, y = frame
    model = LinearRegression().fit(X.to_numpy(), y)
    background, rows = X.to_numpy()[:5], X.to_numpy()[5:8]
    # nsamples / l1_reg given to the constructor are the defaults of every call.
    by_constructor = ferroshap.KernelExplainer(
        model.predict, background, nsamples=6, l1_reg="num_features(2)", random_state=3
    )
    by_call = ferroshap.KernelExplainer(model.predict, background, seed=3)
    expected = by_call.shap_values(rows, nsamples=6, l1_reg="num_features(2)", silent=True)
    np.testing.assert_array_equal(by_constructor.shap_values(rows, silent=True), expected)
    np.testing.assert_array_equal(by_constructor(rows, silent=True).values, expected)
    assert np.all(np.sum(expected != 0, axis=1) <= 2)  # the selection was applied
    with pytest.raises(ValueError, match="disagree"):
        ferroshap.KernelExplainer(model.predict, background, seed=1, random_state=2)
    # shap's link objects are accepted by name.
    clf = LogisticRegression().fit(X.to_numpy(), y > 0)
    ours = ferroshap.KernelExplainer(clf.predict_proba, background, link=shap.links.logit)
    theirs = shap.KernelExplainer(clf.predict_proba, background, link="logit")
    np.testing.assert_allclose(
        ours.shap_values(rows, silent=True), _shap_values(theirs, rows), atol=EXACT
    )
    # feature_names= names array rows, as shap's data_feature_names do.
    named = ferroshap.KernelExplainer(model.predict, background, feature_names=list("wxyz"))
    assert named(rows, silent=True).feature_names == list("wxyz")
    assert named.data_feature_names == list("wxyz")


def test_dataframe_fitted_models_get_frames_without_warnings(frame):
    X, y = frame
    model = LinearRegression().fit(X, y)
    # pytest turns warnings into errors: one "X does not have valid feature names" fails.
    for background in (X.iloc[:5], X.iloc[:5].to_numpy()):
        explainer = ferroshap.KernelExplainer(model.predict, background)
        values = explainer.shap_values(X.iloc[5:8], silent=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = shap.KernelExplainer(model.predict, X.iloc[:5])
        np.testing.assert_allclose(values, _shap_values(theirs, X.iloc[5:8]), atol=EXACT)


def test_columns_are_matched_by_name(frame):
    X, y = frame
    model = LinearRegression().fit(X, y)
    explainer = ferroshap.KernelExplainer(model.predict, X.iloc[:5])
    rows = X.iloc[5:8]
    in_order = explainer(rows, silent=True)
    shuffled = explainer(rows[["bp", "age", "s1", "bmi"]], silent=True)
    # Each value belongs to its column, wherever the column is.
    assert shuffled.feature_names == ["bp", "age", "s1", "bmi"]
    np.testing.assert_allclose(shuffled.values, in_order.values[:, [2, 0, 3, 1]], atol=EXACT)
    np.testing.assert_array_equal(shuffled.data, rows[["bp", "age", "s1", "bmi"]].to_numpy())
    with pytest.raises(ValueError, match=r"missing 's1'"):
        explainer.shap_values(rows.drop(columns="s1"), silent=True)
    with pytest.raises(ValueError, match=r"not in the background data: 'glucose'"):
        explainer.shap_values(rows.assign(glucose=1.0), silent=True)
    with pytest.raises(ValueError, match=r"duplicate column names \('age'\)"):
        explainer.shap_values(rows.set_axis(["age", "bmi", "bp", "age"], axis=1), silent=True)


def test_keep_index_passes_indexed_frames(frame):
    X, y = frame
    model = LinearRegression().fit(X, y)
    seen = []

    def predict(df):
        seen.append(df)
        return model.predict(df)

    background, rows = X.iloc[:5], X.iloc[[9, 6, 7]]
    explainer = ferroshap.KernelExplainer(predict, background, keep_index=True)
    values = explainer.shap_values(rows, silent=True)
    assert all(isinstance(df, pd.DataFrame) and list(df.columns) == list(X.columns) for df in seen)
    assert all(df.index.name == "patient" for df in seen)
    # Masked rows carry their background row's index; the explained rows their own.
    masked = seen[-1]
    assert set(masked.index) <= set(background.index)
    assert any(list(df.index) == [1009, 1006, 1007] for df in seen)
    theirs = shap.KernelExplainer(model.predict, background, keep_index=True)
    expected = _shap_values(theirs, rows)
    # The issue asks for pandas output indexed like the input; shap 0.51 returns arrays.
    assert isinstance(values, pd.DataFrame) and isinstance(expected, np.ndarray)
    assert list(values.index) == list(rows.index) and list(values.columns) == list(X.columns)
    np.testing.assert_allclose(values.to_numpy(), expected, atol=EXACT)
    one = explainer.shap_values(rows.iloc[1], silent=True)  # a Series: one row
    assert isinstance(one, pd.Series) and one.name == rows.index[1]
    np.testing.assert_allclose(one.to_numpy(), expected[1], atol=EXACT)
    np.testing.assert_allclose(explainer.explain(rows.iloc[[1]]), expected[1], atol=EXACT)
    # Several outputs: (output, feature) columns, so values[k] is output k's frame.
    two = ferroshap.KernelExplainer(
        lambda df: np.column_stack([model.predict(df), -model.predict(df)]),
        background,
        keep_index=True,
    ).shap_values(rows, silent=True)
    assert list(two[1].columns) == list(X.columns) and list(two.index) == list(rows.index)
    np.testing.assert_allclose(two[0].to_numpy(), expected, atol=EXACT)
    np.testing.assert_allclose(two[1].to_numpy(), -expected, atol=EXACT)

    seen.clear()
    ordered = ferroshap.KernelExplainer(
        predict, background, keep_index=True, keep_index_ordered=True
    )
    np.testing.assert_allclose(ordered.shap_values(rows, silent=True), values, atol=EXACT)
    assert list(ordered.shap_values(rows, silent=True).index) == list(rows.index)
    assert all(df.index.is_monotonic_increasing for df in seen)
    with pytest.raises(ValueError, match="keep_index=True"):
        ferroshap.KernelExplainer(predict, background.to_numpy(), keep_index=True)


def test_explain_save_and_load(frame, tmp_path):
    X, y = frame
    model = LinearRegression().fit(X.to_numpy(), y)
    background, row = X.to_numpy()[:5], X.to_numpy()[7]
    explainer = ferroshap.KernelExplainer(model.predict, background)
    theirs = shap.KernelExplainer(model.predict, background)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = theirs.explain(row[None, :], l1_reg=False)
    for x in (row, row[None, :]):
        got = explainer.explain(x)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=EXACT)

    buffer = io.BytesIO()
    explainer.save(buffer)
    buffer.seek(0)
    loaded = ferroshap.KernelExplainer.load(buffer)
    np.testing.assert_array_equal(
        loaded.shap_values(X.to_numpy()[5:8], silent=True),
        explainer.shap_values(X.to_numpy()[5:8], silent=True),
    )
    path = tmp_path / "explainer.bin"
    explainer.save(str(path))
    assert ferroshap.KernelExplainer.load(path).expected_value == explainer.expected_value
    path.write_bytes(b"not an explainer")
    with pytest.raises(ValueError, match="not a file written by a ferroshap"):
        ferroshap.KernelExplainer.load(path)
    with pytest.raises(TypeError, match="cannot be pickled"):
        ferroshap.KernelExplainer(lambda A: A.sum(1), background).save(io.BytesIO())


def test_sparse_data_and_rows():
    X = scipy.sparse.random(40, 6, density=0.4, random_state=0, format="csr")
    y = np.asarray(X.sum(axis=1)).ravel() + X[:, 0].toarray().ravel() * 3
    model = LinearRegression().fit(X, y)
    kinds = []

    def predict(A):
        kinds.append(scipy.sparse.issparse(A))
        return model.predict(A)

    explainer = ferroshap.KernelExplainer(predict, X[:5])
    for rows in (X[5:9], X[5:9].tocsc()):
        values = explainer.shap_values(rows, silent=True)
        assert all(kinds), "a model given sparse data receives sparse rows, as from shap"
        theirs = shap.KernelExplainer(model.predict, X[:5])
        np.testing.assert_allclose(values, _shap_values(theirs, X[5:9]), atol=EXACT)


def test_strings_and_missing_values_are_masked_by_equality():
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], 60),
            "size": rng.normal(size=60),
            "shape": rng.choice(["square", "circle", None], 60),
            "count": rng.integers(0, 5, 60),
        }
    )
    target = (df.colour == "red") * 2.0 + df["size"] + (df["shape"] == "circle") + df["count"]
    encoder = ColumnTransformer(
        [("text", OneHotEncoder(handle_unknown="ignore"), ["colour", "shape"])],
        remainder="passthrough",
    )
    pipeline = make_pipeline(encoder, LinearRegression()).fit(df, target)
    explainer = ferroshap.KernelExplainer(pipeline.predict, df.iloc[:6])
    explanation = explainer(df.iloc[6:10], silent=True)
    # shap needs keep_index=True to hand this pipeline a DataFrame; then it agrees.
    theirs = shap.KernelExplainer(pipeline.predict, df.iloc[:6], keep_index=True)
    np.testing.assert_allclose(explanation.values, _shap_values(theirs, df.iloc[6:10]), atol=EXACT)
    np.testing.assert_array_equal(explanation.data, df.iloc[6:10].to_numpy())
    np.testing.assert_allclose(
        explanation.values.sum(axis=1) + explanation.base_values,
        pipeline.predict(df.iloc[6:10]),
        atol=EXACT,
    )

    # An object array and a function reading it: the function gets the original objects.
    def f(A):
        return np.array([(r[0] == "red") * 2.0 + r[1] + (r[2] is None) for r in A])

    array = df.to_numpy()[:, :3]
    ours = ferroshap.KernelExplainer(f, array[:6]).shap_values(array[6:10], silent=True)
    theirs = shap.KernelExplainer(f, array[:6])
    np.testing.assert_allclose(ours, _shap_values(theirs, array[6:10]), atol=EXACT)


def test_expected_value_types_follow_shap():
    # shap: a Python float for one output of shape (n,), a (1,) array for (n, 1) outputs.
    background = np.random.default_rng(0).normal(size=(6, 3))
    for f in (lambda A: A.sum(axis=1), lambda A: A.sum(axis=1)[:, None]):
        ours = ferroshap.KernelExplainer(f, background)
        theirs = shap.KernelExplainer(f, background)
        assert type(ours.expected_value) is type(theirs.expected_value)
        assert np.shape(ours.expected_value) == np.shape(theirs.expected_value)
        np.testing.assert_allclose(ours.expected_value, theirs.expected_value, rtol=1e-12)
