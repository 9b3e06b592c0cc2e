"""Scatter (dependence) plot: a feature's SHAP value against its value."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ferroshap.explanation import Explanation
from ferroshap.plots._common import (
    NEGATIVE,
    NEUTRAL,
    TEXT,
    colored_points,
    colormap,
    feature_labels,
    finish,
    new_axes,
    padded_range,
    pyplot,
    select_output,
    shorten,
    solid_color,
    to_explanation,
)
from ferroshap.plots._interactions import interaction_scores, numeric_matrix

__all__ = ["scatter"]

_PERCENTILE = re.compile(r"percentile\(\s*([0-9.]+)\s*\)")


def scatter(
    shap_values: Any,
    color: Any = NEGATIVE,
    hist: bool = True,
    axis_color: str = TEXT,
    cmap: Any = None,
    dot_size: float = 16,
    x_jitter: Any = "auto",
    alpha: float = 1.0,
    title: str | None = None,
    xmin: Any = None,
    xmax: Any = None,
    ymin: Any = None,
    ymax: Any = None,
    overlay: dict[str, Any] | None = None,
    ax: Any = None,
    ylabel: str = "SHAP value",
    show: bool = True,
    output: Any = None,
) -> Any:
    """Draw a feature's SHAP values against its values (a dependence plot).

    Parameters
    ----------
    shap_values
        One feature's column, ``explanation[:, "bmi"]`` (values ``(n_rows,)``), or a few,
        ``explanation[:, ["bmi", "age"]]``, drawn side by side.
    color
        A matplotlib colour for every point; or an Explanation to colour by: one column
        (``explanation[:, "age"]``) colours by that feature's values, the whole explanation
        (``color=explanation``) by the feature that interacts most with the plotted one (see
        :mod:`ferroshap.plots._interactions`).
    hist
        A light histogram of the feature's values along the bottom.
    axis_color, cmap, dot_size, alpha, title
        Axis/label colour, colormap for ``color`` values (default: blue -> vermillion), point
        size, opacity, title.
    x_jitter
        Random horizontal spread as a fraction of the gap between distinct values: "auto"
        (0.4 for features with at most 20 distinct values, else 0) or a number in 0..1.
    xmin, xmax, ymin, ymax
        Axis limits: numbers or ``"percentile(q)"`` of the plotted data.
    overlay
        Name -> ``(x, y)`` curves drawn over the points (e.g. a partial dependence line).
    ax, show
        Axes to draw into (a new figure when None); ``plt.show()`` at the end when True.
    ylabel
        The y-axis label; the default becomes "SHAP value for <feature>".
    output
        For a multi-output explanation, which output to draw.

    Returns
    -------
    matplotlib.axes.Axes
        For one feature; for several, a numpy array of Axes, one per feature.

    Examples
    --------
    >>> sv = explainer(X)  # doctest: +SKIP
    >>> ferroshap.plots.scatter(sv[:, "bmi"], color=sv, show=False)  # doctest: +SKIP
    """
    sv = select_output(to_explanation(shap_values, "scatter"), "scatter", output)
    style = {
        "color": color,
        "hist": hist,
        "axis_color": axis_color,
        "cmap": cmap,
        "dot_size": dot_size,
        "x_jitter": x_jitter,
        "alpha": alpha,
        "title": title,
        "limits": (xmin, xmax, ymin, ymax),
        "overlay": overlay,
        "ylabel": ylabel,
    }
    if sv.axis_names == ("rows", "features"):
        n = sv.values.shape[1]
        if ax is not None and np.size(ax) != n:
            raise ValueError(f"scatter: {n} features need {n} Axes, got ax={ax!r}")
        if ax is None:
            figure, ax = pyplot().subplots(
                1, n, figsize=(4.2 * n + 1, 4.5), layout="constrained", squeeze=False
            )
            figure._ferroshap_layout = True
        axes = np.ravel(ax)
        names = feature_labels(sv)
        for j in range(n):
            column = sv[:, j]
            column.feature_names = names[j]
            _one(column, axes[j], **style)
        return finish(axes, show)
    if sv.axis_names != ("rows",):
        raise ValueError(
            "scatter needs one feature's column, e.g. explanation[:, 'bmi'] (values of shape "
            f"(n_rows,)); got values of shape {sv.values.shape} with axes {sv.axis_names}"
        )
    if ax is None:
        ax = new_axes(None, (6.5, 5))
    _one(sv, ax, **style)
    return finish(ax, show)


def _one(
    sv,
    ax,
    *,
    color,
    hist,
    axis_color,
    cmap,
    dot_size,
    x_jitter,
    alpha,
    title,
    limits,
    overlay,
    ylabel,
) -> None:
    name = sv.feature_names if isinstance(sv.feature_names, str) else "feature"
    if sv.data is None:
        raise ValueError(f"scatter: the explanation of {name!r} has no data (feature values)")
    y = np.asarray(sv.values, dtype=np.float64)
    x, categories = _axis_values(sv)
    missing_x = np.isnan(x)
    finite = ~missing_x
    if hist:
        _histogram(ax, x[finite])
    jitter = _jitter(x, x_jitter)
    if jitter > 0:
        x = x + np.random.default_rng(0).uniform(-jitter, jitter, len(x))
    cvals, cname = _color_values(sv, color)
    raster = len(x) > 2000
    if cvals is None:
        solid = solid_color(color) or NEGATIVE
        ax.scatter(
            x[finite],
            y[finite],
            color=solid,
            s=dot_size,
            alpha=alpha,
            linewidths=0,
            rasterized=raster,
        )
    else:
        known = finite & np.isfinite(cvals)
        unknown = finite & ~np.isfinite(cvals)
        if unknown.any():
            ax.scatter(
                x[unknown],
                y[unknown],
                color=NEUTRAL,
                s=dot_size,
                alpha=alpha,
                linewidths=0,
                rasterized=raster,
            )
        lo, hi = np.percentile(cvals[known], [5, 95]) if known.any() else (0.0, 1.0)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        cmap = cmap or colormap()
        if isinstance(cmap, str):
            cmap = pyplot().get_cmap(cmap)
        scaled = (cvals[known] - lo) / (hi - lo)
        limits = (*padded_range(x[finite]), *padded_range(y))
        colored_points(ax, x[known], y[known], scaled, cmap, dot_size, alpha, limits)
        points = ScalarMappable(Normalize(lo, hi), cmap)
        bar = ax.figure.colorbar(points, ax=ax, aspect=40, pad=0.02)
        bar.set_label(shorten(cname))
        bar.outline.set_visible(False)
    if missing_x.any():
        # Missing feature values: grey ticks at the left edge, as shap draws them.
        left = np.nanmin(x) if finite.any() else 0.0
        span = (np.nanmax(x) - left) if finite.any() else 1.0
        ax.scatter(
            np.full(missing_x.sum(), left - 0.05 * (span or 1.0)),
            y[missing_x],
            marker="|",
            color=NEUTRAL,
            s=dot_size * 2,
            linewidths=1,
        )
    for label, (ox, oy) in (overlay or {}).items():
        ax.plot(ox, oy, linewidth=2, label=label)
    if overlay:
        ax.legend(frameon=False)
    if categories is not None:
        ax.set_xticks(
            np.arange(len(categories)),
            [shorten(c, 14) for c in categories],
            rotation=45 if len(categories) > 5 else 0,
            ha="right" if len(categories) > 5 else "center",
        )
    _limits(ax, limits, x[finite], y)
    ax.set_xlabel(shorten(name, 60), color=axis_color)
    ax.set_ylabel(
        f"SHAP value for\n{shorten(name)}" if ylabel == "SHAP value" else ylabel, color=axis_color
    )
    ax.spines[["top", "right"]].set_visible(False)
    ax.axhline(0, color=NEUTRAL, linewidth=0.6, zorder=-1)
    if title is not None:
        ax.set_title(title)


def _axis_values(sv: Explanation) -> tuple[np.ndarray, list[str] | None]:
    raw = sv.display_data if sv.display_data is not None else sv.data
    raw = np.asarray(raw)
    try:
        return raw.astype(np.float64), None
    except (TypeError, ValueError):
        text = raw.astype(str)
        categories, codes = np.unique(text, return_inverse=True)
        return codes.astype(np.float64), [str(c) for c in categories]


def _jitter(x: np.ndarray, x_jitter: Any) -> float:
    distinct = np.unique(x[np.isfinite(x)])
    if len(distinct) < 2:
        return 0.0
    if x_jitter == "auto":
        x_jitter = 0.4 if len(distinct) <= 20 else 0.0
    x_jitter = float(x_jitter)
    if not 0.0 <= x_jitter <= 1.0:
        raise ValueError(f"x_jitter must be 'auto' or between 0 and 1, got {x_jitter}")
    return x_jitter * float(np.diff(distinct).min())


def _color_values(sv: Explanation, color: Any) -> tuple[np.ndarray | None, str]:
    if (
        color is None
        or isinstance(color, str)
        or (not isinstance(color, Explanation) and solid_color(color) is not None)
    ):
        return None, ""
    other = to_explanation(color, "scatter color")
    if other.axis_names == ("rows", "features"):
        if other.data is None:
            raise ValueError("scatter: color=explanation needs its data (feature values)")
        if other.values.shape[0] != len(sv.values):
            raise ValueError(
                f"scatter: color has {other.values.shape[0]} rows, the plot {len(sv.values)}"
            )
        index = _find_column(other, sv)
        scores = interaction_scores(index, other.values, other.data)
        best = int(np.argmax(scores))
        if not np.isfinite(scores[best]):
            return None, ""
        column = np.asarray(other.data)[:, [best]]
        return numeric_matrix(column)[:, 0], feature_labels(other)[best]
    if other.axis_names == ("rows",):
        if other.data is None:
            raise ValueError("scatter: the color explanation has no data (feature values)")
        cname = other.feature_names if isinstance(other.feature_names, str) else "color"
        return numeric_matrix(np.asarray(other.data).reshape(-1, 1))[:, 0], cname
    raise ValueError(
        "scatter: color must be a colour, one feature's column (explanation[:, 'age']) or the "
        f"whole (n_rows, n_features) explanation; got values of shape {other.values.shape}"
    )


def _find_column(full: Explanation, column: Explanation) -> int:
    names = full.feature_names
    if isinstance(column.feature_names, str) and isinstance(names, list):
        if column.feature_names in names:
            return names.index(column.feature_names)
    matches = np.flatnonzero((full.values == column.values[:, None]).all(axis=0))
    if len(matches) == 0:
        raise ValueError("scatter: the plotted feature is not a column of the color explanation")
    return int(matches[0])


def _histogram(ax: Any, x: np.ndarray) -> None:
    if len(x) == 0:
        return
    twin = ax.twinx()
    distinct = np.unique(x)
    if len(distinct) <= 20:  # one bar per value, centred on it
        mids = (distinct[1:] + distinct[:-1]) / 2
        gap = float(np.diff(distinct).min()) if len(distinct) > 1 else 1.0
        bins: Any = np.concatenate([[distinct[0] - gap / 2], mids, [distinct[-1] + gap / 2]])
    else:
        bins = 50
    twin.hist(x, bins=bins, color="#dddddd", zorder=-1, rwidth=0.9 if len(distinct) <= 20 else 1)
    top = twin.get_ylim()[1]
    twin.set_ylim(0, top * 5)  # the histogram fills the bottom fifth
    twin.set_yticks([])
    twin.spines[["top", "right", "left"]].set_visible(False)
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)


def _limit(spec: Any, values: np.ndarray) -> float | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        match = _PERCENTILE.fullmatch(spec.strip())
        if match is None:
            raise ValueError(f"axis limit must be a number or 'percentile(q)', got {spec!r}")
        return float(np.nanpercentile(values, float(match.group(1))))
    return float(spec)


def _limits(ax: Any, limits: tuple, x: np.ndarray, y: np.ndarray) -> None:
    xmin, xmax, ymin, ymax = (_limit(s, v) for s, v in zip(limits, (x, x, y, y), strict=True))
    if xmin is not None or xmax is not None:
        ax.set_xlim(xmin, xmax)
    if ymin is not None or ymax is not None:
        ax.set_ylim(ymin, ymax)
