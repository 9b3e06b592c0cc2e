"""LightGBM boosters and scikit-learn-style models, read through their text serialisation.

The Rust parser reads ``Booster.model_to_string()``. Input conversion also needs the training
categories of pandas ``category`` columns: LightGBM stores them as ``pandas_categorical`` (one
list per category-dtype column of the training frame, in column order) and at predict time
re-codes a frame's category columns, by position, to positions in those lists. Which features
those columns were is not recorded: a constant category column is an unused feature
(``feature_infos`` says ``none``), an ordered one or one left out of an explicit
``categorical_feature`` is numeric ([low:high]), and an integer column named in
``categorical_feature`` is categorical without a list. Pandas frames are therefore aligned by
position, as LightGBM does (``TreeModel.frame_categories``); the per-feature maps used for
other inputs (strings, polars) are given only where the model text identifies the columns.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ferroshap import _core
from ferroshap.models import TreeModel

_PANDAS_CATEGORICAL = "pandas_categorical:"
_LINEAR = "\nis_linear=1"


def load_lightgbm(model: Any) -> TreeModel:
    """Build a :class:`TreeModel` from a ``lightgbm.Booster`` or ``LGBMModel``.

    Every tree is loaded; by default the first ``best_iteration`` rounds of an early-stopped
    model are explained, as LightGBM's ``predict`` does.
    """
    import lightgbm

    classes = None
    if isinstance(model, lightgbm.Booster):
        booster = model
    elif isinstance(model, lightgbm.LGBMModel):
        booster = model.booster_  # raises NotFittedError (a ValueError) if unfitted
        classes = getattr(model, "classes_", None)
    else:
        from ferroshap.models import _unsupported

        raise TypeError(_unsupported(model))
    text = booster.model_to_string(num_iteration=-1)
    if _LINEAR in text:
        # Linear leaves: a model of its own, explained interventionally (with background data).
        ensemble = _core.LinearTreeEnsemble.from_lightgbm_text(text.encode("utf-8"))
    else:
        ensemble = _core.TreeEnsemble.from_bytes(text.encode("utf-8"), "lightgbm_text")
    outputs = None
    if classes is not None and ensemble.n_outputs > 1:
        outputs = [str(c) for c in classes]
    best = int(getattr(booster, "best_iteration", 0) or 0)
    return dataclasses.replace(
        _model(ensemble, text, booster.pandas_categorical, outputs),
        trees_per_round=booster.num_model_per_iteration(),
        default_rounds=best if best > 0 else None,
    )


def lightgbm_file_model(ensemble: Any, path: str) -> TreeModel:
    """The :class:`TreeModel` of a LightGBM text model file the core has parsed (``None``: a
    model with linear trees, which is read here)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if ensemble is None:
        ensemble = _core.LinearTreeEnsemble.from_lightgbm_text(text.encode("utf-8"))
    return _model(ensemble, text, _file_pandas_categorical(text), None)


def is_linear_tree_error(error: Exception) -> bool:
    """Whether the core refused a LightGBM model because it has linear trees."""
    return isinstance(error, _core.UnsupportedModelError) and "linear_tree" in str(error)


def _model(
    ensemble: _core.TreeEnsemble, text: str, pandas_categorical: Any, outputs: list[str] | None
) -> TreeModel:
    names = ensemble.feature_names
    if names is not None and all(n == f"Column_{i}" for i, n in enumerate(names)):
        names = None  # LightGBM's generated names: the model was trained without names
    return TreeModel(
        ensemble=ensemble,
        source="lightgbm",
        feature_names=names,
        category_maps=_category_maps(text, pandas_categorical),
        output_names=outputs,
        single_output=ensemble.n_outputs == 1,
        output_scale=_output_scale(text, ensemble),
        frame_categories=[list(c) for c in pandas_categorical] if pandas_categorical else None,
        averaged=any(line.strip() == "average_output" for line in _header_lines(text)),
    )


def _header_lines(text: str) -> list[str]:
    head = text.split("\nTree=", 1)[0]
    return head.splitlines()


def _output_scale(text: str, ensemble: _core.TreeEnsemble) -> float:
    """What ``predict`` multiplies the raw score by before the link: the ``sigmoid:``
    parameter of binary objectives, divided by the number of iterations in random-forest mode
    (``average_output``), as LightGBM's ``GBDT::Predict`` does."""
    scale = 1.0
    averaged = False
    for line in text.splitlines():
        if line.startswith("Tree="):
            break
        if line.startswith("objective="):
            for token in line.split()[1:]:
                if token.startswith("sigmoid:"):
                    scale *= float(token[len("sigmoid:") :])
        elif line.strip() == "average_output":
            averaged = True
    if averaged and ensemble.n_trees:
        scale /= ensemble.n_trees // ensemble.n_outputs
    return scale


def _file_pandas_categorical(text: str) -> list | None:
    start = text.rfind("\n" + _PANDAS_CATEGORICAL)
    if start < 0:
        return None
    line = text[start + 1 + len(_PANDAS_CATEGORICAL) :].split("\n", 1)[0]
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def _header(text: str) -> dict[str, str]:
    """``key=value`` lines before the first tree, and the ``[key: value]`` parameters."""
    fields: dict[str, str] = {}
    in_trees = False
    for line in text.splitlines():
        if line.startswith("Tree="):
            in_trees = True
        elif line.startswith("end of trees"):
            in_trees = False
        elif not in_trees and "=" in line and not line.startswith("["):
            key, value = line.split("=", 1)
            fields.setdefault(key, value)
        elif line.startswith("[") and line.endswith("]") and ": " in line:
            key, value = line[1:-1].split(": ", 1)
            fields.setdefault(f"[{key}]", value)
    return fields


def _category_maps(text: str, pandas_categorical: Any) -> dict[int, list] | None:
    """Feature index -> training categories, where the model text tells which features the
    training frame's category columns were; ``None`` where it does not."""
    if not pandas_categorical:
        return None
    fields = _header(text)
    infos = fields.get("feature_infos", "").split(" ")
    # Features with a category list ("-1:0:2"; numeric ones have "[low:high]", unused "none").
    listed = [j for j, info in enumerate(infos) if info and info[0] not in "[n"]
    configured = _indices(fields.get("[categorical_feature]", ""))
    for features in (configured, listed):
        if features is not None and _fits(features, listed, infos, pandas_categorical):
            return {j: list(c) for j, c in zip(features, pandas_categorical, strict=True)}
    # Ordered category columns (read as numbers), or categorical features given by index
    # besides the frame's category columns: which list belongs to which feature is not
    # recorded. Pandas frames are still aligned by position (frame_categories).
    return None


def _indices(text: str) -> list[int] | None:
    try:
        return sorted(int(t) for t in text.split(",")) if text.strip() else None
    except ValueError:
        return None  # names instead of indices


def _fits(features: list[int], listed: list[int], infos: list[str], categories: list) -> bool:
    """Whether ``features`` can be the training frame's category columns: one per list, every
    feature with a category list among them (the constant ones are unused: ``none``), and
    every category the trees saw a valid position in its list."""
    if len(features) != len(categories) or not set(listed) <= set(features):
        return False
    for j, training in zip(features, categories, strict=True):
        if j >= len(infos) or infos[j] == "none":
            continue
        if infos[j][0] == "[":
            return False  # a numeric feature: an ordered or excluded category column
        seen = [int(c) for c in infos[j].split(":") if c.lstrip("-").isdigit()]
        if any(c >= len(training) for c in seen):
            return False
    return True
