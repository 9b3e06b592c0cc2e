"""shap's ``outputs=`` argument of the model-agnostic explainers: which model outputs to
explain, as indices."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["output_index"]


def output_index(outputs: Any, n_outputs: int, single: bool) -> np.ndarray:
    """``outputs`` (an index or a list of them; negative counts from the end) as indices into
    the model's ``n_outputs`` outputs, with a ValueError naming what is wrong."""
    if single:
        raise ValueError("outputs= selects among several model outputs; this model has one")
    if callable(outputs) or hasattr(outputs, "_ops"):
        raise NotImplementedError(
            "outputs= takes output indices so far (shap's Explanation-chain selections such "
            "as Explanation.argsort.flip[:1] are not supported)"
        )
    index = np.atleast_1d(np.asarray(outputs))
    if index.ndim != 1 or index.size == 0 or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"outputs must be an output index or a list of them, got {outputs!r}")
    if index.min() < -n_outputs or index.max() >= n_outputs:
        raise ValueError(
            f"outputs {index.tolist()} out of range for a model of {n_outputs} outputs"
        )
    return index % n_outputs
