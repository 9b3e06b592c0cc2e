"""Shared set-up for the explainer tests.

TensorFlow and triton (which torch loads for its optimizers, torch._dynamo and torchvision)
both register LLVM command-line options; whichever process loads triton after TensorFlow
aborts ("LLVM ERROR: inconsistency in registered CommandLine options"). Loading triton first
lets the PyTorch and Keras deep-explainer tests share one pytest process in any order.
"""

import importlib.util
import math

if importlib.util.find_spec("triton") is not None:
    import triton  # noqa: F401


import numpy as np  # noqa: E402
import pytest  # noqa: E402


def _subset_shapley(f, x, background, weights=None):
    """Shapley values of v(S) = Σ_b w_b f(x_S, b) by subset enumeration, ``(M,)`` or
    ``(M, k)``: every coalition's masked rows go through the model in one call."""
    m, n_bg = len(x), len(background)
    w = np.full(n_bg, 1 / n_bg) if weights is None else weights / weights.sum()
    masks = ((np.arange(2**m)[:, None] >> np.arange(m)) & 1).astype(bool)
    rows = np.where(masks[:, None, :], x[None, None, :], background[None, :, :])
    out = np.asarray(f(rows.reshape(-1, m)), dtype=float)
    k = 1 if out.ndim == 1 else out.shape[1]
    v = np.einsum("cbk,b->ck", out.reshape(2**m, n_bg, k), w)
    sizes = masks.sum(axis=1)
    weight = np.array([1 / (m * math.comb(m - 1, s)) if s < m else 0.0 for s in range(m + 1)])
    phi = np.zeros((m, k))
    for j in range(m):
        without = ~masks[:, j]
        idx = np.flatnonzero(without)
        phi[j] = (weight[sizes[idx]][:, None] * (v[idx | (1 << j)] - v[idx])).sum(axis=0)
    return phi[:, 0] if out.ndim == 1 else phi


@pytest.fixture(scope="session")
def subset_shapley():
    """The brute-force Shapley oracle ``(f, x, background, weights=None) -> values``."""
    return _subset_shapley
