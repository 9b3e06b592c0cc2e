"""shap-compatible explainers."""

from ferroshap.explainers.deep import DeepExplainer, GradientExplainer
from ferroshap.explainers.kernel import KernelExplainer, kmeans, sample
from ferroshap.explainers.tree import TreeExplainer

__all__ = [
    "DeepExplainer",
    "GradientExplainer",
    "KernelExplainer",
    "TreeExplainer",
    "kmeans",
    "sample",
]
