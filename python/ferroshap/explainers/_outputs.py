"""Which function of a tree model's margins ``TreeExplainer(model_output=...)`` explains.

A model output is either *linear* in the margins (the raw margin; a forest classifier's
probabilities, which are its margins; a regressor's prediction) -- explained by the margin's
SHAP values times a constant -- or a *transform* the core evaluates on every hybrid row
(logistic, softmax, exp, a loss): those need background data, and are the exact Shapley
values of the transformed interventional game.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ferroshap.models import TreeModel

# Method names ferroshap knows how to map to a function of the margins.
_METHODS = ("predict", "predict_proba", "decision_function")
_CLASS_LOSSES = ("logistic_loss", "softmax_loss", "probability_loss")


@dataclass(frozen=True)
class OutputSpec:
    """How to explain one ``model_output``.

    Attributes
    ----------
    transform
        The core's transform name (``"logistic"``, ``"softmax"``, ``"exp"``,
        ``"squared_error"``, ``"logistic_loss"``, ``"softmax_loss"``, ``"probability_loss"``),
        or ``None`` when the output is ``scale`` times the margin.
    scale
        Factor on the margin (before the transform).
    doubled
        Binary ``predict_proba``: one probability explained as the two columns
        ``(1 - p, p)``, values ``(-phi, phi)`` (shap's ``probability_doubled``).
    """

    transform: str | None
    scale: float
    doubled: bool = False

    @property
    def loss(self) -> bool:
        return self.transform in _CLASS_LOSSES or self.transform == "squared_error"


def resolve_output(model_output: Any, tree_model: TreeModel, live_model: Any) -> OutputSpec:
    """Map ``model_output`` to an :class:`OutputSpec` for this model, or raise ``ValueError``."""
    if not isinstance(model_output, str):
        raise TypeError(f"model_output must be a string, got {model_output!r}")
    ensemble = tree_model.ensemble
    link, k, scale = ensemble.link, ensemble.n_outputs, tree_model.output_scale
    # scikit-learn forest and tree classifiers: the margins are the class probabilities.
    proba_margins = tree_model.source == "sklearn" and ensemble.objective == "classification"
    describe = f"objective {ensemble.objective!r}, link {link!r}, {k} output(s)"
    if model_output == "raw":
        return OutputSpec(None, 1.0)
    # A model link's name is also the core's name for its inverse link as an output.
    if model_output == "probability":
        if proba_margins:
            return OutputSpec(None, 1.0)
        if link in ("logistic", "softmax"):
            return OutputSpec(link, scale)
        raise ValueError(
            f"model_output='probability' needs a classifier; this model ({describe}) does not "
            "output probabilities. Use model_output='raw', or 'predict' for a regressor"
        )
    if model_output == "log_loss":
        if proba_margins:
            return OutputSpec("probability_loss", 1.0)
        if link == "logistic" and k == 1:
            return OutputSpec("logistic_loss", scale)
        if link == "softmax":
            return OutputSpec("softmax_loss", scale)
        classifier = callable(getattr(live_model, "predict_proba", None)) or (
            ensemble.objective.startswith(("binary", "multi", "rank", "lambdarank"))
            or ensemble.objective == "ExponentialLoss"
        )
        if link == "identity" and k == 1 and not classifier:
            return OutputSpec("squared_error", scale)
        raise ValueError(
            f"model_output='log_loss' is defined for binary and multi-class classifiers "
            f"(cross-entropy) and single-output identity-link regressors (squared error); "
            f"not for this model ({describe})"
        )
    if live_model is None or not callable(getattr(live_model, model_output, None)):
        kind = type(live_model).__name__ if live_model is not None else "model"
        raise ValueError(
            f"model_output={model_output!r} is not one of 'raw', 'probability', 'log_loss' "
            f"and the {kind} has no method {model_output!r}"
        )
    if model_output not in _METHODS:
        raise ValueError(
            f"model_output={model_output!r} is a method of the model that ferroshap cannot "
            f"express as a function of the trees; supported methods are {', '.join(_METHODS)}"
        )
    if model_output == "decision_function":
        return OutputSpec(None, 1.0)
    if model_output == "predict_proba":
        spec = resolve_output("probability", tree_model, live_model)
        return OutputSpec(spec.transform, spec.scale, doubled=k == 1)
    # predict: the response a Booster (or a regressor) returns; classifiers return labels.
    if callable(getattr(live_model, "predict_proba", None)):
        raise ValueError(
            "model_output='predict' of a classifier returns class labels, which are not a "
            "smooth function of the trees; explain 'predict_proba' or 'probability' instead"
        )
    if link in ("logistic", "softmax", "exp"):
        return OutputSpec(link, scale)
    return OutputSpec(None, scale)


def encode_labels(y: Any, n_rows: int, spec: OutputSpec, live_model: Any) -> np.ndarray:
    """Labels as float64 for the core: class labels become class indices (through the
    model's ``classes_`` when it has them); NaN and a wrong length are errors."""
    labels = np.asarray(y)
    if labels.ndim == 0:
        labels = labels.reshape(1)
    if labels.ndim != 1:
        raise ValueError(f"y must be one label per row (1-D), got shape {labels.shape}")
    if len(labels) != n_rows:
        raise ValueError(f"y has {len(labels)} labels but X has {n_rows} rows")
    if labels.dtype.kind in "fc" and np.isnan(labels).any():
        rows = np.flatnonzero(np.isnan(labels))[:5].tolist()
        raise ValueError(f"y contains NaN labels (rows {rows}); log_loss needs a label per row")
    classes = getattr(live_model, "classes_", None)
    if spec.transform in _CLASS_LOSSES and classes is not None:
        classes = list(np.asarray(classes))
        if classes != list(range(len(classes))):
            index = {c: i for i, c in enumerate(classes)}
            unknown = [v for v in labels.tolist() if v not in index]
            if unknown:
                raise ValueError(f"labels {unknown[:5]} are not classes of the model ({classes})")
            return np.array([index[v] for v in labels.tolist()], dtype=np.float64)
    if labels.dtype.kind not in "biuf":
        raise ValueError(f"y must be numeric labels, got dtype {labels.dtype}")
    return labels.astype(np.float64)
