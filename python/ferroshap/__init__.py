"""ferroshap: exact, fast SHAP values with a Rust core and a shap-compatible API.

Switch from shap by changing one import::

    import ferroshap as shap
    explainer = shap.TreeExplainer(model)
    values = explainer.shap_values(X)
"""

from ferroshap import maskers
from ferroshap._core import (
    FerroshapError,
    InvalidModelError,
    ModelFormatError,
    UnsupportedModelError,
    __version__,
)
from ferroshap.cohorts import Cohorts
from ferroshap.explainers import (
    AdditiveExplainer,
    CoalitionExplainer,
    DeepExplainer,
    ExactExplainer,
    Explainer,
    GPUTreeExplainer,
    GradientExplainer,
    KernelExplainer,
    LinearExplainer,
    PartitionExplainer,
    PermutationExplainer,
    SamplingExplainer,
    TreeExplainer,
    kmeans,
    sample,
)
from ferroshap.explanation import Explanation

# shap's top-level plotting names, forwarded to ferroshap.plots on first use so that neither
# matplotlib nor the plot modules load with ``import ferroshap``.
_PLOT_ALIASES = {
    "summary_plot": "summary_plot",
    "dependence_plot": "dependence_plot",
    "waterfall_plot": "waterfall_plot",
    "bar_plot": "bar_plot",
    "decision_plot": "decision_plot",
    "force_plot": "force_plot",
    "image_plot": "image_plot",
    "initjs": "initjs",
    "heatmap_plot": "heatmap",
    "violin_plot": "violin",
    "text_plot": "text",
    "partial_dependence_plot": "partial_dependence",
    "embedding_plot": "embedding",
    "monitoring_plot": "monitoring",
    "group_difference_plot": "group_difference",
    "multioutput_decision_plot": "multioutput_decision",
}


def __getattr__(name: str):
    import importlib

    if name in ("plots", "utils", "datasets", "links", "models"):
        return importlib.import_module(f"ferroshap.{name}")
    if name == "approximate_interactions":  # shap.approximate_interactions
        return importlib.import_module("ferroshap.utils").approximate_interactions
    if name in _PLOT_ALIASES:
        return getattr(importlib.import_module("ferroshap.plots"), _PLOT_ALIASES[name])
    if name == "save_html":  # shap.save_html: writes a force or text plot to a file
        return importlib.import_module("ferroshap.plots._html").save_html
    raise AttributeError(f"module 'ferroshap' has no attribute {name!r}")


__all__ = [
    "AdditiveExplainer",
    "CoalitionExplainer",
    "Cohorts",
    "DeepExplainer",
    "ExactExplainer",
    "Explainer",
    "GPUTreeExplainer",
    "Explanation",
    "FerroshapError",
    "GradientExplainer",
    "InvalidModelError",
    "KernelExplainer",
    "LinearExplainer",
    "ModelFormatError",
    "PartitionExplainer",
    "PermutationExplainer",
    "SamplingExplainer",
    "TreeExplainer",
    "UnsupportedModelError",
    "__version__",
    "kmeans",
    "maskers",
    "sample",
]
