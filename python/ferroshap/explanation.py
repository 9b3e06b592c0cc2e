"""Explanation: SHAP values with the data, names and base values they belong to (shap's semantics).

Only numpy is imported here; pandas, polars, scipy, scikit-learn and shap are imported when a
method that needs them is called.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ferroshap._axes import (
    _FEATURE,
    _INTERACTION,
    _NOT_DATA,
    _OUTPUT,
    _PARALLEL,
    _PER_ROW,
    _ROW,
    _array_or_none,
    _checked_axes,
    _drops,
    _expand,
    _infer_axes,
    _lookup,
    _names,
    _take,
    _take_names,
)
from ferroshap._frames import frame_columns
from ferroshap._opchain import OpChain, OpHistoryItem, op, record

__all__ = ["Explanation", "OpChain", "OpHistoryItem"]


class _HstackError(ValueError, AssertionError):
    """Explanations of different row counts joined by ``hstack`` (shap raises an
    ``AssertionError`` for it; this is both)."""


class Explanation:
    """SHAP values for a set of rows, with everything needed to read and plot them.

    The fields run in parallel: ``values`` has one axis per row, feature and (for models with
    several outputs) output; ``base_values`` has the row and output axes; ``data`` the row and
    feature axes. Indexing slices all of them together, like ``shap.Explanation``.

    Parameters
    ----------
    values
        SHAP values: ``(n_rows, n_features)``, ``(n_rows, n_features, n_outputs)``, or without
        the row axis for one row.
    base_values
        The expected model output the values start from: ``(n_rows,)``, ``(n_rows, n_outputs)``,
        a scalar, or ``(n_outputs,)`` for one row.
    data
        The explained rows, ``(n_rows, n_features)``.
    display_data
        Values to show instead of ``data`` in plots (e.g. category labels), same shape.
    feature_names, output_names, instance_names
        Names along the feature, output and row axes.
    lower_bounds, upper_bounds
        Confidence bounds of ``values`` (same shape) where an estimator gives them.
    compute_time
        Seconds the explainer took.
    clustering
        A hierarchical clustering of the features as a scipy linkage matrix
        ``(n_features - 1, 4)`` (or one per row, ``(n_rows, n_features - 1, 4)``); the bar and
        beeswarm plots draw it.
    hierarchical_values, main_effects, error_std
        Kept and sliced along with the rows, as in shap (no plot reads them yet).
    axis_names
        What each axis of ``values`` is, for values whose layout cannot be guessed from their
        shape: ``"rows"``, ``"features"``, ``"outputs"``, or any other name for a further
        feature-like axis (e.g. ``("rows", "channels", "height", "width", "outputs")`` for image
        values). ``data`` then has every axis except ``"outputs"``; ``base_values`` has
        ``"rows"`` and ``"outputs"``. Without it the axes are inferred: ``(n_features,)``,
        ``(n_rows, n_features)``, ``(n_rows, n_features, n_outputs)``, and a 2-D array is one
        row of a multi-output model when ``data`` is 1-D or ``base_values`` is one per output.

    Examples
    --------
    >>> sv = Explanation(
    ...     np.array([[0.5, -1.0], [0.25, 2.0]]),
    ...     base_values=np.array([3.0, 3.0]),
    ...     data=np.array([[1.0, 2.0], [3.0, 4.0]]),
    ...     feature_names=["age", "bmi"],
    ... )
    >>> sv.shape
    (2, 2)
    >>> sv[:, "bmi"].values
    array([-1.,  2.])
    >>> sv[0].base_values
    np.float64(3.0)
    >>> sv.abs.mean(0).values
    array([0.375, 1.5  ])
    """

    def __init__(
        self,
        values: Any,
        base_values: Any = None,
        data: Any = None,
        display_data: Any = None,
        instance_names: Sequence[Any] | None = None,
        feature_names: Sequence[str] | str | None = None,
        output_names: Sequence[str] | str | None = None,
        lower_bounds: Any = None,
        upper_bounds: Any = None,
        compute_time: float | None = None,
        clustering: Any = None,
        hierarchical_values: Any = None,
        main_effects: Any = None,
        error_std: Any = None,
        *,
        axis_names: Sequence[str] | None = None,
    ) -> None:
        self.values = np.asarray(values)
        self.base_values = _array_or_none(base_values)
        self.data = _array_or_none(data)
        self.display_data = _array_or_none(display_data)
        self.instance_names = _names(instance_names)
        self.feature_names = _names(feature_names)
        self.output_names = _names(output_names)
        self.lower_bounds = _array_or_none(lower_bounds)
        self.upper_bounds = _array_or_none(upper_bounds)
        self.compute_time = compute_time
        self.clustering = _array_or_none(clustering)
        self.hierarchical_values = _array_or_none(hierarchical_values)
        self.main_effects = _array_or_none(main_effects)
        self.error_std = _array_or_none(error_std)
        # The operations that made this Explanation from another (shap's op_history).
        self.op_history: list[OpHistoryItem] = []
        if axis_names is None:
            self._axes = _infer_axes(self.values, self.base_values, self.data)
        else:
            self._axes = _checked_axes(axis_names, self.values)
        for name in _PARALLEL:
            array = getattr(self, name)
            if array is not None:
                self._field_axes(name, array)  # raises on a shape that fits no axes

    @property
    def axis_names(self) -> tuple[str, ...]:
        """What each axis of ``values`` is: ``"rows"``, ``"features"``, ``"outputs"``, ...

        Examples
        --------
        >>> Explanation(np.zeros((4, 3, 2))).axis_names
        ('rows', 'features', 'outputs')
        >>> Explanation(np.zeros((4, 3, 2)))[..., 0].axis_names
        ('rows', 'features')
        """
        return self._axes

    def _derive(self, axes: tuple[str, ...], **fields: Any) -> Explanation:
        new = object.__new__(Explanation)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(fields)
        new._axes = axes
        new.op_history = list(self.__dict__.get("op_history", []))
        return new

    # -- shape ---------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``values``."""
        return self.values.shape

    def __len__(self) -> int:
        if self.values.ndim == 0:
            raise TypeError("len() of a 0-d Explanation")
        return self.values.shape[0]

    def __repr__(self) -> str:
        text = ".values =\n" + repr(self.values)
        if self.base_values is not None:
            base = self.base_values
            text += "\n\n.base_values =\n" + repr(base.item() if base.ndim == 0 else base)
        if self.data is not None:
            text += "\n\n.data =\n" + repr(self.data)
        return text

    # -- indexing ------------------------------------------------------------------------------

    def __getitem__(self, item: Any) -> Explanation:
        """Select rows, features (by position or name) and outputs (by position or name).

        ``sv[0]``, ``sv[:10]``, ``sv[mask]``, ``sv[:, "bmi"]``, ``sv[:, ["bmi", "age"]]``,
        ``sv[..., "class 1"]``, ``sv[:, :, 1]``. Index arrays and Explanations (whose values
        are used) select along one axis at a time, never jointly as in numpy.
        """
        index = _expand(item if isinstance(item, tuple) else (item,), len(self._axes))
        picks: dict[str, Any] = {}
        for kind, idx in zip(self._axes, index, strict=True):
            picks[kind] = self._position(kind, idx)
        fields: dict[str, Any] = {"values": _take(self.values, self._axes, picks)}
        for name in _PARALLEL:
            array = getattr(self, name)
            if array is not None:
                fields[name] = _take(array, self._field_axes(name, array), picks)
        for name in _PER_ROW:
            if getattr(self, name) is not None:
                fields[name] = self._per_row_field(name, picks)
        for name, kind in (
            ("feature_names", _FEATURE),
            ("output_names", _OUTPUT),
            ("instance_names", _ROW),
        ):
            names = getattr(self, name)
            if names is not None and not isinstance(names, str) and kind in picks:
                fields[name] = _take_names(names, picks[kind])
        axes = tuple(k for k in self._axes if not _drops(picks[k]))
        return record(self._derive(axes, **fields), self, "__getitem__", (item,))

    def _position(self, kind: str, idx: Any) -> Any:
        if isinstance(idx, Explanation):
            idx = idx.values
        names = {
            _FEATURE: self.feature_names,
            _INTERACTION: self.feature_names,
            _OUTPUT: self.output_names,
            _ROW: self.instance_names,
        }.get(kind)
        if isinstance(idx, str):
            return _lookup(idx, names, kind)
        if isinstance(idx, (list, tuple)) and idx and all(isinstance(i, str) for i in idx):
            return np.array([_lookup(i, names, kind) for i in idx])
        if isinstance(idx, (list, tuple, np.ndarray)):
            array = np.asarray(idx)
            if array.dtype.kind in "fc":
                raise IndexError(f"index arrays must hold ints or bools, got {array.dtype}")
            return array
        if isinstance(idx, (bool, np.bool_)):
            raise IndexError("a single bool is not a valid index")
        if isinstance(idx, (int, np.integer)):
            return int(idx)
        if isinstance(idx, slice):
            return idx
        raise IndexError(f"unsupported index {idx!r}")

    def _per_row_field(self, name: str, picks: dict[str, Any]) -> np.ndarray | None:
        array = getattr(self, name)
        feature_pick = picks.get(_FEATURE, slice(None))
        if not (isinstance(feature_pick, slice) and feature_pick == slice(None)):
            return None
        per_row = name == "hierarchical_values" or array.ndim == 3
        if per_row and _ROW in self._axes and array.shape[0] == self.values.shape[0]:
            return _take(array, (_ROW,), picks)
        return array

    def _field_axes(self, name: str, array: np.ndarray) -> tuple[str, ...]:
        """Which of the values' axes a parallel field has, judged by its shape."""
        if name == "base_values":
            wanted = tuple(k for k in self._axes if k in (_ROW, _OUTPUT))
        elif name in ("data", "display_data"):
            wanted = tuple(k for k in self._axes if k not in _NOT_DATA)
        else:
            wanted = self._axes
        sizes = dict(zip(self._axes, self.values.shape, strict=True))
        if array.shape == tuple(sizes[k] for k in wanted):
            return wanted
        # Fewer axes: a base value shared by every row, say. Match the trailing ones.
        for start in range(1, len(wanted) + 1):
            sub = wanted[start:]
            if array.shape == tuple(sizes[k] for k in sub):
                return sub
        raise ValueError(
            f"{name} has shape {array.shape}, which does not match values of shape "
            f"{self.values.shape} along the {'/'.join(wanted) or 'no'} axes"
        )

    # -- operations ----------------------------------------------------------------------------

    @op(is_property=True)
    def abs(self) -> Explanation:
        """The absolute SHAP values (other fields unchanged)."""
        return self._derive(self._axes, values=np.abs(self.values))

    @op(is_property=True)
    def identity(self) -> Explanation:
        """This Explanation unchanged; as a plot's ``order`` (``order=Explanation.identity``)
        it keeps the features in their own order."""
        return self._derive(self._axes)

    @op(is_property=True)
    def argsort(self) -> Explanation:
        """Indices that sort ``values`` along the last axis (ascending)."""
        return self._derive(self._axes, values=np.argsort(self.values, axis=-1, kind="stable"))

    @op(is_property=True)
    def flip(self) -> Explanation:
        """``values`` reversed along the last axis (with ``argsort``: descending order)."""
        return self._derive(self._axes, values=np.flip(self.values, axis=-1))

    def _reduce(self, fn: Callable[..., np.ndarray], axis: int, **kw: Any) -> Explanation:
        ndim = len(self._axes)
        if not -ndim <= axis < ndim:
            raise ValueError(f"axis {axis} is out of bounds for an Explanation with {ndim} axes")
        kind = self._axes[axis % ndim]
        fields: dict[str, Any] = {"values": fn(self.values, axis=axis % ndim, **kw)}
        for name in ("base_values", "data"):
            array = getattr(self, name)
            if array is None:
                continue
            axes = self._field_axes(name, array)
            if kind not in axes:
                continue
            try:
                fields[name] = fn(np.asarray(array, dtype=np.float64), axis=axes.index(kind), **kw)
            except (TypeError, ValueError):
                fields[name] = None
        for name in ("display_data", "lower_bounds", "upper_bounds", "main_effects", "error_std"):
            fields[name] = None
        fields["hierarchical_values"] = None
        if kind != _ROW or (self.clustering is not None and self.clustering.ndim == 3):
            # A per-row clustering reduced over rows has no single linkage to keep.
            fields["clustering"] = None
        names = {_ROW: "instance_names", _FEATURE: "feature_names", _OUTPUT: "output_names"}
        fields[names[kind]] = None
        return self._derive(tuple(k for k in self._axes if k != kind), **fields)

    @op()
    def mean(self, axis: int) -> Explanation:
        """Mean over ``axis`` (0: rows), applied to ``values``, ``base_values`` and ``data``."""
        return self._reduce(np.mean, axis)

    @op()
    def sum(self, axis: int) -> Explanation:
        """Sum over ``axis``, applied to ``values``, ``base_values`` and ``data``."""
        return self._reduce(np.sum, axis)

    @op()
    def max(self, axis: int) -> Explanation:
        """Maximum over ``axis``, applied to ``values``, ``base_values`` and ``data``."""
        return self._reduce(np.max, axis)

    @op()
    def min(self, axis: int) -> Explanation:
        """Minimum over ``axis``, applied to ``values``, ``base_values`` and ``data``."""
        return self._reduce(np.min, axis)

    @op()
    def percentile(self, q: float, axis: int) -> Explanation:
        """The ``q``-th percentile (0..100) over ``axis``."""
        return self._reduce(np.percentile, axis, q=q)

    @op()
    def sample(
        self, max_samples: int, replace: bool = False, random_state: int | None = 0
    ) -> Explanation:
        """A random subset of up to ``max_samples`` rows (all of them, shuffled, if fewer):
        the rows shap's ``sample`` picks for the same ``random_state``.

        Parameters
        ----------
        max_samples
            Rows to draw (at most the number of rows, with or without replacement, as shap).
        replace
            Draw with replacement.
        random_state
            Seed of numpy's ``RandomState`` (shap's generator); ``None`` draws fresh entropy.
        """
        if not self._axes or self._axes[0] != _ROW:
            raise ValueError("sample() needs an Explanation with a row axis")
        if isinstance(max_samples, bool) or not isinstance(max_samples, (int, np.integer)):
            raise TypeError(f"max_samples must be an int, got {max_samples!r}")
        if max_samples < 1:
            raise ValueError(f"max_samples must be at least 1, got {max_samples}")
        n = self.values.shape[0]
        rows = np.random.RandomState(random_state).choice(
            n, size=min(int(max_samples), n), replace=replace
        )
        return self[rows]

    @op()
    def hclust(self, metric: str = "sqeuclidean", axis: int = 0) -> np.ndarray:
        """An order of the rows (``axis=0``) or features (``axis=1``) that keeps similar ones
        together: complete-linkage clustering of ``values`` with optimal leaf ordering, as in
        shap (needs scipy). The heatmap plot orders its rows by it.

        Returns
        -------
        numpy.ndarray
            A permutation of ``range(n_rows)`` (or ``range(n_features)``).

        Examples
        --------
        >>> sv = Explanation(np.array([[0.0, 1.0], [5.0, 5.0], [0.1, 1.0]]))
        >>> sv.hclust().tolist()
        [1, 0, 2]
        """
        if self._axes != (_ROW, _FEATURE):
            raise ValueError(
                f"hclust() needs values of shape (n_rows, n_features); got axes {self._axes}"
            )
        if axis not in (0, 1):
            raise ValueError(f"hclust() clusters along axis 0 or 1, got {axis}")
        from ferroshap.cohorts import hclust_order

        return hclust_order(self.values if axis == 0 else self.values.T, metric)

    def cohorts(self, cohorts: Any) -> Any:
        """Split the rows into cohorts: ``cohorts(n)`` finds up to ``n`` groups of rows with
        similar SHAP values (a regression tree on the feature values, needs scikit-learn);
        ``cohorts(labels)`` groups rows by a label per row.

        Returns
        -------
        ferroshap.cohorts.Cohorts
            Name -> Explanation; ``ferroshap.plots.bar`` draws it as grouped bars.

        Examples
        --------
        >>> sv = Explanation(np.arange(8.0).reshape(4, 2), feature_names=["a", "b"])
        >>> sorted(sv.cohorts(["young", "old", "young", "old"]).cohorts)
        ['old', 'young']
        """
        from ferroshap.cohorts import auto_cohorts, named_cohorts

        if self._axes != (_ROW, _FEATURE):
            if _OUTPUT in self._axes:
                raise ValueError(
                    "Cohorts cannot be calculated on multiple outputs at once: pick one output "
                    "first, e.g. explanation[..., 1].cohorts(...)"
                )
            raise ValueError(
                f"cohorts() needs values of shape (n_rows, n_features); got axes {self._axes}"
            )
        if isinstance(cohorts, (int, np.integer)) and not isinstance(cohorts, bool):
            return auto_cohorts(self, int(cohorts))
        if isinstance(cohorts, (list, tuple, np.ndarray)) or hasattr(cohorts, "to_numpy"):
            labels = cohorts.to_numpy() if hasattr(cohorts, "to_numpy") else cohorts
            return named_cohorts(self, labels)
        raise TypeError(
            "cohorts() takes a number of cohorts or one label per row, "
            f"not {type(cohorts).__name__}"
        )

    def hstack(self, other: Explanation) -> Explanation:
        """The features of ``other`` after this Explanation's, for the same rows (shap's
        ``hstack``): values, data, bounds and names are joined along the feature axis.

        Raises
        ------
        ValueError
            (also an ``AssertionError``, as shap raises for it) when the row counts differ,
            and when the base values differ by more than 1e-6.

        Examples
        --------
        >>> a = Explanation(np.ones((2, 3)), base_values=np.zeros(2))
        >>> b = Explanation(np.ones((2, 1)), base_values=np.zeros(2))
        >>> a.hstack(b).shape
        (2, 4)
        """
        if not isinstance(other, Explanation):
            raise TypeError(f"hstack takes an Explanation, not {type(other).__name__}")
        if self._axes[:2] != (_ROW, _FEATURE) or other._axes[:2] != (_ROW, _FEATURE):
            raise ValueError(
                "hstack needs Explanations with rows and features, got axes "
                f"{self._axes} and {other._axes}"
            )
        if self.values.shape[0] != other.values.shape[0]:
            raise _HstackError(
                "Can't hstack explanations with different numbers of rows: "
                f"{self.values.shape[0]} and {other.values.shape[0]}"
            )
        if self.values.shape[2:] != other.values.shape[2:]:
            raise ValueError(
                f"Can't hstack explanations with different outputs: {self.values.shape[2:]} "
                f"and {other.values.shape[2:]}"
            )
        mine, theirs = self.base_values, other.base_values
        if (mine is None) != (theirs is None) or (
            mine is not None
            and not np.allclose(
                np.broadcast_to(mine, np.broadcast_shapes(mine.shape, theirs.shape)),
                theirs,
                atol=1e-6,
            )
        ):
            raise ValueError("Can't hstack explanations with different base values")
        fields: dict[str, Any] = {}
        for name in ("values", *_PARALLEL):
            a, b = getattr(self, name), getattr(other, name)
            if name == "base_values":
                continue
            if a is None or b is None:
                fields[name] = None
                continue
            try:
                axes_a = self._field_axes(name, a) if name != "values" else self._axes
                axes_b = other._field_axes(name, b) if name != "values" else other._axes
            except ValueError:
                fields[name] = None
                continue
            if _FEATURE not in axes_a or axes_a != axes_b:
                fields[name] = None
                continue
            fields[name] = np.concatenate([a, b], axis=axes_a.index(_FEATURE))
        names_a, names_b = self.feature_names, other.feature_names
        fields["feature_names"] = (
            [*names_a, *names_b]
            if isinstance(names_a, list) and isinstance(names_b, list)
            else None
        )
        for name in ("clustering", "hierarchical_values", "main_effects"):
            fields[name] = None
        new = self._derive(self._axes, **fields)
        new.op_history = []
        return new

    # -- arithmetic ----------------------------------------------------------------------------

    def _binary(self, other: Any, fn: Callable[[Any, Any], Any], swap: bool) -> Explanation:
        """``fn`` applied to values, base_values and (numeric) data, as shap does."""
        fields: dict[str, Any] = {}
        for name in ("values", "base_values", "data"):
            mine = getattr(self, name)
            theirs = getattr(other, name) if isinstance(other, Explanation) else other
            if mine is None or theirs is None:
                fields[name] = mine
                continue
            if name == "data" and np.asarray(mine).dtype.kind not in "biuf":
                continue  # category labels or text: no arithmetic on them
            try:
                fields[name] = fn(theirs, mine) if swap else fn(mine, theirs)
            except ValueError as exc:
                other_shape = np.shape(theirs)
                raise ValueError(
                    f"cannot combine {name} of shapes {np.shape(mine)} and {other_shape}"
                ) from exc
        # Bounds of a sum or product are not the sum or product of the bounds.
        fields.update(lower_bounds=None, upper_bounds=None, error_std=None)
        return self._derive(self._axes, **fields)

    def __add__(self, other: Any) -> Explanation:
        return record(self._binary(other, operator.add, False), self, "__add__", (other,))

    def __radd__(self, other: Any) -> Explanation:
        return record(self._binary(other, operator.add, True), self, "__radd__", (other,))

    def __sub__(self, other: Any) -> Explanation:
        return record(self._binary(other, operator.sub, False), self, "__sub__", (other,))

    def __rsub__(self, other: Any) -> Explanation:
        return record(self._binary(other, operator.sub, True), self, "__rsub__", (other,))

    def __mul__(self, other: Any) -> Explanation:
        return record(self._binary(other, operator.mul, False), self, "__mul__", (other,))

    def __rmul__(self, other: Any) -> Explanation:
        return record(self._binary(other, operator.mul, True), self, "__rmul__", (other,))

    def __truediv__(self, other: Any) -> Explanation:
        return record(self._binary(other, operator.truediv, False), self, "__truediv__", (other,))

    def __rtruediv__(self, other: Any) -> Explanation:
        return record(self._binary(other, operator.truediv, True), self, "__rtruediv__", (other,))

    def __neg__(self) -> Explanation:
        return self * -1

    # -- conversions ---------------------------------------------------------------------------

    def to_pandas(self, with_base_values: bool = False, layout: str = "wide") -> Any:
        """The SHAP values as a pandas DataFrame.

        Parameters
        ----------
        with_base_values
            Add the base values (a ``base_value`` column).
        layout
            ``"wide"``: one row per explained row and one column per feature; with several
            outputs the columns are ``"<feature> [<output>]"`` for each output in turn (output
            names from ``output_names``, else ``output 0``, ...), and
            ``base_value [<output>]``. ``"long"``: one row per value, columns ``row``,
            ``feature``, ``output`` (with several outputs), ``value``, ``data`` (when the
            explanation has data) and ``base_value``; rows in the order of ``values.ravel()``.

        Returns
        -------
        pandas.DataFrame
            Wide: ``(n_rows, n_features * n_outputs [+ n_outputs])``; long:
            ``(n_rows * n_features * n_outputs, 3..6)``. A single row gives one row (wide).

        Examples
        --------
        >>> sv = Explanation(np.ones((2, 2)), base_values=np.zeros(2), feature_names=["a", "b"])
        >>> sv.to_pandas(with_base_values=True).columns.tolist()
        ['a', 'b', 'base_value']
        >>> sv.to_pandas(layout="long").shape
        (4, 3)
        """
        import pandas as pd

        columns = frame_columns(self, with_base_values, layout)
        return pd.DataFrame(columns, columns=list(columns))

    def to_polars(self, with_base_values: bool = False, layout: str = "wide") -> Any:
        """The SHAP values as a polars DataFrame; columns as in :meth:`to_pandas`.

        Examples
        --------
        >>> sv = Explanation(np.ones((2, 2)), feature_names=["a", "b"])
        >>> sv.to_polars().columns
        ['a', 'b']
        """
        import polars as pl

        columns = frame_columns(self, with_base_values, layout)
        return pl.DataFrame(
            [
                pl.Series(name, c.tolist() if c.dtype == object else np.ascontiguousarray(c))
                for name, c in columns.items()
            ]
        )

    # -- conversions ---------------------------------------------------------------------------

    @classmethod
    def from_shap(cls, explanation: Any) -> Explanation:
        """A ferroshap Explanation holding the same arrays and names as a ``shap.Explanation``.

        Examples
        --------
        >>> import shap  # doctest: +SKIP
        >>> Explanation.from_shap(shap.Explanation(np.ones((2, 3)))).shape  # doctest: +SKIP
        (2, 3)
        """
        fields = {name: _shap_field(explanation, name) for name in _SHAP_FIELDS}
        return cls(np.asarray(explanation.values), **fields)

    def to_shap(self) -> Any:
        """The same explanation as a ``shap.Explanation`` (needs shap), for shap's own plots.

        Examples
        --------
        >>> import shap  # doctest: +SKIP
        >>> shap.plots.waterfall(explainer(X)[0].to_shap())  # doctest: +SKIP
        """
        import shap

        fields = {name: getattr(self, name) for name in _SHAP_FIELDS}
        return shap.Explanation(self.values, **fields)


# Constructor keywords shared with shap.Explanation.
_SHAP_FIELDS = (
    "base_values",
    "data",
    "display_data",
    "instance_names",
    "feature_names",
    "output_names",
    "lower_bounds",
    "upper_bounds",
    "compute_time",
    "clustering",
    "hierarchical_values",
    "main_effects",
    "error_std",
)


def _shap_field(explanation: Any, name: str) -> Any:
    value = getattr(explanation, name, None)
    if value is None or isinstance(value, (str, float, int)):
        return value
    if hasattr(value, "to_numpy"):  # a pandas/polars frame or series
        return value.to_numpy()
    return value


def interaction_explanation(
    values: np.ndarray,
    base_values: np.ndarray,
    data: np.ndarray | None,
    feature_names: Sequence[str] | None,
    output_names: Sequence[str] | None,
    *,
    rows: bool,
    outputs: bool,
) -> Explanation:
    """An :class:`Explanation` of SHAP interaction values, whose ``values`` have the axes
    (row, feature, interaction feature, output), without the row axis when ``rows`` is false
    and without the output axis when ``outputs`` is false."""
    axes = (_FEATURE, _INTERACTION)
    if rows:
        axes = (_ROW, *axes)
    if outputs:
        axes = (*axes, _OUTPUT)
    if values.ndim != len(axes):
        raise ValueError(f"interaction values of shape {values.shape} do not have axes {axes}")
    return Explanation(np.zeros(0))._derive(
        axes,
        values=values,
        base_values=base_values,
        data=data,
        feature_names=_names(feature_names),
        output_names=_names(output_names),
    )
