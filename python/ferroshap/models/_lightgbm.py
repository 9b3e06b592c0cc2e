"""LightGBM boosters and scikit-learn-style models, read through their text serialisation.

The Rust parser reads ``Booster.model_to_string()``. Input conversion also needs the training
categories of pandas ``category`` columns: LightGBM stores them as ``pandas_categorical`` (one
list per category-dtype column of the training frame, in column order) and at predict time
re-codes a frame's category columns to positions in those lists.
"""

from __future__ import annotations

import json
from typing import Any

from ferroshap import _core
from ferroshap.models import TreeModel

_PANDAS_CATEGORICAL = "pandas_categorical:"


def load_lightgbm(model: Any) -> TreeModel:
    """Build a :class:`TreeModel` from a ``lightgbm.Booster`` or ``LGBMModel``.

    Every tree is saved and explained, whatever ``best_iteration`` says.
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
    ensemble = _core.TreeEnsemble.from_bytes(text.encode("utf-8"), "lightgbm_text")
    outputs = None
    if classes is not None and ensemble.n_outputs > 1:
        outputs = [str(c) for c in classes]
    return _model(ensemble, text, booster.pandas_categorical, outputs)


def lightgbm_file_model(ensemble: _core.TreeEnsemble, path: str) -> TreeModel:
    """The :class:`TreeModel` of a LightGBM text model file the core has parsed."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    return _model(ensemble, text, _file_pandas_categorical(text), None)


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
    )


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


def _categorical_features(text: str) -> list[int]:
    """Features the model treats as categorical: ``feature_infos`` lists their categories
    (``-1:0:2``) where numeric features have a range (``[0:1]``) or ``none``."""
    for line in text.splitlines():
        if line.startswith("feature_infos="):
            infos = line[len("feature_infos=") :].split(" ")
            return [j for j, info in enumerate(infos) if info and info[0] not in "[n"]
        if line.startswith("Tree="):
            break
    return []


def _category_maps(text: str, pandas_categorical: Any) -> dict[int, list] | None:
    if not pandas_categorical:
        return None
    categorical = _categorical_features(text)
    if len(categorical) != len(pandas_categorical):
        # Ordered category columns (LightGBM reads their codes as numbers) or categorical
        # features given by index besides the frame's category columns: which column each
        # list belongs to is not recorded, so inputs are read as codes.
        return None
    return {
        j: list(categories) for j, categories in zip(categorical, pandas_categorical, strict=True)
    }
