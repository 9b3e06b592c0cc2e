"""Maskers: how features outside a coalition are filled in (shap's ``shap.maskers``).

:class:`Independent`: features outside a coalition take the values of each background row in
turn, and the model's outputs are averaged over those rows. :class:`Partition`: the same, with
a hierarchical clustering of the features for Owen values. :class:`Text` and :class:`Image`:
tokens and pixels, each with shap's hierarchy of its parts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap._data import to_matrix
from ferroshap._hierarchy import check_linkage, feature_linkage
from ferroshap._image_masker import Image
from ferroshap._text_masker import Text

__all__ = ["Image", "Independent", "Partition", "Text"]


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
        another masker's ``clustering``).

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
            raise ValueError("clustering must be a distance metric or a linkage matrix, not None")
        else:
            self.clustering = check_linkage(clustering, n_features)

    def __repr__(self) -> str:
        return f"Partition(data of shape {self.data.shape}, max_samples={self.max_samples})"
