"""The embedding plot: rows placed by a 2-D PCA of their SHAP values, coloured by one feature."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap.explanation import Explanation
from ferroshap.plots._common import TEXT, colormap, finish, new_axes, select_output, to_explanation
from ferroshap.plots._features import feature_index

__all__ = ["embedding", "pca_2d"]


def embedding(
    ind: int | str,
    shap_values: Any,
    feature_names: list[str] | None = None,
    method: str | np.ndarray = "pca",
    alpha: float = 1.0,
    show: bool = True,
    ax: Any = None,
) -> Any:
    """Rows placed by their SHAP values (2-D PCA), coloured by one feature's SHAP value.

    Rows explained alike land close together, so groups of rows the model treats the same way
    show as clusters; the colour shows how much the chosen feature moves each of them.

    Parameters
    ----------
    ind
        The feature to colour by: an index, a name, or ``"rank(k)"`` (the k-th most important by
        mean ``|SHAP|``, from 0).
    shap_values
        An :class:`~ferroshap.Explanation` ``(n_rows, n_features)`` (or ``shap.Explanation``),
        or a numpy array of SHAP values of that shape.
    feature_names
        Names of the features (default: the Explanation's, else ``Feature i``).
    method
        ``"pca"`` (computed with numpy; no scikit-learn needed), or an array ``(n_rows, 2)`` of
        positions you computed yourself (e.g. t-SNE).
    alpha
        Opacity of the points.
    show
        Call ``plt.show()``; with ``False`` the figure stays open for ``savefig``.
    ax
        The Axes to draw into.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = ferroshap.plots.embedding("bmi", explanation, show=False)  # doctest: +SKIP
    """
    if isinstance(shap_values, Explanation) or type(shap_values).__name__ == "Explanation":
        sv = select_output(to_explanation(shap_values, "embedding"), "embedding")
        values = np.asarray(sv.values, dtype=np.float64)
        names = feature_names or sv.feature_names
    else:
        values = np.asarray(shap_values, dtype=np.float64)
        names = feature_names
    if values.ndim != 2:
        raise ValueError(
            f"embedding needs SHAP values of several rows, (n_rows, n_features); got {values.shape}"
        )
    n_rows, n_features = values.shape
    names = [str(x) for x in names] if names is not None else None
    if names is None or len(names) != n_features:
        names = [f"Feature {j}" for j in range(n_features)]
    j = _feature(ind, names, values)
    if isinstance(method, str):
        if method != "pca":
            raise ValueError(f"method must be 'pca' or an (n_rows, 2) array, got {method!r}")
        positions = pca_2d(values)
        axis_labels = ("first principal component", "second principal component")
    else:
        positions = np.asarray(method, dtype=np.float64)
        if positions.shape != (n_rows, 2):
            raise ValueError(f"method must have shape ({n_rows}, 2), got {positions.shape}")
        axis_labels = ("embedding 1", "embedding 2")
    ax = new_axes(ax, (6.5, 5.0))
    colour = values[:, j]
    limit = float(np.nanpercentile(np.abs(colour), 99)) or 1.0
    points = ax.scatter(
        positions[:, 0],
        positions[:, 1],
        c=colour,
        cmap=colormap(),
        vmin=-limit,
        vmax=limit,
        s=14,
        alpha=alpha,
        linewidth=0,
        rasterized=n_rows > 2000,
    )
    bar = ax.figure.colorbar(points, ax=ax, aspect=40)
    bar.set_label(f"SHAP value of {names[j]}", color=TEXT)
    bar.outline.set_visible(False)
    ax.set_xlabel(axis_labels[0], color=TEXT)
    ax.set_ylabel(axis_labels[1], color=TEXT)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return finish(ax, show)


def pca_2d(values: np.ndarray) -> np.ndarray:
    """The rows projected on their first two principal components (SVD of the centred data),
    signs fixed so the largest loading of each component is positive (a stable picture)."""
    centred = values - values.mean(axis=0)
    if values.shape[0] < 2:
        return np.zeros((values.shape[0], 2))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = np.zeros((2, values.shape[1]))
    components[: min(2, vt.shape[0])] = vt[:2]
    for row in components:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    return centred @ components.T


def _feature(ind: Any, names: list[str], values: np.ndarray) -> int:
    n = len(names)
    if isinstance(ind, str):
        if ind.startswith("rank(") and ind.endswith(")"):
            rank = int(ind[5:-1])
            ranked = np.argsort(-np.abs(values).mean(axis=0), kind="stable")
            if not 0 <= rank < n:
                raise ValueError(f"{ind}: rank must be in 0 .. {n - 1}")
            return int(ranked[rank])
    return feature_index(ind, names)
