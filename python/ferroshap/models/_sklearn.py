"""scikit-learn trees, forests and (histogram) gradient boosting as node arrays for the core.

Routing facts this module relies on (scikit-learn >= 1.3):

- Decision trees, forests and ``GradientBoosting*`` read X as float32 and send a row left iff
  ``x <= threshold`` with the float64 threshold (rules ``"sklearn_tree"``). Trees send NaN to
  ``tree_.missing_go_to_left``; ``GradientBoosting*`` predicts with its own loop that ignores
  it, so NaN always goes right there.
- ``HistGradientBoosting*`` reads X as float64 (rules ``"sklearn_hist"``). Categorical splits
  list the categories that go left; NaN, negative values and categories unseen in training
  follow the node's missing-value direction.
- Classifier trees store class fractions per node (scikit-learn >= 1.4; counts before), which
  ``predict_proba`` normalises; forests average their trees.

A model's trees are read in one pass: each ``tree_.__getstate__()`` (what pickling uses) holds
its node records and values without copies, which are joined into one run of nodes for every
tree and handed to the core at once (``TreeEnsemble.from_flat_arrays``). Reading attribute by
attribute and building a dict of arrays per tree cost about 10 us a tree.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ferroshap import _core
from ferroshap.models import TreeModel

# scikit-learn link classes -> the core's inverse link names.
_LINKS = {
    "IdentityLink": "identity",
    "LogLink": "exp",
    "LogitLink": "logistic",
    "MultinomialLogit": "softmax",
}
# HistGradientBoosting compares categories through 8 words of 32 bits.
_N_CATEGORY_BITS = 256


def load_sklearn(model: Any) -> TreeModel:
    """Build a :class:`TreeModel` from a fitted scikit-learn tree model.

    Raises ``TypeError`` for estimators that are not tree models, ``ValueError`` for unfitted
    ones and :class:`ferroshap.UnsupportedModelError` for tree models ferroshap cannot
    represent exactly (multi-output classifiers, non-constant ``init`` estimators).
    """
    from sklearn import ensemble, tree

    forests = (
        ensemble.RandomForestRegressor,
        ensemble.RandomForestClassifier,
        ensemble.ExtraTreesRegressor,
        ensemble.ExtraTreesClassifier,
    )
    hist = (ensemble.HistGradientBoostingRegressor, ensemble.HistGradientBoostingClassifier)
    boosted = (ensemble.GradientBoostingRegressor, ensemble.GradientBoostingClassifier)
    single = (tree.DecisionTreeRegressor, tree.DecisionTreeClassifier)
    if isinstance(model, hist):
        _check_fitted(model, "_predictors")
        return _hist_gradient_boosting(model)
    if isinstance(model, boosted):
        _check_fitted(model, "estimators_")
        return _gradient_boosting(model)
    if isinstance(model, forests):
        _check_fitted(model, "estimators_")
        return _averaged_trees(model, list(model.estimators_))
    if isinstance(model, single):
        _check_fitted(model, "tree_")
        return _averaged_trees(model, [model])
    if isinstance(model, ensemble.IsolationForest):
        from ferroshap.models._isolation import isolation_forest

        _check_fitted(model, "estimators_")
        return isolation_forest(model)
    from ferroshap.models import InvalidTreeModelError, _unsupported

    raise InvalidTreeModelError(_unsupported(model))


def _check_fitted(model: Any, attribute: str) -> None:
    if not hasattr(model, attribute):
        raise ValueError(f"this {type(model).__name__} is not fitted yet; call fit() first")


def _feature_names(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _class_names(model: Any) -> list[str]:
    return [str(c) for c in model.classes_]


class _Nodes(NamedTuple):
    """The nodes of several ``sklearn.tree._tree.Tree`` objects, tree after tree."""

    n_nodes: np.ndarray  # (n_trees,) int64
    records: np.ndarray  # (total,) the trees' node records (left_child, threshold, ...)
    values: np.ndarray  # (total, n_outputs, max_n_classes): each tree's ``value``

    @property
    def leaf(self) -> np.ndarray:
        return self.records["left_child"] < 0


def _read_trees(trees: list) -> _Nodes:
    """The node records and values of ``trees`` (``tree_`` objects), joined."""
    states = [tree.__getstate__() for tree in trees]
    if not states:
        raise ValueError("the model has no trees")
    dtype = states[0]["nodes"].dtype
    # Joining the raw records is ~10x faster than concatenating structured arrays.
    records = np.frombuffer(b"".join([s["nodes"].tobytes() for s in states]), dtype=dtype)
    values = np.concatenate([s["values"] for s in states])
    n_nodes = np.array([len(s["nodes"]) for s in states], dtype=np.int64)
    return _Nodes(n_nodes, records, values)


def _ensemble(
    nodes: _Nodes,
    values: np.ndarray,
    outputs: np.ndarray,
    nan_follows_tree: bool,
    feature: np.ndarray | None = None,
    **spec: Any,
) -> _core.TreeEnsemble:
    """The core's ensemble of ``nodes`` with leaf ``values`` ``(total, width)``, tree ``t``
    adding to output ``outputs[t]``; ``feature`` replaces the records' split features (model
    indices of trees fitted on a subset of the features). ``spec``: ``from_flat_arrays``'s
    keyword arguments."""
    records = nodes.records
    left = records["left_child"].astype(np.int64)
    internal = left >= 0
    if nan_follows_tree and "missing_go_to_left" in records.dtype.names:
        default_left = records["missing_go_to_left"].astype(bool) & internal
    else:
        default_left = np.zeros(len(left), dtype=bool)
    split = records["feature"] if feature is None else feature
    return _core.TreeEnsemble.from_flat_arrays(
        nodes.n_nodes,
        np.asarray(outputs, dtype=np.int64),
        left,
        records["right_child"].astype(np.int64),
        np.where(internal, split, 0).astype(np.int64),
        np.where(internal, records["threshold"], 0.0).astype(np.float64),
        default_left,
        records["weighted_n_node_samples"].astype(np.float64),
        np.ascontiguousarray(values, dtype=np.float64).ravel(),
        **spec,
    )


def _averaged_trees(model: Any, estimators: list) -> TreeModel:
    """A decision tree (one estimator) or a forest: the mean of its trees' outputs."""
    from sklearn.base import is_classifier

    n_features = int(model.n_features_in_)
    n_outputs = int(model.n_outputs_)
    scale = 1.0 / len(estimators)
    classifier = is_classifier(model)
    if classifier and n_outputs > 1:
        raise _core.UnsupportedModelError(
            f"{type(model).__name__} was fitted on several targets (multi-output "
            "classification); ferroshap explains single-target classifiers only"
        )
    nodes = _read_trees([estimator.tree_ for estimator in estimators])
    if classifier:
        # Leaf class fractions, normalised as predict_proba does (counts before 1.4).
        raw = nodes.values[:, 0, :]
        totals = raw.sum(axis=1, keepdims=True)
        values = np.divide(raw, totals, out=np.zeros_like(raw), where=totals > 0)
    else:
        values = nodes.values[:, :, 0]
    width = len(model.classes_) if classifier else n_outputs
    ensemble = _ensemble(
        nodes,
        values * scale,
        np.zeros(len(estimators), dtype=np.int64),
        nan_follows_tree=True,
        n_features=n_features,
        n_outputs=width,
        leaf_width=width,
        base_offset=[0.0] * width,
        rules="sklearn_tree",
        link="identity",
        objective="classification" if classifier else "regression",
        feature_names=_feature_names(model),
    )
    return TreeModel(
        ensemble=ensemble,
        source="sklearn",
        feature_names=_feature_names(model),
        category_maps=None,
        output_names=_class_names(model) if classifier else None,
        single_output=not classifier and width == 1,
    )


def _link(model: Any) -> tuple[str, str]:
    """(link, objective) of a boosted model from its loss object."""
    loss = getattr(model, "_loss", None)
    objective = type(loss).__name__ if loss is not None else ""
    if objective == "ExponentialLoss":
        # AdaBoost-like loss: probabilities are expit(2 * margin), which no core link is.
        return "identity", objective
    link = type(getattr(loss, "link", None)).__name__
    return _LINKS.get(link, "identity"), objective


def _gradient_boosting(model: Any) -> TreeModel:
    from sklearn.base import is_classifier
    from sklearn.dummy import DummyClassifier, DummyRegressor

    n_features = int(model.n_features_in_)
    stages = model.estimators_
    k = stages.shape[1]
    init = model.init_
    if isinstance(init, str) and init == "zero":
        base = np.zeros(k)
    elif isinstance(init, (DummyRegressor, DummyClassifier)):
        # A constant: the init model's raw prediction on any row.
        base = np.asarray(
            model._raw_predict_init(np.zeros((1, n_features), dtype=np.float32)), dtype=np.float64
        ).reshape(-1)
    else:
        raise _core.UnsupportedModelError(
            f"{type(model).__name__} uses init={type(init).__name__}, whose prediction depends "
            "on the row; ferroshap supports the default init and init='zero'"
        )
    rate = float(model.learning_rate)
    nodes = _read_trees([estimator.tree_ for estimator in stages.ravel()])
    link, objective = _link(model)
    names = _feature_names(model)
    # GradientBoosting's own prediction loop compares x <= threshold without looking at
    # missing_go_to_left, so NaN goes right.
    ensemble = _ensemble(
        nodes,
        nodes.values[:, 0, :1] * rate,
        np.tile(np.arange(k, dtype=np.int64), len(stages)),
        nan_follows_tree=False,
        n_features=n_features,
        n_outputs=k,
        leaf_width=1,
        base_offset=[float(b) for b in base],
        rules="sklearn_tree",
        link=link,
        objective=objective,
        feature_names=names,
    )
    multi = is_classifier(model) and k > 1
    return TreeModel(
        ensemble=ensemble,
        source="sklearn",
        feature_names=names,
        category_maps=None,
        output_names=_class_names(model) if multi else None,
        single_output=k == 1,
    )


def _bits(words: np.ndarray) -> set[int]:
    """Categories set in a 256-bit bitset held as 8 uint32 words."""
    return {32 * w + b for w in range(len(words)) for b in range(32) if (int(words[w]) >> b) & 1}


def _hist_gradient_boosting(model: Any) -> TreeModel:
    from sklearn.base import is_classifier

    n_features = int(model.n_features_in_)
    k = int(model.n_trees_per_iteration_)
    # Trees index the features the model's preprocessor outputs: categorical ones first.
    order = np.arange(n_features)
    categorical = np.zeros(n_features, dtype=bool)
    category_maps: dict[int, list] = {}
    # Per model-side feature: category code -> the value ferroshap's input holds for it.
    code_to_input: dict[int, np.ndarray] = {}
    known_bitsets, feature_to_bitset = model._bin_mapper.make_known_categories_bitsets()
    preprocessor = getattr(model, "_preprocessor", None)
    if preprocessor is not None:
        order = np.empty(n_features, dtype=np.int64)
        mask = np.asarray(model.is_categorical_, dtype=bool)
        order[preprocessor.output_indices_["encoder"]] = np.flatnonzero(mask)
        order[preprocessor.output_indices_["numerical"]] = np.flatnonzero(~mask)
        encoder = preprocessor.named_transformers_["encoder"]
        for j, categories in zip(np.flatnonzero(mask).tolist(), encoder.categories_, strict=True):
            categories = list(categories)
            if categories and _is_nan(categories[-1]):
                categories = categories[:-1]
            categorical[j] = True
            internal = int(np.flatnonzero(order == j)[0])
            codes = _small_int_codes(categories)
            if codes is None:
                # Text (or awkward numeric) categories: the input holds each value's position.
                category_maps[j] = categories
            else:
                # Small non-negative integers: the input holds the value itself, as a numpy
                # input does; the map (value i at position i) lets frames say the same.
                code_to_input[internal] = codes
                category_maps[j] = list(range(int(codes.max()) + 1))
    elif getattr(model, "is_categorical_", None) is not None:
        categorical = np.asarray(model.is_categorical_, dtype=bool).copy()

    trees = []
    for iteration in model._predictors:
        for output, predictor in enumerate(iteration):
            trees.append(
                _hist_tree(
                    predictor, output, order, code_to_input, known_bitsets, feature_to_bitset
                )
            )
    link, objective = _link(model)
    names = _feature_names(model)
    ensemble = _core.TreeEnsemble.from_arrays(
        trees,
        n_features=n_features,
        n_outputs=k,
        leaf_width=1,
        base_offset=[float(b) for b in np.asarray(model._baseline_prediction).reshape(-1)],
        rules="sklearn_hist",
        link=link,
        objective=objective,
        feature_names=names,
        categorical_features=[bool(c) for c in categorical] if categorical.any() else None,
    )
    multi = is_classifier(model) and k > 1
    return TreeModel(
        ensemble=ensemble,
        source="sklearn",
        feature_names=names,
        category_maps=category_maps or None,
        output_names=_class_names(model) if multi else None,
        single_output=k == 1,
    )


def _hist_tree(
    predictor: Any,
    output: int,
    order: np.ndarray,
    code_to_input: dict[int, np.ndarray],
    known_bitsets: np.ndarray,
    feature_to_bitset: np.ndarray,
) -> dict:
    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    feature = np.where(leaf, 0, order[nodes["feature_idx"]]).astype(np.int64)
    default_left = nodes["missing_go_to_left"].astype(bool) & ~leaf
    tree = {
        "left": np.where(leaf, -1, nodes["left"].astype(np.int64)),
        "right": np.where(leaf, -1, nodes["right"].astype(np.int64)),
        "feature": feature,
        "threshold": np.where(leaf, 0.0, nodes["num_threshold"]).astype(np.float64),
        "default_left": default_left,
        "cover": nodes["count"].astype(np.float64),
        "value": np.where(leaf, nodes["value"], 0.0).astype(np.float64),
        "output": output,
    }
    categorical = nodes["is_categorical"].astype(bool) & ~leaf
    if categorical.any():
        categories: list[list[int] | None] = [None] * len(nodes)
        for i in np.flatnonzero(categorical):
            model_feature = int(nodes["feature_idx"][i])
            left = _bits(predictor.raw_left_cat_bitsets[nodes["bitset_idx"][i]])
            known = _bits(known_bitsets[feature_to_bitset[model_feature]])
            mapping = code_to_input.get(model_feature)
            if mapping is not None:
                left = {int(mapping[c]) for c in left}
                known = {int(mapping[c]) for c in known}
            if default_left[i]:
                # Categories unseen in training are treated as missing.
                left |= set(range(_N_CATEGORY_BITS)) - known
            categories[i] = sorted(left)
        tree["categories"] = categories
        tree["categories_go_left"] = True
    return tree


def _small_int_codes(categories: list) -> np.ndarray | None:
    """The categories as ints when they are all integers in [0, 256), else None."""
    if any(isinstance(c, (str, bytes)) for c in categories):
        return None
    try:
        values = np.asarray(categories, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if values.ndim != 1 or not len(values):
        return None
    ints = values.astype(np.int64)
    if np.all(values == ints) and ints.min() >= 0 and ints.max() < _N_CATEGORY_BITS:
        return ints
    return None


def _is_nan(value: Any) -> bool:
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return False
