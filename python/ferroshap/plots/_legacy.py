"""shap's legacy array-based plot functions, on top of the Explanation plots."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ferroshap.explanation import Explanation
from ferroshap.plots._bar import GROUP_COLORS, bar
from ferroshap.plots._beeswarm import beeswarm
from ferroshap.plots._common import (
    NEGATIVE,
    TEXT,
    display_order,
    feature_labels,
    finish,
    from_arrays,
    new_axes,
    others_label,
    rows_size,
    shorten,
)
from ferroshap.plots._decision import decision
from ferroshap.plots._scatter import scatter
from ferroshap.plots._violin import violin
from ferroshap.plots._waterfall import waterfall

__all__ = ["bar_plot", "decision_plot", "dependence_plot", "summary_plot", "waterfall_plot"]

_RANK = re.compile(r"rank\(\s*(\d+)\s*\)")

decision_plot = decision


def waterfall_plot(shap_values: Any, max_display: int = 10, show: bool = True, ax: Any = None):
    """shap's legacy name for :func:`ferroshap.plots.waterfall`."""
    return waterfall(shap_values, max_display=max_display, show=show, ax=ax)


def bar_plot(
    shap_values: Any,
    features: Any = None,
    feature_names: Any = None,
    max_display: int | None = None,
    show: bool = True,
    ax: Any = None,
) -> Any:
    """shap's legacy single-row bar plot: ``shap_values`` of one row ``(n_features,)``, with
    its ``features`` values and ``feature_names``. Returns the Axes (see
    :func:`ferroshap.plots.bar`)."""
    sv = from_arrays(shap_values, features, feature_names)
    return bar(sv, max_display=max_display or 10, show=show, ax=ax)


def summary_plot(
    shap_values: Any,
    features: Any = None,
    feature_names: Any = None,
    max_display: int | None = None,
    plot_type: str | None = None,
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
    show_values_in_legend: bool = False,
    use_log_scale: bool = False,
    rng: Any = None,
    ax: Any = None,
) -> Any:
    """shap's ``summary_plot``: a beeswarm (``plot_type="dot"``), bar or violin summary.

    Parameters
    ----------
    shap_values
        ``(n_rows, n_features)`` values (or an Explanation); for several outputs a list of
        such arrays or an ``(n_rows, n_features, n_outputs)`` array, drawn as a stacked bar
        of mean ``|SHAP|`` per output (the only multi-output kind, as in shap).
    features, feature_names
        Feature values (array or DataFrame, whose columns name the features) and names.
    max_display
        Lines drawn (default 20), the "Sum of N other features" line included.
    plot_type
        ``"dot"`` (default for one output), ``"bar"`` (default for several), ``"violin"`` or
        ``"layered_violin"``.
    class_names, class_inds
        Output names and which outputs to draw (all by default) for the stacked bar.
    show_values_in_legend
        Add each output's total mean ``|SHAP|`` to its legend entry.
    sort
        Most important features on top; otherwise the given order.
    color, axis_color, title, alpha, color_bar, plot_size, layered_violin_max_num_bins,
    color_bar_label, cmap, use_log_scale, rng
        As in the corresponding Explanation plots (``rng`` is accepted for compatibility:
        the layout is deterministic).
    show, ax
        ``plt.show()`` at the end; Axes to draw into.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ferroshap.summary_plot(explainer.shap_values(X), X, show=False)  # doctest: +SKIP
    """
    requested_max_display = max_display  # interaction summaries default to 7, not 20
    max_display = 20 if max_display is None else max_display
    outputs = _outputs(shap_values)
    values = shap_values.values if isinstance(shap_values, Explanation) else shap_values
    if outputs is None and np.ndim(values) == 3 and plot_type == "bar":
        values = np.asarray(values, dtype=np.float64)
        if values.shape[2] > 2:  # shap: a 3-D array drawn as bars has one output per last index
            outputs = [values[:, :, k] for k in range(values.shape[2])]
    if outputs is not None:
        if plot_type not in (None, "bar"):
            raise ValueError(
                f"summary_plot draws several outputs only as plot_type='bar'; for "
                f"plot_type={plot_type!r} pass one output's values, e.g. shap_values[1] "
                "(or explanation[..., 1])"
            )
        return _stacked_bar(
            outputs,
            features,
            feature_names,
            max_display,
            class_names,
            class_inds,
            show_values_in_legend,
            sort,
            title,
            show,
            ax,
        )
    if np.ndim(values) == 3:  # interaction values (n_rows, n_features, n_features)
        from ferroshap.plots._interaction_summary import interaction_summary

        if ax is not None:
            raise ValueError("summary_plot draws interaction values in a figure of its own")
        return interaction_summary(
            values,
            features,
            feature_names,
            max_display=requested_max_display,
            plot_type=plot_type,
            color_bar_label=color_bar_label,
            show=show,
        )
    sv = from_arrays(shap_values, features, feature_names)
    plot_type = plot_type or "dot"
    order = None if sort else np.arange(sv.values.shape[-1], 0, -1, dtype=np.float64)
    if plot_type == "dot":
        ax = beeswarm(
            sv,
            max_display=max_display,
            color=color or cmap,
            axis_color=axis_color,
            alpha=alpha,
            show=False,
            color_bar=color_bar,
            plot_size=plot_size,
            color_bar_label=color_bar_label,
            log_scale=use_log_scale,
            ax=ax,
            **({} if order is None else {"order": order}),
        )
    elif plot_type == "bar":
        ax = bar(
            sv,
            max_display=max_display,
            show=False,
            ax=ax,
            **({} if order is None else {"order": order}),
        )
    elif plot_type in ("violin", "layered_violin"):
        ax = violin(
            sv,
            max_display=max_display,
            plot_type=plot_type,
            color=color,
            axis_color=axis_color,
            alpha=alpha,
            show=False,
            sort=sort,
            color_bar=color_bar,
            plot_size=plot_size,
            layered_violin_max_num_bins=layered_violin_max_num_bins,
            color_bar_label=color_bar_label,
            cmap=cmap,
            use_log_scale=use_log_scale,
            ax=ax,
        )
    elif plot_type == "compact_dot":
        raise ValueError(
            "summary_plot(plot_type='compact_dot') is for interaction values, which ferroshap "
            "does not summarise; use plot_type='dot'"
        )
    else:
        raise ValueError(
            f"plot_type must be 'dot', 'bar', 'violin' or 'layered_violin', got {plot_type!r}"
        )
    if title is not None:
        ax.set_title(title)
    return finish(ax, show)


def _outputs(shap_values: Any) -> list[np.ndarray] | None:
    """One (n_rows, n_features) array per output, or None for a single output."""
    if isinstance(shap_values, list):
        return [np.asarray(v, dtype=np.float64) for v in shap_values]
    if isinstance(shap_values, Explanation) or type(shap_values).__name__ == "Explanation":
        sv = from_arrays(shap_values)
        if "outputs" in sv.axis_names and sv.axis_names[0] == "rows":
            return [np.asarray(sv.values[..., k]) for k in range(sv.values.shape[-1])]
        return None
    return None


def _stacked_bar(
    outputs,
    features,
    feature_names,
    max_display,
    class_names,
    class_inds,
    show_values_in_legend,
    sort,
    title,
    show,
    ax,
) -> Any:
    shapes = {v.shape for v in outputs}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(
            f"summary_plot: each output's values must be (n_rows, n_features), "
            f"got shapes {sorted(shapes)}"
        )
    sv = from_arrays(outputs[0], features, feature_names)
    means = np.stack([np.abs(v).mean(axis=0) for v in outputs])  # outputs x features
    k_out, m = means.shape
    names = (
        [str(c) for c in class_names]
        if class_names is not None
        else [f"Class {k}" for k in range(k_out)]
    )
    if len(names) != k_out:
        raise ValueError(f"{len(names)} class_names for {k_out} outputs")
    picked = list(range(k_out)) if class_inds is None else list(class_inds)
    keys = means.sum(axis=0) if sort else np.arange(m, 0, -1, dtype=np.float64)
    shown, rest = display_order(keys, max_display)
    labels = [shorten(n) for n in np.asarray(feature_labels(sv))[shown]]
    widths = means[:, shown]
    if len(rest):
        labels.append(others_label(len(rest)))
        widths = np.column_stack([widths, means[:, rest].sum(axis=1)])
    n_rows = len(labels)
    ax = new_axes(ax, rows_size(n_rows))
    y = np.arange(n_rows)[::-1].astype(np.float64)
    left = np.zeros(n_rows)
    for g, k in enumerate(picked):
        label = names[k]
        if show_values_in_legend:
            label += f" ({means[k].sum():.3g})"
        ax.barh(
            y,
            widths[k],
            left=left,
            height=0.7,
            color=GROUP_COLORS[g % len(GROUP_COLORS)],
            label=label,
        )
        left = left + widths[k]
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, n_rows - 0.4)
    ax.tick_params(axis="y", length=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlabel("mean(|SHAP value|) (average impact on model output magnitude)")
    ax.legend(loc="lower right", frameon=False)
    if title is not None:
        ax.set_title(title)
    return finish(ax, show)


def dependence_plot(
    ind: Any,
    shap_values: Any = None,
    features: Any = None,
    feature_names: Any = None,
    display_features: Any = None,
    interaction_index: Any = "auto",
    color: str = NEGATIVE,
    axis_color: str = TEXT,
    cmap: Any = None,
    dot_size: float = 16,
    x_jitter: float = 0,
    alpha: float = 1.0,
    title: str | None = None,
    xmin: Any = None,
    xmax: Any = None,
    ax: Any = None,
    show: bool = True,
    ymin: Any = None,
    ymax: Any = None,
) -> Any:
    """shap's ``dependence_plot``: one feature's SHAP values against its values, coloured by
    an interacting feature.

    Parameters
    ----------
    ind
        The feature: an index, a name, or ``"rank(k)"`` (the k-th most important, from 0).
    shap_values, features, feature_names, display_features
        ``(n_rows, n_features)`` values, feature values (array or DataFrame), names, and
        values to show on the x axis instead (e.g. category labels).
    interaction_index
        ``"auto"`` (the strongest interaction, see :func:`ferroshap.plots.scatter`), None (one
        colour), or a feature as for ``ind``.
    color, axis_color, cmap, dot_size, x_jitter, alpha, title, xmin, xmax, ymin, ymax
        As in :func:`ferroshap.plots.scatter`.
    ax, show
        Axes to draw into; ``plt.show()`` at the end.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ferroshap.dependence_plot("bmi", shap_values, X, show=False)  # doctest: +SKIP
    """
    if shap_values is None:
        raise TypeError("dependence_plot needs shap_values")
    pair_label = None
    if np.ndim(getattr(shap_values, "values", shap_values)) == 3 and isinstance(ind, (tuple, list)):
        # shap's call on interaction values: one pair, against the first feature's values.
        from ferroshap.plots._interaction_summary import interaction_pair_values

        shap_values, ind, interaction_index, features, feature_names = interaction_pair_values(
            tuple(ind), shap_values, features, feature_names
        )
        a = shorten(str(feature_names[ind]))
        if interaction_index is None:
            pair_label = f"SHAP main effect value for\n{a}"
        else:
            b = shorten(str(feature_names[interaction_index]))
            pair_label = f"SHAP interaction value for\n{a} and {b}"
    sv = from_arrays(shap_values, features, feature_names)
    if sv.axis_names != ("rows", "features"):
        raise ValueError(
            f"dependence_plot needs values of shape (n_rows, n_features), got {sv.values.shape}"
        )
    if display_features is not None:
        shown = (
            display_features.to_numpy()
            if hasattr(display_features, "to_numpy")
            else (display_features)
        )
        sv = sv._derive(sv.axis_names, display_data=np.asarray(shown))
    j = _feature_index(ind, sv)
    if interaction_index == "auto":
        colour: Any = sv
    elif interaction_index is None:
        colour = color
    else:
        colour = sv[:, _feature_index(interaction_index, sv)]
    column = sv[:, j]
    return scatter(
        column,
        ylabel=pair_label or "SHAP value",
        color=colour,
        hist=False,
        axis_color=axis_color,
        cmap=cmap,
        dot_size=dot_size,
        x_jitter=x_jitter,
        alpha=alpha,
        title=title,
        xmin=xmin,
        xmax=xmax,
        ymin=ymin,
        ymax=ymax,
        ax=ax,
        show=show,
    )


def _feature_index(ind: Any, sv: Explanation) -> int:
    names = feature_labels(sv)
    m = len(names)
    if isinstance(ind, str):
        match = _RANK.fullmatch(ind.strip())
        if match:
            rank = int(match.group(1))
            if rank >= m:
                raise ValueError(f"{ind!r}: there are only {m} features")
            return int(np.argsort(-np.abs(sv.values).mean(axis=0), kind="stable")[rank])
        if ind not in names:
            raise ValueError(f"no feature named {ind!r}; the names are {', '.join(names[:12])}")
        return names.index(ind)
    if isinstance(ind, (int, np.integer)):
        if not -m <= ind < m:
            raise IndexError(f"feature index {ind} is out of range for {m} features")
        return int(ind) % m
    raise TypeError(f"a feature is an index, a name or 'rank(k)', not {type(ind).__name__}")
