"""shap's module name for the Explanation classes (``shap._explanation``), for code that
imports them from there."""

from ferroshap._opchain import OpChain, OpHistoryItem
from ferroshap.cohorts import Cohorts
from ferroshap.explanation import Explanation

__all__ = ["Cohorts", "Explanation", "OpChain", "OpHistoryItem"]
