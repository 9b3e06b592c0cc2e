"""shap's ``shap.utils`` helpers that tutorials call, under shap's names.

- :func:`sample`: rows for a smaller background (the rows shap picks).
- :func:`hclust`: a hierarchical clustering of the features (for ``plots.bar(clustering=)`` and
  the ``Partition`` masker), by correlation or, given a target, by shap's XGBoost redundancy.
- :func:`hclust_ordering`: an order of rows that keeps similar ones together.
- :func:`approximate_interactions` / :func:`potential_interactions`: features ranked by how much
  they seem to interact with one feature (what ``plots.scatter(color=...)`` colours by).
- :func:`safe_isinstance`: a type check by class path that imports nothing.
"""

from ferroshap.explainers._background import sample
from ferroshap.utils._clustering import hclust, hclust_ordering, xgboost_distances_r2
from ferroshap.utils._interactions import (
    approximate_interactions,
    potential_interactions,
    safe_isinstance,
)

__all__ = [
    "approximate_interactions",
    "hclust",
    "hclust_ordering",
    "potential_interactions",
    "safe_isinstance",
    "sample",
    "xgboost_distances_r2",
]
