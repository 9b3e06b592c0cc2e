"""``ExactExplainer(...)(X, interactions=True)``: shap's Exact interaction values, the
Shapley-Taylor interaction index of order 2 over every coalition of the features that differ
from the background, with each feature's main effect on the diagonal.

For features ``j != k`` among the ``m`` varying ones, ``phi[j, k] = phi[k, j] = sum over S not
holding j, k of (v(S+j+k) - v(S+j) - v(S+k) + v(S)) / (m C(m-1, |S|))``; ``phi[i, i] = v({i})
- v({})``. Every entry together sums to ``v(all) - v({})`` (the index's efficiency), ``v`` being
the background-weighted mean model output with the coalition's features taken from the row.
The model is called on masked rows built here (``2^m`` coalitions times the background rows).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ferroshap.explanation import interaction_explanation

__all__ = ["exact_interactions", "main_effect_values"]

# Rows of model input per call: ~4 MiB of float64 at 16 features x 32,768 rows.
_BATCH_ROWS = 32_768


def exact_interactions(explainer: Any, X: Any, max_evals: Any) -> Any:
    """The interaction values of ``explainer``'s model (an ExactExplainer on tabular data)."""
    if explainer.link != "identity":
        raise NotImplementedError(
            "interactions=True with a link other than identity is not supported yet"
        )
    matrix = explainer._matrix(X)
    x = np.asarray(matrix.values, dtype=np.float64)
    background = np.asarray(explainer.data, dtype=np.float64)
    weights = np.asarray(explainer.weights, dtype=np.float64)
    n_rows, n_features = x.shape
    k = explainer._n_outputs
    values = np.zeros((n_rows, n_features, n_features, k))
    limit = None if max_evals in (None, "auto") else int(max_evals)
    for r in range(n_rows):
        row = x[r]
        same = (background == row) | (np.isnan(background) & np.isnan(row))
        varying = np.flatnonzero(~same.all(axis=0))
        m = len(varying)
        if m > 20 or (limit is not None and 2**m > limit):
            raise ValueError(
                f"interactions=True evaluates all 2^M coalitions and row {r} has M = {m} "
                f"features that differ from the background; that is more than max_evals="
                f"{max_evals} (at most 2^20 are supported)"
            )
        v = _coalition_values(explainer, row, background, weights, varying)
        values[r][np.ix_(varying, varying)] = _taylor_pairs(v, m)
    base = np.tile(explainer.fnull, (n_rows, 1))
    names = explainer.feature_names or matrix.feature_names
    data = x
    if explainer._single:
        values, base = values[..., 0], base[:, 0]
    if matrix.was_1d:
        values, base, data = values[0], base[0], data[0]
    return interaction_explanation(
        values,
        base,
        data,
        list(names) if names is not None else [f"Feature {i}" for i in range(n_features)],
        explainer.output_names,
        rows=not matrix.was_1d,
        outputs=not explainer._single,
    )


def main_effect_values(explainer: Any, matrix: Any) -> np.ndarray:
    """shap's ``main_effects=True``: ``v({i}) - v({})`` for every feature ``i`` of every row of
    ``matrix`` (the explainer's parsed rows), ``(n_rows, n_features, n_outputs)``; 0 for a
    feature equal to every background row's."""
    x = np.asarray(matrix.values, dtype=np.float64)
    background = np.asarray(explainer.data, dtype=np.float64)
    weights = np.asarray(explainer.weights, dtype=np.float64)
    n_rows, n_features = x.shape
    out = np.zeros((n_rows, n_features, explainer._n_outputs))
    for r in range(n_rows):
        row = x[r]
        same = (background == row) | (np.isnan(background) & np.isnan(row))
        varying = np.flatnonzero(~same.all(axis=0))
        if len(varying) == 0:
            continue
        # The empty coalition and each varying feature alone.
        singles = np.zeros((len(varying) + 1, n_features), dtype=bool)
        singles[np.arange(1, len(varying) + 1), varying] = True
        v = _masked_values(explainer, row, background, weights, singles)
        out[r, varying] = v[1:] - v[0]
    return out


def _coalition_values(explainer, row, background, weights, varying) -> np.ndarray:
    """``v(S)`` for every subset ``S`` of ``varying`` (bit ``b`` of the index: ``varying[b]``),
    ``(2^m, n_outputs)``."""
    m = len(varying)
    codes = np.arange(2**m)
    masks = np.zeros((2**m, len(row)), dtype=bool)
    masks[:, varying] = ((codes[:, None] >> np.arange(m)) & 1).astype(bool)
    return _masked_values(explainer, row, background, weights, masks)


def _masked_values(explainer, row, background, weights, masks) -> np.ndarray:
    """The background-weighted mean model output with the features of each mask taken from
    ``row`` (``masks`` ``(n, n_features)``), ``(n, n_outputs)``."""
    n_bg = len(background)
    out = np.empty((len(masks), explainer._n_outputs))
    per_call = max(1, _BATCH_ROWS // n_bg)
    for start in range(0, len(masks), per_call):
        block = masks[start : start + per_call]
        rows = np.where(block[:, None, :], row[None, None, :], background[None, :, :])
        outputs = explainer._call(rows.reshape(-1, len(row)), "masked data")
        out[start : start + len(block)] = np.einsum(
            "cbk,b->ck", outputs.reshape(len(block), n_bg, -1), weights
        )
    return out


def _taylor_pairs(v: np.ndarray, m: int) -> np.ndarray:
    """The ``(m, m, n_outputs)`` matrix of pair indices and main effects from ``v``."""
    phi = np.zeros((m, m, v.shape[1]))
    if m == 0:
        return phi
    codes = np.arange(2**m)
    sizes = np.array([bin(c).count("1") for c in codes])
    coeff = np.array([1.0 / (m * math.comb(m - 1, s)) if s <= m - 1 else 0.0 for s in sizes])
    for j in range(m):
        phi[j, j] = v[1 << j] - v[0]
        for i in range(j + 1, m):
            bj, bi = 1 << j, 1 << i
            s = codes[(codes & (bj | bi)) == 0]
            delta = v[s | bj | bi] - v[s | bj] - v[s | bi] + v[s]
            phi[j, i] = phi[i, j] = (coeff[s][:, None] * delta).sum(axis=0)
    return phi
