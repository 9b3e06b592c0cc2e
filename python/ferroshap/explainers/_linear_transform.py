"""The correlation-dependent transform of LinearExplainer.

With masked features imputed by the background's linear regression on the observed ones
(a Gaussian background), the value of the linear model given the coalition ``S`` is
``w(S) @ (x - mean)``, where ``w(S)`` (zero outside ``S``) is the coefficient vector of the
best linear predictor of the model from ``x_S``: ``w(S)_S = coef_S + C_SS^-1 C_S,~S coef_~S``.
A feature's SHAP value is then linear in ``x - mean`` too: ``T @ (x - mean)``, with row ``i``
of ``T`` the mean over feature orders of ``w(S + i) - w(S)`` (``S`` the features before ``i``).
shap estimates ``T`` from ``nsamples`` random orders; so does this module, with the same
sequence of orders for the same seed, all orders advanced together one position at a time
(``C_SS^-1`` grown by the block-inverse identity), so the work is a few array operations
per feature rather than per order.
"""

from __future__ import annotations

import secrets

import numpy as np

__all__ = ["CorrelationTransform"]

# Features whose background variance is at most this carry no information (shap's cut).
_MIN_VARIANCE = 1e-8
# Below this smallest eigenvalue the covariance gets a ridge of _RIDGE (shap's rule).
_MIN_EIGENVALUE = 1e-7
_RIDGE = 1e-6
# Feature orders advanced together: bounds the (orders, M, M) inverses held at once.
_CHUNK_ELEMENTS = 1 << 22


def _groups(cov: np.ndarray) -> np.ndarray:
    """Group matrix ``(n_groups, M)`` (0/1) of perfectly positively correlated features,
    formed greedily in feature order as shap does."""
    scale = 1.0 / np.sqrt(np.diag(cov))
    corr = cov * scale[:, None] * scale[None, :]
    diag = np.diag(corr)
    component = np.full(len(cov), -1)
    count = 0
    for i in range(len(cov)):
        joins = (component < 0) & (np.abs(2 * corr[i] - corr[i, i] - diag) < 1e-8)
        if joins.any():
            component[joins] = count
            count += 1
    groups = np.zeros((count, len(cov)))
    groups[component, np.arange(len(cov))] = 1.0
    return groups


def _orders(n_features: int, nsamples: int, seed: int) -> np.ndarray:
    """``nsamples`` feature orders: one array shuffled again and again by a
    ``RandomState(seed)`` (what ``np.random.seed(seed)`` then shap's loop draws)."""
    if seed < 1 << 32:
        rng = np.random.RandomState(seed)
    else:
        rng = np.random.RandomState([(seed >> s) & 0xFFFFFFFF for s in range(0, 64, 32)])
    order = np.arange(n_features)
    orders = np.empty((nsamples, n_features), dtype=np.intp)
    for k in range(nsamples):
        rng.shuffle(order)
        orders[k] = order
    return orders


def _transform_sum(orders: np.ndarray, cov: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Sum over ``orders`` ``(P, M)`` of the rows ``w(S + i) - w(S)``: ``(M, M, K)``, row
    index ``i`` first. ``coef`` is ``(M, K)``."""
    n_orders, m = orders.shape
    k = coef.shape[1]
    rows = np.arange(n_orders)[:, None]
    total = np.zeros((m, m * k))
    # C_SS^-1 of every order, grown in place: the top-left (|S|, |S|) block is current.
    inverse = np.empty((n_orders, m, m))
    previous = np.zeros((n_orders, m, k))
    # Per order, C coef_~S over all features (C_{S,~S} coef_~S on the rows of S), kept up
    # to date as features join S: O(M K) per step instead of O(M^2 K).
    rest_all = np.broadcast_to(cov @ coef, (n_orders, m, k)).copy()
    for j in range(m):
        new = orders[:, j]
        # C_{S+i}^-1 from C_S^-1: the block-inverse identity (Schur complement u).
        d = cov[orders[:, :j], new[:, None]]  # (P, j)
        block = inverse[:, :j, :j]
        t = np.matmul(block, d[:, :, None])[:, :, 0]
        u = cov[new, new] - np.einsum("pa,pa->p", d, t)
        s = t / u[:, None]
        for a in range(j):  # row by row: no (P, j, j) temporary (memory-bound otherwise)
            block[:, a, :] += t[:, a, None] * s
        inverse[:, :j, j] = -s
        inverse[:, j, :j] = -s
        inverse[:, j, j] = 1.0 / u
        rest_all -= cov[:, new].T[:, :, None] * coef[new][:, None, :]
        members = orders[:, : j + 1]
        # w(S)_S = coef_S + C_SS^-1 C_{S,~S} coef_~S.
        w = np.zeros((n_orders, m, k))
        w[rows, members] = coef[members] + np.matmul(
            inverse[:, : j + 1, : j + 1], rest_all[rows, members]
        )
        # Row new[p] of the transform gains order p's step (no BLAS: tiny products).
        np.add.at(total, new, (w - previous).reshape(n_orders, m * k))
        previous = w
    return total.reshape(m, m, k)


class CorrelationTransform:
    """shap's correlation-dependent LinearExplainer values for ``coef`` ``(M,)`` or
    ``(K, M)``, background ``mean`` ``(M,)`` and covariance ``cov`` ``(M, M)``, from
    ``nsamples`` random feature orders (``seed``; ``None``: fresh randomness)."""

    def __init__(
        self,
        coef: np.ndarray,
        mean: np.ndarray,
        cov: np.ndarray,
        nsamples: int,
        seed: int | None,
    ) -> None:
        if not np.isfinite(cov).all() or not np.allclose(cov, cov.T):
            raise ValueError("the background covariance must be finite and symmetric")
        self.single = coef.ndim == 1
        self.n_features = len(mean)
        self.valid = np.flatnonzero(np.diag(cov) > _MIN_VARIANCE)
        coef2 = np.atleast_2d(coef)[:, self.valid].T  # (V, K)
        cov = cov[np.ix_(self.valid, self.valid)]
        groups = _groups(cov) if len(self.valid) else np.zeros((0, 0))
        #: Averages each group of perfectly correlated features ``(G, V)``.
        self.average = groups / groups.sum(axis=1, keepdims=True) if len(groups) else groups
        cov = self.average @ cov @ self.average.T
        self.mean = self.average @ mean[self.valid]
        coef2 = groups @ coef2
        if len(cov) and np.linalg.eigvalsh(cov).min() < _MIN_EIGENVALUE:
            cov = cov + np.eye(len(cov)) * _RIDGE
        self.seed = secrets.randbits(32) if seed is None else int(seed)
        m = len(cov)
        total = np.zeros((m, m, coef2.shape[1]))
        if m:
            orders = _orders(m, nsamples, self.seed)
            chunk = max(1, _CHUNK_ELEMENTS // (m * m * max(1, coef2.shape[1])))
            for start in range(0, nsamples, chunk):
                total += _transform_sum(orders[start : start + chunk], cov, coef2)
        #: The transform ``(K, G, G)``: values of the groups = ``T @ (x - mean)``.
        self.transform = np.moveaxis(total / nsamples, 2, 0)

    def values(self, x: np.ndarray) -> np.ndarray:
        """Values ``(n, M)`` (one output) or ``(n, M, K)`` of the rows ``x`` ``(n, M)``."""
        centred = x[:, self.valid] @ self.average.T - self.mean  # (n, G)
        grouped = np.einsum("kij,nj->nik", self.transform, centred)
        out = np.zeros((len(x), self.n_features, self.transform.shape[0]))
        out[:, self.valid, :] = np.einsum("nik,iv->nvk", grouped, self.average)
        return out[:, :, 0] if self.single else out
