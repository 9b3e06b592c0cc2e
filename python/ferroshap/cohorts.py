"""Cohorts: an Explanation split into named groups of rows, and hclust row orders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["HCLUST_MAX", "Cohorts", "auto_cohorts", "hclust_order", "named_cohorts"]

# Most items hclust() orders: the n^2 / 2 pairwise distances take 8 bytes each (1.6 GB here).
HCLUST_MAX = 20_000


class _NotCallable(ValueError, TypeError):
    """A Cohorts object called with no method to call (shap raises a ValueError, Python a
    TypeError for calling what cannot be called: this is both)."""


class Cohorts:
    """Named Explanations (groups of rows of one explanation) that act together.

    Attribute access, calls and indexing apply to every cohort and give a new ``Cohorts``, so
    ``sv.cohorts(3).abs.mean(0)`` is the mean absolute value per cohort; ``ferroshap.plots.bar``
    draws one bar per cohort and feature.

    Parameters
    ----------
    **cohorts
        Cohort name -> ferroshap Explanation.

    Examples
    --------
    >>> import numpy as np
    >>> from ferroshap import Explanation
    >>> sv = Explanation(np.arange(8.0).reshape(4, 2), feature_names=["a", "b"])
    >>> groups = sv.cohorts(np.array(["x", "y", "x", "y"]))
    >>> groups
    Cohorts(x: (2, 2), y: (2, 2))
    >>> groups.abs.mean(0).cohorts["y"].values
    array([4., 5.])
    """

    def __init__(self, **cohorts: Any) -> None:
        self.cohorts = cohorts
        self._methods: dict[str, Callable[..., Any]] = {}

    @property
    def cohorts(self) -> dict[str, Any]:
        """Cohort name -> Explanation."""
        return self._cohorts

    @cohorts.setter
    def cohorts(self, cohorts: dict[str, Any]) -> None:
        from ferroshap.explanation import Explanation

        if not isinstance(cohorts, dict):
            raise TypeError(
                f"cohorts must be a dict of name -> Explanation, not {type(cohorts).__name__}"
            )
        for name, value in cohorts.items():
            if not isinstance(value, Explanation):
                raise TypeError(
                    f"cohort {name!r} is a {type(value).__name__}, not a ferroshap Explanation"
                )
        self._cohorts = dict(cohorts)

    def __getitem__(self, item: Any) -> Cohorts:
        return Cohorts(**{name: sv[item] for name, sv in self.cohorts.items()})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        results = {key: getattr(sv, name) for key, sv in self.cohorts.items()}
        if all(callable(r) for r in results.values()):
            out = Cohorts()
            out._methods = results
            return out
        return Cohorts(**results)

    def __call__(self, *args: Any, **kwargs: Any) -> Cohorts:
        if not self._methods:
            raise _NotCallable(
                "No methods to call: call a Cohorts object only after naming an Explanation "
                "method, e.g. cohorts.mean(0)"
            )
        return Cohorts(**{k: m(*args, **kwargs) for k, m in self._methods.items()})

    def __len__(self) -> int:
        return len(self.cohorts)

    def __iter__(self) -> Iterator[str]:
        return iter(self.cohorts)

    def __repr__(self) -> str:
        parts = ", ".join(f"{name}: {sv.shape}" for name, sv in self.cohorts.items())
        return f"Cohorts({parts})"


def named_cohorts(sv: Any, labels: Any) -> Cohorts:
    """One cohort per distinct label (in sorted order), ``labels`` one per row."""
    labels = np.asarray(labels)
    if labels.shape != (sv.values.shape[0],):
        raise ValueError(
            f"cohort labels must give one label per row ({sv.values.shape[0]}), "
            f"got shape {labels.shape}"
        )
    return Cohorts(**{str(name): sv[labels == name] for name in np.unique(labels)})


def auto_cohorts(sv: Any, n: int) -> Cohorts:
    """Up to ``n`` cohorts of rows with similar SHAP values: the leaves of a regression tree
    (scikit-learn's, ``max_leaf_nodes=n``) fitted from the feature values to the SHAP values,
    named by the conditions on their path, e.g. ``"age < 52.5 & bmi >= 0.031"``."""
    try:
        from sklearn.tree import DecisionTreeRegressor
    except ModuleNotFoundError as exc:
        raise ImportError("cohorts(n) needs scikit-learn: pip install scikit-learn") from exc
    if n < 1:
        raise ValueError(f"the number of cohorts must be at least 1, got {n}")
    if sv.data is None:
        raise ValueError("cohorts(n) splits rows by their feature values, but data is None")
    data = np.asarray(sv.data, dtype=np.float64)
    if n == 1:
        return Cohorts(**{"all": sv})
    tree = DecisionTreeRegressor(max_leaf_nodes=n, random_state=0).fit(data, sv.values)
    paths = tree.decision_path(data).tocsr()
    names = _feature_names(sv, data.shape[1])
    feature, threshold = tree.tree_.feature, tree.tree_.threshold
    labels = np.empty(data.shape[0], dtype=object)
    for i in range(data.shape[0]):
        nodes = paths.indices[paths.indptr[i] : paths.indptr[i + 1]]
        conditions = []
        for node in nodes:
            j = feature[node]
            if j < 0:  # a leaf
                continue
            sign = "<" if data[i, j] <= threshold[node] else ">="
            conditions.append(f"{names[j]} {sign} {threshold[node]:.4g}")
        labels[i] = " & ".join(conditions)
    return Cohorts(**{name: sv[labels == name] for name in sorted(set(labels))})


def hclust_order(values: np.ndarray, metric: str = "sqeuclidean") -> np.ndarray:
    """Row order from complete-linkage clustering with optimal leaf ordering (scipy), so that
    neighbouring rows are similar: what shap's ``Explanation.hclust`` computes."""
    try:
        from scipy.cluster import hierarchy
        from scipy.spatial.distance import pdist
    except ModuleNotFoundError as exc:
        raise ImportError("hclust() needs scipy: pip install scipy") from exc
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"hclust needs 2-D values (rows, features), got shape {values.shape}")
    if values.shape[0] > HCLUST_MAX:
        gib = values.shape[0] ** 2 * 4 / 2**30
        raise ValueError(
            f"hclust of {values.shape[0]:,} items needs all pairwise distances (about "
            f"{gib:.0f} GiB); cluster a sample, e.g. explanation.sample({HCLUST_MAX // 4:,})"
        )
    if values.shape[0] < 2:
        return np.arange(values.shape[0])
    distances = pdist(values, metric)
    linkage = hierarchy.complete(distances)
    return hierarchy.leaves_list(hierarchy.optimal_leaf_ordering(linkage, distances))


def _feature_names(sv: Any, n: int) -> list[str]:
    names = sv.feature_names
    if names is None or isinstance(names, str) or len(names) != n:
        return [f"Feature {i}" for i in range(n)]
    return [str(name) for name in names]
