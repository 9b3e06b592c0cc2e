"""Beeswarm plot: every row's SHAP value per feature, coloured by the feature's value."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap.explanation import Explanation
from ferroshap.plots._clustering import check_linkage, clustered_order, merge_close
from ferroshap.plots._common import (
    NEUTRAL,
    RASTER_ABOVE,
    TEXT,
    as_matrix,
    colored_points,
    colormap,
    display_order,
    feature_labels,
    finish,
    importance,
    new_axes,
    others_label,
    pyplot,
    rows_size,
    shorten,
    solid_color,
)

__all__ = ["beeswarm", "draw_swarm_rows", "numeric_colors", "swarm_offsets"]

MEAN_ABS = Explanation.abs.mean(0)


def beeswarm(
    shap_values: Any,
    max_display: int | None = 10,
    order: Any = MEAN_ABS,
    clustering: Any = None,
    cluster_threshold: float = 0.5,
    color: Any = None,
    axis_color: str = TEXT,
    alpha: float = 1.0,
    ax: Any = None,
    show: bool = True,
    log_scale: bool = False,
    color_bar: bool = True,
    s: float = 16,
    plot_size: Any = "auto",
    color_bar_label: str = "Feature value",
    group_remaining_features: bool = True,
    output: Any = None,
) -> Any:
    """Draw every row's SHAP value for the most important features, one line per feature.

    Points spread vertically where they are dense; their colour is the feature's value (blue
    low, vermillion high, grey missing or non-numeric). Features beyond ``max_display - 1`` are
    summed into a "Sum of N other features" line.

    Parameters
    ----------
    shap_values
        Explanation of shape ``(n_rows, n_features)`` (one output; pick one of several with
        ``explanation[..., k]`` or ``output=k``).
    max_display
        Lines drawn, the "Sum of N other features" line included; None draws all.
    order
        Sort key per feature, largest on top: an OpChain (default ``Explanation.abs.mean(0)``)
        or one number per feature.
    clustering, cluster_threshold
        A feature linkage matrix ``(n_features - 1, 4)`` (default: the explanation's own
        ``clustering``, if any). Lines are then ordered along its dendrogram, and while there
        are more than ``max_display`` lines the closest clusters (merge distance at most
        ``cluster_threshold``) are merged into one line, "A + k other features": their values
        summed, coloured by the most important member A.
    color
        A matplotlib colour for all points, or a colormap for the feature values.
    axis_color, alpha, s
        Colour of axes and labels, point opacity, point size.
    ax, show
        Axes to draw into (a new figure when None); ``plt.show()`` at the end when True.
    log_scale
        Symmetric-log x axis.
    color_bar, color_bar_label
        Draw a colour bar (Low .. High) with this label.
    plot_size
        ``"auto"`` (height grows with the lines), ``(width, height)`` in inches, a float (height
        per line) or None (matplotlib's default); ignored when ``ax`` is given.
    group_remaining_features
        Sum the features not drawn into one line (otherwise they are left out).
    output
        For a multi-output explanation, which output to draw.

    Returns
    -------
    matplotlib.axes.Axes
        One scatter collection per line in ``ax.collections``; feature labels in
        ``ax.get_yticklabels()`` (bottom to top).

    Examples
    --------
    >>> ax = ferroshap.plots.beeswarm(explainer(X), show=False)  # doctest: +SKIP
    >>> ax.figure.savefig("beeswarm.png")  # doctest: +SKIP
    """
    sv = as_matrix(shap_values, "beeswarm", output)
    values = np.asarray(sv.values, dtype=np.float64)
    n_features = values.shape[1]
    if clustering is None and sv.clustering is not None and sv.clustering.ndim >= 2:
        clustering = sv.clustering
    linkage = None if clustering is None else check_linkage(clustering, n_features)
    feature_keys = importance(sv, order)
    groups = [[j] for j in range(n_features)]
    if linkage is not None:
        target = n_features if max_display is None else max_display
        groups = merge_close(linkage, cluster_threshold, target)
    # Each line is a group of features (one feature unless clustering merged some): values
    # summed, coloured by and named after its most important member.
    leaders = [g[int(np.argmax(feature_keys[g]))] for g in groups]
    keys = np.array([feature_keys[g].sum() for g in groups])
    if max_display is not None and not group_remaining_features:
        shown, rest = display_order(keys, None)
        shown, rest = shown[:max_display], shown[:0]
    else:
        shown, rest = display_order(keys, max_display)
    if linkage is not None:
        position = {int(j): p for p, j in enumerate(clustered_order(linkage, feature_keys))}
        shown = np.array(sorted(shown, key=lambda g: position[leaders[g]]), dtype=np.int64)

    names = feature_labels(sv)
    labels, lines, colors = [], [], []
    for g in shown:
        members, leader = groups[g], leaders[g]
        extra = len(members) - 1
        label = shorten(names[leader])
        if extra:
            label += f" + {extra} other feature{'s' if extra > 1 else ''}"
        labels.append(label)
        lines.append(values[:, members].sum(axis=1))
        colors.append(numeric_colors(sv.data, leader, values.shape[0]))
    rest = np.array([j for g in rest for j in groups[g]], dtype=np.int64)
    if len(rest):
        labels.append(others_label(len(rest)))
        lines.append(values[:, rest].sum(axis=1))
        colors.append(np.full(values.shape[0], np.nan))

    k = len(labels)
    ax = new_axes(ax, _size(plot_size, k))
    solid = solid_color(color)
    cmap = color if color is not None and solid is None else colormap()
    y = np.arange(k)[::-1].astype(np.float64)
    draw_swarm_rows(ax, lines, colors, y, cmap, solid, s, alpha)
    ax.axvline(0, color=NEUTRAL, linewidth=0.8, zorder=-1)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, k - 0.4)
    ax.tick_params(axis="y", length=0, labelcolor=axis_color)
    ax.tick_params(axis="x", labelcolor=axis_color)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_xlabel("SHAP value (impact on model output)", color=axis_color)
    for j in range(k):
        ax.axhline(y[j], color="#cccccc", linewidth=0.5, linestyle=":", zorder=-2)
    if log_scale:
        ax.set_xscale("symlog")
    if color_bar and solid is None:
        _color_bar(ax, cmap, color_bar_label)
    return finish(ax, show)


def draw_swarm_rows(
    ax: Any,
    lines: list[np.ndarray],
    colors: list[np.ndarray],
    y: np.ndarray,
    cmap: Any,
    solid: str | None,
    s: float,
    alpha: float,
) -> None:
    """One swarm per line at height ``y[i]``, drawn with a few scatter calls for all lines
    together (one per colour; see :func:`~ferroshap.plots._common.colored_points`), never one
    per point."""
    xs_all, ys_all, cs_all = [], [], []
    for xs, cs, yi in zip(lines, colors, y, strict=True):
        finite = np.isfinite(xs)
        xs, cs = xs[finite], cs[finite]
        xs_all.append(xs)
        ys_all.append(yi + swarm_offsets(xs, cs))
        cs_all.append(cs)
    if len(lines) <= 1 or sum(map(len, xs_all)) <= RASTER_ABOVE:
        # Small: one call per line (and one for its missing colours), exact colours.
        for xs, ys, cs in zip(xs_all, ys_all, cs_all, strict=True):
            _draw(ax, xs, ys, cs, cmap, solid, s, alpha)
        return
    _draw(
        ax,
        np.concatenate(xs_all),
        np.concatenate(ys_all),
        np.concatenate(cs_all),
        cmap,
        solid,
        s,
        alpha,
        (*_padded_x(xs_all), y.min() - 0.6, y.max() + 0.6),
    )


def _draw(ax, xs, ys, cs, cmap, solid, s, alpha, limits=None) -> None:
    raster = len(xs) > 2000  # keeps vector output (PDF/SVG) small
    if solid is not None:
        ax.scatter(xs, ys, color=solid, s=s, alpha=alpha, linewidths=0, rasterized=raster)
        return
    known = np.isfinite(cs)
    if not known.all():
        ax.scatter(
            xs[~known], ys[~known], color=NEUTRAL, s=s, alpha=alpha, linewidths=0, rasterized=raster
        )
    if known.any():
        colored_points(ax, xs[known], ys[known], cs[known], cmap, s, alpha, limits)


def _padded_x(lines: list[np.ndarray]) -> tuple[float, float]:
    lo = min((float(v.min()) for v in lines if len(v)), default=-1.0)
    hi = max((float(v.max()) for v in lines if len(v)), default=1.0)
    pad = 0.05 * (hi - lo) if hi > lo else 0.5
    return lo - pad, hi + pad


def swarm_offsets(
    x: np.ndarray, tie: np.ndarray | None = None, width: float = 0.4, nbins: int = 100
) -> np.ndarray:
    """Vertical offsets in ``[-width, width]`` that spread points where ``x`` is dense.

    ``x`` is cut into ``nbins`` bins; within a bin the points (sorted by ``tie``, so similar
    colours sit together) alternate above and below the line, and the busiest bin sets the
    scale. Vectorised: sorting, no per-point Python loop.
    """
    n = len(x)
    if n == 0:
        return np.zeros(0)
    lo, hi = float(x.min()), float(x.max())
    bins = (
        np.zeros(n, dtype=np.int64)
        if hi == lo
        else np.rint((x - lo) / (hi - lo) * (nbins - 1)).astype(np.int64)
    )
    keys = (bins,) if tie is None else (np.nan_to_num(tie, nan=-1.0), bins)
    order = np.lexsort(keys)
    counts = np.bincount(bins, minlength=nbins)
    starts = np.cumsum(counts) - counts
    rank = np.arange(n) - starts[bins[order]]
    level = (rank + 1) // 2
    signed = np.where(rank % 2 == 1, level, -level).astype(np.float64)
    offsets = np.empty(n)
    offsets[order] = signed * (width / max(int(level.max()), 1))
    return offsets


def numeric_colors(data: Any, j: int, n: int) -> np.ndarray:
    """Feature ``j``'s values scaled to 0..1 between its 5th and 95th percentiles (NaN where
    missing or not numeric), so a few outliers do not wash out the colours."""
    if data is None:
        return np.full(n, np.nan)
    column = np.asarray(data)[:, j]
    try:
        column = column.astype(np.float64)
    except (TypeError, ValueError):
        return np.full(len(column), np.nan)
    finite = column[np.isfinite(column)]
    if finite.size == 0:
        return column
    lo, hi = np.percentile(finite, [5, 95])
    if hi <= lo:
        lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        return np.where(np.isfinite(column), 0.5, np.nan)
    return np.clip((column - lo) / (hi - lo), 0.0, 1.0)


def _size(plot_size: Any, k: int) -> Any:
    if plot_size == "auto":
        return rows_size(k)
    if plot_size is None:
        return pyplot().rcParams["figure.figsize"]
    if isinstance(plot_size, (int, float)):
        return (8.0, 1.2 + plot_size * k)
    return tuple(plot_size)


def _color_bar(ax: Any, cmap: Any, label: str) -> None:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    bar = ax.figure.colorbar(
        ScalarMappable(norm=Normalize(0, 1), cmap=cmap),
        ax=ax,
        ticks=[0, 1],
        aspect=40,
        pad=0.02,
    )
    bar.set_ticklabels(["Low", "High"])
    bar.set_label(label)
    bar.outline.set_visible(False)
