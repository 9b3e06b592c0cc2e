"""shap's dictionary model format: ``{"trees": [tree, ...], "base_offset": ...}``.

Each tree is a dict of per-node arrays, as shap's ``TreeExplainer`` reads them:
``children_left`` / ``children_right`` (negative at leaves), ``children_default`` (the child
that missing values follow), ``features``, ``thresholds`` (a row goes left when
``x <= threshold``), ``values`` (``(n_nodes,)`` or ``(n_nodes, n_outputs)``; leaves are
summed over trees) and ``node_sample_weight`` (the covers). shap's older singular names
``feature`` / ``threshold`` / ``value`` are read too.

Optional top-level keys: ``base_offset`` (a number or one per output), ``input_dtype``
(``numpy.float32`` compares in float32 like scikit-learn; the default float64 compares in
float64), ``tree_output`` (``"log_odds"`` marks a logistic margin, for
``model_output="probability"``) and, ferroshap's own, ``n_features`` (the width of ``X``
when the trees do not split on the last features).
"""

from __future__ import annotations

import numpy as np

from ferroshap import _core
from ferroshap.models import TreeModel

__all__ = ["load_dict_model"]


def _field(tree: dict, names: tuple[str, ...], t: int) -> np.ndarray:
    for name in names:
        if name in tree:
            return np.asarray(tree[name])
    raise ValueError(f"tree {t} of the model dict has no {' / '.join(map(repr, names))} array")


def load_dict_model(model: dict) -> TreeModel:
    """A :class:`TreeModel` from shap's dictionary format (see the module docstring)."""
    trees_in = model.get("trees")
    if not isinstance(trees_in, (list, tuple)) or not trees_in:
        raise ValueError("a model dict needs a non-empty list of trees under 'trees'")
    trees = []
    width = None
    used = 0
    from ferroshap.explainers._tree import SingleTree

    for t, tree in enumerate(trees_in):
        if isinstance(tree, SingleTree):
            tree = tree.as_dict()
        if not isinstance(tree, dict):
            raise TypeError(f"tree {t} of the model dict is a {type(tree).__name__}, not a dict")
        left = _field(tree, ("children_left",), t).astype(np.int64)
        right = _field(tree, ("children_right",), t).astype(np.int64)
        default = _field(tree, ("children_default",), t).astype(np.int64)
        feature = _field(tree, ("features", "feature"), t).astype(np.int64)
        threshold = _field(tree, ("thresholds", "threshold"), t).astype(np.float64)
        values = _field(tree, ("values", "value"), t).astype(np.float64)
        cover = _field(tree, ("node_sample_weight",), t).astype(np.float64)
        n = len(left)
        values = values.reshape(n, -1)
        if width is None:
            width = values.shape[1]
        elif values.shape[1] != width:
            raise ValueError(
                f"tree {t} of the model dict has {values.shape[1]} values per node, tree 0 "
                f"has {width}"
            )
        internal = left >= 0
        if internal.any():
            used = max(used, int(feature[internal].max()) + 1)
        trees.append(
            {
                "left": np.where(internal, left, -1),
                "right": np.where(internal, right, -1),
                "feature": np.where(internal, feature, 0),
                "threshold": np.where(internal, threshold, 0.0),
                "default_left": internal & (default == left),
                "cover": cover,
                "value": np.where(internal[:, None], 0.0, values).ravel(),
                "output": 0,
            }
        )
    n_features = int(model.get("n_features", used))
    if n_features < used:
        raise ValueError(f"n_features={n_features}, but the trees split on feature {used - 1}")
    offset = np.broadcast_to(np.asarray(model.get("base_offset", 0.0), np.float64), (width,))
    float32 = np.dtype(model.get("input_dtype", np.float64)) == np.float32
    ensemble = _core.TreeEnsemble.from_arrays(
        trees,
        n_features=n_features,
        n_outputs=width,
        leaf_width=width,
        base_offset=[float(b) for b in offset],
        # "sklearn_tree" reads x as float32, "sklearn_hist" as float64; both go left on <=.
        rules="sklearn_tree" if float32 else "sklearn_hist",
        link="logistic" if model.get("tree_output") == "log_odds" and width == 1 else "identity",
        objective=str(model.get("objective") or ""),
    )
    return TreeModel(
        ensemble=ensemble,
        source="dict",
        feature_names=None,
        category_maps=None,
        output_names=None,
        single_output=width == 1,
    )
