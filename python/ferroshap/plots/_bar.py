"""Bar plot: global feature importance, one row's values, or several cohorts side by side."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap.cohorts import Cohorts
from ferroshap.explanation import Explanation
from ferroshap.plots._clustering import check_linkage, clustered_order, draw_dendrogram
from ferroshap.plots._common import (
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    TEXT,
    display_order,
    feature_labels,
    feature_values,
    finish,
    format_value,
    importance,
    is_opchain,
    new_axes,
    others_label,
    rows_size,
    to_explanation,
    value_label,
)

__all__ = ["GROUP_COLORS", "bar"]

# Okabe-Ito qualitative palette (colour-blind safe), for cohorts and outputs.
GROUP_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]


def bar(
    shap_values: Any,
    max_display: int = 10,
    order: Any = Explanation.abs,
    clustering: Any = None,
    clustering_cutoff: float = 0.5,
    show_data: Any = "auto",
    ax: Any = None,
    show: bool = True,
) -> Any:
    """Draw SHAP values as horizontal bars, one per feature, largest on top.

    - an Explanation of many rows ``(n_rows, n_features)``: mean ``|SHAP value|`` per feature;
    - one row ``(n_features,)`` (or an already reduced explanation such as
      ``sv.abs.mean(0)``): the values themselves, vermillion if positive, blue if negative;
    - a :class:`~ferroshap.cohorts.Cohorts` (``sv.cohorts(3)``), a dict of name ->
      Explanation, or a multi-output explanation: grouped bars, one colour per cohort/output.

    Parameters
    ----------
    shap_values
        Explanation, ``shap.Explanation``, Cohorts or dict, as above.
    max_display
        Rows drawn, the "Sum of N other features" row included.
    order
        Sort key per feature (largest first): an OpChain such as ``Explanation.abs`` applied to
        the plotted values, or one number per feature.
    clustering
        A linkage matrix ``(n_features - 1, 4)`` (e.g. ``sv.clustering``); features are then
        ordered along its dendrogram, which is drawn to the right with merges at distances up
        to ``clustering_cutoff``. ``None`` uses the explanation's own ``clustering`` if set.
    clustering_cutoff
        Largest merge distance drawn.
    show_data
        Append the feature value to each label ("bmi = 32.1") for one row: ``"auto"`` (when the
        explanation has data), True or False.
    ax, show
        Axes to draw into (a new figure when None); ``plt.show()`` at the end when True.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per feature and group in ``ax.patches``; labels in ``ax.get_yticklabels()``
        (bottom to top).

    Examples
    --------
    >>> ferroshap.plots.bar(explainer(X), show=False)  # doctest: +SKIP
    >>> ferroshap.plots.bar(explainer(X).cohorts(2), show=False)  # doctest: +SKIP
    """
    groups, first, local = _groups(shap_values)
    if show_data not in ("auto", True, False):
        raise ValueError(f"show_data must be 'auto', True or False, got {show_data!r}")
    n = len(next(iter(groups.values())))
    total = np.sum([np.abs(v) for v in groups.values()], axis=0)
    if is_opchain(order) or callable(order):
        keys = importance(first._derive(("features",), values=total), order)
    else:
        keys = importance(first, order)
    shown, rest = display_order(keys, max_display)
    if clustering is None and first.clustering is not None and first.clustering.ndim >= 2:
        clustering = first.clustering
    linkage = None if clustering is None else check_linkage(clustering, n)
    if linkage is not None:
        shown = np.array([j for j in clustered_order(linkage, keys) if j in set(shown.tolist())])

    names = feature_labels(first, n)
    data = feature_values(first)
    with_data = local and data is not None and show_data in ("auto", True)
    labels = [value_label(names[j], np.asarray(data)[j] if with_data else None) for j in shown]
    rows = [values[shown] for values in groups.values()]
    if len(rest):
        labels.append(others_label(len(rest)))
        rows = [
            np.append(r, values[rest].sum())
            for r, values in zip(rows, groups.values(), strict=True)
        ]

    k = len(labels)
    ax = new_axes(ax, rows_size(k + (len(groups) - 1) * k * 0.3))
    y = np.arange(k)[::-1].astype(np.float64)  # first label on top
    height = 0.7 / len(groups)
    for g, (name, values) in enumerate(zip(groups, rows, strict=True)):
        offset = (len(groups) - 1) / 2 * height - g * height
        if len(groups) == 1:
            colors = np.where(values >= 0, POSITIVE, NEGATIVE).astype(object)
            if len(rest):
                colors[-1] = NEUTRAL
            ax.barh(y, values, height=height, color=list(colors), edgecolor="none")
            _value_texts(ax, y, values, signed=local)
        else:
            ax.barh(
                y + offset,
                values,
                height=height,
                color=GROUP_COLORS[g % len(GROUP_COLORS)],
                edgecolor="none",
                label=name,
            )
    ax.axvline(0, color=TEXT, linewidth=0.8)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, k - 0.4)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("SHAP value" if local else "mean(|SHAP value|)")
    if len(groups) > 1:
        ax.legend(loc="best", frameon=False)
    else:
        _pad_for_texts(ax, rows[0])
    if linkage is not None:
        draw_dendrogram(ax, linkage, shown, y[: len(shown)], clustering_cutoff)
    return finish(ax, show)


def _groups(obj: Any) -> tuple[dict[str, np.ndarray], Explanation, bool]:
    """name -> values per feature, a representative Explanation, and whether it is one row."""
    if not isinstance(obj, (Cohorts, dict, Explanation)) and type(obj).__name__ != "Explanation":
        raise TypeError(
            "The shap_values argument must be an Explanation object, Cohorts object, or "
            f"dictionary of Explanation objects! Got {type(obj).__name__}; for a bare array "
            "use ferroshap.summary_plot(values, X, plot_type='bar')"
        )
    if isinstance(obj, dict) and not all(
        isinstance(v, Explanation) or type(v).__name__ == "Explanation" for v in obj.values()
    ):
        raise TypeError(
            "The shap_values argument must be an Explanation object, Cohorts object, or "
            "dictionary of Explanation objects! Got a dict holding "
            + ", ".join(sorted({type(v).__name__ for v in obj.values()}))
        )
    if isinstance(obj, Cohorts):
        obj = obj.cohorts
    if isinstance(obj, dict):
        if not obj:
            raise ValueError("bar got no cohorts to draw")
        groups = {}
        for name, sv in obj.items():
            sv = to_explanation(sv, "bar")
            reduced = _reduced(sv)
            if reduced.values.ndim != 1:
                raise ValueError(
                    f"bar: cohort {name!r} has values of shape {sv.values.shape}; each cohort "
                    "must be (n_rows, n_features) or (n_features,) for one output"
                )
            label = f"{name} (n={sv.values.shape[0]})" if sv.axis_names[0] == "rows" else name
            groups[str(label)] = np.asarray(reduced.values, dtype=np.float64)
        sizes = {len(v) for v in groups.values()}
        if len(sizes) != 1:
            from ferroshap.utils._exceptions import DimensionError

            raise DimensionError(
                "When passing several Explanation objects, they must all have the same number "
                f"of feature columns! Got {sorted(sizes)}"
            )
        first = _reduced(to_explanation(next(iter(obj.values())), "bar"))
        return groups, first, False
    sv = to_explanation(obj, "bar")
    axes = sv.axis_names
    if axes[:1] == ("rows",) and sv.values.shape[0] == 0:
        raise ValueError("The passed Explanation is empty: it has no rows to draw")
    if axes in (("rows", "features", "outputs"), ("features", "outputs")):
        local = axes[0] == "features"
        n_out = sv.values.shape[-1]
        out = sv.output_names if isinstance(sv.output_names, list) else None
        groups = {}
        for k in range(n_out):
            name = str(out[k]) if out else f"output {k}"
            groups[name] = np.asarray(_reduced(sv[..., k]).values, dtype=np.float64)
        return groups, _reduced(sv[..., 0]), local
    if axes not in (("rows", "features"), ("features",)):
        raise ValueError(
            "bar needs an Explanation of shape (n_rows, n_features) or (n_features,) "
            f"(or with an outputs axis); got values of shape {sv.values.shape} with axes {axes}"
        )
    reduced = _reduced(sv)
    return {"": np.asarray(reduced.values, dtype=np.float64)}, reduced, axes == ("features",)


def _reduced(sv: Explanation) -> Explanation:
    return sv.abs.mean(0) if sv.axis_names[:1] == ("rows",) else sv


def _value_texts(ax: Any, y: np.ndarray, values: np.ndarray, signed: bool) -> None:
    span = max(float(np.abs(values).max()), 1e-12)
    for yi, v in zip(y, values, strict=True):
        text = ("+" if v > 0 and signed else "") + format_value(v)
        ax.text(
            v + (0.01 if v >= 0 else -0.01) * span,
            yi,
            text,
            ha="left" if v >= 0 else "right",
            va="center",
            fontsize=9,
            color=TEXT,
        )


def _pad_for_texts(ax: Any, values: np.ndarray) -> None:
    # Room beyond the longest bar for its value text.
    lo, hi = min(0.0, float(values.min())), max(0.0, float(values.max()))
    span = max(hi - lo, 1e-12)
    ax.set_xlim(lo - (0.25 * span if lo < 0 else 0), hi + 0.25 * span)
