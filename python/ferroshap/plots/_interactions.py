"""Which feature to colour a dependence (scatter) plot by: the one that most changes a
feature's SHAP values at a fixed value of that feature.

Rows are sorted by the plotted feature and cut into consecutive chunks of about equal size;
inside a chunk the plotted feature is nearly constant, so whatever still explains its SHAP
values there is an interaction. A candidate's score is the chunk-size-weighted sum of
``|corr(SHAP values, candidate)|`` over the chunks. This is the idea behind shap's
``approximate_interactions``, written here as a vectorised correlation per chunk.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["interaction_scores", "numeric_matrix"]

# Enough rows to rank candidates reliably; more only costs time.
_MAX_ROWS = 10_000


def numeric_matrix(data: Any) -> np.ndarray:
    """``data`` as floats; non-numeric columns become category codes (missing: NaN)."""
    data = np.asarray(data)
    if data.dtype.kind in "biuf":
        return data.astype(np.float64)
    out = np.empty(data.shape, dtype=np.float64)
    for j in range(data.shape[1]):
        column = data[:, j]
        try:
            out[:, j] = column.astype(np.float64)
        except (TypeError, ValueError):
            text = column.astype(str)
            _, codes = np.unique(text, return_inverse=True)
            out[:, j] = codes
            out[np.isin(text, ["nan", "None"]), j] = np.nan
    return out


def interaction_scores(index: int, values: np.ndarray, data: Any, seed: int = 0) -> np.ndarray:
    """A score per feature for how strongly it interacts with feature ``index`` (``-inf`` for
    ``index`` itself and for constant features); larger is stronger.

    Parameters
    ----------
    index
        The plotted feature.
    values
        SHAP values ``(n_rows, n_features)``.
    data
        Feature values ``(n_rows, n_features)``.
    """
    data = np.asarray(data)
    v = np.asarray(values)[:, index]
    if len(v) > _MAX_ROWS:  # sample before converting: no copy of the whole data
        rows = np.sort(np.random.default_rng(seed).choice(len(v), _MAX_ROWS, replace=False))
        data, v = data[rows], v[rows]
    x = numeric_matrix(data)
    v = v.astype(np.float64)
    order = np.argsort(x[:, index], kind="stable")
    x, v = x[order], v[order]
    n = len(v)
    chunk = max(n // 10, 10)
    scores = np.zeros(x.shape[1])
    for start in range(0, n, chunk):
        xc = x[start : start + chunk]
        vc = v[start : start + chunk]
        if len(vc) < 3:
            continue
        # Missing values count as the chunk mean: no pull either way (and no all-NaN warnings).
        known = ~np.isnan(xc)
        means = np.where(known, xc, 0.0).sum(axis=0) / np.maximum(known.sum(axis=0), 1)
        xc = np.where(known, xc - means, 0.0)
        vc = vc - vc.mean()
        denom = np.sqrt((xc**2).sum(axis=0) * (vc**2).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.where(denom > 0, np.abs(vc @ xc) / denom, 0.0)
        scores += np.nan_to_num(corr) * len(vc)
    scores[index] = -np.inf
    missing = np.isnan(x)
    constant = np.where(missing, -np.inf, x).max(axis=0) <= np.where(missing, np.inf, x).min(axis=0)
    scores[constant] = -np.inf
    return scores
