"""Kernel SHAP's native path for tree models: the converted ensemble behind a model (or its
bound prediction method), which output that method returns, and the check that the ensemble
reproduces it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ferroshap import _core
from ferroshap._data import mark_missing

__all__ = ["NATIVE_TOL", "NativeModel", "choose_native", "native_candidate", "native_for_rows"]

# A converted tree model replaces the model's own calls only when it reproduces the model's
# outputs on the background and explained rows to this fraction of their scale (at least 1).
# scikit-learn and LightGBM predict in float64 and agree to ~1e-15; XGBoost predicts in
# float32 (~1e-7 relative), so large XGBoost ensembles may fail it and use predict instead.
NATIVE_TOL = 1e-6
# Background rows the converted ensemble is checked on when an explainer is made (evenly
# spaced; every explained row is checked as well, on each call). A conversion that is wrong
# (a routing rule, a leaf value) disagrees on most rows, and predicting all of a large
# background with the ensemble cost a tenth of a small explanation.
_CHECKED_BACKGROUND_ROWS = 32
NATIVE_METHODS = ("predict", "predict_proba", "decision_function")
# The core's outputs a model's prediction method can return (names of the core's one output
# type, see ``_core.TreeEnsemble.predict``).
_NativeOutput = Literal["margin", "logistic", "logistic_pair", "softmax", "exp"]


@dataclass(frozen=True)
class NativeModel:
    """A converted tree ensemble and which of its outputs the model returns."""

    ensemble: _core.TreeEnsemble
    output: _NativeOutput
    missing: float | None = None  # read as NaN, as the model's predict does (XGBoost)

    def rows(self, X: np.ndarray) -> np.ndarray:
        """``X`` as the trees read it: entries equal to the model's ``missing`` are NaN."""
        return mark_missing(X, self.missing)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The ensemble's ``output`` on ``X``, ``(n, k)``, computed by the core."""
        return self.ensemble.predict(self.rows(X), self.output)

    def reproduces(self, X: np.ndarray, outputs: np.ndarray) -> bool:
        """Whether the ensemble gives ``outputs`` (the model's own, ``(n, k)``) on ``X``."""
        try:
            mine = self.predict(X)
        except (ValueError, TypeError):
            return False
        own = outputs.reshape(len(X), -1)
        if mine.shape != own.shape:
            return False
        scale = max(1.0, float(np.max(np.abs(own), initial=0.0)))
        return bool(np.all(np.abs(mine - own) <= NATIVE_TOL * scale))


def native_candidate(model: Any) -> tuple[NativeModel | None, str]:
    """The tree ensemble behind ``model`` (a tree model or its bound prediction method) and
    the output its method returns, or ``(None, why not)``."""
    owner = getattr(model, "__self__", None)
    method = getattr(model, "__name__", None)
    if owner is None or method not in NATIVE_METHODS:
        owner = model
        method = next(
            (n for n in ("predict_proba", "predict") if callable(getattr(model, n, None))), None
        )
        if method is None:
            return None, "the model is a plain function, not a tree model or its method"
    from ferroshap.models import load_tree_model

    try:
        loaded = load_tree_model(owner)
    except Exception as e:  # noqa: BLE001 (any failure to convert means: call the model)
        return None, f"the model is not a tree model ferroshap converts ({e})"
    ensemble = loaded.ensemble
    if not isinstance(ensemble, _core.TreeEnsemble):
        return None, "the model has linear trees, which the native game does not evaluate"
    link, k = ensemble.link, ensemble.n_outputs
    output: _NativeOutput
    if method == "decision_function":
        output = "margin"
    elif method == "predict":
        if hasattr(owner, "classes_"):
            return None, "predict of a classifier returns class labels"
        output = "margin" if link == "identity" else link
    elif link == "logistic" and k == 1:
        output = "logistic_pair"
    elif link in ("softmax", "identity"):
        output = "softmax" if link == "softmax" else "margin"
    else:
        return None, f"predict_proba of a model with a {link} link"
    return NativeModel(ensemble, output, loaded.missing), ""


def choose_native(
    model: Any, native: bool | str, data: np.ndarray, outputs: np.ndarray
) -> NativeModel | None:
    """The tree ensemble to evaluate the game from (an explainer's ``native`` option):
    ``model`` itself when it is a ``TreeEnsemble`` (its margin); with ``"auto"`` the
    converted ensemble behind ``model`` when it reproduces the model's ``outputs`` on the
    background ``data`` (on up to 32 evenly spaced rows), else None; with ``True`` that
    ensemble or a ValueError saying why not; with ``False`` None."""
    if isinstance(model, _core.TreeEnsemble):
        return NativeModel(model, "margin")
    if native is False:
        return None
    candidate, reason = native_candidate(model)
    checked = np.unique(np.linspace(0, len(data) - 1, _CHECKED_BACKGROUND_ROWS).astype(int))
    if candidate is not None and not candidate.reproduces(data[checked], outputs[checked]):
        candidate, reason = (
            None,
            "the converted tree ensemble does not reproduce the model's output on the "
            f"background data to {NATIVE_TOL:g} of its scale",
        )
    if native is True and candidate is None:
        raise ValueError(f"native=True, but the native path cannot be used: {reason}")
    return candidate


def native_for_rows(
    chosen: NativeModel | None, model: Any, native: bool | str, x: np.ndarray, call: Any
) -> NativeModel | None:
    """``chosen`` if it also reproduces the model on the explained rows ``x`` (``call(x)``
    gives the model's own outputs ``(n, k)``); else None, or a ValueError with
    ``native=True``."""
    if chosen is None or isinstance(model, _core.TreeEnsemble) or not len(x):
        return chosen
    if chosen.reproduces(x, call(x)):
        return chosen
    if native is True:
        raise ValueError(
            "native=True, but the converted tree ensemble does not reproduce the model's "
            f"output on the explained rows to {NATIVE_TOL:g} of its scale"
        )
    return None
