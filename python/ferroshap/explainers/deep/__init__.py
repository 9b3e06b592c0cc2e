"""Deep SHAP and expected gradients for PyTorch and Keras 3 / TensorFlow models.

Framework code lives in ``torch.py`` and ``tensorflow.py`` and is imported only when a model
of that framework is explained.
"""

from ferroshap.explainers.deep._common import AdditivityWarning, DeepLiftFallbackWarning
from ferroshap.explainers.deep.deep import DeepExplainer
from ferroshap.explainers.deep.gradient import GradientExplainer

__all__ = ["AdditivityWarning", "DeepExplainer", "DeepLiftFallbackWarning", "GradientExplainer"]
