"""Violin plot: the distribution of each feature's SHAP values, coloured by feature value."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap.plots._beeswarm import _color_bar, _size, numeric_colors
from ferroshap.plots._common import (
    NEUTRAL,
    TEXT,
    colormap,
    display_order,
    feature_labels,
    finish,
    matrix_from_arrays,
    new_axes,
    others_label,
    shorten,
    solid_color,
)

__all__ = ["violin"]

_GRID = 120  # points along the SHAP-value axis per violin


def violin(
    shap_values: Any,
    features: Any = None,
    feature_names: Any = None,
    max_display: int | None = None,
    plot_type: str = "violin",
    color: Any = None,
    axis_color: str = TEXT,
    title: str | None = None,
    alpha: float = 1.0,
    show: bool = True,
    sort: bool = True,
    color_bar: bool = True,
    plot_size: Any = "auto",
    layered_violin_max_num_bins: int = 20,
    class_names: Any = None,
    class_inds: Any = None,
    color_bar_label: str = "Feature value",
    cmap: Any = None,
    use_log_scale: bool = False,
    ax: Any = None,
    output: Any = None,
) -> Any:
    """Draw one violin per feature: the density of its SHAP values.

    ``plot_type="violin"`` colours each slice of a violin by the mean value of the feature among
    the rows in that slice; ``"layered_violin"`` stacks the densities of rows binned by feature
    value (low, blue, at the centre to high, vermillion, outside).

    Parameters
    ----------
    shap_values
        An Explanation ``(n_rows, n_features)``, or shap's legacy arguments: a values array
        with ``features`` (array or DataFrame) and ``feature_names``.
    max_display
        Violins drawn, the "Sum of N other features" violin included (default 20).
    plot_type
        ``"violin"`` or ``"layered_violin"``.
    color, cmap
        A single colour for every violin, or a colormap for the feature values.
    sort
        Most important features on top (by mean ``|SHAP|``); otherwise the given order.
    layered_violin_max_num_bins
        Most feature-value layers in ``"layered_violin"``.
    axis_color, title, alpha, color_bar, color_bar_label, plot_size, use_log_scale
        As in :func:`ferroshap.plots.beeswarm`.
    class_names, class_inds
        Accepted for shap compatibility; pick one output of a multi-output explanation with
        ``output=`` or ``explanation[..., k]``.
    show, ax
        ``plt.show()`` at the end; Axes to draw into.

    Returns
    -------
    matplotlib.axes.Axes
        One PolyCollection per violin in ``ax.collections``.

    Examples
    --------
    >>> ferroshap.plots.violin(explainer(X), show=False)  # doctest: +SKIP
    """
    if plot_type not in ("violin", "layered_violin"):
        raise ValueError(f"plot_type must be 'violin' or 'layered_violin', got {plot_type!r}")
    sv = matrix_from_arrays(shap_values, features, feature_names, "violin", output)
    values = np.asarray(sv.values, dtype=np.float64)
    n, m = values.shape
    keys = np.abs(values).mean(axis=0) if sort else np.arange(m, 0, -1, dtype=np.float64)
    shown, rest = display_order(keys, 20 if max_display is None else max_display)
    names = feature_labels(sv)
    labels = [shorten(names[j]) for j in shown]
    columns = [values[:, j] for j in shown]
    colors = [numeric_colors(sv.data, j, n) for j in shown]
    if len(rest):
        labels.append(others_label(len(rest)))
        columns.append(values[:, rest].sum(axis=1))
        colors.append(np.full(n, np.nan))
    k = len(labels)
    ax = new_axes(ax, _size(plot_size, k))
    solid = solid_color(color)
    cmap = cmap or (color if color is not None and solid is None else colormap())
    lo = min(float(c.min()) for c in columns)
    hi = max(float(c.max()) for c in columns)
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    grid = np.linspace(lo - pad, hi + pad, _GRID)
    y = np.arange(k)[::-1].astype(np.float64)
    for xs, cs, yi in zip(columns, colors, y, strict=True):
        if plot_type == "violin":
            _violin(ax, xs, cs, yi, grid, cmap, solid, alpha)
        else:
            _layered(ax, xs, cs, yi, grid, cmap, layered_violin_max_num_bins, alpha)
    ax.axvline(0, color=NEUTRAL, linewidth=0.8, zorder=-1)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, k - 0.4)
    ax.set_xlim(grid[0], grid[-1])
    ax.tick_params(axis="y", length=0, labelcolor=axis_color)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_xlabel("SHAP value (impact on model output)", color=axis_color)
    if use_log_scale:
        ax.set_xscale("symlog")
    if color_bar and solid is None:
        _color_bar(ax, cmap, color_bar_label)
    if title is not None:
        ax.set_title(title)
    return finish(ax, show)


def _density(xs: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A Gaussian-smoothed histogram on ``grid`` (Scott's bandwidth): linear in the rows."""
    step = grid[1] - grid[0]
    counts = np.histogram(xs, bins=len(grid), range=(grid[0] - step / 2, grid[-1] + step / 2))[0]
    std = float(xs.std()) if len(xs) > 1 else 0.0
    bandwidth = max(1.06 * std * len(xs) ** (-1 / 5), step)
    half = int(np.ceil(3 * bandwidth / step))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * step / bandwidth) ** 2)
    return np.convolve(counts, kernel / kernel.sum(), mode="same")[: len(grid)]


def _violin(ax, xs, cs, yi, grid, cmap, solid, alpha) -> None:
    from matplotlib.collections import PolyCollection

    density = _density(xs, grid)
    width = 0.4 * density / max(density.max(), 1e-300)
    # Mean colour value of the rows in each slice (grey where no row has one).
    slot = np.clip(np.searchsorted(grid, xs), 0, len(grid) - 1)
    known = np.isfinite(cs)
    total = np.bincount(slot[known], weights=cs[known], minlength=len(grid))
    count = np.bincount(slot[known], minlength=len(grid))
    mean = np.divide(total, count, out=np.full(len(grid), np.nan), where=count > 0)
    # Empty slices take the nearest filled slice's colour, so the body has no grey gaps.
    filled = np.flatnonzero(count > 0)
    if len(filled):
        nearest = filled[np.clip(np.searchsorted(filled, np.arange(len(grid))), 0, len(filled) - 1)]
        mean = np.where(count > 0, mean, mean[nearest])
    quads = np.stack(
        [
            np.column_stack([grid[:-1], yi - width[:-1]]),
            np.column_stack([grid[1:], yi - width[1:]]),
            np.column_stack([grid[1:], yi + width[1:]]),
            np.column_stack([grid[:-1], yi + width[:-1]]),
        ],
        axis=1,
    )
    if solid is not None:
        faces: Any = solid
    else:
        slices = mean[:-1]
        faces = cmap(np.nan_to_num(slices, nan=0.0))
        faces[~np.isfinite(slices)] = (0.6, 0.6, 0.6, 1.0)
    # Edges in the face colour: without them anti-aliasing leaves hairline gaps between slices.
    ax.add_collection(
        PolyCollection(list(quads), facecolors=faces, edgecolors=faces, linewidths=0.4, alpha=alpha)
    )


def _layered(ax, xs, cs, yi, grid, cmap, max_bins, alpha) -> None:
    from matplotlib.collections import PolyCollection

    known = np.isfinite(cs)
    if not known.any():
        layers = [xs]
        shades = [(0.6, 0.6, 0.6, 1.0)]
    else:
        n_bins = int(min(max_bins, len(np.unique(cs[known]))))
        edges = np.quantile(cs[known], np.linspace(0, 1, n_bins + 1))
        which = np.clip(np.searchsorted(edges, cs, side="right") - 1, 0, n_bins - 1)
        layers = [xs[known & (which == b)] for b in range(n_bins)]
        shades = [cmap(b / max(n_bins - 1, 1)) for b in range(n_bins)]
        if (~known).any():
            layers.append(xs[~known])
            shades.append((0.6, 0.6, 0.6, 1.0))
    stacked = np.cumsum(
        [_density(layer, grid) if len(layer) else np.zeros(len(grid)) for layer in layers], axis=0
    )
    scale = 0.4 / max(float(stacked[-1].max()), 1e-300)
    polygons = []
    # Outermost layer first so the inner ones are drawn over it.
    for outer in stacked[::-1] * scale:
        polygons.append(
            np.concatenate(
                [
                    np.column_stack([grid, yi + outer]),
                    np.column_stack([grid[::-1], yi - outer[::-1]]),
                ]
            )
        )
    ax.add_collection(
        PolyCollection(polygons, facecolors=shades[::-1], edgecolors="none", alpha=alpha)
    )
