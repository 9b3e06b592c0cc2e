"""Explanation -> table columns, wide (one column per feature) or long (one row per value)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap._axes import _FEATURE, _OUTPUT, _ROW

__all__ = ["frame_columns"]


def frame_columns(sv: Any, with_base_values: bool, layout: str) -> dict[str, np.ndarray]:
    """Named columns of ``sv`` (a ferroshap Explanation) in ``layout`` "wide" or "long"."""
    axes = sv.axis_names
    if _FEATURE not in axes or not set(axes) <= {_ROW, _FEATURE, _OUTPUT}:
        raise ValueError(f"cannot tabulate an Explanation with axes {axes}")
    values = sv.values
    base = sv.base_values
    data = sv.data
    if _ROW not in axes:  # one row
        values = values[np.newaxis]
        base = None if base is None else np.asarray(base)[np.newaxis]
        data = None if data is None else np.asarray(data)[np.newaxis]
    if values.ndim == 2:
        values = values[:, :, np.newaxis]
        outputs = None
    else:
        outputs = _labels(sv.output_names, values.shape[2], "output")
    n_rows, n_features, n_outputs = values.shape
    features = _labels(sv.feature_names, n_features, "Feature")
    if base is not None:
        base = np.asarray(base, dtype=np.float64).reshape(n_rows, -1)
        base = np.broadcast_to(base, (n_rows, n_outputs))
    if layout == "wide":
        columns = _wide(values, base if with_base_values else None, features, outputs)
    elif layout == "long":
        columns = _long(values, base if with_base_values else None, data, features, outputs)
    else:
        raise ValueError(f"layout must be 'wide' or 'long', got {layout!r}")
    return columns


def _wide(values, base, features, outputs) -> dict[str, np.ndarray]:
    names: list[str] = []
    columns: list[np.ndarray] = []
    for k in range(values.shape[2]):
        suffix = "" if outputs is None else f" [{outputs[k]}]"
        names += [f"{feature}{suffix}" for feature in features]
        columns += [values[:, j, k] for j in range(values.shape[1])]
    if base is not None:
        for k in range(values.shape[2]):
            names.append("base_value" + ("" if outputs is None else f" [{outputs[k]}]"))
            columns.append(base[:, k])
    _check_unique(names)
    return dict(zip(names, columns, strict=True))


def _long(values, base, data, features, outputs) -> dict[str, np.ndarray]:
    # Row-major over (row, feature, output): the order of values.ravel().
    n_rows, n_features, n_outputs = values.shape
    grid = np.indices(values.shape).reshape(3, -1)
    columns = {
        "row": grid[0],
        "feature": np.asarray(features, dtype=object)[grid[1]],
    }
    if outputs is not None:
        columns["output"] = np.asarray(outputs, dtype=object)[grid[2]]
    columns["value"] = values.reshape(-1)
    if data is not None:
        columns["data"] = np.repeat(np.asarray(data).reshape(n_rows * n_features), n_outputs)
    if base is not None:
        columns["base_value"] = base[grid[0], grid[2]]
    return columns


def _labels(names: Any, n: int, prefix: str) -> list[str]:
    if names is None or isinstance(names, str) or len(names) != n:
        return [f"{prefix} {i}" for i in range(n)]
    return [str(name) for name in names]


def _check_unique(names: list[str]) -> None:
    if len(set(names)) != len(names):
        seen: set[str] = set()
        dups = sorted({n for n in names if n in seen or seen.add(n)})
        raise ValueError(f"duplicate column names: {', '.join(map(repr, dups[:5]))}")
