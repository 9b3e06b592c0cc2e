"""shap's ``GPUTreeExplainer`` name, for code written against it."""

from __future__ import annotations

from ferroshap.explainers.tree import TreeExplainer

__all__ = ["GPUTreeExplainer"]


class GPUTreeExplainer(TreeExplainer):
    """:class:`TreeExplainer` under shap's GPU name: the same constructor and methods
    (``shap_values``, ``shap_interaction_values``, ``__call__``), computed on the CPU.

    shap's ``GPUTreeExplainer`` needs a CUDA source build of shap; ferroshap's Tree SHAP runs
    in parallel Rust on the CPU and gives the same values (exact, in f64), so code that names
    ``GPUTreeExplainer`` runs unchanged on any machine. Nothing here uses a GPU.

    Examples
    --------
    >>> import ferroshap, xgboost  # doctest: +SKIP
    >>> explainer = ferroshap.GPUTreeExplainer(model)  # doctest: +SKIP
    >>> values = explainer.shap_values(X)  # same values as TreeExplainer  # doctest: +SKIP
    """
