"""shap's ``shap.utils`` helpers that tutorials call (``shap.utils.sample``)."""

from ferroshap.explainers._background import sample

__all__ = ["sample"]
