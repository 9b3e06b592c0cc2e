"""shap's private module path of ``Explainer`` and ``Explanation``
(``shap.explainers._explainer``), for code that imports them from there."""

from ferroshap.explainers._dispatch import Explainer
from ferroshap.explanation import Explanation

__all__ = ["Explainer", "Explanation"]
