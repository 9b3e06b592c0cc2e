"""Background summaries for Kernel SHAP: weighted rows (:class:`Background`), k-means
(:func:`kmeans`) and sampling without replacement (:func:`sample`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ferroshap._data import to_matrix

__all__ = ["Background", "kmeans", "sample"]


@dataclass(frozen=True)
class Background:
    """Weighted background rows (what :func:`kmeans` returns; shap's ``DenseData``).

    ``KernelExplainer(model, background)`` averages the model over these rows with these
    weights (normalised to sum to 1).
    """

    data: Any
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.weights)


def sample(X: Any, nsamples: int = 100, random_state: int = 0) -> Any:
    """``nsamples`` rows of ``X`` drawn without replacement (``X`` itself when it has no more).

    Like ``shap.sample``: a smaller background keeps Kernel SHAP fast. numpy arrays, pandas
    and polars frames keep their type. The rows are shap's for the same ``random_state``
    (a shuffle by ``numpy.random.RandomState(random_state)``, then the first ``nsamples``);
    NumPy's global random state is neither used nor changed.
    """
    if not isinstance(nsamples, (int, np.integer)) or isinstance(nsamples, bool) or nsamples < 1:
        raise ValueError(f"nsamples must be a positive int, got {nsamples!r}")
    n = X.shape[0] if hasattr(X, "shape") else len(X)  # shape: scipy sparse has no len
    if nsamples >= n:
        return X
    rows = np.random.RandomState(random_state).permutation(n)[:nsamples]
    if hasattr(X, "iloc"):
        return X.iloc[rows]
    if type(X).__module__.startswith("polars"):
        return X[rows.tolist()]
    if isinstance(X, list):
        return [X[i] for i in rows]
    if hasattr(X, "tocsr"):  # scipy sparse
        return X.tocsr()[rows]
    return np.asarray(X)[rows]


def kmeans(X: Any, k: int, round_values: bool = True, seed: int = 0) -> Background:
    """Summarise ``X`` by ``k`` cluster centres weighted by their cluster sizes.

    As ``shap.kmeans``: missing values are imputed with column means, k-means runs 10 times
    from k-means++ starts (keeping the lowest inertia), and with ``round_values`` each centre
    coordinate is moved to the nearest value observed in its column, so that categorical and
    integer features keep valid values. Computed with numpy and a seeded generator; the
    clusters need not be the ones scikit-learn finds.

    Returns
    -------
    Background
        ``k`` rows (a data frame keeps its columns) and their weights.
    """
    matrix = to_matrix(X)
    data = np.array(matrix.values, dtype=np.float64)
    n = len(data)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= n:
        raise ValueError(f"k must be an int between 1 and the number of rows ({n}), got {k!r}")
    means = np.nanmean(np.where(np.isnan(data), np.nan, data), axis=0)
    filled = np.where(np.isnan(data), np.nan_to_num(means)[None, :], data)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(10):
        centres, labels, inertia = _lloyd(filled, k, rng)
        if best is None or inertia < best[2]:
            best = (centres, labels, inertia)
    centres, labels, _ = best
    if round_values:
        for j in range(filled.shape[1]):
            column = filled[:, j]
            nearest = np.abs(column[None, :] - centres[:, j : j + 1]).argmin(axis=1)
            centres[:, j] = column[nearest]
    weights = np.bincount(labels, minlength=k).astype(np.float64)
    if hasattr(X, "iloc") and matrix.feature_names is not None:
        import pandas as pd

        return Background(pd.DataFrame(centres, columns=matrix.feature_names), weights)
    return Background(centres, weights)


def _lloyd(x: np.ndarray, k: int, rng: np.random.Generator, max_iter: int = 300):
    # k-means++ seeding.
    centres = np.empty((k, x.shape[1]))
    centres[0] = x[rng.integers(len(x))]
    d2 = ((x - centres[0]) ** 2).sum(axis=1)
    for c in range(1, k):
        total = d2.sum()
        pick = rng.choice(len(x), p=d2 / total) if total > 0 else rng.integers(len(x))
        centres[c] = x[pick]
        d2 = np.minimum(d2, ((x - centres[c]) ** 2).sum(axis=1))
    labels = np.zeros(len(x), dtype=np.int64)
    for it in range(max_iter):
        dist = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        new = dist.argmin(axis=1)
        if it > 0 and np.array_equal(new, labels):
            break
        labels = new
        for c in range(k):
            members = x[labels == c]
            if len(members):
                centres[c] = members.mean(axis=0)
    dist = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    labels = dist.argmin(axis=1)
    return centres, labels, float(dist[np.arange(len(x)), labels].sum())
