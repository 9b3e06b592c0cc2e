"""Group difference plot: how much each feature's mean SHAP value differs between two groups."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap.plots._common import (
    NEGATIVE,
    POSITIVE,
    TEXT,
    feature_labels,
    finish,
    from_arrays,
    matrix_from_arrays,
    new_axes,
    rows_size,
    shorten,
)

__all__ = ["group_difference"]

# Bootstrap resamples for the error bars: the 5th/95th percentiles of 200 resamples move by
# about 10% of the interval's width between seeds, enough for a picture.
_RESAMPLES = 200


def group_difference(
    shap_values: Any,
    group_mask: Any,
    feature_names: Any = None,
    xlabel: str | None = None,
    xmin: float | None = None,
    xmax: float | None = None,
    max_display: int | None = None,
    sort: bool = True,
    show: bool = True,
    ax: Any = None,
    seed: int = 0,
) -> Any:
    """Bars of the difference in mean SHAP value between two groups of rows, per feature
    (shap's ``group_difference``): a group-level metric of the model output (e.g. a fairness
    gap in mean prediction) decomposed among the features. Bars add up to the difference in
    mean model output between the groups.

    Parameters
    ----------
    shap_values
        An Explanation of one output, ``(n_rows, n_features)`` SHAP values, or a vector of
        ``n_rows`` model outputs (one bar).
    group_mask
        ``n_rows`` booleans: True for the first group, False for the second (both non-empty).
    feature_names
        Names of the features (default: the Explanation's, else ``Feature i``).
    xlabel, xmin, xmax
        The x-axis label (default "Group SHAP value difference") and limits.
    max_display
        Draw only this many features (the largest differences when ``sort``).
    sort
        Order the features by the absolute difference, largest on top.
    show, ax
        ``plt.show()`` at the end; Axes to draw into (then nothing is shown).
    seed
        Seed of the bootstrap for the error bars.

    Returns
    -------
    matplotlib.axes.Axes
        The bars are ``ax.patches`` (top to bottom: the order of the features drawn).

    Notes
    -----
    The error bars are a 90% bootstrap interval of each difference (rows resampled within each
    group, 200 resamples, seeded). shap draws instead the 5th-95th percentile band of the
    difference under random relabelling of the rows (what the difference looks like with no
    real group effect), unseeded; the bars themselves are the same numbers as shap's.

    Examples
    --------
    >>> sv = explainer(X)  # doctest: +SKIP
    >>> ferroshap.plots.group_difference(sv, X["sex"] == 1, show=False)  # doctest: +SKIP
    """
    values, names = _values_and_names(shap_values, feature_names)
    mask = np.asarray(group_mask)
    if mask.dtype != bool or mask.shape != (values.shape[0],):
        raise ValueError(
            f"group_mask must be {values.shape[0]} booleans (one per row), got dtype "
            f"{mask.dtype} and shape {mask.shape}"
        )
    n_first = int(mask.sum())
    if n_first == 0 or n_first == len(mask):
        raise ValueError(
            "group_mask must mark both groups: it has "
            f"{n_first} True and {len(mask) - n_first} False rows"
        )
    first, second = values[mask], values[~mask]
    diff = first.mean(0) - second.mean(0)
    rng = np.random.default_rng(seed)
    boot = np.empty((_RESAMPLES, values.shape[1]))
    for b in range(_RESAMPLES):
        a = first[rng.integers(len(first), size=len(first))].mean(0)
        c = second[rng.integers(len(second), size=len(second))].mean(0)
        boot[b] = a - c
    lo, hi = np.percentile(boot, [5, 95], axis=0)

    order = np.argsort(-np.abs(diff), kind="stable") if sort else np.arange(len(diff))
    if max_display is not None:
        if max_display < 1:
            raise ValueError(f"max_display must be at least 1, got {max_display}")
        order = order[:max_display]
    show = show and ax is None  # as shap: drawing into a given Axes never shows
    ax = new_axes(ax, rows_size(len(order), width=6.4))
    ticks = np.arange(len(order))[::-1]  # first feature on top
    shown = diff[order]
    # Error bars from the bar's end to the interval's ends (clipped at 0 when the interval
    # does not contain the estimate, which a skewed bootstrap allows).
    xerr = np.vstack([np.maximum(shown - lo[order], 0.0), np.maximum(hi[order] - shown, 0.0)])
    ax.axvline(0.0, color="#999999", linewidth=0.5)
    ax.barh(
        ticks,
        shown,
        color=[POSITIVE if v > 0 else NEGATIVE for v in shown],
        xerr=xerr,
        capsize=3,
        error_kw={"ecolor": TEXT, "elinewidth": 0.8},
    )
    for y in ticks:
        ax.axhline(y, color="#cccccc", linewidth=0.5, dashes=(1, 5), zorder=-1)
    ax.set_yticks(ticks, [shorten(names[i]) for i in order])
    ax.tick_params(axis="y", length=0)
    ax.spines[["right", "top", "left"]].set_visible(False)
    ax.set_xlabel(xlabel if xlabel is not None else "Group SHAP value difference")
    ax.set_xlim(xmin, xmax)
    return finish(ax, show)


def _values_and_names(shap_values: Any, feature_names: Any) -> tuple[np.ndarray, list[str]]:
    if isinstance(shap_values, (list, tuple)) or (
        hasattr(shap_values, "ndim") and not hasattr(shap_values, "axis_names")
    ):
        values = np.asarray(shap_values, dtype=np.float64)
        if values.ndim == 1:  # a vector of model outputs: one bar
            values = values[:, None]
            if feature_names is None:
                feature_names = [""]
        if values.ndim != 2:
            raise ValueError(
                "group_difference takes (n_rows, n_features) SHAP values or n_rows model "
                f"outputs, got shape {values.shape}"
            )
        sv = from_arrays(values, feature_names=feature_names)
    else:
        sv = matrix_from_arrays(shap_values, None, None, "group_difference")
        if feature_names is not None:
            sv = from_arrays(sv.values, feature_names=feature_names)
    values = np.asarray(sv.values, dtype=np.float64)
    return values, feature_labels(sv, values.shape[1])
