"""Tabular maskers: :class:`Independent` (features outside a coalition take the values of each
background row in turn, and the model's outputs are averaged over those rows),
:class:`Partition` (the same, with a hierarchical clustering of the features for Owen values)
and :class:`Impute` (for LinearExplainer's correlation-dependent values)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ferroshap._data import to_matrix
from ferroshap._hierarchy import check_linkage, feature_linkage
from ferroshap.maskers._masker import Masker

__all__ = ["Impute", "Independent", "Partition"]

_log = logging.getLogger("ferroshap")


class Independent(Masker):
    """Masks features with the values of background rows, independently of the others.

    As ``shap.maskers.Independent``: the model's output for a coalition is its mean over the
    background rows with the coalition's features taken from the explained row.

    Parameters
    ----------
    data
        Background rows ``(n_background, n_features)``: numpy, pandas or polars.
    max_samples
        At most this many rows are kept; larger data is subsampled without replacement with a
        fixed seed (:func:`ferroshap.sample`: the rows shap keeps).

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

        if isinstance(data, dict) and "mean" in data:
            # shap's summary form: the mean row is the background (covariance kept for
            # reference; the explainers here do not use it).
            self.mean = np.asarray(data["mean"], dtype=np.float64)
            self.cov = None if data.get("cov") is None else np.asarray(data["cov"], np.float64)
            data = self.mean[None, :]
        n_rows = data.shape[0] if hasattr(data, "shape") else None
        if n_rows is not None and n_rows > max_samples:
            _log.warning(
                "background data of %d rows subsampled to max_samples=%d rows", n_rows, max_samples
            )
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
        self.clustering: Any = None  # shap's attributes: no hierarchy, no partition
        self.partition: Any = None
        # As shap's masker: a model fitted on a pandas frame is called with frames.
        self.output_dataframe = hasattr(data, "iloc") and hasattr(data, "columns")

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape

    def __call__(self, mask: Any, x: Any) -> tuple[Any]:
        """The background rows with the features in ``mask`` taken from ``x``, as shap's
        masker call: ``masker(mask, x)`` returns a one-element tuple holding an
        ``(n_background, n_features)`` array (a pandas frame when the data was one), ready for
        ``model(*masker(mask, x))``. The explainers build these rows in Rust instead; this is
        for inspecting what a coalition's model input looks like.

        Parameters
        ----------
        mask
            ``(n_features,)`` booleans: True where the feature comes from ``x``.
        x
            One row ``(n_features,)``.

        Examples
        --------
        >>> import numpy as np, ferroshap
        >>> masker = ferroshap.maskers.Independent(np.zeros((2, 3)))
        >>> masker(np.array([True, False, True]), np.array([1.0, 2.0, 3.0]))[0].tolist()
        [[1.0, 0.0, 3.0], [1.0, 0.0, 3.0]]
        """
        m = self.data.shape[1]
        values = self._row(x)
        mask = np.asarray(mask)
        if mask.dtype == np.bool_ and mask.ndim == 0:  # shap's shorthand: all or nothing
            mask = np.full(m, bool(mask))
        if mask.dtype != np.bool_ or mask.shape != (m,):
            raise ValueError(
                f"mask must be {m} booleans (True: the feature comes from x), got dtype "
                f"{mask.dtype} and shape {mask.shape}"
            )
        masked = np.where(mask, values, self.data)
        if self.output_dataframe:
            import pandas as pd

            return (pd.DataFrame(masked, columns=self.feature_names),)
        return (masked,)

    def mask_shapes(self, x: Any) -> list[tuple[int]]:
        """``[(n_features,)]``: one mask entry per feature (shap's masker protocol)."""
        return [(self.data.shape[1],)]

    def invariants(self, x: Any) -> np.ndarray:
        """``(n_background, n_features)`` booleans: where the row ``x`` equals a background row's
        value (``numpy.isclose``), so that masking the feature changes nothing, as shap's.

        Examples
        --------
        >>> import numpy as np, ferroshap
        >>> masker = ferroshap.maskers.Independent(np.array([[0.0, 1.0], [0.0, 2.0]]))
        >>> masker.invariants(np.array([0.0, 2.0])).tolist()
        [[True, False], [True, True]]
        """
        return np.isclose(self._row(x), self.data)

    def _row(self, x: Any) -> np.ndarray:
        """``x`` as one float row of the masker's width, else a DimensionError (a ValueError)."""
        from ferroshap.utils._exceptions import DimensionError

        m = self.data.shape[1]
        row = to_matrix(x, what="x")
        if not row.was_1d and row.values.shape[0] != 1:
            raise DimensionError(f"x must be one row of {m} features, got shape {row.values.shape}")
        values = np.asarray(row.values, dtype=np.float64).reshape(-1)
        if values.shape[0] != m:
            raise DimensionError(f"x has {values.shape[0]} features but the masker's data has {m}")
        return values

    def __repr__(self) -> str:
        return f"Independent(data of shape {self.data.shape}, max_samples={self.max_samples})"


class Impute(Masker):
    """Masked features imputed from the observed ones by the background's linear regression
    (a Gaussian with the background's mean and covariance), as ``shap.maskers.Impute``.

    :class:`ferroshap.LinearExplainer` reads it as ``feature_perturbation=
    "correlation_dependent"``; no other explainer takes it (as in shap, which implements it
    for linear models only), and they refuse it with a clear error.

    Parameters
    ----------
    data
        Background rows ``(n_background, n_features)`` (numpy, pandas, polars), or
        ``{"mean": (M,), "cov": (M, M)}``.
    method
        ``"linear"`` (shap's only method).

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> masker = ferroshap.maskers.Impute({"mean": np.zeros(2), "cov": np.eye(2)})
    >>> explainer = ferroshap.LinearExplainer((np.array([1.0, 1.0]), 0.0), masker)
    >>> explainer.feature_perturbation
    'correlation_dependent'
    """

    def __init__(self, data: Any, method: str = "linear") -> None:
        if method != "linear":
            raise ValueError(f"Impute supports method='linear' only (as shap), got {method!r}")
        self.method = method
        if isinstance(data, dict) and "mean" in data:
            self.mean = np.asarray(data["mean"], dtype=np.float64)
            if self.mean.ndim != 1 or data.get("cov") is None:
                raise ValueError("Impute needs a 1-D 'mean' and a 'cov' matrix")
            self.cov = np.atleast_2d(np.asarray(data["cov"], dtype=np.float64))
            self.data = self.mean[None, :]
            self.feature_names = None
        else:
            matrix = to_matrix(data, what="data")
            if matrix.was_1d:
                raise ValueError("data must be 2-D: (n_background, n_features)")
            self.data = np.ascontiguousarray(matrix.values, dtype=np.float64)
            if len(self.data) < 2:
                raise ValueError("Impute needs at least 2 background rows for a covariance")
            self.mean = self.data.mean(axis=0)
            self.cov = np.atleast_2d(np.cov(self.data, rowvar=False))
            self.feature_names = (
                list(matrix.feature_names) if matrix.feature_names is not None else None
            )
        self.clustering: Any = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Impute({len(self.mean)} features, method={self.method!r})"


class Partition(Independent):
    """Masks features with background rows, over a hierarchical clustering of the features.

    As ``shap.maskers.Partition``: the masking is :class:`Independent`'s; ``clustering``
    arranges the features in a binary hierarchy, over which the Partition explainer (and the
    Exact explainer) compute Owen values, so that correlated features share credit as a group.

    Parameters
    ----------
    data
        Background rows ``(n_background, n_features)``: numpy, pandas or polars.
    max_samples
        At most this many rows are kept (as :class:`Independent`).
    clustering
        A distance metric of ``scipy.spatial.distance.pdist`` (default ``"correlation"``): the
        features are clustered by single linkage on the distances between the background's
        columns, with scipy, as shap does (see below); or a linkage matrix
        ``(n_features - 1, 4)`` in scipy's format (e.g. from ``scipy.cluster.hierarchy`` or
        another masker's ``clustering``); ``None``: no clustering (the masker then masks as
        :class:`Independent`, as shap's does).

    Notes
    -----
    The clustering uses scipy (``scipy.cluster.hierarchy.single`` on ``pdist``), imported only
    when a metric is given: it is the algorithm shap uses, so the tree is shap's for the same
    background, and there is no reason to keep a second implementation of single linkage.
    Install it with ``pip install 'ferroshap[partition]'``. Like shap, columns get a
    ``1e-8`` jitter before the distances, to break ties; here it has a fixed seed (shap draws
    it from numpy's global random state).

    Attributes
    ----------
    clustering : numpy.ndarray
        The linkage matrix ``(n_features - 1, 4)``.

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(200, 1))
    >>> X = np.hstack([a, a + 0.01 * rng.normal(size=(200, 1)), rng.normal(size=(200, 1))])
    >>> masker = ferroshap.maskers.Partition(X)
    >>> masker.clustering[0, :2]  # the two correlated columns merge first
    array([0., 1.])
    """

    def __init__(self, data: Any, max_samples: int = 100, clustering: Any = "correlation") -> None:
        super().__init__(data, max_samples=max_samples)
        n_features = self.data.shape[1]
        if isinstance(clustering, str):
            self.clustering = feature_linkage(self.data, metric=clustering)
        elif clustering is None:
            self.clustering = None
        else:
            self.clustering = check_linkage(clustering, n_features)

    def __repr__(self) -> str:
        return f"Partition(data of shape {self.data.shape}, max_samples={self.max_samples})"
