"""Heatmap plot: rows x features of SHAP values, with the model output above."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap.explanation import Explanation
from ferroshap.plots._common import (
    NEUTRAL,
    POSITIVE,
    TEXT,
    as_matrix,
    display_order,
    diverging_colormap,
    feature_labels,
    finish,
    importance,
    is_opchain,
    new_axes,
    others_label,
    resolve_ordering,
    shorten,
)

__all__ = ["heatmap"]

HCLUST = Explanation.hclust()
MEAN_ABS = Explanation.abs.mean(0)


def heatmap(
    shap_values: Any,
    instance_order: Any = HCLUST,
    feature_values: Any = MEAN_ABS,
    feature_order: Any = None,
    max_display: int = 10,
    cmap: Any = None,
    show: bool = True,
    plot_width: float = 8,
    ax: Any = None,
    output: Any = None,
) -> Any:
    """Draw the SHAP values of many rows as a heatmap: one column per row (instance), one
    line per feature, with the model output ``f(x)`` drawn above and each feature's
    importance as bars on the right.

    Parameters
    ----------
    shap_values
        Explanation of shape ``(n_rows, n_features)`` with base values.
    instance_order
        Row order: an OpChain (default ``Explanation.hclust()``, similar rows together; needs
        scipy), an Explanation or array of row indices.
    feature_values
        Per-feature importance (an OpChain, default ``Explanation.abs.mean(0)``, or an array),
        used for the order and the bars on the right.
    feature_order
        Feature indices top to bottom; default: by ``feature_values``, largest first.
    max_display
        Lines drawn, the "Sum of N other features" line included.
    cmap
        Colormap for the values (default: blue - white - vermillion, symmetric around 0).
    show, ax, plot_width
        ``plt.show()`` at the end; Axes to draw the heatmap into (a new ``plot_width`` inches
        wide figure when None).
    output
        For a multi-output explanation, which output to draw.

    Returns
    -------
    matplotlib.axes.Axes
        The heatmap Axes (its image in ``ax.images[0]``; the f(x) line and the importance bars
        are inset Axes of it).

    Examples
    --------
    >>> ferroshap.plots.heatmap(explainer(X[:500]), show=False)  # doctest: +SKIP
    """
    sv = as_matrix(shap_values, "heatmap", output)
    values = np.asarray(sv.values, dtype=np.float64)
    n, m = values.shape
    order = _instance_order(sv, instance_order)
    keys = importance(sv, feature_values)
    if feature_order is None:
        shown, rest = display_order(keys, max_display)
    else:
        ranked = np.asarray(feature_order, dtype=np.int64)
        if sorted(ranked.tolist()) != list(range(m)):
            raise ValueError(f"feature_order must be a permutation of range({m})")
        cut = m if max_display is None or m <= max_display else max(max_display - 1, 1)
        shown, rest = ranked[:cut], ranked[cut:]
    names = feature_labels(sv)
    matrix = values[order][:, shown].T
    labels = [shorten(names[j]) for j in shown]
    bars = list(keys[shown])
    if len(rest):
        matrix = np.vstack([matrix, values[order][:, rest].sum(axis=1)])
        labels.append(others_label(len(rest)))
        bars.append(float(keys[rest].sum()))
    k = len(labels)
    ax = new_axes(ax, (plot_width, 2.2 + 0.45 * k))
    limit = float(np.nanpercentile(np.abs(matrix), 99.9)) or 1.0
    image = ax.imshow(
        matrix,
        aspect="auto",
        interpolation="nearest",
        cmap=cmap or diverging_colormap(),
        vmin=-limit,
        vmax=limit,
        extent=(-0.5, n - 0.5, k - 0.5, -0.5),
    )
    ax.set_yticks(np.arange(k), labels)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("Instances")
    for spine in ax.spines.values():
        spine.set_visible(False)

    # f(x) above the heatmap, on the same instance axis.
    top = ax.inset_axes((0.0, 1.03, 1.0, 0.22), sharex=ax)
    if sv.base_values is not None:
        base = np.broadcast_to(np.asarray(sv.base_values, dtype=np.float64), (n,))
        fx = base[order] + values[order].sum(axis=1)
        top.plot(np.arange(n), fx, color=TEXT, linewidth=1)
        top.axhline(float(base.mean()), color=NEUTRAL, linestyle="--", linewidth=0.8)
        top.set_ylabel("f(x)", rotation=0, ha="right", va="center")
    top.tick_params(axis="x", labelbottom=False, length=0)
    top.spines[["top", "right", "bottom"]].set_visible(False)

    side = ax.inset_axes((1.02, 0.0, 0.14, 1.0), sharey=ax)
    side.barh(np.arange(k), bars, color=POSITIVE, height=0.6)
    side.tick_params(axis="y", labelleft=False, length=0)
    side.spines[["top", "right", "left"]].set_visible(False)
    side.set_xlabel("mean |SHAP|", fontsize=9)

    colors = ax.figure.colorbar(
        image, ax=ax, location="bottom", aspect=50, pad=0.02, fraction=0.04, shrink=0.6
    )
    colors.set_label("SHAP value")
    colors.outline.set_visible(False)
    return finish(ax, show)


def _instance_order(sv: Explanation, instance_order: Any) -> np.ndarray:
    n = sv.values.shape[0]
    if callable(instance_order) and not is_opchain(instance_order):
        instance_order = instance_order()  # Explanation.hclust (not called) -> OpChain
    kind, array = resolve_ordering(instance_order, sv)
    if kind == "keys" and array.shape == (n,) and array.dtype.kind in "fb":
        # Per-row numbers (shap's ``instance_order=sv.sum(1)``): largest first.
        return np.argsort(-array.astype(np.float64), kind="stable")
    order = np.asarray(array)
    if order.shape != (n,) or order.dtype.kind not in "iu":
        raise ValueError(
            f"instance_order must give the {n} row indices in order, or one number per row, "
            f"got shape {order.shape}"
        )
    return order
