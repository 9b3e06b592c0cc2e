"""What KernelExplainer reads and what it hands the model, for every input shap accepts.

Kernel SHAP only ever copies values: a masked row holds, per feature, either the explained
row's value or a background row's. So any column (strings, categories, objects) can be
explained by working on codes: each distinct value of a non-numeric column gets a code (its
position in a per-column vocabulary), the Rust engine masks codes as floats, and the codes
are turned back into the original values just before the model is called. Two values are
"the same" when they are equal (``None`` equals ``None``, NaN equals NaN), which is shap's
``not_equal`` rule for non-numeric data.

The model then receives what it was fitted on:

- a pandas DataFrame with the background's column names (restored dtypes, categories and
  strings) when the background is a DataFrame and the model was fitted on one (it has
  ``feature_names_in_``), or with ``keep_index=True``;
- a DataFrame with the model's ``feature_names_in_`` when the background is an array but the
  model was fitted on a DataFrame (no "X does not have valid feature names" warnings);
- a CSR matrix when the background was a scipy sparse matrix;
- an object array when the background was one; a float64 array otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ferroshap._data import to_matrix

__all__ = ["KernelInputs", "Rows", "fitted_feature_names", "indexed_values"]


@dataclass(frozen=True)
class Rows:
    """Rows to explain, read for the engine.

    ``values``: float64 ``(n, M)`` in the background's column order (codes for non-numeric
    columns); ``data``: the rows as given, in their own column order (for the Explanation);
    ``order``: for a DataFrame whose columns are the background's in another order, the
    position in the background's order of each of its columns (values are mapped back with
    it), else ``None``; ``names``: the frame's columns in its order, else ``None``;
    ``index``: the frame's index (``keep_index``).
    """

    values: np.ndarray
    data: np.ndarray
    was_1d: bool
    order: list[int] | None
    names: list[str] | None
    index: Any


class _Vocabulary:
    """Codes of a non-numeric column's distinct values (position in ``values``)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._codes: dict[Any, int] = {}
        self._nan: int | None = None

    def encode(self, column: np.ndarray, name: str) -> np.ndarray:
        out = np.empty(len(column), dtype=np.float64)
        for i, value in enumerate(column):
            out[i] = self._code(value, name)
        return out

    def _code(self, value: Any, name: str) -> int:
        if _is_nan(value):
            if self._nan is None:
                self._nan = self._add(value)
            return self._nan
        try:
            code = self._codes.get(value)
        except TypeError:
            raise TypeError(
                f"column {name!r} holds an unhashable value of type {type(value).__name__}; "
                "Kernel SHAP compares values for equality, so they must be hashable "
                "(numbers, strings, tuples, None)"
            ) from None
        if code is None:
            code = self._codes[value] = self._add(value)
        return code

    def _add(self, value: Any) -> int:
        self.values.append(value)
        return len(self.values) - 1

    def decode(self, codes: np.ndarray) -> np.ndarray:
        table = np.empty(len(self.values), dtype=object)
        table[:] = self.values
        return table[codes.astype(np.intp)]


def _is_nan(value: Any) -> bool:
    try:
        return isinstance(value, (float, np.floating)) and bool(value != value)
    except (TypeError, ValueError):
        return False


def fitted_feature_names(model: Any) -> list[str] | None:
    """The column names a scikit-learn-style model (or the object a bound method belongs to)
    was fitted with: its ``feature_names_in_``."""
    owner = getattr(model, "__self__", model)
    names = getattr(owner, "feature_names_in_", None)
    if names is None:
        return None
    return [str(n) for n in names]


def _is_pandas(X: Any, name: str) -> bool:
    return type(X).__module__.split(".")[0] == "pandas" and type(X).__name__ == name


def _is_sparse(X: Any) -> bool:
    return type(X).__module__.split(".")[0] == "scipy" and hasattr(X, "tocsr")


class KernelInputs:
    """The background, read once: its columns, their kinds, and how to build model inputs.

    Parameters
    ----------
    data
        Background rows: numpy (numeric or object), pandas DataFrame, polars, pyarrow or a
        scipy sparse matrix.
    model
        The user's model or function (only its ``feature_names_in_`` is read).
    keep_index, keep_index_ordered
        shap's options: the model receives DataFrames indexed by the background rows' index
        (the explained row's own index for its prediction), sorted by it when ordered.
    """

    def __init__(
        self, data: Any, model: Any, keep_index: bool = False, keep_index_ordered: bool = False
    ) -> None:
        self.keep_index = bool(keep_index)
        self.keep_index_ordered = bool(keep_index_ordered)
        self.sparse = _is_sparse(data)
        self.columns: list[str] | None = None  # the background DataFrame's, matched by name
        self._kinds: list[Any] | None = None  # per column: None (numeric), a dtype to restore
        self._vocab: dict[int, _Vocabulary] = {}
        self._object_array = False
        self.index: Any = None
        if self.keep_index and not _is_pandas(data, "DataFrame"):
            raise ValueError(
                "keep_index=True passes the model DataFrames indexed like the background, "
                f"so data must be a pandas DataFrame, got {type(data).__name__}"
            )
        if self.sparse:
            self.background = np.asarray(data.toarray(), dtype=np.float64)
        elif _is_pandas(data, "DataFrame"):
            # pd.DataFrame(array) numbers its columns: that is no names (as for to_matrix).
            numbered = type(data.columns).__name__ == "RangeIndex"
            self.columns = None if numbered else [str(c) for c in data.columns]
            _check_unique([str(c) for c in data.columns], "the background data")
            self.index = data.index
            self._kinds = [_kind(data.iloc[:, j]) for j in range(data.shape[1])]
            self._vocab = {
                j: _Vocabulary() for j in range(data.shape[1]) if not _numeric(data.iloc[:, j])
            }
            self.background = self._encode_frame(data)
        elif isinstance(data, np.ndarray) and data.dtype.kind in "OUS":
            if data.ndim != 2:
                raise ValueError("data must be 2-D: (n_background, n_features)")
            self._object_array = True
            self.background = self._encode_array(data)
        else:
            background = to_matrix(data)
            if background.was_1d:
                raise ValueError("data must be 2-D: (n_background, n_features)")
            self.columns = background.feature_names
            self.background = np.ascontiguousarray(background.values, dtype=np.float64)
        self.n_features = self.background.shape[1]
        fitted = fitted_feature_names(model)
        self._frame_columns: list[str] | None = None
        if self.keep_index:
            self._frame_columns = self.columns
        elif fitted is not None and len(fitted) == self.n_features and not self.sparse:
            # The model was fitted on a DataFrame: give it one, with the background's
            # columns when it has them (matched to X by name), else the model's own.
            self._frame_columns = self.columns if self.columns is not None else fitted

    @property
    def codes(self) -> bool:
        """Whether some columns are coded (the engine's floats are not the model's inputs)."""
        return bool(self._vocab)

    @property
    def plain(self) -> bool:
        """Whether the model receives the engine's float64 rows as they are."""
        return not (self._vocab or self._frame_columns or self.sparse or self._object_array)

    # -- reading ---------------------------------------------------------------------------

    def _encode_frame(self, frame: Any) -> np.ndarray:
        out = np.empty(frame.shape, dtype=np.float64)
        for j in range(frame.shape[1]):
            column = frame.iloc[:, j]
            name = str(frame.columns[j])
            if j not in self._vocab:
                try:
                    out[:, j] = column.to_numpy(dtype=np.float64, na_value=np.nan)
                    continue
                except (TypeError, ValueError):
                    raise ValueError(
                        f"column {name!r} is numeric in the background data but holds "
                        f"non-numeric values ({column.dtype}) in X"
                    ) from None
            out[:, j] = self._vocab[j].encode(column.to_numpy(dtype=object), name)
        return out

    def _encode_array(self, array: np.ndarray) -> np.ndarray:
        out = np.empty(array.shape, dtype=np.float64)
        for j in range(array.shape[1]):
            vocabulary = self._vocab.setdefault(j, _Vocabulary())
            out[:, j] = vocabulary.encode(array[:, j].astype(object), str(j))
        return out

    def rows(self, X: Any, feature_names: list[str] | None) -> Rows:
        """Read the rows to explain (see :class:`Rows`)."""
        was_1d = False
        if _is_pandas(X, "Series"):
            X = X.to_frame().T
            was_1d = True
        if _is_sparse(X):
            X = X.toarray()
        if _is_pandas(X, "DataFrame"):
            names = [str(c) for c in X.columns]
            _check_unique(names, "X")
            order = None
            if self.columns is not None:
                order = _match_columns(names, self.columns)
                if order is not None:
                    X = X.iloc[:, np.argsort(order)]
            elif X.shape[1] != self.n_features:
                raise ValueError(
                    f"X has {X.shape[1]} columns, but the background data has {self.n_features}"
                )
            data = X.to_numpy()
            if order is not None:
                data = data[:, order]
            values = self._encode_frame(X)
            return Rows(values, data[0] if was_1d else data, was_1d, order, names, X.index)
        if isinstance(X, np.ndarray) and X.dtype.kind in "OUS" and (self._vocab or X.size == 0):
            array = X[np.newaxis, :] if X.ndim == 1 else X
            if array.ndim != 2 or array.shape[1] != self.n_features:
                raise ValueError(
                    f"X must have {self.n_features} features per row, got shape {X.shape}"
                )
            values = np.empty(array.shape, dtype=np.float64)
            for j in range(array.shape[1]):
                column = array[:, j].astype(object)
                if j in self._vocab:
                    values[:, j] = self._vocab[j].encode(column, str(j))
                else:
                    values[:, j] = np.asarray(column, dtype=np.float64)
            return Rows(values, X, X.ndim == 1, None, None, None)
        matrix = to_matrix(X, n_features=self.n_features, feature_names=feature_names)
        values = np.ascontiguousarray(matrix.values, dtype=np.float64)
        data = np.asarray(matrix.values)
        return Rows(values, data[0] if matrix.was_1d else data, matrix.was_1d, None, None, None)

    # -- what the model receives -----------------------------------------------------------

    def model_input(self, rows: np.ndarray, index: Any = None) -> Any:
        """The model's input for engine rows ``rows`` (float64 ``(n, M)``)."""
        if self.plain:
            return rows
        if self.sparse:
            import scipy.sparse

            return scipy.sparse.csr_matrix(rows)
        if self._frame_columns is not None and not self._vocab and not any(self._kinds or ()):
            import pandas as pd

            # Float64 columns only: one block over the rows, no copy either way.
            return pd.DataFrame(rows, columns=self._frame_columns, index=index, copy=False)
        columns = [self._column(rows, j) for j in range(self.n_features)]
        if self._frame_columns is None:
            out = np.empty(rows.shape, dtype=object)
            for j, column in enumerate(columns):
                out[:, j] = column
            return out
        import pandas as pd

        frame = pd.DataFrame(dict(enumerate(columns)), index=index, copy=False)
        frame.columns = self._frame_columns
        return frame

    def _column(self, rows: np.ndarray, j: int) -> Any:
        column = rows[:, j]
        if j in self._vocab:
            column = self._vocab[j].decode(column)
        kind = self._kinds[j] if self._kinds is not None else None
        if kind is None:
            return column
        if isinstance(kind, np.dtype):
            if kind.kind in "biu" and j not in self._vocab and np.isnan(column).any():
                return column  # a missing value in an int column: pandas would make it float
            return column.astype(kind)
        import pandas as pd

        return pd.array(column, dtype=kind)

    def call(self, f: Any, rows: np.ndarray, index: Any) -> Any:
        """``f`` on the model's form of engine rows; with ``keep_index_ordered`` the rows are
        passed sorted by their index and the outputs put back in the rows' order."""
        if not (self.keep_index_ordered and index is not None and len(rows) > 1):
            return f(self.model_input(rows, index))
        order = np.argsort(np.asarray(index), kind="stable")
        out = f(self.model_input(rows[order], index[order]))
        out = np.asarray(out.to_numpy() if hasattr(out, "to_numpy") else out)
        if out.ndim == 0 or len(out) != len(rows):
            return out  # a wrong shape: the caller says what was expected
        unsorted = np.empty_like(out)
        unsorted[order] = out
        return unsorted

    def background_index(self, start: int, n: int) -> Any:
        """The index of engine rows ``start .. start + n`` of masked data: each is a copy of
        background row ``(start + i) % n_background`` with some features replaced."""
        if not self.keep_index:
            return None
        positions = (start + np.arange(n)) % len(self.index)
        return self.index[positions]


def _numeric(column: Any) -> bool:
    import pandas as pd

    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return False
    return bool(pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))


def _kind(column: Any) -> Any:
    """How to restore a pandas column: None for float64, its numpy dtype, or its pandas
    dtype (categories, strings, nullable types)."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype):
        return None if dtype == np.float64 else dtype
    return dtype


def _check_unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    repeated = [n for n in names if n in seen or seen.add(n)]
    if repeated:
        shown = ", ".join(repr(n) for n in dict.fromkeys(repeated))
        raise ValueError(
            f"{what} has duplicate column names ({shown}); columns are matched to the "
            "background's by name, so each name must appear once"
        )


def _match_columns(names: list[str], background: list[str]) -> list[int] | None:
    """``None`` when ``names`` are the background's in order; for the same names in another
    order, the background position of each; otherwise a ValueError naming the columns."""
    if names == background:
        return None
    missing = [n for n in background if n not in set(names)]
    extra = [n for n in names if n not in set(background)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {_shown(missing)}")
        if extra:
            parts.append(f"not in the background data: {_shown(extra)}")
        raise ValueError(
            "X's columns cannot be matched to the background data's by name ("
            + "; ".join(parts)
            + "); pass X[explainer.feature_names] with the background's columns"
        )
    position = {n: k for k, n in enumerate(background)}
    return [position[n] for n in names]


def _shown(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names[:8]) + (", ..." if len(names) > 8 else "")


def indexed_values(values: np.ndarray, X: Any) -> Any:
    """``values`` as pandas objects labelled like the pandas ``X`` (``keep_index=True``).

    A DataFrame ``X`` gives a DataFrame indexed like ``X`` with its columns; with several
    outputs its columns are ``(output, feature)`` pairs, so ``values[k]`` is output ``k``'s
    frame. A Series (one row) gives a Series indexed by the features, named like the row
    (a DataFrame with one column per output for several outputs). Other ``X``: ``values``.
    """
    import sys

    pd = sys.modules.get("pandas")
    if pd is None or not isinstance(X, (pd.DataFrame, pd.Series)):
        return values
    if isinstance(X, pd.Series):
        if values.ndim == 1:
            return pd.Series(values, index=X.index, name=X.name)
        return pd.DataFrame(values, index=X.index)
    if values.ndim == 2:
        return pd.DataFrame(values, index=X.index, columns=X.columns)
    n, m, k = values.shape
    columns = pd.MultiIndex.from_product([range(k), X.columns], names=["output", "feature"])
    flat = values.transpose(0, 2, 1).reshape(n, k * m)
    return pd.DataFrame(flat, index=X.index, columns=columns)
