"""Explanation: SHAP values with the data, names and base values they belong to (shap's semantics).

Only numpy is imported here; pandas and polars are imported when a conversion asks for them.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["Explanation", "OpChain"]

# Axis names, as ``Explanation.axis_names`` reports them and explainers pass them.
_ROW, _FEATURE, _OUTPUT = "rows", "features", "outputs"
# The second feature axis of interaction values.
_INTERACTION = "interaction features"
_SINGULAR = {_ROW: "row", _FEATURE: "feature", _OUTPUT: "output", _INTERACTION: "feature"}
# Axes that ``data`` and ``base_values`` never have.
_NOT_DATA = (_OUTPUT, _INTERACTION)
# Fields laid out along (some of) the values' axes, sliced with them.
_PARALLEL = (
    "base_values",
    "data",
    "display_data",
    "lower_bounds",
    "upper_bounds",
    "main_effects",
    "error_std",
)
# Fields with a row axis (when the values have one) but no feature axis: clustering is a linkage
# over the features and hierarchical values run over its nodes, so a feature slice drops them.
_PER_ROW = ("clustering", "hierarchical_values")


class OpChain:
    """A recorded chain of Explanation operations, applied later to an Explanation.

    ``Explanation.abs.mean(0)`` (on the class, not an instance) gives one; plots take it as an
    ``order`` argument and call :meth:`apply` with the explanation they draw.

    Examples
    --------
    >>> order = Explanation.abs.mean(0)
    >>> order
    Explanation.abs.mean(0)
    >>> sv = Explanation(np.array([[1.0, -3.0], [-1.0, 1.0]]))
    >>> order.apply(sv).values
    array([1., 2.])
    """

    def __init__(self, ops: tuple[tuple[str, tuple | None, dict | None], ...] = ()) -> None:
        self._ops = ops

    def __getattr__(self, name: str) -> Any:
        op = _OPS.get(name)
        if op is None:
            raise AttributeError(f"{name!r} cannot be chained on an Explanation")
        if op.is_property:
            return OpChain((*self._ops, (name, None, None)))

        def record(*args: Any, **kwargs: Any) -> OpChain:
            return OpChain((*self._ops, (name, args, kwargs)))

        return record

    def __getitem__(self, item: Any) -> OpChain:
        return OpChain((*self._ops, ("__getitem__", (item,), {})))

    def apply(self, explanation: Explanation) -> Any:
        """Run the recorded operations on ``explanation`` and return the result."""
        result: Any = explanation
        for name, args, kwargs in self._ops:
            attr = getattr(result, name)
            result = attr if args is None else attr(*args, **(kwargs or {}))
        return result

    def __repr__(self) -> str:
        text = "Explanation"
        for name, args, kwargs in self._ops:
            if args is None:
                text += f".{name}"
            elif name == "__getitem__":
                text += f"[{args[0]!r}]"
            else:
                parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in (kwargs or {}).items()]
                text += f".{name}({', '.join(parts)})"
        return text


class _Op:
    """An Explanation operation that, read from the class itself, starts an :class:`OpChain`."""

    def __init__(self, fn: Callable[..., Any], is_property: bool) -> None:
        self.fn = fn
        self.is_property = is_property
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return getattr(OpChain(), self.fn.__name__)
        if self.is_property:
            return self.fn(obj)
        return types.MethodType(self.fn, obj)


_OPS: dict[str, _Op] = {}


def _op(is_property: bool = False) -> Callable[[Callable[..., Any]], _Op]:
    def wrap(fn: Callable[..., Any]) -> _Op:
        op = _Op(fn, is_property)
        _OPS[fn.__name__] = op
        return op

    return wrap


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
            text += "\n\n.base_values =\n" + repr(self.base_values)
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
        return self._derive(axes, **fields)

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

    @_op(is_property=True)
    def abs(self) -> Explanation:
        """The absolute SHAP values (other fields unchanged)."""
        return self._derive(self._axes, values=np.abs(self.values))

    @_op(is_property=True)
    def argsort(self) -> Explanation:
        """Indices that sort ``values`` along the last axis (ascending)."""
        return self._derive(self._axes, values=np.argsort(self.values, axis=-1, kind="stable"))

    @_op(is_property=True)
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

    @_op()
    def mean(self, axis: int) -> Explanation:
        """Mean over ``axis`` (0: rows), applied to ``values``, ``base_values`` and ``data``."""
        return self._reduce(np.mean, axis)

    @_op()
    def sum(self, axis: int) -> Explanation:
        """Sum over ``axis``, applied to ``values``, ``base_values`` and ``data``."""
        return self._reduce(np.sum, axis)

    @_op()
    def max(self, axis: int) -> Explanation:
        """Maximum over ``axis``, applied to ``values``, ``base_values`` and ``data``."""
        return self._reduce(np.max, axis)

    @_op()
    def min(self, axis: int) -> Explanation:
        """Minimum over ``axis``, applied to ``values``, ``base_values`` and ``data``."""
        return self._reduce(np.min, axis)

    @_op()
    def percentile(self, q: float, axis: int) -> Explanation:
        """The ``q``-th percentile (0..100) over ``axis``."""
        return self._reduce(np.percentile, axis, q=q)

    @_op()
    def sample(
        self, max_samples: int, replace: bool = False, random_state: int | None = 0
    ) -> Explanation:
        """A random subset of up to ``max_samples`` rows (all of them, shuffled, if fewer).

        Parameters
        ----------
        max_samples
            Rows to draw.
        replace
            Draw with replacement (then exactly ``max_samples`` rows).
        random_state
            Seed of numpy's ``default_rng``; ``None`` draws fresh entropy.
        """
        if not self._axes or self._axes[0] != _ROW:
            raise ValueError("sample() needs an Explanation with a row axis")
        n = self.values.shape[0]
        size = max_samples if replace else min(max_samples, n)
        rows = np.random.default_rng(random_state).choice(n, size=size, replace=replace)
        return self[rows]

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

    def _columns(self, with_base_values: bool) -> tuple[list[str], list[np.ndarray]]:
        axes = self._axes
        if _FEATURE not in axes or not set(axes) <= {_ROW, _FEATURE, _OUTPUT}:
            raise ValueError(f"cannot tabulate an Explanation with axes {axes}")
        values = self.values
        base = self.base_values
        if _ROW not in axes:  # one row
            values = values[np.newaxis]
            if base is not None:
                base = np.asarray(base)[np.newaxis]
        n_rows, n_features = values.shape[0], values.shape[1]
        features = _labels(self.feature_names, n_features, "Feature")
        names: list[str] = []
        columns: list[np.ndarray] = []
        if values.ndim == 2:
            names += features
            columns += [values[:, j] for j in range(n_features)]
            if with_base_values and base is not None:
                names.append("base_value")
                columns.append(np.broadcast_to(np.asarray(base, dtype=np.float64), (n_rows,)))
            return names, columns
        outputs = _labels(self.output_names, values.shape[2], "output")
        for k, output in enumerate(outputs):
            names += [f"{feature} [{output}]" for feature in features]
            columns += [values[:, j, k] for j in range(n_features)]
        if with_base_values and base is not None:
            base = np.broadcast_to(np.asarray(base, dtype=np.float64), (n_rows, len(outputs)))
            names += [f"base_value [{output}]" for output in outputs]
            columns += [base[:, k] for k in range(len(outputs))]
        return names, columns

    def to_pandas(self, with_base_values: bool = False) -> Any:
        """The SHAP values as a pandas DataFrame, one column per feature.

        Parameters
        ----------
        with_base_values
            Add a ``base_value`` column.

        Returns
        -------
        pandas.DataFrame
            ``(n_rows, n_features)``; a single row gives one row. With several outputs the
            columns are ``"<feature> [<output>]"`` for each output in turn (output names from
            ``output_names``, else ``output 0``, ``output 1``, ...), and ``base_value [<output>]``.

        Examples
        --------
        >>> sv = Explanation(np.ones((2, 2)), base_values=np.zeros(2), feature_names=["a", "b"])
        >>> sv.to_pandas(with_base_values=True).columns.tolist()
        ['a', 'b', 'base_value']
        """
        import pandas as pd

        names, columns = self._columns(with_base_values)
        _check_unique(names)
        return pd.DataFrame(dict(zip(names, columns, strict=True)), columns=names)

    def to_polars(self, with_base_values: bool = False) -> Any:
        """The SHAP values as a polars DataFrame; columns as in :meth:`to_pandas`.

        Examples
        --------
        >>> sv = Explanation(np.ones((2, 2)), feature_names=["a", "b"])
        >>> sv.to_polars().columns
        ['a', 'b']
        """
        import polars as pl

        names, columns = self._columns(with_base_values)
        _check_unique(names)
        return pl.DataFrame(
            [
                pl.Series(name, np.ascontiguousarray(c))
                for name, c in zip(names, columns, strict=True)
            ]
        )


# ---------------------------------------------------------------------------------------------
# helpers

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


def _array_or_none(x: Any) -> np.ndarray | None:
    return None if x is None else np.asarray(x)


def _names(names: Any) -> Any:
    if names is None or isinstance(names, str):
        return names
    return list(names)


def _infer_axes(values: np.ndarray, base: np.ndarray | None, data: np.ndarray | None) -> tuple:
    ndim = values.ndim
    if ndim == 0:
        return ()
    if ndim == 1:
        return (_FEATURE,)
    if ndim == 2:
        # One row of a multi-output model is (n_features, n_outputs): its data is 1-D, or its
        # base values are one per output.
        one_row = data is not None and data.ndim == 1
        if data is None and base is not None and base.ndim == 1:
            one_row = base.shape[0] == values.shape[1] != values.shape[0]
        return (_FEATURE, _OUTPUT) if one_row else (_ROW, _FEATURE)
    if ndim == 3:
        return (_ROW, _FEATURE, _OUTPUT)
    return (_ROW, *(f"axis {i}" for i in range(1, ndim)))


def _checked_axes(axis_names: Sequence[str], values: np.ndarray) -> tuple[str, ...]:
    axes = tuple(str(a) for a in axis_names)
    if len(axes) != values.ndim:
        raise ValueError(
            f"axis_names {axes} name {len(axes)} axes but values of shape {values.shape} "
            f"have {values.ndim}"
        )
    if len(set(axes)) != len(axes):
        raise ValueError(f"axis_names {axes} repeat a name")
    if _ROW in axes and axes[0] != _ROW:
        raise ValueError(f"'rows' must be the first axis, got axis_names {axes}")
    if _OUTPUT in axes and axes[-1] != _OUTPUT:
        raise ValueError(f"'outputs' must be the last axis, got axis_names {axes}")
    return axes


def _expand(index: tuple, ndim: int) -> tuple:
    n_ellipsis = sum(1 for i in index if i is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if n_ellipsis:
        at = next(i for i, x in enumerate(index) if x is Ellipsis)
        fill = (slice(None),) * (ndim - len(index) + 1)
        index = index[:at] + fill + index[at + 1 :]
    if len(index) > ndim:
        raise IndexError(f"too many indices: the Explanation has {ndim} axes")
    return index + (slice(None),) * (ndim - len(index))


def _lookup(name: str, names: Any, kind: str) -> int:
    if names is None or isinstance(names, str):
        raise IndexError(
            f"cannot select {_SINGULAR.get(kind, kind)} {name!r} by name: "
            f"the Explanation has no {_SINGULAR.get(kind, kind)} names"
        )
    try:
        return list(names).index(name)
    except ValueError:
        raise IndexError(
            f"no {_SINGULAR.get(kind, kind)} named {name!r}; the names are {_name_list(names)}"
        ) from None


def _name_list(names: Sequence[Any], limit: int = 12) -> str:
    shown = ", ".join(repr(n) for n in list(names)[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _drops(pick: Any) -> bool:
    return isinstance(pick, int)


def _take(array: np.ndarray, axes: tuple[str, ...], picks: dict[str, Any]) -> np.ndarray:
    # Last axis first, so dropping an axis never shifts the ones still to do.
    for position in range(len(axes) - 1, -1, -1):
        pick = picks.get(axes[position], slice(None))
        if isinstance(pick, slice) and pick == slice(None):
            continue
        key = (slice(None),) * position + (pick,)
        array = array[key]
    return array


def _take_names(names: list, pick: Any) -> Any:
    if isinstance(pick, int):
        return names[pick]
    if isinstance(pick, slice):
        return names[pick]
    return np.asarray(names, dtype=object)[pick].tolist()


def _labels(names: Any, n: int, prefix: str) -> list[str]:
    if names is None or isinstance(names, str) or len(names) != n:
        return [f"{prefix} {i}" for i in range(n)]
    return [str(name) for name in names]


def _check_unique(names: list[str]) -> None:
    if len(set(names)) != len(names):
        seen: set[str] = set()
        dups = sorted({n for n in names if n in seen or seen.add(n)})
        raise ValueError(f"duplicate column names: {', '.join(map(repr, dups[:5]))}")


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
