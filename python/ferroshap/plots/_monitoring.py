"""Monitoring plot: one feature's SHAP values in row (time) order, with the most likely change
point marked when it is significant."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap.plots._common import colormap, finish, matrix_from_arrays, new_axes, shorten

__all__ = ["monitoring"]

# Candidate change points every this many rows, as shap.
_STEP = 50


def monitoring(
    ind: Any,
    shap_values: Any,
    features: Any = None,
    feature_names: Any = None,
    show: bool = True,
    ax: Any = None,
) -> Any:
    """Scatter of feature ``ind``'s SHAP values against the row index (shap's ``monitoring``):
    for rows in time order, e.g. SHAP values of a model's loss, it shows when a feature's
    impact changed. Points are coloured by the feature's value. Each 50th row is a candidate
    change point; the one with the smallest p-value of a two-sample t-test (before against
    after, equal variances, as shap) is marked with a dashed line when that p-value is below
    ``0.05 / n_features`` (Bonferroni over the features).

    Parameters
    ----------
    ind
        The feature: an index, or a name.
    shap_values
        An Explanation of one output (its data colours the points), or ``(n_rows,
        n_features)`` SHAP values.
    features
        ``(n_rows, n_features)`` feature values (array or DataFrame), for arrays.
    feature_names
        Names of the features (default: the DataFrame's columns, else ``Feature i``).
    show, ax
        ``plt.show()`` at the end; Axes to draw into (then nothing is shown).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.collections[0]`` holds the points; the change point, if any, is
        ``ax.lines[0]``.

    Examples
    --------
    >>> sv = explainer(X_in_time_order)  # doctest: +SKIP
    >>> ferroshap.plots.monitoring("bmi", sv, show=False)  # doctest: +SKIP
    """
    sv = matrix_from_arrays(shap_values, features, feature_names, "monitoring")
    values = np.asarray(sv.values, dtype=np.float64)
    n_rows, n_features = values.shape
    names = (
        [str(n) for n in sv.feature_names]
        if sv.feature_names is not None
        else [f"Feature {i}" for i in range(n_features)]
    )
    j = _feature_index(ind, names)
    if n_rows < 2 * _STEP + 1:
        raise ValueError(
            f"monitoring needs more than {2 * _STEP} rows to test for a change (every "
            f"{_STEP}th row is a candidate), got {n_rows}"
        )
    ys = values[:, j]
    from scipy.stats import ttest_ind

    cuts = np.arange(_STEP, n_rows - _STEP, _STEP)
    pvalues = np.array([ttest_ind(ys[:c], ys[c:]).pvalue for c in cuts])
    if not np.isfinite(pvalues).any():  # constant SHAP values: nothing changes
        best = None
    else:
        k = int(np.nanargmin(pvalues))
        best = float(cuts[k]) if pvalues[k] < 0.05 / n_features else None

    show = show and ax is None
    ax = new_axes(ax, (10, 3))
    if best is not None:
        ax.axvline(best, linestyle="dashed", color="#666666", alpha=0.4)
    data = None if sv.data is None else np.asarray(sv.data)
    colour = None
    if data is not None and np.issubdtype(data.dtype, np.number):
        colour = data[:, j].astype(np.float64)
    if colour is None:
        points = ax.scatter(np.arange(n_rows), ys, s=10, color="#333333")
    else:
        points = ax.scatter(np.arange(n_rows), ys, s=10, c=colour, cmap=colormap())
        bar = ax.figure.colorbar(points, ax=ax, aspect=30, pad=0.02)
        bar.outline.set_visible(False)
        bar.set_label(shorten(names[j], 30))
    ax.set_xlabel("Sample index")
    ax.set_ylabel(shorten(names[j], 30) + "\nSHAP value")
    ax.spines[["right", "top"]].set_visible(False)
    return finish(ax, show)


def _feature_index(ind: Any, names: list[str]) -> int:
    if isinstance(ind, str):
        if ind not in names:
            raise ValueError(f"monitoring: no feature named {ind!r} (features: {names})")
        return names.index(ind)
    if isinstance(ind, (int, np.integer)) and not isinstance(ind, bool):
        if not -len(names) <= ind < len(names):
            raise IndexError(f"monitoring: feature {ind} is out of range for {len(names)}")
        return int(ind) % len(names)
    raise TypeError(f"monitoring: ind must be a feature index or name, got {ind!r}")
