"""to_matrix: numpy, pandas, polars and arrow inputs -> float arrays for the core."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from ferroshap._data import to_matrix

# -- numpy ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_float_arrays_pass_through_without_copy(dtype, order):
    X = np.asarray(np.arange(12).reshape(4, 3), dtype=dtype, order=order)
    m = to_matrix(X, n_features=3)
    assert m.values is X
    assert m.feature_names is None and not m.was_1d


def test_non_contiguous_view_passes_through():
    base = np.random.default_rng(0).normal(size=(10, 8))
    view = base[::3, 1::2]
    assert to_matrix(view, n_features=4).values is view
    flipped = base[::-1]
    assert to_matrix(flipped).values is flipped


def test_one_row_is_a_view_with_was_1d():
    x = np.arange(5, dtype=np.float64)
    m = to_matrix(x, n_features=5)
    assert m.was_1d and m.values.shape == (1, 5)
    assert np.shares_memory(m.values, x)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.int64, np.uint32])
def test_bool_and_int_become_float64(dtype):
    X = np.ones((2, 3), dtype=dtype)
    m = to_matrix(X)
    assert m.values.dtype == np.float64
    np.testing.assert_array_equal(m.values, np.ones((2, 3)))


def test_lists_are_accepted():
    np.testing.assert_array_equal(to_matrix([[1, 2], [3, 4]]).values, [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize(
    "X",
    [
        np.array([["a", "b"]]),
        np.array([[1, "b"]], dtype=object),
        np.array([[1 + 2j]]),
        np.array([["2020-01-01"]], dtype="datetime64[D]"),
    ],
)
def test_non_numeric_arrays_are_a_type_error_naming_the_dtype(X):
    with pytest.raises(TypeError, match=str(X.dtype).replace("[", r"\[").replace("]", r"\]")):
        to_matrix(X)


@pytest.mark.parametrize("shape", [(), (2, 2, 2)])
def test_wrong_ndim(shape):
    with pytest.raises(ValueError, match="2-D"):
        to_matrix(np.zeros(shape))


def test_wrong_feature_count():
    with pytest.raises(ValueError, match="X has 7 features, but the model was trained on 8"):
        to_matrix(np.zeros((2, 7)), n_features=8)


def test_numpy_has_no_names_so_any_model_names_are_accepted():
    m = to_matrix(np.zeros((1, 2)), n_features=2, feature_names=["a", "b"])
    assert m.feature_names is None


# -- pandas -----------------------------------------------------------------------------------


def test_pandas_float_frame_is_a_view():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]})
    m = to_matrix(df, n_features=2, feature_names=["a", "b"])
    assert m.feature_names == ["a", "b"]
    assert m.values.dtype == np.float64
    assert np.shares_memory(m.values, df["a"].to_numpy())
    np.testing.assert_array_equal(m.values, df.to_numpy())


def test_pandas_float32_stays_float32():
    df = pd.DataFrame({"a": np.float32([1, 2]), "b": pd.Categorical(["x", "y"])})
    assert to_matrix(df).values.dtype == np.float32
    mixed = pd.DataFrame({"a": np.float32([1, 2]), "b": [1.0, 2.0]})
    assert to_matrix(mixed).values.dtype == np.float64


def test_pandas_nullable_dtypes_become_nan():
    df = pd.DataFrame(
        {
            "i": pd.array([1, None], dtype="Int64"),
            "f": pd.array([None, 2.5], dtype="Float64"),
            "b": pd.array([True, None], dtype="boolean"),
            "n": np.array([1, 2], dtype=np.int16),
        }
    )
    m = to_matrix(df)
    np.testing.assert_array_equal(m.values, [[1.0, np.nan, 1.0, 1.0], [np.nan, 2.5, np.nan, 2.0]])
    assert m.values.flags.f_contiguous


def test_pandas_category_codes_without_training_categories():
    df = pd.DataFrame({"c": pd.Categorical(["b", "a", None, "b"], categories=["a", "b"])})
    np.testing.assert_array_equal(to_matrix(df).values[:, 0], [1.0, 0.0, np.nan, 1.0])


def test_pandas_category_mapped_through_training_categories():
    # The frame's own category order differs from training; values are what count.
    df = pd.DataFrame(
        {
            "x": [0.5, 1.5, 2.5, 3.5],
            "c": pd.Categorical(["red", "blue", None, "teal"], categories=["teal", "red", "blue"]),
        }
    )
    m = to_matrix(df, category_maps={1: ["blue", "green", "red"]}, categorical=[False, True])
    # teal is unseen: a code past the end (3).
    np.testing.assert_array_equal(m.values[:, 1], [2.0, 0.0, np.nan, 3.0])
    np.testing.assert_array_equal(m.values[:, 0], df["x"])


def test_pandas_strings_mapped_when_training_categories_known():
    df = pd.DataFrame({"c": ["b", "a", None, "z"]})
    m = to_matrix(df, category_maps={0: ["a", "b"]})
    np.testing.assert_array_equal(m.values[:, 0], [1.0, 0.0, np.nan, 2.0])


def test_integer_categories_match_text_from_a_model_file():
    df = pd.DataFrame({"c": pd.Categorical([3, 1, 2])})
    m = to_matrix(df, category_maps={0: ["1", "2", "3"]})
    np.testing.assert_array_equal(m.values[:, 0], [2.0, 0.0, 1.0])


def test_numeric_column_for_a_categorical_feature_is_taken_as_codes():
    df = pd.DataFrame({"c": [2.0, 0.0, np.nan]})
    m = to_matrix(df, category_maps={0: ["a", "b", "c"]}, categorical=[True])
    np.testing.assert_array_equal(m.values[:, 0], [2.0, 0.0, np.nan])


def test_category_column_for_a_numeric_feature():
    numeric = pd.DataFrame({"c": pd.Categorical([10, 20, None])})
    m = to_matrix(numeric, categorical=[False])
    np.testing.assert_array_equal(m.values[:, 0], [10.0, 20.0, np.nan])
    text = pd.DataFrame({"c": pd.Categorical(["a", "b"])})
    with pytest.raises(ValueError, match="treats feature 0 as numeric"):
        to_matrix(text, categorical=[False])


@pytest.mark.parametrize("values", [["a", "b"], pd.array(["a", "b"], dtype="string")])
def test_pandas_text_column_is_a_value_error_suggesting_category(values):
    df = pd.DataFrame({"x": [1.0, 2.0], "name": values})
    with pytest.raises(ValueError, match="column 'name' has dtype .*category"):
        to_matrix(df)


def test_pandas_object_column_of_numbers_is_numeric():
    df = pd.DataFrame({"x": pd.Series([1, 2.5, None], dtype=object)})
    np.testing.assert_array_equal(to_matrix(df).values[:, 0], [1.0, 2.5, np.nan])


def test_pandas_datetime_column_is_refused():
    df = pd.DataFrame({"t": pd.to_datetime(["2020-01-01"])})
    with pytest.raises(ValueError, match="column 't' has dtype datetime64"):
        to_matrix(df)


def test_pandas_name_mismatch_lists_the_columns():
    df = pd.DataFrame(np.zeros((1, 3)), columns=["a", "x", "c"])
    with pytest.raises(ValueError, match=r"column 1: 'x' \(model: 'b'\).*missing: 'b'"):
        to_matrix(df, n_features=3, feature_names=["a", "b", "c"])


def test_pandas_reordered_columns_say_so():
    df = pd.DataFrame(np.zeros((1, 2)), columns=["b", "a"])
    with pytest.raises(ValueError, match="another order"):
        to_matrix(df, feature_names=["a", "b"])


def test_generated_model_names_are_not_checked():
    df = pd.DataFrame(np.zeros((1, 2)), columns=["age", "bmi"])
    assert to_matrix(df, feature_names=["f0", "f1"]).feature_names == ["age", "bmi"]
    assert to_matrix(df, feature_names=["Column_0", "Column_1"]).feature_names == ["age", "bmi"]


def test_frame_without_column_names_is_not_checked():
    df = pd.DataFrame(np.zeros((2, 2)))
    m = to_matrix(df, feature_names=["a", "b"])
    assert m.feature_names is None


def test_pandas_series_is_one_row():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    m = to_matrix(df.iloc[1], n_features=2, feature_names=["a", "b"])
    assert m.was_1d and m.feature_names == ["a", "b"]
    np.testing.assert_array_equal(m.values, [[2.0, 4.0]])
    with pytest.raises(ValueError, match="do not match"):
        to_matrix(df.iloc[1], feature_names=["a", "z"])


def test_pandas_wrong_feature_count():
    with pytest.raises(ValueError, match="X has 2 features, but the model was trained on 3"):
        to_matrix(pd.DataFrame({"a": [1.0], "b": [2.0]}), n_features=3)


# -- polars -----------------------------------------------------------------------------------


def test_polars_contiguous_float_frame_is_zero_copy():
    base = np.asfortranarray(np.arange(12.0).reshape(4, 3))
    df = pl.DataFrame(base, schema=["a", "b", "c"])
    m = to_matrix(df, n_features=3, feature_names=["a", "b", "c"])
    assert m.feature_names == ["a", "b", "c"]
    assert np.shares_memory(m.values, base)
    np.testing.assert_array_equal(m.values, base)


def test_polars_mixed_frame_nulls_and_dtypes():
    df = pl.DataFrame(
        {
            "i": pl.Series([1, None], dtype=pl.Int32),
            "f": pl.Series([None, 2.5], dtype=pl.Float32),
            "b": pl.Series([True, None], dtype=pl.Boolean),
            "u": pl.Series([7, 8], dtype=pl.UInt8),
        }
    )
    m = to_matrix(df)
    assert m.values.dtype == np.float64 and m.values.flags.f_contiguous
    np.testing.assert_array_equal(m.values, [[1.0, np.nan, 1.0, 7.0], [np.nan, 2.5, np.nan, 8.0]])


def test_polars_float32_frame_stays_float32():
    df = pl.DataFrame({"a": pl.Series([1.0, None], dtype=pl.Float32)})
    m = to_matrix(df)
    assert m.values.dtype == np.float32
    np.testing.assert_array_equal(m.values[:, 0], [1.0, np.nan])


def test_polars_enum_gives_its_positions():
    df = pl.DataFrame({"e": pl.Series(["x", None, "z"], dtype=pl.Enum(["z", "x"]))})
    np.testing.assert_array_equal(to_matrix(df).values[:, 0], [1.0, np.nan, 0.0])


@pytest.mark.parametrize("dtype", [pl.Categorical, pl.Enum(["teal", "red", "blue"]), pl.String])
def test_polars_mapped_through_training_categories(dtype):
    df = pl.DataFrame({"c": pl.Series(["red", "blue", None, "teal"], dtype=dtype)})
    m = to_matrix(df, category_maps={0: ["blue", "green", "red"]})
    np.testing.assert_array_equal(m.values[:, 0], [2.0, 0.0, np.nan, 3.0])


def test_polars_categorical_without_training_categories_is_refused():
    df = pl.DataFrame({"c": pl.Series(["a", "b"], dtype=pl.Categorical)})
    with pytest.raises(ValueError, match="pl.Enum"):
        to_matrix(df)


def test_polars_string_column_is_a_value_error():
    df = pl.DataFrame({"x": [1.0], "city": ["Oslo"]})
    with pytest.raises(ValueError, match="column 'city' has dtype String"):
        to_matrix(df)


def test_polars_name_mismatch():
    df = pl.DataFrame({"a": [1.0], "b": [2.0]})
    with pytest.raises(ValueError, match=r"column 1: 'b' \(model: 'c'\)"):
        to_matrix(df, feature_names=["a", "c"])


def test_polars_series_is_refused():
    with pytest.raises(TypeError, match="to_frame"):
        to_matrix(pl.Series("a", [1.0, 2.0]))


# -- arrow and others -------------------------------------------------------------------------


def test_pyarrow_table():
    table = pa.table({"a": [1.0, 2.0], "b": pa.array([3, None], type=pa.int64())})
    m = to_matrix(table, feature_names=["a", "b"])
    assert m.feature_names == ["a", "b"]
    np.testing.assert_array_equal(m.values, [[1.0, 3.0], [2.0, np.nan]])


def test_lazy_frame_must_be_collected():
    with pytest.raises(TypeError, match="collect"):
        to_matrix(pl.LazyFrame({"a": [1.0]}))
