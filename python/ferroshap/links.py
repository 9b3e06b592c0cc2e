"""shap's link functions, ``shap.links.identity`` and ``shap.links.logit``.

A link maps a model's output to the scale on which the SHAP values add up; its ``inverse``
maps back. Explainers take them as ``link=`` (as shap's link objects or by name)::

    import ferroshap as shap
    explainer = shap.KernelExplainer(model.predict_proba, X, link=shap.links.logit)

Both work on floats and numpy arrays elementwise. ``logit`` is the plain ``log(p / (1 - p))``,
as shap's: ``0`` and ``1`` give ``-inf`` and ``inf`` (the explainers clip probabilities to
``[1e-15, 1 - 1e-15]`` before they take it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["identity", "logit"]


def identity(x: Any) -> Any:
    """The outputs as they are.

    Examples
    --------
    >>> identity(0.25), identity.inverse(0.25)
    (0.25, 0.25)
    """
    return x


def _identity_inverse(x: Any) -> Any:
    return x


def logit(x: Any) -> Any:
    """Log-odds of a probability: ``log(x / (1 - x))``.

    Examples
    --------
    >>> float(logit(0.5)), float(logit.inverse(0.0))
    (0.0, 0.5)
    """
    with np.errstate(divide="ignore"):
        return np.log(x / (1 - x))


def _logit_inverse(x: Any) -> Any:
    return 1 / (1 + np.exp(-x))


identity.inverse = _identity_inverse  # type: ignore[attr-defined]
logit.inverse = _logit_inverse  # type: ignore[attr-defined]
