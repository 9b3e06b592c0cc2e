"""Adapters from trained models (live objects or files) to ferroshap's core ``TreeEnsemble``.

Each adapter hands the core either the library's own serialised model (XGBoost UBJSON,
LightGBM text), which the Rust parsers read, or node arrays it builds itself
(scikit-learn), together with what the explainers need to read inputs the way the library
does: feature names, training categories and the output layout.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ferroshap import _core

__all__ = [
    "InvalidTreeModelError",
    "TreeModel",
    "load_lightgbm_dump",
    "load_tree_model",
    "load_tree_model_file",
    "load_xgboost_dump",
]


def __getattr__(name: str) -> Any:
    # The dump loaders import this module's TreeModel: loaded on first use.
    if name in ("load_xgboost_dump", "load_lightgbm_dump"):
        from ferroshap.models import _dumps

        return getattr(_dumps, name)
    raise AttributeError(f"module 'ferroshap.models' has no attribute {name!r}")


class InvalidTreeModelError(_core.InvalidModelError, TypeError):
    """The object is not a tree model ferroshap can explain.

    shap raises its ``InvalidModelError`` (a ``ValueError``) here; this is a
    :class:`ferroshap.InvalidModelError` too, and a ``TypeError`` as ferroshap raised before.
    """


@dataclass(frozen=True)
class TreeModel:
    """A tree ensemble in ferroshap's core form, with what is needed to read inputs for it.

    Attributes
    ----------
    ensemble
        The model as a :class:`ferroshap._core.TreeEnsemble`, or a
        :class:`ferroshap._core.LinearTreeEnsemble` for LightGBM models with linear trees.
    source
        The library it came from: ``"xgboost"``, ``"lightgbm"``, ``"sklearn"`` or
        ``"catboost"``.
    feature_names
        Names the model was trained with, if known.
    category_maps
        Feature index -> the training categories of that categorical feature; position ``i``
        is the code the model saw. ``None`` when the model has no categorical features or
        reads them as plain codes.
    output_names
        Class labels of classifiers with several outputs, else ``None``.
    single_output
        ``True`` when SHAP values have shape ``(N, M)`` (regression, binary boosted
        models), ``False`` for ``(N, M, K)`` (multi-class; scikit-learn tree and forest
        classifiers even for two classes).
    output_scale
        Factor the library's prediction methods apply to the margin before the inverse link:
        LightGBM's ``sigmoid:`` parameter, and ``1 / iterations`` for LightGBM random forests
        (whose raw scores are plain sums of trees). 1 elsewhere.
    frame_categories
        LightGBM's ``pandas_categorical``: the categories of each ``category`` column of the
        training frame, in column order (ordered, constant and numerically-treated category
        columns included). LightGBM's ``predict`` re-codes a pandas frame's category columns
        by position in this list, whichever features they are, and so does ferroshap.
        ``None`` elsewhere.
    missing
        The value the model treats as missing besides NaN: an XGBoost scikit-learn model's
        ``missing`` parameter, which its ``predict`` passes to ``DMatrix``. ``None`` when
        only NaN is missing, or when the model does not record it (a raw ``Booster``, a
        model file: give it to the explainer as ``missing=``).
    encode_input
        Applied to every input (rows and background) before it is read: CatBoost's hashing
        of categorical values into the codes its converted one-hot splits test. ``None``
        elsewhere.
    trees_per_round
        Trees each boosting round adds (outputs per round times XGBoost's
        ``num_parallel_tree``); ``None``: one per output without vector leaves (every tree
        predicting all outputs counts as one).
    default_rounds
        The rounds the model's own ``predict`` uses by default: ``best_iteration + 1`` of an
        early-stopped XGBoost scikit-learn model, LightGBM's ``best_iteration``; ``None``:
        every round.
    averaged
        ``True`` for LightGBM random forests (``average_output``): ``output_scale`` includes
        ``1 / rounds``, so explaining fewer rounds changes it.
    """

    ensemble: _core.TreeEnsemble | _core.LinearTreeEnsemble
    source: str
    feature_names: list[str] | None
    category_maps: dict[int, list] | None
    output_names: list[str] | None
    single_output: bool
    output_scale: float = 1.0
    frame_categories: list[list] | None = None
    missing: float | None = None
    encode_input: Callable[[Any], Any] | None = None
    trees_per_round: int | None = None
    default_rounds: int | None = None
    averaged: bool = False


def load_tree_model(model: Any) -> TreeModel:
    """Convert a trained tree model to a :class:`TreeModel`.

    Parameters
    ----------
    model
        An ``xgboost.Booster`` or ``XGBModel`` (``XGBRegressor``, ``XGBClassifier``,
        ``XGBRanker``, ``XGBRF*``); a ``lightgbm.Booster`` or ``LGBMModel``; a fitted
        scikit-learn decision tree, extra tree, random forest, extra trees,
        gradient-boosting or histogram gradient-boosting regressor or classifier, or
        ``IsolationForest`` (explaining the mean path length, as shap does); a ``catboost``
        model (numeric and one-hot categorical features; CTR features are refused with an
        error naming the categorical features they come from); or shap's dict format
        ``{"trees": [{"children_left": ..., ...}], "base_offset": ...}``; or the path of a saved
        model file (as :func:`load_tree_model_file`).

    Returns
    -------
    TreeModel
        Every tree of the model, with the rounds its own ``predict`` uses by default
        (``default_rounds``: early stopping's best iteration where ``predict`` follows it).

    Raises
    ------
    InvalidTreeModelError
        For any other object (a :class:`ferroshap.InvalidModelError`, as shap raises, and a
        ``TypeError``); the message names its type.

    Examples
    --------
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> m = load_tree_model(DecisionTreeRegressor(max_depth=2).fit([[0], [1]], [0, 1]))
    >>> m.source, m.single_output, m.ensemble.n_trees
    ('sklearn', True, 1)
    """
    if isinstance(model, TreeModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        # A saved model file (what ``TreeExplainer.from_file`` reads): parse it rather than
        # call a path an unsupported model type.
        return load_tree_model_file(model)
    if isinstance(model, dict) and "trees" in model:
        from ferroshap.models._dict import load_dict_model

        return load_dict_model(model)
    module = type(model).__module__.split(".")[0]
    for cls in type(model).__mro__:
        top = cls.__module__.split(".")[0]
        if top in ("xgboost", "lightgbm", "sklearn", "catboost"):
            module = top
            break
    if module == "xgboost":
        from ferroshap.models._xgboost import load_xgboost

        return load_xgboost(model)
    if module == "lightgbm":
        from ferroshap.models._lightgbm import load_lightgbm

        return load_lightgbm(model)
    if module == "sklearn":
        from ferroshap.models._sklearn import load_sklearn

        return load_sklearn(model)
    if module == "catboost":
        from ferroshap.models._catboost import load_catboost

        return load_catboost(model)
    raise InvalidTreeModelError(_unsupported(model))


def load_tree_model_file(path: str | os.PathLike[str], config: Any = None) -> TreeModel:
    """Read a saved model: XGBoost ``.json`` / ``.ubj``, or a LightGBM text model; or a
    model dump: XGBoost's JSON dump (``dump_model(path, dump_format="json",
    with_stats=True)``, with ``config`` its booster's ``save_config()`` text or a file
    holding it) or LightGBM's ``dump_model()`` written as JSON.

    The file is parsed by ferroshap's Rust core, so neither library needs to be installed
    (XGBoost is used, when present, only to read the training categories of a ``.ubj``
    model with categorical features).

    Parameters
    ----------
    path
        The model file.
    config
        For an XGBoost JSON dump: the booster's ``save_config()`` (text, or a file holding
        it), which gives the objective and base score the dump lacks.

    Returns
    -------
    TreeModel
        With feature names and training categories when the file records them.

    Examples
    --------
    >>> load_tree_model_file("model.json").source                        # doctest: +SKIP
    'xgboost'
    """
    path = os.fspath(path)
    from ferroshap.models._dumps import is_dump_text, load_dump_file

    with open(path, "rb") as f:
        head = f.read(256)
    if is_dump_text(head):
        return load_dump_file(path, config)
    if config is not None:
        raise ValueError("config= is only used for XGBoost JSON dumps, and this is a model file")
    try:
        ensemble = _core.TreeEnsemble.from_file(path)
    except _core.UnsupportedModelError as error:
        from ferroshap.models._lightgbm import is_linear_tree_error, lightgbm_file_model

        if is_linear_tree_error(error):
            return lightgbm_file_model(None, path)
        raise
    if ensemble.rules == "lightgbm":
        from ferroshap.models._lightgbm import lightgbm_file_model

        return lightgbm_file_model(ensemble, path)
    from ferroshap.models._xgboost import xgboost_file_model

    return xgboost_file_model(ensemble, path)


def _unsupported(model: Any) -> str:
    cls = type(model)
    return (
        f"Model type not yet supported by TreeExplainer: {cls.__module__}.{cls.__qualname__}; "
        "supported models are XGBoost and LightGBM boosters and models, CatBoost models, "
        "scikit-learn decision trees, random forests, extra trees, isolation forests, "
        "gradient boosting and histogram gradient boosting, and shap's dict format "
        "{'trees': [...]}; explain other models with KernelExplainer"
    )
