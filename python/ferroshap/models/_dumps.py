"""Model dumps as well as model files: XGBoost's JSON dump and LightGBM's ``dump_model()``.

Both are parsed by the Rust core into the same ``TreeEnsemble`` as the saved models, and
route and explain identically. An XGBoost dump holds only the trees: its objective and base
score (and numbers of features, classes and parallel trees) come from the booster's
``save_config()`` or are given by the caller.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ferroshap import _core
from ferroshap.models import TreeModel

__all__ = [
    "is_dump_text",
    "is_lightgbm_dump",
    "load_dump",
    "load_dump_file",
    "load_dump_with_settings",
    "load_lightgbm_dump",
    "load_xgboost_dump",
]


def load_xgboost_dump(
    dump: Any,
    *,
    config: Any = None,
    objective: str | None = None,
    base_score: float | list[float] | None = None,
    num_feature: int | None = None,
    num_class: int | None = None,
    num_parallel_tree: int | None = None,
    feature_names: list[str] | None = None,
) -> TreeModel:
    """Read an XGBoost JSON dump into a :class:`TreeModel`.

    Parameters
    ----------
    dump
        ``booster.get_dump(dump_format="json", with_stats=True)`` (a list of strings, one per
        tree), or the JSON text of ``booster.dump_model(path, dump_format="json",
        with_stats=True)`` (str or bytes). ``with_stats=True`` is needed: path-dependent Tree
        SHAP weights branches by the node covers.
    config
        ``booster.save_config()`` (str, bytes or the parsed dict): objective, base score,
        numbers of features and classes, ``num_parallel_tree``. DART boosters are refused
        (their tree weights are not in the dump).
    objective, base_score, num_feature, num_class, num_parallel_tree
        Given instead of (or over) ``config``. ``base_score`` is in response space, as
        XGBoost stores it (a probability for ``binary:logistic``). ``num_feature`` defaults
        to the largest split feature + 1, ``num_class`` to 1.
    feature_names
        The booster's feature names: the dump names split features by them (``"split":
        "age"``) instead of ``f0, f1, ...``.

    A dump does not hold the training categories of categorical features: their values are
    read as category codes, so pass codes (or pandas columns whose categories are the
    training categories, in the same order).

    Returns
    -------
    TreeModel
        With ``source="xgboost"``.

    Examples
    --------
    >>> b = xgboost.train({"objective": "binary:logistic"}, dtrain)     # doctest: +SKIP
    >>> model = load_xgboost_dump(b.get_dump(dump_format="json", with_stats=True),
    ...                           config=b.save_config())                 # doctest: +SKIP
    >>> ferroshap.TreeExplainer(model).shap_values(X)                     # doctest: +SKIP
    """
    if isinstance(config, dict):
        config = json.dumps(config)
    if isinstance(config, str):
        config = config.encode("utf-8")
    if base_score is not None and not isinstance(base_score, (list, tuple)):
        base_score = [base_score]
    ensemble = _core.TreeEnsemble.from_xgboost_dump(
        _xgboost_dump_bytes(dump),
        config=config,
        objective=objective,
        base_score=None if base_score is None else [float(b) for b in base_score],
        num_feature=num_feature,
        num_class=num_class,
        num_parallel_tree=num_parallel_tree,
        feature_names=None if feature_names is None else list(feature_names),
    )
    return TreeModel(
        ensemble=ensemble,
        source="xgboost",
        feature_names=ensemble.feature_names,
        category_maps=None,
        output_names=None,
        single_output=ensemble.n_outputs == 1,
        trees_per_round=ensemble.n_outputs * (num_parallel_tree or _parallel_trees(config)),
    )


def load_lightgbm_dump(dump: Any) -> TreeModel:
    """Read LightGBM's ``booster.dump_model()`` (the dict, or its JSON text) into a
    :class:`TreeModel` (a linear-tree model's leaf models included).

    Examples
    --------
    >>> model = load_lightgbm_dump(booster.dump_model())                 # doctest: +SKIP
    """
    if isinstance(dump, dict):
        document = dump
        text = json.dumps(dump).encode("utf-8")
    else:
        text = dump.encode("utf-8") if isinstance(dump, str) else bytes(dump)
        try:
            document = json.loads(text)
        except ValueError:
            document = {}  # the core reports where the JSON breaks
    try:
        ensemble = _core.TreeEnsemble.from_lightgbm_dump(text)
    except _core.UnsupportedModelError as error:
        from ferroshap.models._lightgbm import is_linear_tree_error

        if not is_linear_tree_error(error):
            raise
        ensemble = _core.LinearTreeEnsemble.from_lightgbm_dump(text)
    names = ensemble.feature_names
    if names is not None and all(n == f"Column_{i}" for i, n in enumerate(names)):
        names = None  # LightGBM's generated names: the model was trained without names
    categories = document.get("pandas_categorical") if isinstance(document, dict) else None
    return TreeModel(
        ensemble=ensemble,
        source="lightgbm",
        feature_names=names,
        category_maps=None,
        output_names=None,
        single_output=ensemble.n_outputs == 1,
        output_scale=_lightgbm_output_scale(document, ensemble),
        frame_categories=[list(c) for c in categories] if categories else None,
        averaged=isinstance(document, dict) and bool(document.get("average_output")),
    )


def load_dump(dump: Any, **settings: Any) -> TreeModel:
    """An XGBoost or LightGBM dump, recognised from its shape (``settings`` as for
    :func:`load_xgboost_dump`)."""
    if is_lightgbm_dump(dump):
        if settings:
            raise TypeError(
                f"a LightGBM dump records its settings; unexpected {', '.join(sorted(settings))}"
            )
        return load_lightgbm_dump(dump)
    return load_xgboost_dump(dump, **settings)


def load_dump_with_settings(
    dump: Any, config: Any, kwargs: dict[str, Any]
) -> tuple[TreeModel, dict[str, Any]]:
    """The dump's model, taking its settings out of an explainer's keyword arguments (which
    keep ``feature_names``: the explainer uses them too); returns what is left of them."""
    names = ("objective", "base_score", "num_feature", "num_class", "num_parallel_tree")
    rest = dict(kwargs)
    settings = {k: rest.pop(k) for k in names if k in rest}
    if "feature_names" in rest and not is_lightgbm_dump(dump):
        settings["feature_names"] = rest["feature_names"]
    if config is not None:
        settings["config"] = config
    return load_dump(dump, **settings), rest


def is_dump_text(head: bytes) -> bool:
    """Whether the start of a file is a dump: a JSON array (XGBoost) or a LightGBM
    ``dump_model()`` object (its first key is ``"name": "tree"``)."""
    head = head.lstrip()
    return head.startswith(b"[") or is_lightgbm_dump(head)


def load_dump_file(path: str | os.PathLike[str], config: Any = None) -> TreeModel:
    """A dump file; ``config``: XGBoost's ``save_config()`` text, or a file holding it."""
    with open(path, "rb") as f:
        dump = f.read()
    if isinstance(config, (str, os.PathLike)) and os.path.isfile(config):
        with open(config, "rb") as f:
            config = f.read()
    return load_dump(dump) if config is None else load_dump(dump, config=config)


def is_lightgbm_dump(dump: Any) -> bool:
    """Whether ``dump`` is LightGBM's ``dump_model()``: the dict, or its JSON text."""
    if isinstance(dump, dict):
        return True
    if not isinstance(dump, (str, bytes, bytearray)):
        return False
    head = dump[:200].encode("utf-8") if isinstance(dump, str) else bytes(dump[:200])
    compact = b"".join(head.split())
    return compact.startswith(b'{"name":"tree"')


def _xgboost_dump_bytes(dump: Any) -> bytes:
    if isinstance(dump, (bytes, bytearray)):
        return bytes(dump)
    if isinstance(dump, str):
        return dump.encode("utf-8")
    if isinstance(dump, (list, tuple)):
        if all(isinstance(t, str) for t in dump):
            return ("[" + ",".join(dump) + "]").encode("utf-8")
        if all(isinstance(t, dict) for t in dump):
            return json.dumps(list(dump)).encode("utf-8")
    raise TypeError(
        "dump must be get_dump(dump_format='json', with_stats=True) (a list of str), or the "
        f"JSON text of dump_model(..., dump_format='json'), got {type(dump).__name__}"
    )


def _parallel_trees(config: bytes | None) -> int:
    if config is None:
        return 1
    try:
        booster = json.loads(config)["learner"]["gradient_booster"]
        return max(int(booster["gbtree_model_param"]["num_parallel_tree"]), 1)
    except (KeyError, TypeError, ValueError):
        return 1


def _lightgbm_output_scale(document: Any, ensemble: _core.TreeEnsemble) -> float:
    """As for LightGBM text models: the ``sigmoid:`` parameter, over the number of iterations
    in random-forest mode (``average_output``)."""
    if not isinstance(document, dict):
        return 1.0
    scale = 1.0
    for token in str(document.get("objective", "")).split()[1:]:
        if token.startswith("sigmoid:"):
            scale *= float(token[len("sigmoid:") :])
    if document.get("average_output") and ensemble.n_trees:
        scale /= ensemble.n_trees // ensemble.n_outputs
    return scale
