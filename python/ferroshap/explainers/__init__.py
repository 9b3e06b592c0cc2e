"""shap-compatible explainers."""

from ferroshap.explainers._coalition import CoalitionExplainer
from ferroshap.explainers._dispatch import Explainer
from ferroshap.explainers.additive import AdditiveExplainer
from ferroshap.explainers.deep import DeepExplainer, GradientExplainer
from ferroshap.explainers.exact import ExactExplainer
from ferroshap.explainers.gpu_tree import GPUTreeExplainer
from ferroshap.explainers.kernel import KernelExplainer, kmeans, sample
from ferroshap.explainers.linear import LinearExplainer
from ferroshap.explainers.partition import PartitionExplainer
from ferroshap.explainers.permutation import PermutationExplainer
from ferroshap.explainers.sampling import SamplingExplainer
from ferroshap.explainers.tree import TreeExplainer

# shap's short names (shap.explainers.Exact, ...).
Additive = AdditiveExplainer
Coalition = CoalitionExplainer
Deep = DeepExplainer
Exact = ExactExplainer
GPUTree = GPUTreeExplainer
Gradient = GradientExplainer
Kernel = KernelExplainer
Linear = LinearExplainer
Partition = PartitionExplainer
Permutation = PermutationExplainer
Sampling = SamplingExplainer
Tree = TreeExplainer

__all__ = [
    "Additive",
    "AdditiveExplainer",
    "Coalition",
    "CoalitionExplainer",
    "Deep",
    "DeepExplainer",
    "Exact",
    "ExactExplainer",
    "Explainer",
    "GPUTree",
    "GPUTreeExplainer",
    "Gradient",
    "GradientExplainer",
    "Kernel",
    "KernelExplainer",
    "Linear",
    "LinearExplainer",
    "Partition",
    "PartitionExplainer",
    "Permutation",
    "PermutationExplainer",
    "Sampling",
    "SamplingExplainer",
    "Tree",
    "TreeExplainer",
    "kmeans",
    "sample",
]
