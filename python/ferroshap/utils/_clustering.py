"""``shap.utils.hclust`` and ``hclust_ordering``: hierarchical clusterings of features and rows."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ferroshap._hierarchy import feature_linkage
from ferroshap.utils._exceptions import DimensionError

__all__ = ["hclust", "hclust_ordering", "partition_tree", "xgboost_distances_r2"]

_LINKAGES = ("single", "complete", "average")


def _matrix(X: Any) -> np.ndarray:
    x = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
    if x.ndim != 2:
        raise DimensionError(f"X must be 2-dimensional (rows, features), got shape {x.shape}")
    try:
        return x.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"X must be numeric to cluster its features, got dtype {x.dtype}"
        ) from None


def hclust(
    X: Any,
    y: Any = None,
    linkage: str = "single",
    metric: str = "auto",
    random_state: int = 0,
) -> np.ndarray:
    """A hierarchical clustering of the features (columns) of ``X`` as a scipy linkage matrix,
    as ``shap.utils.hclust``: pass it to ``plots.bar(..., clustering=)`` or a
    ``maskers.Partition``.

    Parameters
    ----------
    X
        ``(n_rows, n_features)`` numeric array or data frame.
    y
        Target values. With ``metric="auto"``, features are then clustered by redundancy with
        respect to ``y`` (:func:`xgboost_distances_r2`, needs xgboost); without, by cosine
        distance.
    linkage
        ``"single"``, ``"complete"`` or ``"average"``.
    metric
        ``"auto"``, ``"xgboost_distances_r2"`` or any ``scipy.spatial.distance.pdist`` metric.
        Missing values count as their column's mean; a 1e-8 jitter from a generator seeded
        with ``random_state`` breaks exact ties (shap draws it from NumPy's global state).
    random_state
        Seed of the train/test split (redundancy) or of the jitter.

    Returns
    -------
    numpy.ndarray
        ``(n_features - 1, 4)`` linkage matrix.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> X[:, 2] = X[:, 0] + 0.01 * X[:, 1]
    >>> hclust(X)[0, :2].tolist()  # columns 0 and 2 join first
    [0.0, 2.0]
    """
    x = _matrix(X)
    if linkage not in _LINKAGES:
        raise ValueError(
            f"Unknown linkage type: {linkage!r} (use 'single', 'complete' or 'average')"
        )
    if metric == "auto":
        metric = "xgboost_distances_r2" if y is not None else "cosine"
    if metric != "xgboost_distances_r2":
        if y is not None:
            warnings.warn(
                f"hclust ignores y with metric={metric!r}: only 'xgboost_distances_r2' uses the "
                "target",
                UserWarning,
                stacklevel=2,
            )
        return feature_linkage(x, metric=metric, method=linkage, seed=random_state)
    if y is None:
        raise ValueError("metric='xgboost_distances_r2' needs the target y")
    from scipy.cluster import hierarchy

    d = xgboost_distances_r2(x, np.asarray(y), random_state=random_state)
    # The redundancy of i given j is not that of j given i: a pair's distance is the smaller
    # (single), the larger (complete) or the mean (average) of the two, as in shap.
    i, j = np.triu_indices(len(d), k=1)
    pair = np.stack([d[i, j], d[j, i]])
    condensed = {"single": pair.min(0), "complete": pair.max(0), "average": pair.mean(0)}[linkage]
    return getattr(hierarchy, linkage)(condensed)


def xgboost_distances_r2(
    X: np.ndarray,
    y: np.ndarray,
    learning_rate: float = 0.6,
    early_stopping_rounds: int = 2,
    subsample: float = 1.0,
    max_estimators: int = 10_000,
    random_state: int = 0,
) -> np.ndarray:
    """Redundancy distances between features with respect to ``y``, as shap's: ``d[i, j]`` is
    1 minus the share of the variance of a one-feature model of ``y`` on feature ``i`` that a
    one-feature model on feature ``j`` explains (0: ``j`` makes ``i`` redundant; 1: not at
    all). Models are XGBoost stumps with early stopping on a held-out quarter of the rows.

    Returns
    -------
    numpy.ndarray
        ``(n_features, n_features)``, zero on the diagonal; not symmetric.
    """
    try:
        import xgboost
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise ImportError(
            "redundancy clustering needs xgboost and scikit-learn: pip install xgboost "
            "scikit-learn (or cluster without y)"
        ) from None
    x = _matrix(X)
    y = np.asarray(y, dtype=np.float64)
    if len(y) != len(x):
        raise ValueError(f"y has {len(y)} values but X has {len(x)} rows")
    x_train, x_test, y_train, y_test = train_test_split(x, y, random_state=random_state)

    def stump_model(target_train: np.ndarray, target_test: np.ndarray, j: int) -> Any:
        model = xgboost.XGBRegressor(
            subsample=subsample,
            n_estimators=max_estimators,
            learning_rate=learning_rate,
            max_depth=1,
            early_stopping_rounds=early_stopping_rounds,
        )
        model.fit(
            x_train[:, j : j + 1],
            target_train,
            eval_set=[(x_test[:, j : j + 1], target_test)],
            verbose=False,
        )
        return model

    m = x.shape[1]
    fits = [stump_model(y_train, y_test, j) for j in range(m)]
    train_pred = np.column_stack([f.predict(x_train[:, j : j + 1]) for j, f in enumerate(fits)])
    test_pred = np.column_stack([f.predict(x_test[:, j : j + 1]) for j, f in enumerate(fits)])
    dist = np.zeros((m, m))
    for i in range(m):
        var = float(np.var(test_pred[:, i]))
        if var < 1e-4:
            warnings.warn(
                f"feature {i} carries (almost) no signal about y (a constant feature?): its "
                "redundancy distances are set to 1",
                UserWarning,
                stacklevel=2,
            )
            dist[i, :] = 1.0
            dist[i, i] = 0.0
            continue
        for j in range(m):
            if i == j:
                continue
            model = stump_model(train_pred[:, i], test_pred[:, i], j)
            err = np.mean((test_pred[:, i] - model.predict(x_test[:, j : j + 1])) ** 2)
            dist[i, j] = 1.0 - max(0.0, 1.0 - err / var)
    return dist


def hclust_ordering(X: Any, metric: str = "sqeuclidean", anchor_first: bool = False) -> np.ndarray:
    """An order of the rows of ``X`` that keeps similar rows together (complete linkage with
    optimal leaf ordering, needs scipy), as ``shap.utils.hclust_ordering``. ``anchor_first``
    is accepted for shap's signature and, as in shap, has no effect.

    Examples
    --------
    >>> import numpy as np
    >>> hclust_ordering(np.array([[0.0, 1.0], [5.0, 5.0], [0.1, 1.0]])).tolist()
    [1, 2, 0]
    """
    from ferroshap.cohorts import hclust_order

    return hclust_order(_matrix(X), metric)


def partition_tree(X: Any, metric: str = "correlation", random_state: int = 0) -> np.ndarray:
    """A complete-linkage clustering of the features (columns) of ``X`` as a scipy linkage
    matrix, as ``shap.utils.partition_tree``: ``scipy.cluster.hierarchy.complete`` on the
    ``metric`` distances between the columns, missing values replaced by their column's mean,
    with a ``1e-8`` jitter to break ties drawn from a generator seeded with ``random_state``
    (shap draws it from numpy's global state). Pass it to ``maskers.Partition(clustering=)``
    or to ``create_partition_hierarchy`` for a ``CoalitionExplainer``. Needs scipy.

    Returns
    -------
    numpy.ndarray
        ``(n_features - 1, 4)`` linkage matrix.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> X[:, 2] = X[:, 0] + 0.01 * X[:, 1]
    >>> partition_tree(X)[0, :2].tolist()  # columns 0 and 2 join first
    [0.0, 2.0]
    """
    return feature_linkage(_matrix(X), metric=metric, method="complete", seed=random_state)
