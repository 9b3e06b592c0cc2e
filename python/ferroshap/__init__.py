"""ferroshap: exact, fast SHAP values with a Rust core and a shap-compatible API.

Switch from shap by changing one import::

    import ferroshap as shap
    explainer = shap.TreeExplainer(model)
    values = explainer.shap_values(X)
"""

from ferroshap._core import (
    FerroshapError,
    InvalidModelError,
    ModelFormatError,
    UnsupportedModelError,
    __version__,
)
from ferroshap.explainers import (
    DeepExplainer,
    GradientExplainer,
    KernelExplainer,
    TreeExplainer,
    kmeans,
    sample,
)
from ferroshap.explanation import Explanation

__all__ = [
    "DeepExplainer",
    "Explanation",
    "FerroshapError",
    "GradientExplainer",
    "InvalidModelError",
    "KernelExplainer",
    "ModelFormatError",
    "TreeExplainer",
    "UnsupportedModelError",
    "__version__",
    "kmeans",
    "sample",
]
