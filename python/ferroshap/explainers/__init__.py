"""shap-compatible explainers."""

from ferroshap.explainers.kernel import KernelExplainer
from ferroshap.explainers.tree import TreeExplainer

__all__ = ["KernelExplainer", "TreeExplainer"]
