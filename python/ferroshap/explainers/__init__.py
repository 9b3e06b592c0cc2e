"""shap-compatible explainers."""

from ferroshap.explainers._dispatch import Explainer
from ferroshap.explainers.deep import DeepExplainer, GradientExplainer
from ferroshap.explainers.exact import ExactExplainer
from ferroshap.explainers.kernel import KernelExplainer, kmeans, sample
from ferroshap.explainers.partition import PartitionExplainer
from ferroshap.explainers.permutation import PermutationExplainer
from ferroshap.explainers.sampling import SamplingExplainer
from ferroshap.explainers.tree import TreeExplainer

__all__ = [
    "DeepExplainer",
    "ExactExplainer",
    "Explainer",
    "GradientExplainer",
    "KernelExplainer",
    "Partition",
    "PartitionExplainer",
    "PermutationExplainer",
    "SamplingExplainer",
    "TreeExplainer",
    "kmeans",
    "sample",
]

#: shap's short name (``shap.explainers.Partition``).
Partition = PartitionExplainer
