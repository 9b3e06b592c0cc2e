"""XGBoost boosters and scikit-learn-style models, read through their UBJSON serialisation.

The model is handed to the Rust parser as the bytes of ``Booster.save_raw("ubj")``. What the
parser does not need but input conversion does comes from the booster itself: feature names,
and the training categories that XGBoost >= 3.1 stores in the model (the ``"cats"`` field of
the model JSON) and uses to re-code pandas ``category`` columns at predict time: a value's
code is its position in the training category list, whatever the order of the frame's own
categories.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ferroshap import _core
from ferroshap.models import TreeModel


def load_xgboost(model: Any) -> TreeModel:
    """Build a :class:`TreeModel` from an ``xgboost.Booster`` or ``XGBModel``.

    Every tree is loaded. By default an ``XGBModel`` (scikit-learn wrapper) explains the first
    ``best_iteration + 1`` rounds of an early-stopped model, as its ``predict`` does; a
    ``Booster``'s ``predict`` uses every tree whatever ``best_iteration`` says, and so does
    its explanation.
    """
    import xgboost

    classes = None
    missing = None  # a Booster does not know it: DMatrix(missing=) is given per prediction
    if isinstance(model, xgboost.Booster):
        booster = model
    elif isinstance(model, xgboost.XGBModel):
        booster = model.get_booster()  # raises NotFittedError (a ValueError) if unfitted
        classes = getattr(model, "classes_", None)
        missing = _missing_value(model.missing)
    else:
        from ferroshap.models import _unsupported

        raise TypeError(_unsupported(model))
    ensemble = _core.TreeEnsemble.from_bytes(bytes(booster.save_raw("ubj")), "xgboost_ubjson")
    rounds = booster.num_boosted_rounds()
    default_rounds = None
    if isinstance(model, xgboost.XGBModel):
        try:
            default_rounds = int(model.best_iteration) + 1
        except AttributeError:  # not early-stopped
            default_rounds = None
    names = booster.feature_names
    types = booster.feature_types or []
    category_maps = None
    if "c" in types:
        document = json.loads(bytes(booster.save_raw("json")))
        category_maps = _category_maps(document)
    outputs = None
    if classes is not None and ensemble.n_outputs > 1:
        outputs = [str(c) for c in classes]
    return TreeModel(
        ensemble=ensemble,
        source="xgboost",
        feature_names=list(names) if names is not None else None,
        category_maps=category_maps,
        output_names=outputs,
        single_output=ensemble.n_outputs == 1,
        missing=missing,
        trees_per_round=ensemble.n_trees // rounds if rounds else None,
        default_rounds=default_rounds,
    )


def _missing_value(missing: Any) -> float | None:
    """The scikit-learn wrapper's ``missing``; ``None`` for NaN (or ``None``)."""
    if missing is None:
        return None
    value = float(missing)
    return None if np.isnan(value) else value


def xgboost_file_model(ensemble: _core.TreeEnsemble, path: str) -> TreeModel:
    """The :class:`TreeModel` of an XGBoost model file the core has parsed."""
    category_maps = None
    if any(ensemble.categorical_features):
        category_maps = _file_category_maps(path)
    return TreeModel(
        ensemble=ensemble,
        source="xgboost",
        feature_names=ensemble.feature_names,
        category_maps=category_maps,
        output_names=None,
        single_output=ensemble.n_outputs == 1,
        trees_per_round=_file_trees_per_round(ensemble, path),
    )


def _file_trees_per_round(ensemble: _core.TreeEnsemble, path: str) -> int | None:
    """Trees per round of a model file: outputs times ``num_parallel_tree``, which the JSON
    text holds (a ``.ubj`` file is read through XGBoost when it is installed)."""
    per_output = ensemble.n_outputs // ensemble.leaf_width
    try:
        if os.path.splitext(path)[1].lower() == ".json":
            with open(path, "rb") as f:
                document = json.load(f)
            booster = document["learner"]["gradient_booster"]
            model = booster["model"] if "model" in booster else booster["gbtree"]["model"]
            parallel = int(model["gbtree_model_param"]["num_parallel_tree"])
        else:
            import xgboost

            rounds = xgboost.Booster(model_file=path).num_boosted_rounds()
            return ensemble.n_trees // rounds if rounds else None
    except (ImportError, KeyError, TypeError, ValueError, OSError):
        return None  # unknown: tree_limit= is refused rather than guessed
    return per_output * max(parallel, 1)


def _file_category_maps(path: str) -> dict[int, list] | None:
    if os.path.splitext(path)[1].lower() == ".json":
        with open(path, "rb") as f:
            return _category_maps(json.load(f))
    try:
        import xgboost
    except ImportError:
        # UBJSON categories need a decoder; without XGBoost, inputs must be codes.
        return None
    booster = xgboost.Booster(model_file=path)
    return _category_maps(json.loads(bytes(booster.save_raw("json"))))


def _category_maps(document: dict) -> dict[int, list] | None:
    """Feature index -> training categories, from the model JSON's ``"cats"`` (XGBoost >= 3.1)."""
    try:
        booster = document["learner"]["gradient_booster"]
        # DART before 3.4 nests the trees one level deeper.
        model = booster["model"] if "model" in booster else booster["gbtree"]["model"]
    except (KeyError, TypeError):
        return None
    encodings = (model.get("cats") or {}).get("enc") or []
    maps: dict[int, list] = {}
    for feature, enc in enumerate(encodings):
        values = enc.get("values") or []
        if not values:
            continue
        if "offsets" in enc:
            # Strings: UTF-8 bytes of every category back to back, split at the offsets.
            raw = bytes(values)
            offsets = enc["offsets"]
            maps[feature] = [
                raw[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)
            ]
        else:
            maps[feature] = list(values)
    return maps or None
