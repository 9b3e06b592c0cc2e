"""shap-compatible explainers."""

from ferroshap.explainers.kernel import KernelExplainer, kmeans, sample
from ferroshap.explainers.tree import TreeExplainer

__all__ = ["KernelExplainer", "TreeExplainer", "kmeans", "sample"]
