"""What TreeExplainer offers for LightGBM ``linear_tree`` models, and what it refuses.

Their leaves are linear models ``c + sum_j w_j x_j`` (the leaf's constant value where one of
those features is NaN). The interventional game (background data) has exact Shapley values
with a closed form per leaf (``ferroshap::tree_shap::linear_tree``); path-dependent Tree SHAP
has no definition for them: its value of a coalition averages leaf *values* by node covers,
and a linear leaf has no value without the row's features, which is what the coalition leaves
out. So an explainer without background data is refused rather than given a made-up value.
"""

from __future__ import annotations

from typing import Any

from ferroshap import _core

_PATH_DEPENDENT = (
    "LightGBM linear_tree models have linear leaves, for which path-dependent Tree SHAP "
    "(node covers, no background) is not defined: pass background data (data=...) to "
    "explain them interventionally, exactly"
)


def is_linear(ensemble: Any) -> bool:
    """Whether ``ensemble`` is a model with linear trees."""
    return isinstance(ensemble, _core.LinearTreeEnsemble)


def check_linear_trees(ensemble: Any, interventional: bool, transformed: bool) -> None:
    """Refuse what linear trees do not support, naming what to do instead."""
    if not is_linear(ensemble):
        return
    if not interventional:
        raise ValueError(_PATH_DEPENDENT)
    if transformed:
        raise NotImplementedError(
            "LightGBM linear_tree models are explained for model_output='raw' (the margin) "
            "only; transformed outputs are not implemented for linear leaves"
        )


def check_no_linear_interactions(ensemble: Any) -> None:
    if is_linear(ensemble):
        raise NotImplementedError(
            "SHAP interaction values of LightGBM linear_tree models are not implemented; "
            "shap_values / __call__ give their exact interventional SHAP values"
        )
