"""Waterfall plot: how one prediction moves from the base value to the model output."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap.plots._common import (
    NEUTRAL,
    TEXT,
    as_row,
    display_order,
    feature_labels,
    feature_values,
    finish,
    format_at_scale,
    format_value,
    new_axes,
    others_label,
    rows_size,
    value_label,
)
from ferroshap.plots._style import get_style

__all__ = ["waterfall"]


def waterfall(
    shap_values: Any,
    max_display: int = 10,
    show: bool = True,
    ax: Any = None,
    output: Any = None,
) -> Any:
    """Draw one row's SHAP values as a waterfall from ``E[f(X)]`` up to ``f(x)``.

    Each bar is one feature's contribution, largest magnitude at the top; bars that raise the
    prediction are vermillion, those that lower it blue. Features beyond ``max_display - 1``
    are summed into a "Sum of N other features" bar at the bottom.

    Parameters
    ----------
    shap_values
        One row of an Explanation (``explanation[0]``), values of shape ``(n_features,)``.
    max_display
        Rows drawn, the "Sum of N other features" row included.
    show
        Call ``plt.show()`` at the end. With ``False`` the figure stays open for ``savefig``.
    ax
        A matplotlib Axes to draw into; a new figure when None.
    output
        For a multi-output explanation, which output to draw (name or position).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn into: one bar per row (``ax.patches``), labelled ``"name = value"``
        top to bottom in ``ax.get_yticklabels()`` (bottom to top).

    Examples
    --------
    >>> ax = ferroshap.plots.waterfall(explainer(X)[0], show=False)  # doctest: +SKIP
    >>> ax.figure.savefig("waterfall.png")  # doctest: +SKIP
    """
    sv = as_row(shap_values, "waterfall", output)
    values = np.asarray(sv.values, dtype=np.float64)
    if sv.base_values is None or np.ndim(sv.base_values) != 0:
        raise ValueError(
            "waterfall needs the row's base value (a scalar base_values), got "
            f"{None if sv.base_values is None else np.shape(sv.base_values)}"
        )
    base = float(sv.base_values)
    names = feature_labels(sv)
    shown, rest = display_order(np.abs(values), max_display)
    data = feature_values(sv)

    # Bottom to top: the summed rest first, then the shown features, smallest to largest.
    labels: list[str] = []
    widths: list[float] = []
    if len(rest):
        labels.append(others_label(len(rest)))
        widths.append(float(values[rest].sum()))
    for j in shown[::-1]:
        labels.append(value_label(names[j], None if data is None else np.asarray(data)[j]))
        widths.append(float(values[j]))
    widths_arr = np.asarray(widths)
    lefts = base + np.concatenate([[0.0], np.cumsum(widths_arr)[:-1]])
    style = get_style()  # the colours of shap's style options (plots._style)
    colors = np.empty(len(widths_arr), dtype=object)
    for i, width in enumerate(widths_arr):
        colors[i] = style.primary_color_positive if width >= 0 else style.primary_color_negative
    if len(rest):
        colors[0] = NEUTRAL if widths_arr[0] == 0 else colors[0]
    fx = base + float(widths_arr.sum())

    n = len(labels)
    ax = new_axes(ax, rows_size(n + 1))
    y = np.arange(n)
    ax.barh(y, widths_arr, left=lefts, height=0.7, color=list(colors), edgecolor="none")
    span = max(float(np.ptp(np.concatenate([lefts, lefts + widths_arr, [base, fx]]))), 1e-12)
    for yi, left, width in zip(y, lefts, widths_arr, strict=True):
        inside = abs(width) > 0.18 * span
        text = ("+" if width >= 0 else "") + format_value(width)
        x = left + width / 2 if inside else max(left, left + width) + 0.01 * span
        ax.text(
            x,
            yi,
            text,
            ha="center" if inside else "left",
            va="center",
            color=style.text_color if inside else TEXT,
            fontsize=9,
        )
    ax.axvline(base, color=style.vlines_color, linestyle="--", linewidth=0.8, zorder=0)
    ax.axvline(fx, color=style.vlines_color, linestyle=":", linewidth=0.8, zorder=0)
    ax.text(
        base, -0.75, f"E[f(X)] = {format_at_scale(base, span)}", ha="center", va="top", color=TEXT
    )
    ax.text(
        fx, n - 0.3, f"f(x) = {format_at_scale(fx, span)}", ha="center", va="bottom", color=TEXT
    )
    ax.set_yticks(y, labels)
    ax.set_ylim(-1.5, n + 0.4)
    pad = 0.12 * span
    ax.set_xlim(
        min(lefts.min(), (lefts + widths_arr).min(), base) - pad,
        max(lefts.max(), (lefts + widths_arr).max(), base, fx) + pad,
    )
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.tick_params(axis="y", length=0, labelcolor=style.tick_labels_color)
    ax.set_xlabel("Model output")
    return finish(ax, show)
