"""``shap.utils.approximate_interactions`` / ``potential_interactions`` (features ranked by how
much they seem to interact with one feature) and ``safe_isinstance``."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ferroshap.plots._interactions import interaction_scores

__all__ = ["approximate_interactions", "potential_interactions", "safe_isinstance"]


def _rank(scores: np.ndarray) -> np.ndarray:
    """Feature indices from the strongest interaction to the weakest (stable on ties; the
    feature itself and constant features last)."""
    return np.argsort(-scores, kind="stable")


def approximate_interactions(
    index: Any, shap_values: Any, X: Any, feature_names: Any = None
) -> np.ndarray:
    """Every feature, ranked by how much it seems to interact with feature ``index``: how well
    it explains the spread of ``index``'s SHAP values among rows with similar values of
    ``index``. The ranking ``plots.scatter`` / ``dependence_plot`` colour by. The scores are
    ferroshap's (:mod:`ferroshap.plots._interactions`), so the order can differ from shap's
    where two features are close.

    Parameters
    ----------
    index
        The feature: its position or its name (with ``feature_names`` or a data frame ``X``).
    shap_values
        ``(n_rows, n_features)`` SHAP values.
    X
        ``(n_rows, n_features)`` feature values (array or data frame).

    Returns
    -------
    numpy.ndarray
        The ``n_features`` feature indices, strongest interaction first; ``index`` itself and
        constant features come last.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> values = np.column_stack([X[:, 0] * X[:, 2], X[:, 1], X[:, 2]])
    >>> int(approximate_interactions(0, values, X)[0])
    2
    """
    values = np.asarray(shap_values, dtype=np.float64)
    if feature_names is None and hasattr(X, "columns"):
        feature_names = list(X.columns)
    data = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
    if values.ndim != 2 or data.shape != values.shape:
        raise ValueError(
            f"shap_values {values.shape} and X {data.shape} must both be (n_rows, n_features)"
        )
    return _rank(interaction_scores(_index(index, feature_names, values.shape[1]), values, data))


def potential_interactions(shap_values_column: Any, shap_values_matrix: Any) -> np.ndarray:
    """:func:`approximate_interactions` for Explanations, as shap's: ``shap_values_column`` is
    one feature's column (``sv[:, "age"]``) and ``shap_values_matrix`` all of them (``sv``).
    Features whose SHAP values equal the column's are ranked last."""
    column = np.asarray(shap_values_column.values, dtype=np.float64)
    values = np.asarray(shap_values_matrix.values, dtype=np.float64)
    if values.ndim != 2 or column.shape != values.shape[:1]:
        raise ValueError(
            f"need one feature's column (n_rows,) and the values (n_rows, n_features); got "
            f"{column.shape} and {values.shape}"
        )
    same = (values - column[:, None]).std(axis=0) < 1e-8
    if not same.any():
        raise ValueError("the column is not one of the matrix's features")
    scores = interaction_scores(int(np.argmax(same)), values, shap_values_matrix.data)
    scores[same] = -np.inf
    return _rank(scores)


def _index(index: Any, names: Any, m: int) -> int:
    if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        if not -m <= index < m:
            raise IndexError(f"feature index {index} is out of range for {m} features")
        return int(index) % m
    if isinstance(index, str) and names is not None and index in list(names):
        return list(names).index(index)
    raise ValueError(f"unknown feature {index!r}; pass its position or one of its names")


def safe_isinstance(obj: Any, class_path_str: str | list[str] | tuple[str, ...]) -> bool:
    """Whether ``obj`` is an instance of the class named by its full path (for example
    ``"sklearn.ensemble.RandomForestRegressor"``), or of any of several paths, without
    importing the class's module: a module not imported yet cannot have made ``obj``.

    Examples
    --------
    >>> from fractions import Fraction
    >>> safe_isinstance(Fraction(1, 2), "fractions.Fraction")
    True
    >>> safe_isinstance(1, ["fractions.Fraction", "decimal.Decimal"])
    False
    """
    paths = [class_path_str] if isinstance(class_path_str, str) else list(class_path_str)
    for path in paths:
        if "." not in path:
            raise ValueError(f"class path must be 'module.Class', got {path!r}")
        module_name, class_name = path.rsplit(".", 1)
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module is not None else None
        if isinstance(cls, type) and isinstance(obj, cls):
            return True
    return False
