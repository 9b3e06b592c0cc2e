"""What TreeExplainer takes from shap users beyond arrays and frames: scipy sparse matrices,
``xgboost.DMatrix``, shap maskers, and the constructor arguments shap ignores.

Sparse rows are explained in blocks of dense rows, so only one block is ever dense besides
the output. What an absent entry means follows the model's library, as its own ``predict``
reads it: XGBoost (and any ``DMatrix``) reads an absent entry as missing, scikit-learn and
LightGBM read it as 0.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ferroshap.explanation import Explanation

__all__ = [
    "background_data",
    "check_shap_only_arguments",
    "dense",
    "is_blocked",
    "joined",
    "row_blocks",
    "warn_no_background",
]

# Dense values per block: 2**22 float64 values (32 MiB), at least one row.
_BLOCK_VALUES = 1 << 22


def _is_sparse(X: Any) -> bool:
    return type(X).__module__.split(".")[0] == "scipy" and hasattr(X, "tocsr")


def _is_dmatrix(X: Any) -> bool:
    return type(X).__name__ == "DMatrix" and type(X).__module__.split(".")[0] == "xgboost"


def is_blocked(X: Any) -> bool:
    """Whether ``X`` is read in blocks of dense rows (a scipy sparse matrix or a DMatrix)."""
    return _is_sparse(X) or _is_dmatrix(X)


def _csr(X: Any, source: str) -> tuple[Any, bool]:
    """``X`` as CSR and whether its absent entries are missing (NaN) rather than 0."""
    if _is_dmatrix(X):
        if not hasattr(X, "get_data"):
            raise TypeError(
                "reading an xgboost.DMatrix needs xgboost >= 1.7 (DMatrix.get_data); pass the "
                "array the DMatrix was built from instead"
            )
        return X.get_data().tocsr(), True
    return X.tocsr(), source == "xgboost"


def _densify(block: Any, absent_missing: bool) -> np.ndarray:
    dtype = block.dtype if block.dtype in (np.float32, np.float64) else np.float64
    if not absent_missing:
        return np.asarray(block.toarray(), dtype=dtype)
    out = np.full(block.shape, np.nan, dtype=dtype)
    coo = block.tocoo()
    out[coo.row, coo.col] = coo.data
    return out


def row_blocks(X: Any, source: str) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, dense rows)`` blocks of a sparse matrix or DMatrix ``X``."""
    csr, absent_missing = _csr(X, source)
    n, m = csr.shape
    step = max(1, _BLOCK_VALUES // max(m, 1))
    for start in range(0, max(n, 1), step):
        yield start, _densify(csr[start : start + step], absent_missing)


def dense(X: Any, source: str) -> Any:
    """A sparse matrix or DMatrix as one dense array (background data); other inputs as
    they are."""
    if not is_blocked(X):
        return X
    csr, absent_missing = _csr(X, source)
    return _densify(csr, absent_missing)


def feature_names(X: Any) -> list[str] | None:
    """A DMatrix's feature names, if it has them."""
    names = getattr(X, "feature_names", None) if _is_dmatrix(X) else None
    return None if names is None else [str(n) for n in names]


def background_data(data: Any) -> Any:
    """The rows behind ``data``: a shap-style masker (any object with a ``.data`` array other
    than an array, frame or sparse matrix, like ``maskers.Independent``) gives its ``.data``."""
    if data is None or isinstance(data, np.ndarray) or _is_sparse(data) or _is_dmatrix(data):
        return data
    module = type(data).__module__.split(".")[0]
    if module in ("pandas", "polars", "pyarrow"):
        return data
    inner = getattr(data, "data", None)
    if inner is not None and not callable(inner) and hasattr(inner, "shape"):
        return inner
    return data


def check_shap_only_arguments(kwargs: dict[str, Any]) -> None:
    """shap's TreeExplainer arguments that it ignores: their defaults are accepted, anything
    else is refused with what to do instead (shap would silently ignore it)."""
    for name in ("link", "linearize_link"):
        if name in kwargs and kwargs.pop(name) is not None:
            raise TypeError(
                f"TreeExplainer has no {name}=: shap accepts and ignores it (shap issue 3513). "
                "For probabilities pass model_output='probability' with background data; for "
                "a link over any model use KernelExplainer(model, data, link='logit')"
            )
    if "approximate" in kwargs:
        kwargs.pop("approximate")
        raise TypeError(
            "approximate= belongs to shap_values / __call__ (shap deprecated it in the "
            "constructor), and ferroshap computes exact values only"
        )


def warn_no_background() -> None:
    # shap 0.51 warns this way (FutureWarning) and explains path-dependent.
    warnings.warn(
        "feature_perturbation='interventional' needs background data (data=); without it "
        "the explanation falls back to feature_perturbation='tree_path_dependent', as shap "
        "does. Pass data=<background rows> to explain interventionally, or ask for "
        "'tree_path_dependent' (or 'auto') to silence this warning",
        FutureWarning,
        stacklevel=3,
    )


def joined(parts: list[Explanation]) -> Explanation:
    """Explanations of consecutive blocks of rows as one."""
    first = parts[0]
    if len(parts) == 1:
        return first
    return Explanation(
        np.concatenate([p.values for p in parts]),
        base_values=np.concatenate([p.base_values for p in parts]),
        data=np.concatenate([p.data for p in parts]),
        feature_names=first.feature_names,
        output_names=first.output_names,
        axis_names=first.axis_names,
    )
