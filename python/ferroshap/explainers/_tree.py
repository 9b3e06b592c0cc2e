"""shap's ``SingleTree`` (``shap.explainers._tree.SingleTree``): one tree as per-node arrays, for
code that builds trees by hand and passes them in shap's dict format
(``TreeExplainer({"trees": [SingleTree(...), ...]})``).

A ``SingleTree`` reads shap's dict of arrays or one tree of LightGBM's ``dump_model()``
(``["tree_info"][i]``). Nodes are numbered depth-first, left child first; leaves have
``children_left == children_right == -1``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SingleTree", "TreeEnsemble", "TreeModelView"]

_FIELDS = (
    "children_left",
    "children_right",
    "children_default",
    "features",
    "thresholds",
    "values",
    "node_sample_weight",
)


class SingleTree:
    """One tree as per-node arrays: ``children_left``, ``children_right``,
    ``children_default`` (the child missing values follow), ``features``, ``thresholds`` (a row
    goes left when ``x <= threshold``), ``values`` (``(n_nodes, n_outputs)``) and
    ``node_sample_weight`` (the covers).

    Parameters
    ----------
    tree
        shap's dict of those arrays (singular ``feature`` / ``threshold`` / ``value`` too), or
        one tree of LightGBM's ``dump_model()["tree_info"]`` (numeric ``<=`` splits).
    scaling
        Factor on the values (shap's parameter).

    Examples
    --------
    >>> t = SingleTree({"tree_structure": {"split_feature": 0, "threshold": 0.5,
    ...     "decision_type": "<=", "default_left": True, "internal_count": 10,
    ...     "left_child": {"leaf_value": 1.0, "leaf_count": 4},
    ...     "right_child": {"leaf_value": 2.0, "leaf_count": 6}}})
    >>> t.children_left.tolist(), t.values[:, 0].tolist()
    ([1, -1, -1], [1.6, 1.0, 2.0])
    """

    def __init__(self, tree: Any, normalize: bool = False, scaling: float = 1.0, **_: Any):
        if isinstance(tree, SingleTree):
            tree = tree.as_dict()
        if not isinstance(tree, dict):
            raise TypeError(
                f"SingleTree reads a dict (shap's arrays or a LightGBM tree_info entry), got "
                f"{type(tree).__name__}"
            )
        if "tree_structure" in tree:
            arrays = _from_lightgbm(tree["tree_structure"])
        else:
            arrays = {}
            for name in _FIELDS:
                key = name if name in tree else name.rstrip("s")
                if key not in tree:
                    raise ValueError(f"the tree dict has no {name!r} array")
                arrays[name] = np.asarray(tree[key])
        n = len(arrays["children_left"])
        self.children_left = arrays["children_left"].astype(np.int64)
        self.children_right = arrays["children_right"].astype(np.int64)
        self.children_default = arrays["children_default"].astype(np.int64)
        self.features = arrays["features"].astype(np.int64)
        self.thresholds = arrays["thresholds"].astype(np.float64)
        self.values = arrays["values"].astype(np.float64).reshape(n, -1) * scaling
        self.node_sample_weight = arrays["node_sample_weight"].astype(np.float64)
        if normalize:
            self.values = self.values / np.maximum(self.values.sum(axis=1, keepdims=True), 1e-300)
        self.max_depth = _depth(self.children_left, self.children_right)

    def as_dict(self) -> dict[str, np.ndarray]:
        """The arrays in shap's dict format."""
        return {name: getattr(self, name) for name in _FIELDS}

    def __repr__(self) -> str:
        return f"SingleTree({len(self.children_left)} nodes, depth {self.max_depth})"


def _from_lightgbm(root: dict) -> dict[str, np.ndarray]:
    rows: list[list[float]] = []  # left, right, default, feature, threshold, value, weight

    def visit(node: dict) -> int:
        at = len(rows)
        rows.append([-1, -1, -1, -1, 0.0, 0.0, 0.0])
        if "leaf_value" in node or "left_child" not in node:
            rows[at][5] = float(node.get("leaf_value", 0.0))
            rows[at][6] = float(node.get("leaf_count", 0.0))
            return at
        if node.get("decision_type", "<=") != "<=":
            raise ValueError(
                f"SingleTree reads numeric '<=' splits only, got {node.get('decision_type')!r} "
                "(load the LightGBM model itself for categorical splits)"
            )
        left = visit(node["left_child"])
        right = visit(node["right_child"])
        rows[at][:5] = [
            left,
            right,
            left if node.get("default_left", True) else right,
            int(node["split_feature"]),
            float(node["threshold"]),
        ]
        rows[at][6] = float(node.get("internal_count", rows[left][6] + rows[right][6]))
        # shap's convention for internal nodes: the cover-weighted mean of the leaves below.
        w = rows[left][6] + rows[right][6]
        rows[at][5] = (
            (rows[left][5] * rows[left][6] + rows[right][5] * rows[right][6]) / w
            if w > 0
            else float(node.get("internal_value", 0.0))
        )
        return at

    visit(root)
    a = np.array(rows, dtype=np.float64)
    return dict(zip(_FIELDS, (a[:, i] for i in range(7)), strict=True))


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Depth of the tree rooted at node 0 (a leaf alone: 0)."""
    deepest, stack, seen = 0, [(0, 0)], 0
    while stack and seen <= len(left):  # at most one visit per node in a valid tree
        node, d = stack.pop()
        seen += 1
        deepest = max(deepest, d)
        stack.extend((c, d + 1) for c in (left[node], right[node]) if 0 <= c < len(left))
    return deepest


class _NodeCache:
    """The node arrays of an explainer's trees, built on first use; pickled empty (they are
    read again from the trees, which the explainer pickles anyway)."""

    def __init__(self) -> None:
        self.ensemble: Any = None
        self.arrays: dict[str, Any] = {}

    def __reduce__(self) -> tuple[type, tuple]:
        return (_NodeCache, ())


def _node_arrays(ensemble: Any) -> dict[str, Any]:
    """shap's ``TreeEnsemble`` node attributes: ``trees`` (``SingleTree`` each) and the stacked
    ``(n_trees, max_nodes[, n_outputs])`` arrays, padded with -1 (indices) and 0 (numbers)."""
    from ferroshap.explainers._tree_nodes import read_trees

    raw, n_outputs = read_trees(ensemble)
    trees = [SingleTree({k: v for k, v in t.items() if k != "output"}) for t in raw]
    n_trees = len(trees)
    max_nodes = max((len(t.children_left) for t in trees), default=0)
    out: dict[str, Any] = {"trees": trees}
    for name in ("children_left", "children_right", "children_default", "features"):
        out[name] = np.full((n_trees, max_nodes), -1, dtype=np.int32)
    out["thresholds"] = np.zeros((n_trees, max_nodes))
    out["node_sample_weight"] = np.zeros((n_trees, max_nodes))
    out["values"] = np.zeros((n_trees, max_nodes, n_outputs))
    for i, (t, r) in enumerate(zip(trees, raw, strict=True)):
        n = len(t.children_left)
        for name in ("children_left", "children_right", "children_default", "features"):
            out[name][i, :n] = getattr(t, name)
        out["thresholds"][i, :n] = t.thresholds
        out["node_sample_weight"][i, :n] = t.node_sample_weight
        # A tree adds to the outputs from its first one, as wide as its leaves.
        out["values"][i, :n, r["output"] : r["output"] + t.values.shape[1]] = t.values
    out["num_nodes"] = np.array([len(t.children_left) for t in trees], dtype=np.int32)
    out["max_depth"] = max((t.max_depth for t in trees), default=0)
    out["fully_defined_weighting"] = all(t.node_sample_weight.min() > 0 for t in trees)
    return out


_NODE_ATTRIBUTES = (
    "trees",
    "children_left",
    "children_right",
    "children_default",
    "features",
    "thresholds",
    "values",
    "node_sample_weight",
    "num_nodes",
    "max_depth",
    "fully_defined_weighting",
)


class TreeModelView:
    """``TreeExplainer.model``: shap's view of the explained model (shap's ``TreeEnsemble``).

    As in shap, ``predict`` gives the model's raw output (its margin: log-odds, per-class
    scores, or the forest's mean) for the trees explained, and ``original_model`` is the
    model passed in. Attributes shap's view has are computed from ferroshap's model
    (``num_outputs``, ``tree_limit``, ``base_offset``, ``objective``, ``model_output``,
    ``input_dtype``, and the node arrays below); any other attribute is the original model's,
    so ``explainer.model.classes_`` still works. ``original_model`` is ``None`` after
    unpickling (the explainer keeps only the trees).

    The node arrays, read from ferroshap's converted trees (every tree, as shap's):
    ``trees`` (a :class:`SingleTree` each) and, stacked ``(n_trees, max_nodes)`` with -1 / 0
    padding, ``children_left``, ``children_right``, ``children_default`` (the child missing
    values follow), ``features``, ``thresholds`` (left when ``x <= threshold`` at the model's
    input precision: float32 for XGBoost and LightGBM; NaN for a categorical split),
    ``node_sample_weight`` (covers), ``values`` ``(n_trees, max_nodes, n_outputs)`` (leaf
    values; internal nodes the cover-weighted mean of their children), plus ``num_nodes``,
    ``max_depth`` and ``fully_defined_weighting``. Nodes are numbered as ferroshap's parser
    keeps them, which may differ from shap's numbering (LightGBM); the trees are the same.

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> tree = DecisionTreeRegressor(max_depth=1).fit(X, [0.0, 0.0, 1.0, 1.0])
    >>> view = ferroshap.TreeExplainer(tree).model
    >>> view.children_left.tolist(), view.values[0, :, 0].tolist()
    ([[1, -1, -1]], [0.5, 0.0, 1.0])
    """

    def __init__(self, explainer: Any) -> None:
        self._explainer = explainer

    def __getattr__(self, name: str) -> Any:
        if name in _NODE_ATTRIBUTES:
            return self._nodes()[name]
        return self._original_attribute(name)

    def _nodes(self) -> dict[str, Any]:
        explainer = self._explainer
        cache = explainer.__dict__.get("_node_cache")
        if cache is None:
            cache = explainer.__dict__["_node_cache"] = _NodeCache()
        ensemble = explainer._all_rounds.ensemble
        if cache.ensemble is not ensemble:
            cache.arrays, cache.ensemble = _node_arrays(ensemble), ensemble
        return cache.arrays

    @property
    def original_model(self) -> Any:
        return self._explainer._original_model

    @property
    def num_outputs(self) -> int:
        return int(self._explainer._model.ensemble.n_outputs)

    @property
    def num_trees(self) -> int:
        return int(self._explainer._model.ensemble.n_trees)

    @property
    def tree_limit(self) -> int | None:
        """Trees explained by default: ``None`` when every tree is."""
        used, every = self._explainer._model.ensemble, self._explainer._all_rounds.ensemble
        return None if used.n_trees == every.n_trees else int(used.n_trees)

    @property
    def base_offset(self) -> Any:
        offset = np.asarray(self._explainer._model.ensemble.base_offset, dtype=np.float64)
        return offset[0] if offset.shape == (1,) else offset

    @property
    def objective(self) -> str:
        return self._explainer._model.ensemble.objective

    @property
    def model_output(self) -> Any:
        return self._explainer.model_output

    @property
    def input_dtype(self) -> Any:
        return np.float64

    def predict(
        self, X: Any, y: Any = None, output: str = "raw", tree_limit: int | None = None
    ) -> np.ndarray:
        """The model's raw output (margin) for the rows of ``X``: ``(n,)``, or ``(n, K)`` for
        K outputs, from the trees explained (``tree_limit`` as in ``shap_values``).
        ``output="raw"`` only (shap's other outputs are ``TreeExplainer(model_output=...)``)."""
        if output != "raw":
            raise ValueError(
                f"explainer.model.predict gives the raw output only (output='raw'), got "
                f"{output!r}; for probabilities call the model's own predict_proba"
            )
        explainer = self._explainer._limited(tree_limit)
        matrix = explainer._matrix(X)
        margins = explainer._model.ensemble.predict_margin(matrix.values)
        margins = np.asarray(margins, dtype=np.float64)
        if margins.ndim == 2 and margins.shape[1] == 1:
            margins = margins[:, 0]
        return margins[0] if matrix.was_1d else margins

    def _original_attribute(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        original = self._explainer._original_model
        if original is not None and hasattr(original, name):
            return getattr(original, name)
        raise AttributeError(
            f"explainer.model (shap's view of the tree model) has no attribute {name!r}; the "
            "model passed in is explainer.model.original_model"
        )

    def __repr__(self) -> str:
        return (
            f"TreeExplainer.model({type(self.original_model).__name__}, "
            f"{self.num_trees} trees, {self.num_outputs} output(s))"
        )


#: shap's name for its view of a tree model (``shap.explainers._tree.TreeEnsemble``), so that
#: ``isinstance(explainer.model, TreeEnsemble)`` holds as in shap.
TreeEnsemble = TreeModelView
