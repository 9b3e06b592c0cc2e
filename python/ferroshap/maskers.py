"""Maskers: how features outside a coalition are filled in (shap's ``shap.maskers``).

Only :class:`Independent` exists so far: features outside a coalition take the values of each
background row in turn, and the model's outputs are averaged over those rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap._data import to_matrix

__all__ = ["Independent"]


class Independent:
    """Masks features with the values of background rows, independently of the others.

    As ``shap.maskers.Independent``: the model's output for a coalition is its mean over the
    background rows with the coalition's features taken from the explained row.

    Parameters
    ----------
    data
        Background rows ``(n_background, n_features)``: numpy, pandas or polars.
    max_samples
        At most this many rows are kept; larger data is subsampled without replacement with a
        fixed seed (:func:`ferroshap.sample`; shap draws with scikit-learn's ``shuffle``, so
        the rows kept differ from shap's when subsampling happens).

    Attributes
    ----------
    data : numpy.ndarray
        The background rows kept, float64 ``(n_background, n_features)``.
    feature_names : list of str or None
        The frame's column names, if any.
    shape : tuple
        ``(n_background, n_features)``, as shap's.

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> masker = ferroshap.maskers.Independent(np.zeros((500, 3)), max_samples=100)
    >>> masker.shape
    (100, 3)
    """

    def __init__(self, data: Any, max_samples: int = 100) -> None:
        if (
            not isinstance(max_samples, (int, np.integer))
            or isinstance(max_samples, bool)
            or max_samples < 1
        ):
            raise ValueError(f"max_samples must be a positive int, got {max_samples!r}")
        # Imported here: ferroshap.explainers imports this module.
        from ferroshap.explainers._background import sample

        matrix = to_matrix(sample(data, int(max_samples)), what="data")
        if matrix.was_1d:
            raise ValueError("data must be 2-D: (n_background, n_features)")
        self.data = np.ascontiguousarray(matrix.values, dtype=np.float64)
        if len(self.data) == 0:
            raise ValueError("the background data has no rows")
        self.feature_names = (
            list(matrix.feature_names) if matrix.feature_names is not None else None
        )
        self.max_samples = int(max_samples)
        # As shap's masker: a model fitted on a pandas frame is called with frames.
        self.output_dataframe = hasattr(data, "iloc") and hasattr(data, "columns")

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Independent(data of shape {self.data.shape}, max_samples={self.max_samples})"
