"""The additivity check of Tree SHAP: SHAP values + base value = the model's margin, up to the
rounding error that the two sums can carry.

Both sides are f64 sums over the same trees, so they differ only by rounding, and rounding
scales with the magnitudes of the terms summed, not with the result: a model whose effects
cancel (terms of 1e9 around a margin near 0) carries errors of about 1e9 * eps. The bound is
the classic one for recursive summation, ``n * eps * sum |terms|``, over the ``n`` terms summed
on the way to each side (trees into a value, features into the total, the products along a
tree path), doubled for the two independently rounded sides:

    tol = 2 * eps * (n_trees + n_terms + depth + 1) * scale

The magnitude ``scale`` is first taken from what the result shows (``|base| + sum |values| +
|margin|``). When trees cancel each other inside one value, the result hides how large the
summed terms were; rows that fail are then measured again tree by tree (the sum over trees of
each tree's ``|base| + sum |values| + |output|``), which is the magnitude the sums carried.
Observed errors on real models stay below 25 * eps * scale, 25x or more under the bound,
which is itself about 1e-13 of the scale: any real error (a mis-routed row, a wrong leaf)
is many orders of magnitude larger.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ferroshap import _core

__all__ = ["check_additivity", "rounding_bound"]

_EPS = float(np.finfo(np.float64).eps)


def rounding_bound(scale: np.ndarray, n_terms: int) -> np.ndarray:
    """The largest rounding error two f64 sums of ``n_terms`` terms whose absolute values add
    up to ``scale`` can differ by."""
    return 2.0 * _EPS * n_terms * np.asarray(scale, dtype=np.float64)


def check_additivity(
    totals: np.ndarray,
    magnitudes: np.ndarray,
    base: np.ndarray,
    margin: np.ndarray,
    n_terms: int,
    tree_magnitudes: Callable[[np.ndarray], np.ndarray],
) -> None:
    """Raise :class:`FerroshapError` when values and margin differ by more than rounding.

    Parameters
    ----------
    totals, magnitudes
        Per row and output ``(N, K)``: the sum of the row's values, and of their absolute
        values.
    base
        The base value per output ``(K,)``.
    margin
        The model's margin ``(N, K)``.
    n_terms
        Terms summed on the way to either side (trees per output + values + path length + 1).
    tree_magnitudes
        Row indices -> the magnitude ``(n, K)`` the sums carried for those rows, summed tree
        by tree; called only for rows beyond the first bound.
    """
    base = np.asarray(base, dtype=np.float64)
    error = np.abs(totals + base - margin)
    scale = np.abs(base) + magnitudes + np.abs(margin)
    suspect = np.flatnonzero(np.any(error > rounding_bound(scale, n_terms), axis=1))
    if not len(suspect):
        return
    bound = rounding_bound(np.maximum(scale[suspect], tree_magnitudes(suspect)), n_terms)
    beyond = error[suspect] > bound
    failed = suspect[np.any(beyond, axis=1)]
    if not len(failed):
        return
    row = int(failed[np.argmax(np.max(error[failed], axis=1))])
    raise _core.FerroshapError(
        f"additivity check failed: SHAP values + base value differ from the model output by "
        f"{float(np.max(error[row])):.3g} in row {row} ({len(failed)} row(s) in all), more than "
        f"the rounding error of the sums can explain; please report this with the model "
        "(check_additivity=False skips the check)"
    )
