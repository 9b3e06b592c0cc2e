"""shap's legacy plots of SHAP interaction values ``(n_rows, n_features, n_features)``:
``summary_plot(interaction_values, X)`` (a row of beeswarms, one per important feature, of its
main effect and its interactions) and ``dependence_plot(("a", "b"), interaction_values, X)``
(one interaction against a feature's values).

Interaction values split each pair's effect in half between ``[i, j]`` and ``[j, i]``; as in
shap, the off-diagonal values are doubled so that each point shows the whole pair effect.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap.explanation import Explanation
from ferroshap.plots._beeswarm import beeswarm
from ferroshap.plots._common import feature_labels, finish, from_arrays, pyplot, shorten

__all__ = ["interaction_pair_values", "interaction_summary"]


def _interactions(values: Any, features: Any, feature_names: Any) -> tuple[np.ndarray, Any, list]:
    """The values ``(n, M, M)``, the feature values and the names."""
    v = np.asarray(values.values if isinstance(values, Explanation) else values, np.float64)
    if v.ndim != 3 or v.shape[1] != v.shape[2]:
        raise ValueError(
            f"interaction values have shape (n_rows, n_features, n_features), got {v.shape}"
        )
    flat = from_arrays(v[:, 0, :], features, feature_names)
    return v, flat.data, feature_labels(flat)


def interaction_summary(
    values: Any,
    features: Any = None,
    feature_names: Any = None,
    max_display: int | None = None,
    plot_type: str | None = None,
    color_bar_label: str = "Feature value",
    title_length_limit: int = 11,
    show: bool = True,
) -> Any:
    """``summary_plot`` of interaction values. ``plot_type="compact_dot"``: one beeswarm of
    every (feature, feature) pair; otherwise a row of ``max_display`` (default 7) beeswarms,
    one per feature in order of importance (sum of ``|interaction values|``), each showing
    that feature's main effect and its (doubled) interactions with the others, on a shared
    x axis.

    Returns
    -------
    numpy.ndarray
        The Axes of the beeswarms (one Axes for ``"compact_dot"``).
    """
    v, data, names = _interactions(values, features, feature_names)
    n, m, _ = v.shape
    if plot_type == "compact_dot":
        pair_names = [a if a == b else f"{a}* - {b}" for a in names for b in names]
        tiled = None if data is None else np.repeat(np.asarray(data), m, axis=1)
        sv = from_arrays(v.reshape(n, m * m), tiled, pair_names)
        ax = beeswarm(
            sv, max_display=max_display or 20, color_bar_label="*" + color_bar_label, show=False
        )
        return finish(ax, show)
    if plot_type not in (None, "dot"):
        raise ValueError(
            f"interaction values are summarised as plot_type='dot' or 'compact_dot', got "
            f"{plot_type!r}"
        )
    k = 7 if max_display is None else max(1, min(m, int(max_display)))
    order = np.argsort(-np.abs(v.sum(axis=1)).sum(axis=0), kind="stable")
    # One x range for every panel, trimmed of the extreme 1/M² percentile as in shap.
    delta = 1.0 / m**2
    low, high = np.nanpercentile(v, delta), np.nanpercentile(v, 100 - delta)
    if not high > low:
        low, high = low - 1.0, high + 1.0
    plt = pyplot()
    fig, axes = plt.subplots(1, k, figsize=(1.5 * k + 1, 0.8 * k + 1), sharey=True, squeeze=False)
    axes = axes[0]
    shown = None if data is None else np.asarray(data)[:, order]
    for panel, (ax, i) in enumerate(zip(axes, order, strict=False)):
        projected = v[:, i, order] * 2.0
        projected[:, panel] /= 2.0  # the main effect is not split in half
        sv = from_arrays(projected, shown, [names[j] for j in order])
        beeswarm(
            sv,
            max_display=k,
            order=np.arange(m, 0, -1, dtype=np.float64),  # the panels' order, not re-sorted
            color_bar=False,
            plot_size=None,
            group_remaining_features=False,
            ax=ax,
            show=False,
        )
        ax.set_xlim(low, high)
        ax.set_xlabel("SHAP interaction value" if panel == k // 2 else "")
        ax.set_title(shorten(names[i], title_length_limit))
        if panel > 0:
            ax.tick_params(labelleft=False)
    return finish(axes, show)


def interaction_pair_values(
    ind: tuple, values: Any, features: Any, feature_names: Any
) -> tuple[np.ndarray, int, int | None, Any, list]:
    """For ``dependence_plot((a, b), interaction_values, X)``: the ``(n, M)`` matrix whose
    column ``a`` holds the pair's values (doubled off the diagonal), ``a``'s index, the
    colouring feature's index (None for a main effect), the feature values and names."""
    from ferroshap.plots._legacy import _feature_index

    v, data, names = _interactions(values, features, feature_names)
    if len(ind) != 2:
        raise ValueError(f"an interaction is a pair of features, got {ind!r}")
    flat = from_arrays(v[:, 0, :], data, names)
    a, b = _feature_index(ind[0], flat), _feature_index(ind[1], flat)
    projected = v[:, b, :] if a == b else v[:, b, :] * 2.0
    return projected, a, (None if a == b else b), data, names
