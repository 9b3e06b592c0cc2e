"""``tree_limit=``: explaining the first boosting rounds of a model, as shap does.

A round is what one boosting iteration adds: one tree per output (one tree in all for trees
that predict every output, such as scikit-learn forest classifiers), times XGBoost's
``num_parallel_tree``. ``tree_limit=None`` follows the model's own ``predict``, which for
early-stopped scikit-learn XGBoost models and LightGBM models stops at the best iteration.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np

from ferroshap.models import TreeModel


def trees_per_round(model: TreeModel) -> int | None:
    """Trees each boosting round adds, or ``None`` where the model does not say."""
    if model.trees_per_round is not None:
        return model.trees_per_round
    ensemble = model.ensemble
    per_round = ensemble.n_outputs // ensemble.leaf_width
    return per_round if per_round and ensemble.n_trees % per_round == 0 else None


def limit_rounds(model: TreeModel, tree_limit: Any) -> TreeModel:
    """``model`` with only its first ``tree_limit`` rounds.

    ``None``: the rounds the model's own ``predict`` uses (``model.default_rounds``); ``-1``:
    every round (shap's spelling). Raises ``ValueError`` for a limit that is not a positive
    int or is above the model's number of rounds.
    """
    if tree_limit is None:
        rounds = model.default_rounds
        if rounds is None:
            return model
    elif isinstance(tree_limit, (int, np.integer)) and not isinstance(tree_limit, bool):
        if tree_limit == -1:
            return model if model.default_rounds is None else _all_rounds(model)
        if tree_limit < 1:
            raise ValueError(
                f"tree_limit must be a number of boosting rounds >= 1 (or -1 for all), "
                f"got {tree_limit}"
            )
        rounds = int(tree_limit)
    else:
        raise TypeError(f"tree_limit must be an int or None, got {tree_limit!r}")
    per_round = trees_per_round(model)
    n_trees = model.ensemble.n_trees
    if per_round is None:
        raise ValueError(
            f"tree_limit: this model does not say how many of its {n_trees} trees each "
            "boosting round adds; load it from the live model (or install xgboost for a "
            ".ubj file)"
        )
    total = n_trees // per_round if per_round else 0
    if rounds > total:
        raise ValueError(
            f"tree_limit={rounds} is more than the model's {total} boosting rounds "
            f"({n_trees} trees, {per_round} per round)"
        )
    if rounds == total:
        return _all_rounds(model)
    ensemble = model.ensemble.select_trees(list(range(rounds * per_round)))
    # A LightGBM random forest's prediction averages the rounds it uses.
    scale = model.output_scale * total / rounds if model.averaged else model.output_scale
    return dataclasses.replace(model, ensemble=ensemble, default_rounds=None, output_scale=scale)


def _all_rounds(model: TreeModel) -> TreeModel:
    return dataclasses.replace(model, default_rounds=None)


def limited(explainer: Any, every_round: TreeModel, tree_limit: Any) -> Any:
    """``explainer``, or a shallow copy of it explaining the first ``tree_limit`` rounds of
    ``every_round`` (the whole model), with that part's base values."""
    if tree_limit is None:
        return explainer
    model = limit_rounds(every_round, tree_limit)
    if model.ensemble.n_trees == explainer._model.ensemble.n_trees:
        return explainer
    copied = copy.copy(explainer)
    copied._set_model(model)
    return copied
