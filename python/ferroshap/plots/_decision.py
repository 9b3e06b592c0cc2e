"""Decision plot: each row's path from the base value to its output, feature by feature."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ferroshap.explanation import Explanation
from ferroshap.plots._common import (
    TEXT,
    colormap,
    feature_labels,
    finish,
    from_arrays,
    new_axes,
    others_label,
    select_output,
    value_label,
)

__all__ = ["DecisionResult", "decision", "multioutput_decision"]


@dataclass
class DecisionResult:
    """What ``decision(..., return_objects=True)`` returns, to draw other rows the same way."""

    base_value: float
    shap_values: np.ndarray
    feature_names: list[str]
    feature_idx: np.ndarray
    xlim: tuple[float, float]
    ax: Any


def decision(
    base_value: Any,
    shap_values: Any = None,
    features: Any = None,
    feature_names: Any = None,
    feature_order: Any = "importance",
    feature_display_range: Any = None,
    highlight: Any = None,
    link: str = "identity",
    plot_color: Any = None,
    axis_color: str = TEXT,
    y_demarc_color: str = TEXT,
    alpha: float | None = None,
    color_bar: bool = True,
    auto_size_plot: bool = True,
    title: str | None = None,
    xlim: Any = None,
    show: bool = True,
    return_objects: bool = False,
    ignore_warnings: bool = False,
    new_base_value: float | None = None,
    legend_labels: Any = None,
    legend_location: str = "best",
    ax: Any = None,
) -> Any:
    """Draw each row as a line from the base value (bottom) to its model output (top), adding
    one feature's SHAP value per step, most important feature last.

    Call it shap's way, ``decision(base_value, shap_values, features)``, or with an
    Explanation, ``decision(explanation)``.

    Parameters
    ----------
    base_value
        The expected value (a number), or an Explanation (then ``shap_values`` is not given).
    shap_values
        ``(n_rows, n_features)`` or ``(n_features,)``.
    features, feature_names
        Feature values (array or DataFrame) and names.
    feature_order
        ``"importance"`` (sum of ``|SHAP|``), ``"hclust"`` (similar features together, needs
        scipy), ``"none"``, or feature indices.
    feature_display_range
        A slice or range over the ordered features (most important last) to draw; the default
        draws the 20 most important and sums the rest into the first step.
    highlight
        Row indices (or a boolean mask) drawn as thick dashed lines.
    link
        ``"identity"``, or ``"logit"`` to draw probabilities from log-odds.
    plot_color
        Colormap for the lines (by output value); default blue -> vermillion.
    axis_color, y_demarc_color, alpha, color_bar, title, xlim
        Axis colour, colour of the base-value line, line opacity (default by row count),
        a colour bar of outputs, title, x limits.
    auto_size_plot
        Size the new figure to the number of features.
    show, ax
        ``plt.show()`` at the end; Axes to draw into.
    return_objects
        Return a :class:`DecisionResult` (with ``.ax``) instead of the Axes.
    ignore_warnings
        Accepted for shap compatibility: ferroshap draws any number of rows (one line
        collection).
    new_base_value
        Shift every line to start from this base value instead.
    legend_labels, legend_location
        One label per row for a legend, and where it goes.

    Returns
    -------
    matplotlib.axes.Axes or DecisionResult
        The Axes (its lines are ``ax.collections[0]``), or a DecisionResult.

    Examples
    --------
    >>> ferroshap.plots.decision(explainer(X[:20]), show=False)  # doctest: +SKIP
    """
    sv = _explanation(base_value, shap_values, features, feature_names)
    values = np.asarray(sv.values, dtype=np.float64)
    one_row = values.ndim == 1
    values = np.atleast_2d(values)
    n, m = values.shape
    if sv.base_values is None:
        raise ValueError("decision needs a base value")
    base = np.broadcast_to(np.asarray(sv.base_values, dtype=np.float64), (n,)).copy()
    if new_base_value is not None:
        base[:] = float(new_base_value)
    order = _feature_order(values, feature_order)  # least important first
    if feature_display_range is None:
        shown_positions = np.arange(max(m - 20, 0), m)
    else:
        shown_positions = np.arange(m)[feature_display_range]
        if isinstance(feature_display_range, slice) and (feature_display_range.step or 1) < 0:
            shown_positions = shown_positions[::-1]
    shown = order[shown_positions]
    hidden = np.setdiff1d(np.arange(m), shown)
    names = feature_labels(sv, m)
    # Point 0 is the start (base value plus the features not drawn); point i the running
    # total after the i-th drawn feature, labelled with that feature.
    labels = [others_label(len(hidden)) if len(hidden) else ""]
    data = np.asarray(sv.data).reshape(-1) if one_row and sv.data is not None else None
    for j in shown:
        labels.append(value_label(names[j], None if data is None else data[j]))
    start = base + values[:, hidden].sum(axis=1)
    steps = np.column_stack([start, start[:, None] + np.cumsum(values[:, shown], axis=1)])
    if link == "logit":
        steps = 1.0 / (1.0 + np.exp(-steps))
        base_x = 1.0 / (1.0 + np.exp(-base))
    elif link == "identity":
        base_x = base
    else:
        raise ValueError(f"link must be 'identity' or 'logit', got {link!r}")

    k = steps.shape[1]
    ys = np.arange(k, dtype=np.float64)
    ax = new_axes(ax, (8, 2.0 + 0.4 * k) if auto_size_plot else (8, 6))
    from matplotlib.collections import LineCollection

    segments = np.stack([steps, np.broadcast_to(ys, steps.shape)], axis=2)
    final = steps[:, -1]
    cmap = plot_color or colormap()
    lo, hi = float(final.min()), float(final.max())
    norm_final = (final - lo) / (hi - lo) if hi > lo else np.full(n, 0.5)
    line_alpha = alpha if alpha is not None else (1.0 if n <= 50 else 0.4)
    lines = LineCollection(
        list(segments), colors=cmap(norm_final), linewidths=1.2, alpha=line_alpha
    )
    ax.add_collection(lines)
    if highlight is not None:
        mask = np.zeros(n, dtype=bool)
        mask[np.asarray(highlight)] = True
        ax.add_collection(
            LineCollection(
                list(segments[mask]), colors=cmap(norm_final[mask]), linewidths=2.5, linestyles="--"
            )
        )
    ax.axvline(float(np.mean(base_x)), color=y_demarc_color, linewidth=0.8, linestyle=":")
    for y in ys[1:]:
        ax.axhline(y, color="#e5e5e5", linewidth=0.6, zorder=-1)
    ax.set_yticks(ys, labels)
    ax.set_ylim(-0.3, k - 0.7)
    span = steps.max() - steps.min()
    pad = 0.05 * (span if span > 0 else 1.0)
    ax.set_xlim(xlim if xlim is not None else (steps.min() - pad, steps.max() + pad))
    ax.tick_params(axis="both", colors=axis_color, length=0)
    ax.xaxis.set_ticks_position("both")
    ax.tick_params(axis="x", labeltop=True)
    ax.set_xlabel("Model output value" + (" (probability)" if link == "logit" else ""))
    ax.spines[["right", "left"]].set_visible(False)
    if color_bar and n > 1:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        bar = ax.figure.colorbar(
            ScalarMappable(Normalize(lo, hi if hi > lo else lo + 1), cmap),
            ax=ax,
            aspect=40,
            pad=0.02,
        )
        bar.set_label("Model output value")
        bar.outline.set_visible(False)
    if legend_labels is not None:
        from matplotlib.lines import Line2D

        if len(legend_labels) != n:
            raise ValueError(f"legend_labels has {len(legend_labels)} labels for {n} rows")
        handles = [Line2D([], [], color=cmap(c)) for c in norm_final]
        ax.legend(handles, list(legend_labels), loc=legend_location, frameon=False)
    if title is not None:
        ax.set_title(title)
    ax = finish(ax, show)
    if return_objects:
        return DecisionResult(float(np.mean(base)), values, names, shown, tuple(ax.get_xlim()), ax)
    return ax


def multioutput_decision(
    base_values: Any, shap_values: Any = None, row_index: int | None = None, **kwargs: Any
) -> Any:
    """Decision plot of one row across the outputs of a multi-output model (shap's
    ``multioutput_decision``): one line per output, every line starting from the mean of the
    outputs' base values (each output's values shifted by ``(base_k - mean) / n_features`` per
    feature, as shap does), so the lines end at each output's prediction.

    Parameters
    ----------
    base_values
        One base value per output (``explainer.expected_value``), or an Explanation with an
        output axis (then ``shap_values`` is not given).
    shap_values
        shap's list of ``(n_rows, n_features)`` arrays (one per output), or one
        ``(n_rows, n_features, n_outputs)`` array (ferroshap's and shap >= 0.45's layout).
    row_index
        The row to draw (needed unless an Explanation of one row is given).
    **kwargs
        Passed to :func:`decision` (``features`` may hold every row: the row is taken from it).

    Returns
    -------
    matplotlib.axes.Axes or DecisionResult
        As :func:`decision`; ``ax.collections[0]`` holds one line per output.

    Examples
    --------
    >>> sv = explainer.shap_values(X)  # (n_rows, n_features, n_outputs)  # doctest: +SKIP
    >>> base = explainer.expected_value  # doctest: +SKIP
    >>> ferroshap.plots.multioutput_decision(base, sv, row_index=0)  # doctest: +SKIP
    """
    features = kwargs.pop("features", None)
    feature_names = kwargs.pop("feature_names", None)
    if shap_values is None:
        from ferroshap.plots._common import to_explanation

        sv = to_explanation(base_values, "multioutput_decision")
        if "outputs" not in sv.axis_names:
            raise ValueError(
                "multioutput_decision needs an Explanation with an output axis; for one output "
                "use decision"
            )
        if "rows" in sv.axis_names:
            if row_index is None:
                raise ValueError("multioutput_decision: give row_index (the row to draw)")
            sv = sv[row_index]
        if sv.axis_names != ("features", "outputs"):
            raise ValueError(
                "multioutput_decision: expected axes (rows, features, outputs), got "
                f"{sv.axis_names}"
            )
        row = np.asarray(sv.values, dtype=np.float64).T  # (outputs, features)
        bases = np.asarray(sv.base_values, dtype=np.float64).reshape(-1)
        if features is None and sv.data is not None:
            features = np.asarray(sv.data).reshape(-1)
        if feature_names is None and sv.feature_names is not None:
            feature_names = list(sv.feature_names)
    else:
        if row_index is None:
            raise ValueError("multioutput_decision: give row_index (the row to draw)")
        bases = np.asarray(base_values, dtype=np.float64).reshape(-1)
        if isinstance(shap_values, (list, tuple)):
            stacked = np.stack([np.asarray(v, dtype=np.float64) for v in shap_values])
            if stacked.ndim != 3:
                raise ValueError(
                    "multioutput_decision takes a list of (n_rows, n_features) SHAP arrays; got "
                    f"arrays of shape {stacked.shape[1:]} (for interaction values, sum over "
                    "the last axis first)"
                )
            row = stacked[:, row_index, :]
        else:
            values = np.asarray(shap_values, dtype=np.float64)
            if values.ndim != 3:
                raise ValueError(
                    "multioutput_decision takes (n_rows, n_features, n_outputs) SHAP values or "
                    f"a list of (n_rows, n_features) arrays; got shape {values.shape}"
                )
            row = values[row_index].T
        if hasattr(features, "columns") and feature_names is None:
            feature_names = [str(c) for c in features.columns]
        if features is not None:
            if hasattr(features, "to_numpy"):
                features = features.to_numpy()
            features = np.asarray(features)
            if features.ndim == 2:
                features = features[row_index]
    if bases.size != row.shape[0]:
        raise ValueError(
            f"multioutput_decision: {bases.size} base values for {row.shape[0]} outputs"
        )
    mean_base = float(bases.mean())
    shifted = row + (bases - mean_base)[:, None] / row.shape[1]
    if features is not None:
        features = np.broadcast_to(np.asarray(features), shifted.shape)
    return decision(mean_base, shifted, features, feature_names, **kwargs)


def _explanation(base_value, shap_values, features, feature_names) -> Explanation:
    if shap_values is None:
        if isinstance(base_value, Explanation) or type(base_value).__name__ == "Explanation":
            sv = select_output(from_arrays(base_value), "decision")
            if sv.axis_names not in (("rows", "features"), ("features",)):
                raise ValueError(
                    "decision needs an Explanation of shape (n_rows, n_features) or "
                    f"(n_features,); got {sv.values.shape} with axes {sv.axis_names}"
                )
            return sv
        raise TypeError("decision(base_value, shap_values, ...) or decision(explanation)")
    values = np.asarray(shap_values, dtype=np.float64)
    base = np.asarray(base_value, dtype=np.float64).reshape(-1)
    if base.size != 1:
        raise ValueError(
            f"decision draws one output: base_value must be one number, got {base.size}; "
            "for a multi-output model pass one output's base value and values"
        )
    return from_arrays(values, features, feature_names, base_values=float(base[0]))


def _feature_order(values: np.ndarray, feature_order: Any) -> np.ndarray:
    """Feature indices, least important first (drawn bottom to top)."""
    m = values.shape[1]
    if isinstance(feature_order, str):
        if feature_order == "importance":
            return np.argsort(np.abs(values).sum(axis=0), kind="stable")
        if feature_order == "hclust":
            from ferroshap.cohorts import hclust_order

            return hclust_order(values.T) if values.shape[0] > 1 else np.arange(m)
        if feature_order == "none":
            return np.arange(m)
        raise ValueError(
            "feature_order must be 'importance', 'hclust', 'none' or indices, "
            f"got {feature_order!r}"
        )
    if feature_order is None:
        return np.arange(m)
    order = np.asarray(feature_order, dtype=np.int64)
    if sorted(order.tolist()) != list(range(m)):
        raise ValueError(f"feature_order must be a permutation of range({m})")
    return order
