"""shap's ``shap.utils`` helpers that tutorials call, under shap's names.

- :func:`sample`: rows for a smaller background (the rows shap picks).
- :func:`hclust`: a hierarchical clustering of the features (for ``plots.bar(clustering=)`` and
  the ``Partition`` masker), by correlation or, given a target, by shap's XGBoost redundancy.
- :func:`hclust_ordering`: an order of rows that keeps similar ones together.
- :func:`partition_tree`: a complete-linkage clustering of the features (for
  ``create_partition_hierarchy`` and the ``Partition`` masker).
- :func:`approximate_interactions` / :func:`potential_interactions`: features ranked by how much
  they seem to interact with one feature (what ``plots.scatter(color=...)`` colours by).
- :func:`safe_isinstance`: a type check by class path that imports nothing.
- :func:`assert_import`: an ImportError naming the package when an optional one is missing.
- shap's smaller helpers: :func:`format_value`, :func:`ordinal_str`, :func:`convert_name`,
  :func:`shapley_coefficients`, :class:`OpChain`, :func:`suppress_stderr`,
  :func:`partition_tree_shuffle`, :func:`make_masks`, :func:`delta_minimization_order`.
"""

import importlib

from ferroshap.explainers._background import sample
from ferroshap.utils._clustering import (
    hclust,
    hclust_ordering,
    partition_tree,
    xgboost_distances_r2,
)
from ferroshap.utils._general import (
    OpChain,
    convert_name,
    format_value,
    ordinal_str,
    record_import_error,
    shapley_coefficients,
    suppress_stderr,
)
from ferroshap.utils._interactions import (
    approximate_interactions,
    potential_interactions,
    safe_isinstance,
)
from ferroshap.utils._masks import delta_minimization_order, make_masks, partition_tree_shuffle

__all__ = [
    "OpChain",
    "approximate_interactions",
    "assert_import",
    "convert_name",
    "delta_minimization_order",
    "format_value",
    "hclust",
    "hclust_ordering",
    "make_masks",
    "ordinal_str",
    "partition_tree",
    "partition_tree_shuffle",
    "potential_interactions",
    "record_import_error",
    "safe_isinstance",
    "sample",
    "shapley_coefficients",
    "suppress_stderr",
    "xgboost_distances_r2",
]


def assert_import(package_name: str) -> None:
    """Imports ``package_name`` or raises an ImportError that names it, as shap's helper of the
    same name does for its optional dependencies.

    Examples
    --------
    >>> assert_import("json")
    >>> assert_import("no_such_package_here")
    Traceback (most recent call last):
    ...
    ImportError: no_such_package_here could not be imported: pip install no_such_package_here
    """
    try:
        importlib.import_module(package_name)
    except ImportError:
        raise ImportError(
            f"{package_name} could not be imported: pip install {package_name}"
        ) from None
