"""CatBoost models as node arrays for the core, from CatBoost's own JSON export.

Routing facts this module relies on (CatBoost 1.2):

- Trees are *oblivious*: every node of a level tests the same split, and split ``l`` of a tree
  sets bit ``l`` of the leaf index. ``leaf_values`` hold ``K`` values per leaf, leaf-major.
- A numeric split sends a row right iff ``float32(x) > border`` (the border is a float32), so
  left iff ``float32(x) <= border``: the core's ``"sklearn_tree"`` rules. NaN follows the
  feature's ``nan_value_treatment``: ``"AsTrue"`` (``nan_mode="Max"``) sends it right,
  ``"AsFalse"`` (``nan_mode="Min"``) and ``"AsIs"`` (``NaN > border`` is false) left.
- A one-hot split sends a row right iff its category's hash equals the split's ``value``.
- The model's raw output is ``scale * sum(leaves) + bias`` (``scale_and_bias``).
- CTR splits (``OnlineCtr``: target statistics of categorical features and their
  combinations) read values CatBoost computes from its training data; they are refused.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

from ferroshap import _core
from ferroshap.models import TreeModel

# CatBoost loss function -> the core's inverse link.
_LINKS = {
    "Logloss": "logistic",
    "CrossEntropy": "logistic",
    "MultiClass": "softmax",
    "Poisson": "exp",
    "Tweedie": "exp",
}


class CatBoostFeatureError(ValueError):
    """A CatBoost model reads features ferroshap cannot explain exactly (CTRs)."""


def load_catboost(model: Any) -> TreeModel:
    """Build a :class:`TreeModel` from a fitted ``catboost`` model (``CatBoost``,
    ``CatBoostClassifier``, ``CatBoostRegressor``), through ``save_model(format="json")``.

    Raises ``ValueError`` for unfitted models and :class:`CatBoostFeatureError` (a
    ``ValueError``) for models with CTR features, naming the categorical features they
    come from.
    """
    if not model.is_fitted():
        raise ValueError(f"this {type(model).__name__} is not fitted yet; call fit() first")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.json")
        model.save_model(path, format="json")
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    return catboost_json_model(document)


def catboost_json_model(document: dict) -> TreeModel:
    """Build a :class:`TreeModel` from CatBoost's JSON export (``save_model(format="json")``,
    parsed with ``json.load``).

    Examples
    --------
    >>> model.save_model("model.json", format="json")                 # doctest: +SKIP
    >>> with open("model.json") as f:                                  # doctest: +SKIP
    ...     tree_model = catboost_json_model(json.load(f))
    """
    info = document["features_info"]
    floats = info.get("float_features", [])
    cats = info.get("categorical_features", [])
    _refuse_ctrs(document, cats)
    n_features = 1 + max((f["flat_feature_index"] for f in floats + cats), default=-1)
    names = [f"{i}" for i in range(n_features)]
    named = False
    for f in floats + cats:
        if f.get("feature_id"):
            names[f["flat_feature_index"]] = str(f["feature_id"])
            named = True
    float_flat = {f["feature_index"]: f["flat_feature_index"] for f in floats}
    nan_right = {
        f["feature_index"]: f.get("nan_value_treatment") in ("AsTrue", "Max") for f in floats
    }
    cat_flat = {c["feature_index"]: c["flat_feature_index"] for c in cats}
    # Per categorical feature: the hashes one-hot splits test, in a fixed order (the code).
    hash_codes: dict[int, dict[int, int]] = {}
    for tree in document["oblivious_trees"]:
        for split in tree["splits"]:
            if split["split_type"] == "OneHotFeature":
                codes = hash_codes.setdefault(split["cat_feature_index"], {})
                codes.setdefault(int(split["value"]), len(codes))
    if hash_codes:
        used = sorted(cat_flat[c] for c in hash_codes)
        raise CatBoostFeatureError(
            "this CatBoost model has one-hot splits on categorical feature(s) "
            f"{[names[j] for j in used]}: CatBoost routes them by a hash of the category "
            "that ferroshap cannot compute yet. Explain it with CatBoost's own "
            "get_feature_importance(type='ShapValues'), or pass these features as numeric codes"
        )
    scale, bias = document.get("scale_and_bias", [1.0, [0.0]])
    bias = [float(b) for b in np.atleast_1d(bias)]
    trees = []
    k = None
    for t, tree in enumerate(document["oblivious_trees"]):
        splits = tree["splits"]
        depth = len(splits)
        n_leaves = 1 << depth
        values = np.asarray(tree["leaf_values"], dtype=np.float64) * float(scale)
        width = values.size // n_leaves
        if k is None:
            k = width
        if width != k or values.size != n_leaves * k:
            raise ValueError(f"CatBoost tree {t}: {values.size} leaf values for {n_leaves} leaves")
        weights = np.asarray(tree.get("leaf_weights", np.ones(n_leaves)), dtype=np.float64)
        features, thresholds, default_left = [], [], []
        # Level l of the full tree tests split depth-1-l, so that the leaves read left to
        # right are CatBoost's leaf indices (split l is bit l).
        for split in reversed(splits):
            if split["split_type"] != "FloatFeature":
                raise CatBoostFeatureError(
                    f"CatBoost tree {t} has a {split['split_type']!r} split, which ferroshap "
                    "cannot explain"
                )
            j = split["float_feature_index"]
            features.append(float_flat[j])
            thresholds.append(float(split["border"]))
            default_left.append(not nan_right[j])
        trees.append(_full_tree(features, thresholds, default_left, values, weights, k))
    k = k or max(len(bias), 1)
    if len(bias) != k:
        bias = bias * k if len(bias) == 1 else bias
    loss = _loss_name(document)
    link = _LINKS.get(loss, "identity")
    ensemble = _core.TreeEnsemble.from_arrays(
        trees,
        n_features=n_features,
        n_outputs=k,
        leaf_width=k,
        base_offset=bias,
        rules="sklearn_tree",
        link=link,
        objective=loss,
        feature_names=names if named else None,
    )
    return TreeModel(
        ensemble=ensemble,
        source="catboost",
        feature_names=names if named else None,
        category_maps=None,
        output_names=_class_names(document) if k > 1 else None,
        single_output=k == 1,
    )


def _full_tree(
    features: list[int],
    thresholds: list[float],
    default_left: list[bool],
    values: np.ndarray,
    weights: np.ndarray,
    k: int,
) -> dict:
    """Node arrays of the complete binary tree of an oblivious tree: internal nodes in
    breadth-first order (children of i at 2i+1, 2i+2), then the leaves in index order."""
    depth = len(features)
    n_internal = (1 << depth) - 1
    n_nodes = 2 * n_internal + 1
    node = np.arange(n_nodes)
    internal = node < n_internal
    left = np.where(internal, 2 * node + 1, -1)
    right = np.where(internal, 2 * node + 2, -1)
    # Level of each node; leaves (level == depth) read a padding entry that is ignored.
    level = np.minimum(np.floor(np.log2(node + 1)).astype(np.int64), depth)
    feature = np.where(internal, np.asarray(features + [0], dtype=np.int64)[level], 0)
    threshold = np.where(internal, np.asarray(thresholds + [0.0])[level], 0.0)
    nan_left = np.where(internal, np.asarray(default_left + [True])[level], True)
    value = np.zeros((n_nodes, k))
    value[n_internal:] = values.reshape(-1, k)
    cover = np.zeros(n_nodes)
    cover[n_internal:] = weights
    for i in range(n_internal - 1, -1, -1):
        cover[i] = cover[2 * i + 1] + cover[2 * i + 2]
    return {
        "left": left.astype(np.int64),
        "right": right.astype(np.int64),
        "feature": feature.astype(np.int64),
        "threshold": threshold.astype(np.float64),
        "default_left": nan_left.astype(bool),
        "cover": cover,
        "value": value.reshape(-1),
        "output": 0,
    }


def _refuse_ctrs(document: dict, cats: list[dict]) -> None:
    ctr_splits = [
        s
        for tree in document["oblivious_trees"]
        for s in tree["splits"]
        if s["split_type"] not in ("FloatFeature", "OneHotFeature")
    ]
    if not ctr_splits:
        return
    names = {c["feature_index"]: c.get("feature_id") or str(c["flat_feature_index"]) for c in cats}
    used: list[str] = []
    for ctr in document["features_info"].get("ctrs", []):
        for element in ctr.get("elements", []):
            if element.get("cat_feature_index") is not None:
                name = names.get(element["cat_feature_index"])
                if name is not None and name not in used:
                    used.append(name)
    origin = f" built from categorical feature(s) {used}" if used else ""
    raise CatBoostFeatureError(
        f"this CatBoost model splits on {len(ctr_splits)} CTR feature(s) (target statistics"
        f"{origin}), which CatBoost computes from its training data and ferroshap cannot "
        "explain over the original features. Retrain with one_hot_max_size at least the "
        "number of categories (or pass the categories as numeric features), or explain it "
        "with CatBoost's own get_feature_importance(type='ShapValues')"
    )


def _loss_name(document: dict) -> str:
    params = document.get("model_info", {}).get("params", {})
    if isinstance(params, str):
        params = json.loads(params)
    loss = params.get("loss_function", {})
    return str(loss.get("type", "")) if isinstance(loss, dict) else str(loss)


def _class_names(document: dict) -> list[str] | None:
    params = document.get("model_info", {}).get("class_params", {})
    names = params.get("class_names") if isinstance(params, dict) else None
    return [str(c) for c in names] if names else None
