"""Turn user inputs (numpy, pandas, polars, pyarrow) into the 2-D float arrays the core takes.

The Rust core reads float32 or float64 arrays of any memory layout, so a float numpy array is
passed through untouched (no copy, whatever its order or strides) and a data frame is converted
with at most one copy into a Fortran-ordered buffer (one column after another, which is how
frames store their data).

Categorical features reach the core as codes held in floats:

- a pandas ``category`` column, a polars ``Enum`` column, or any column whose values the model's
  training categories (``category_maps``) can look up, becomes each value's position in the
  training category list;
- a value the model never saw in training becomes ``len(categories)``, a code past the end that no
  split lists, so it follows every split's "not in the category set" branch. LightGBM routes an
  unseen category that way (and the same way as a missing one); XGBoost (>= 3.1) refuses such
  rows outright, and its trees route any code no split lists the same way;
- a missing value (NaN, ``None``, ``pd.NA``, null) becomes NaN and follows the model's missing
  rule;
- without training categories, a pandas ``category`` column gives its own codes (the order of its
  ``categories``, which is what XGBoost < 3.1 and LightGBM without stored categories use) and a
  numeric column is taken as codes as it is. A plain polars ``Categorical`` column has codes
  that depend on the process-wide string cache, so it is refused unless the model's categories
  are known: cast it to ``pl.Enum(training_categories)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Matrix", "mark_missing", "to_matrix"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class Matrix:
    """An input ready for the core.

    Attributes
    ----------
    values
        2-D float32 or float64 array, ``(n_rows, n_features)``, in any memory order.
    feature_names
        The frame's column names, or ``None`` for arrays.
    was_1d
        The input was one row (a 1-D array or a pandas Series); shap returns 1-D values for it.
    """

    values: np.ndarray
    feature_names: list[str] | None
    was_1d: bool


def to_matrix(
    X: Any,
    *,
    n_features: int | None = None,
    feature_names: Sequence[str] | None = None,
    category_maps: dict[int, list] | None = None,
    categorical: Sequence[bool] | None = None,
    frame_categories: list[list] | None = None,
    what: str = "X",
) -> Matrix:
    """Convert ``X`` to a :class:`Matrix`, copying only when the core could not read it as is.

    Parameters
    ----------
    X
        A numpy array (or anything ``np.asarray`` takes) of shape ``(n_rows, n_features)`` or
        ``(n_features,)`` for one row; a pandas DataFrame, or a pandas Series holding one row
        (its index gives the feature names); a polars DataFrame; or a pyarrow Table.
        float32/float64 arrays pass through without a copy; bool and integer arrays become
        float64.
    n_features
        The number of features the model was trained on; a different count raises ValueError.
    feature_names
        The model's feature names. When both these and the frame's columns are known they must
        match, in order. Generated names (XGBoost's ``f0, f1, ...``, LightGBM's
        ``Column_0, ...``) mean "no names" and are not checked.
    category_maps
        Feature index -> the categories seen in training; position = code. Used to turn
        category and string columns into codes (see the module docstring for unseen values).
    categorical
        Per feature: whether the model treats it as categorical. A numeric column there is taken
        as codes; a category column the model treats as numeric is read as its (numeric)
        values.
    frame_categories
        LightGBM's ``pandas_categorical``: the categories of each category column of the
        training frame, in order. A pandas frame with category columns must have as many;
        the k-th is coded by position in the k-th list, whichever feature it is (a value not
        in the list becomes NaN), as LightGBM's ``predict`` does.
    what
        What ``X`` is, for error messages (``"the background data"``).

    Returns
    -------
    Matrix
        ``values`` of shape ``(n_rows, n_features)``, float32 or float64.

    Examples
    --------
    >>> import numpy as np
    >>> m = to_matrix(np.zeros((3, 2), dtype=np.float32), n_features=2)
    >>> m.values.shape, m.values.dtype, m.was_1d
    ((3, 2), dtype('float32'), False)
    >>> to_matrix([1, 2, 3]).values
    array([[1., 2., 3.]])
    """
    kind = _kind(X)
    if kind == "arrow":
        X, kind = _from_arrow(X)
    if kind == "pandas":
        columns = _column_names(X.columns)
        _check_shape(X.shape[1], n_features, what)
        _check_names(columns, feature_names, what)
        if frame_categories is not None:
            category_maps = _by_position(X, columns, frame_categories, category_maps, what)
        values = _pandas_values(X, columns, category_maps, categorical)
        return Matrix(values, columns, False)
    if kind == "pandas_series":
        # One row, like `df.iloc[0]`: its index holds the feature names.
        names = _column_names(X.index)
        _check_shape(len(X), n_features, what)
        _check_names(names, feature_names, what)
        values = _pandas_values(X.to_frame().T, names, category_maps, categorical)
        return Matrix(values, names, True)
    if kind == "polars":
        columns = list(X.columns)
        _check_shape(X.width, n_features, what)
        _check_names(columns, feature_names, what)
        return Matrix(_polars_values(X, category_maps, categorical), columns, False)
    if kind == "polars_series":
        raise TypeError(
            "a polars Series is one column, not one row; pass a DataFrame "
            "(series.to_frame()) or a 1-D numpy array for one row"
        )
    values, was_1d = _numpy_values(X, what)
    _check_shape(values.shape[1], n_features, what)
    return Matrix(values, None, was_1d)


def mark_missing(values: np.ndarray, missing: float | None) -> np.ndarray:
    """``values`` with every entry equal to ``missing`` replaced by NaN, so that it follows the
    trees' missing-value branch (XGBoost's ``missing=``).

    Entries are compared as float32, as XGBoost compares them: a float64 value is missing
    when it rounds to the same float32 as ``missing``. The array is returned as it is (no
    copy) when ``missing`` is ``None`` or NaN or no entry equals it.

    Examples
    --------
    >>> mark_missing(np.array([[1e-8, 2.0]]), 1e-8)
    array([[nan,  2.]])
    """
    if missing is None or np.isnan(missing):
        return values
    target = np.float32(missing)
    with np.errstate(over="ignore"):  # float64 beyond float32's range rounds to +-inf
        hits = values.astype(np.float32, copy=False) == target
    if not hits.any():
        return values
    out = values.copy(order="K")
    out[hits] = np.nan
    return out


def _kind(X: Any) -> str:
    module = type(X).__module__.split(".")[0]
    name = type(X).__name__
    if module == "pandas":
        if name == "DataFrame":
            return "pandas"
        if name == "Series":
            return "pandas_series"
    if module == "polars":
        if name == "DataFrame":
            return "polars"
        if name == "LazyFrame":
            raise TypeError("a polars LazyFrame must be collected first: pass lf.collect()")
        if name == "Series":
            return "polars_series"
    if module == "pyarrow" and name in ("Table", "RecordBatch"):
        return "arrow"
    if module == "scipy" and hasattr(X, "tocsr"):
        raise TypeError("sparse matrices are not supported; convert with X.toarray()")
    return "numpy"


def _from_arrow(table: Any) -> tuple[Any, str]:
    try:
        import polars as pl
    except ImportError:
        return table.to_pandas(), "pandas"
    return pl.from_arrow(table), "polars"


def _numpy_values(X: Any, what: str = "X") -> tuple[np.ndarray, bool]:
    array = X if isinstance(X, np.ndarray) else np.asarray(X)
    if array.ndim not in (1, 2):
        raise ValueError(
            f"{what} must be 2-D (n_rows, n_features) or 1-D (one row), got {array.ndim} "
            f"dimensions with shape {array.shape}"
        )
    dtype = array.dtype
    if dtype not in _FLOATS:
        if dtype.kind in "biu":
            array = array.astype(np.float64)
        elif dtype == np.float16:
            array = array.astype(np.float32)
        elif dtype.kind == "O" and (numbers := _object_array_numbers(array)) is not None:
            array = numbers
        else:
            raise TypeError(
                f"{what} has dtype {dtype}; ferroshap needs numbers (float32, float64, int or "
                "bool). Encode categorical or text features as numbers first"
            )
    if array.ndim == 1:
        return array[np.newaxis, :], True
    return array, False


def _object_array_numbers(array: np.ndarray) -> np.ndarray | None:
    """An object array of numbers and missing values (``None``, ``pd.NA``, NaN) as float64
    with NaN for the missing ones; ``None`` when some entry is not a number."""
    missing = np.frompyfunc(_missing, 1, 1)(array).astype(bool)
    try:
        return np.where(missing, np.nan, array).astype(np.float64)
    except (TypeError, ValueError):
        return None


def _check_shape(n_columns: int, n_features: int | None, what: str = "X") -> None:
    if n_features is not None and n_columns != n_features:
        raise ValueError(
            f"{what} has {n_columns} features, but the model was trained on {n_features} features"
        )


def _column_names(index: Any) -> list[str] | None:
    if type(index).__name__ == "RangeIndex":
        # pd.DataFrame(array) numbers its columns 0..n-1: that is no names at all.
        return None
    return [str(name) for name in index]


_GENERATED = (re.compile(r"f(\d+)"), re.compile(r"Column_(\d+)"))


def _generated(names: Sequence[str]) -> bool:
    """Whether ``names`` are a library's placeholders for "no names" (f0, f1 / Column_0, ...)."""
    for pattern in _GENERATED:
        if all(
            (m := pattern.fullmatch(name)) is not None and int(m.group(1)) == i
            for i, name in enumerate(names)
        ):
            return True
    return False


def name_key(name: Any) -> str:
    """A feature name as models store it: LightGBM replaces each space with ``_`` when it
    saves names, so ``"sepal length (cm)"`` comes back ``"sepal_length_(cm)"``."""
    return str(name).replace(" ", "_")


def _check_names(
    columns: list[str] | None, expected: Sequence[str] | None, what: str = "X"
) -> None:
    if columns is None or expected is None or list(columns) == list(expected):
        return
    if _generated(expected):
        return
    expected = list(expected)
    if [name_key(c) for c in columns] == [name_key(e) for e in expected]:
        return
    mismatches = [
        f"column {i}: {got!r} (model: {want!r})"
        for i, (got, want) in enumerate(zip(columns, expected, strict=False))
        if name_key(got) != name_key(want)
    ]
    hint = ""
    if sorted(columns) == sorted(expected):
        hint = "; the columns are the model's in another order: select them with X[feature_names]"
    else:
        missing = [name for name in expected if name not in set(columns)]
        if missing:
            hint = f"; missing: {', '.join(map(repr, missing[:5]))}"
            hint += ", ..." if len(missing) > 5 else ""
    shown = "; ".join(mismatches[:5]) + ("; ..." if len(mismatches) > 5 else "")
    raise ValueError(f"{what}'s columns do not match the model's feature names: {shown}{hint}")


def _is_categorical(categorical: Sequence[bool] | None, category_maps: Any, j: int) -> bool:
    if category_maps and j in category_maps:
        return True
    return categorical is not None and j < len(categorical) and bool(categorical[j])


def _numeric_model_feature(categorical: Sequence[bool] | None, category_maps: Any, j: int) -> bool:
    """Whether the model is known to treat feature ``j`` as a number."""
    if category_maps and j in category_maps:
        return False
    return categorical is not None and j < len(categorical) and not categorical[j]


# ---------------------------------------------------------------------------------------------
# pandas


def _pandas_values(
    frame: Any,
    names: list[str] | None,
    category_maps: dict[int, list] | None,
    categorical: Sequence[bool] | None,
) -> np.ndarray:
    import pandas as pd

    dtypes = list(frame.dtypes)
    if dtypes and all(isinstance(d, np.dtype) and d in _FLOATS for d in dtypes):
        if len(set(dtypes)) == 1:
            # One float block: to_numpy() is a (read-only, Fortran-ordered) view of it.
            return frame.to_numpy()
    out_dtype = np.float32 if dtypes and all(_pandas_float32(d) for d in dtypes) else np.float64
    out = np.empty(frame.shape, dtype=out_dtype, order="F")
    for j in range(frame.shape[1]):
        column = frame.iloc[:, j]
        name = names[j] if names is not None else str(j)
        dtype = column.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            out[:, j] = _pandas_category(column, name, j, category_maps, categorical)
        elif pd.api.types.is_complex_dtype(dtype):
            raise _column_type_error(name, dtype)
        elif pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            out[:, j] = column.to_numpy(dtype=out_dtype, na_value=np.nan)
        elif pd.api.types.is_object_dtype(dtype) and _object_numbers(column):
            out[:, j] = column.to_numpy(dtype=out_dtype, na_value=np.nan)
        elif category_maps and j in category_maps and _texty(dtype):
            # Look up each distinct value once, not each row.
            codes, distinct = pd.factorize(column, use_na_sentinel=True)
            lookup = _map_values(np.asarray(distinct, dtype=object), category_maps[j])
            out[:, j] = _lookup_codes(codes, lookup)
        else:
            raise _column_type_error(name, dtype)
    return out


def _by_position(
    frame: Any,
    names: list[str] | None,
    frame_categories: list[list],
    category_maps: Any,
    what: str = "X",
) -> dict[int, list] | None:
    """``category_maps`` with the frame's k-th category column given the k-th training list
    (LightGBM's rule), each wrapped so that a value not in it reads as missing."""
    import pandas as pd

    columns = [j for j, d in enumerate(frame.dtypes) if isinstance(d, pd.CategoricalDtype)]
    if not columns:
        return category_maps  # numbers are codes, as for an array
    if len(columns) != len(frame_categories):
        shown = ", ".join(repr(names[j] if names else j) for j in columns[:8])
        raise ValueError(
            f"{what} has {len(columns)} category column(s) ({shown}), but the model was "
            f"trained on a frame with {len(frame_categories)}: LightGBM matches category "
            f"columns to its training categories by position, so {what} needs the training "
            "frame's category columns, each with a category dtype (or every column as codes)"
        )
    maps = dict(category_maps or {})
    for j, training in zip(columns, frame_categories, strict=True):
        maps[j] = _UnseenMissing(training)
    return maps


class _UnseenMissing(list):
    """Training categories whose unseen values read as missing (NaN): LightGBM's
    ``set_categories`` turns them into nulls before predicting."""


def _pandas_float32(dtype: Any) -> bool:
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return True  # codes are small integers, exact in float32
    return getattr(dtype, "numpy_dtype", dtype) == np.float32


def _texty(dtype: Any) -> bool:
    import pandas as pd

    return pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)


def _object_numbers(column: Any) -> bool:
    """An object column holding only numbers (and missing values) is numeric."""
    import pandas as pd

    return pd.api.types.infer_dtype(column, skipna=True) in (
        "integer",
        "floating",
        "mixed-integer-float",
        "boolean",
        "empty",
    )


def _pandas_category(
    column: Any,
    name: str,
    j: int,
    category_maps: dict[int, list] | None,
    categorical: Sequence[bool] | None,
) -> np.ndarray:
    import pandas as pd

    categories = column.cat.categories
    codes = column.cat.codes.to_numpy()
    if category_maps and j in category_maps:
        lookup = _map_values(np.asarray(categories, dtype=object), category_maps[j])
    elif _numeric_model_feature(categorical, category_maps, j):
        if not pd.api.types.is_numeric_dtype(categories.dtype):
            raise ValueError(
                f"column {name!r} has a category dtype, but the model treats feature {j} as "
                "numeric; pass its numeric values instead"
            )
        lookup = categories.to_numpy(dtype=np.float64)
    else:
        lookup = np.arange(len(categories), dtype=np.float64)
    return _lookup_codes(codes, lookup)


def _lookup_codes(codes: np.ndarray, lookup: np.ndarray) -> np.ndarray:
    """``lookup[code]``, with NaN where the code is missing (negative, or null upstream)."""
    if len(lookup) == 0:
        return np.full(len(codes), np.nan)
    missing = codes < 0
    values = lookup[np.where(missing, 0, codes)]
    values[missing] = np.nan
    return values


def _map_values(values: np.ndarray, training: list) -> np.ndarray:
    """Each value's position in ``training``; unseen -> ``len(training)`` (NaN for LightGBM's
    frame categories), missing -> NaN."""
    position: dict[Any, int] = {}
    by_text: dict[str, int] = {}
    for i, category in enumerate(training):
        position.setdefault(category, i)
        by_text.setdefault(str(category), i)
    unseen = np.nan if isinstance(training, _UnseenMissing) else float(len(training))
    out = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        if _missing(value):
            out[i] = np.nan
            continue
        try:
            code = position.get(value)
        except TypeError:  # unhashable
            code = None
        if code is None:
            # Training categories read back from a model file may be strings where the data
            # holds numbers (or the reverse); their text identifies them.
            code = by_text.get(str(value))
        out[i] = unseen if code is None else code
    return out


def _missing(value: Any) -> bool:
    if value is None or type(value).__name__ == "NAType":  # pd.NA, without importing pandas
        return True
    try:
        return bool(value != value)  # NaN, np.nan, float("nan"), NaT
    except (TypeError, ValueError):
        return False


def _column_type_error(name: str, dtype: Any) -> ValueError:
    return ValueError(
        f"column {name!r} has dtype {dtype}, which is not numeric; encode it as numbers, or for a "
        "categorical feature give it a category dtype (pandas: .astype('category'), "
        "polars: .cast(pl.Enum(categories)))"
    )


# ---------------------------------------------------------------------------------------------
# polars


def _polars_values(
    frame: Any, category_maps: dict[int, list] | None, categorical: Sequence[bool] | None
) -> np.ndarray:
    import polars as pl

    dtypes = frame.dtypes
    if dtypes and all(d in (pl.Float32, pl.Float64) for d in dtypes) and len(set(dtypes)) == 1:
        # Zero-copy when the frame is one contiguous block; one copy otherwise. Nulls -> NaN.
        return frame.to_numpy(order="fortran")
    all_f32 = dtypes and all(d == pl.Float32 or _polars_categorical(d) for d in dtypes)
    out_dtype = np.float32 if all_f32 else np.float64
    out = np.empty(frame.shape, dtype=out_dtype, order="F")
    for j, series in enumerate(frame.get_columns()):
        dtype = series.dtype
        if _polars_categorical(dtype):
            out[:, j] = _polars_category(series, j, category_maps, categorical)
        elif dtype.is_numeric() or dtype == pl.Boolean:
            if dtype.is_decimal() or dtype.is_integer() or dtype == pl.Boolean:
                series = series.cast(pl.Float64)
            out[:, j] = series.to_numpy()
        elif category_maps and j in category_maps and dtype == pl.String:
            out[:, j] = _polars_mapped(series, category_maps[j])
        else:
            raise _column_type_error(series.name, dtype)
    return out


def _polars_mapped(series: Any, training: list) -> np.ndarray:
    """Training codes of a String, Categorical or Enum column (one lookup per distinct value)."""
    import polars as pl

    text = series.cast(pl.String)
    distinct = text.drop_nulls().unique(maintain_order=True)
    codes = _map_values(distinct.to_numpy(), training)
    mapped = text.replace_strict(distinct, pl.Series(codes), default=None, return_dtype=pl.Float64)
    return mapped.to_numpy()


def _polars_categorical(dtype: Any) -> bool:
    import polars as pl

    return dtype == pl.Categorical or isinstance(dtype, pl.Enum)


def _polars_category(
    series: Any,
    j: int,
    category_maps: dict[int, list] | None,
    categorical: Sequence[bool] | None,
) -> np.ndarray:
    import polars as pl

    if category_maps and j in category_maps:
        return _polars_mapped(series, category_maps[j])
    codes = series.to_physical().cast(pl.Int64).fill_null(-1).to_numpy()
    if _numeric_model_feature(categorical, category_maps, j):
        raise ValueError(
            f"column {series.name!r} is categorical, but the model treats feature {j} as "
            "numeric; pass its numeric values instead"
        )
    if isinstance(series.dtype, pl.Enum):
        # An Enum's physical code is the position in its fixed category list.
        return np.where(codes < 0, np.nan, codes.astype(np.float64))
    raise ValueError(
        f"column {series.name!r} is a polars Categorical, whose codes depend on the process-wide "
        "string cache and the model's training categories are not known; cast it to "
        "pl.Enum(training_categories) so each value gets its training code"
    )
