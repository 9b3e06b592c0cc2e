"""shap-compatible explainers."""

from ferroshap.explainers.tree import TreeExplainer

__all__ = ["TreeExplainer"]
