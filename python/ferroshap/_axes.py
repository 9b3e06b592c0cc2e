"""The axes of an Explanation's arrays, and indexing along them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

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
