"""CatBoost models as node arrays for the core, from CatBoost's own JSON export.

Routing facts this module relies on (CatBoost 1.2):

- Trees are *oblivious*: every node of a level tests the same split, and split ``l`` of a tree
  sets bit ``l`` of the leaf index. ``leaf_values`` hold ``K`` values per leaf, leaf-major.
- A numeric split sends a row right iff ``float32(x) > border`` (the border is a float32), so
  left iff ``float32(x) <= border``: the core's ``"sklearn_tree"`` rules. NaN follows the
  feature's ``nan_value_treatment``: ``"AsTrue"`` (``nan_mode="Max"``) sends it right,
  ``"AsFalse"`` (``nan_mode="Min"``) and ``"AsIs"`` (``NaN > border`` is false) left.
- A one-hot split sends a row right iff its category's hash (``CityHash64`` of the value's
  text, low 32 bits, read as signed) equals the split's ``value``. The input's categorical
  columns are hashed (see ``_cityhash``) and coded by position among the model's split values
  before the core sees them.
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

    Numeric and one-hot categorical splits are converted exactly. Raises ``ValueError`` for
    unfitted models and :class:`CatBoostFeatureError` (a ``ValueError``) for models with CTR
    features, naming the categorical features they come from.
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
        levels = []
        # Level l of the full tree tests split depth-1-l, so that the leaves read left to
        # right are CatBoost's leaf indices (split l is bit l).
        for split in reversed(splits):
            if split["split_type"] == "FloatFeature":
                j = split["float_feature_index"]
                levels.append((float_flat[j], float(split["border"]), not nan_right[j], None))
            else:  # OneHotFeature (CTRs were refused): the category with this hash goes right.
                c = split["cat_feature_index"]
                code = hash_codes[c][int(split["value"])]
                levels.append((cat_flat[c], 0.0, True, [code]))
        trees.append(_full_tree(levels, values, weights, k))
    k = k or max(len(bias), 1)
    categorical = np.zeros(n_features, dtype=bool)
    categorical[[cat_flat[c] for c in hash_codes]] = True
    encoders = {cat_flat[c]: codes for c, codes in hash_codes.items()}
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
        categorical_features=[bool(c) for c in categorical] if categorical.any() else None,
    )
    return TreeModel(
        ensemble=ensemble,
        source="catboost",
        feature_names=names if named else None,
        category_maps=None,
        output_names=_class_names(document) if k > 1 else None,
        single_output=k == 1,
        encode_input=_CategoryHasher(encoders, names) if encoders else None,
    )


class _CategoryHasher:
    """Turns the categorical columns of an input into the codes the converted trees test:
    each value is hashed as CatBoost hashes it (``CityHash64`` of its text) and replaced by the
    position of that hash among the model's one-hot split values; other categories (which no
    one-hot split sends right) become ``len(hashes)``, missing values NaN. Numeric columns
    pass through. Picklable, so explainers stay picklable."""

    def __init__(self, encoders: dict[int, dict[int, int]], names: list[str]) -> None:
        self.encoders = encoders
        self.names = names

    def __call__(self, X: Any) -> Any:
        from ferroshap.models._cityhash import catboost_category_hash

        def encode(column: Any, codes: dict[int, int]) -> np.ndarray:
            values = np.asarray(column, dtype=object).reshape(-1)
            out = np.empty(len(values))
            cache: dict[Any, float] = {}
            for i, v in enumerate(values):
                if v is None or (isinstance(v, float) and np.isnan(v)):
                    out[i] = np.nan
                    continue
                key = _category_text(v)
                if key not in cache:
                    cache[key] = float(codes.get(catboost_category_hash(key), len(codes)))
                out[i] = cache[key]
            return out

        if hasattr(X, "iloc") and hasattr(X, "columns"):  # pandas DataFrame
            frame = X.copy()
            for j, codes in self.encoders.items():
                frame[frame.columns[j]] = encode(X.iloc[:, j], codes)
            return frame
        array = np.asarray(X, dtype=object)
        one_row = array.ndim == 1
        rows = array.reshape(1, -1) if one_row else array
        out = np.empty(rows.shape)
        for j in range(rows.shape[1]):
            if j in self.encoders:
                out[:, j] = encode(rows[:, j], self.encoders[j])
            else:
                out[:, j] = np.asarray(rows[:, j], dtype=np.float64)
        return out[0] if one_row else out


def _category_text(value: Any) -> str:
    """The text CatBoost hashes: integers (and integral floats) as decimal digits."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"CatBoost categorical values must be strings or integers, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if float(value).is_integer():
            return str(int(value))
        raise TypeError(
            f"CatBoost categorical values must be strings or integers, got the float {value!r}"
        )
    return str(value)


def _full_tree(levels: list[tuple], values: np.ndarray, weights: np.ndarray, k: int) -> dict:
    """Node arrays of the complete binary tree of an oblivious tree: internal nodes in
    breadth-first order (children of i at 2i+1, 2i+2), then the leaves in index order.
    ``levels``: per level from the root, (feature, threshold, NaN goes left, category codes
    going right or None)."""
    depth = len(levels)
    features = [f for f, _, _, _ in levels]
    thresholds = [t for _, t, _, _ in levels]
    default_left = [d for _, _, d, _ in levels]
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
    tree = {
        "left": left.astype(np.int64),
        "right": right.astype(np.int64),
        "feature": feature.astype(np.int64),
        "threshold": threshold.astype(np.float64),
        "default_left": nan_left.astype(bool),
        "cover": cover,
        "value": value.reshape(-1),
        "output": 0,
    }
    if any(c is not None for _, _, _, c in levels):
        tree["categories"] = [levels[level[i]][3] if internal[i] else None for i in range(n_nodes)]
        tree["categories_go_left"] = False
    return tree


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
