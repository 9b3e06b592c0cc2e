"""shap's exception classes under shap's private path (``shap.utils._exceptions``), for code
that catches them by that name. Each derives from the built-in exception ferroshap raises for
the same problem, so ``except ValueError`` keeps working."""

from __future__ import annotations

from ferroshap._core import InvalidModelError

__all__ = [
    "ConvergenceError",
    "DimensionError",
    "ExplainerError",
    "InvalidAction",
    "InvalidClusteringError",
    "InvalidFeaturePerturbationError",
    "InvalidMaskerError",
    "InvalidModelError",
    "InvalidStyleOptionError",
]


class DimensionError(ValueError):
    """An input of the wrong shape."""


class InvalidFeaturePerturbationError(ValueError):
    """An unknown or unsupported ``feature_perturbation``."""


class InvalidMaskerError(ValueError):
    """A masker that does not fit the explainer or data."""


class InvalidClusteringError(ValueError):
    """A clustering that is not a valid linkage matrix."""


class InvalidStyleOptionError(ValueError):
    """An unknown plot style option."""


class InvalidAction(ValueError):
    """An invalid action (shap's action optimiser)."""


class ExplainerError(RuntimeError):
    """An explainer that cannot compute its values."""


class ConvergenceError(RuntimeError):
    """An iterative computation that did not converge."""
