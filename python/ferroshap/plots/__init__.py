"""shap's plots on matplotlib: ``ferroshap.plots.waterfall(explanation[0])`` and the rest.

Every plot takes a :class:`ferroshap.Explanation` (or a ``shap.Explanation``), an ``ax=`` to
draw into and ``show=``; it returns what it drew (the Axes unless its docstring says otherwise).
With ``show=False`` the figure stays open, so ``plt.savefig(...)`` afterwards saves the picture.

matplotlib is imported only when a plot is first used (``pip install 'ferroshap[plots]'``);
``import ferroshap.plots`` alone needs nothing but numpy.

Examples
--------
>>> import ferroshap
>>> ax = ferroshap.plots.beeswarm(explanation, show=False)  # doctest: +SKIP
>>> ax.figure.savefig("beeswarm.png")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "bar",
    "bar_plot",
    "beeswarm",
    "decision",
    "decision_plot",
    "dependence_plot",
    "embedding",
    "force",
    "force_plot",
    "group_difference",
    "heatmap",
    "image",
    "image_plot",
    "initjs",
    "monitoring",
    "multioutput_decision",
    "partial_dependence",
    "scatter",
    "summary_plot",
    "text",
    "violin",
    "waterfall",
    "waterfall_plot",
]

# public name -> (module under ferroshap.plots, attribute in it)
_LOCATIONS: dict[str, tuple[str, str]] = {
    "waterfall": ("_waterfall", "waterfall"),
    "beeswarm": ("_beeswarm", "beeswarm"),
    "bar": ("_bar", "bar"),
    "scatter": ("_scatter", "scatter"),
    "heatmap": ("_heatmap", "heatmap"),
    "decision": ("_decision", "decision"),
    "violin": ("_violin", "violin"),
    "force": ("_force", "force"),
    "initjs": ("_force", "initjs"),
    "text": ("_text", "text"),
    "image": ("_image", "image"),
    "partial_dependence": ("_partial_dependence", "partial_dependence"),
    "embedding": ("_embedding", "embedding"),
    "multioutput_decision": ("_decision", "multioutput_decision"),
    "monitoring": ("_monitoring", "monitoring"),
    "group_difference": ("_group_difference", "group_difference"),
    # shap's legacy (array-based) names
    "summary_plot": ("_legacy", "summary_plot"),
    "dependence_plot": ("_legacy", "dependence_plot"),
    "waterfall_plot": ("_legacy", "waterfall_plot"),
    "bar_plot": ("_legacy", "bar_plot"),
    "decision_plot": ("_legacy", "decision_plot"),
    "force_plot": ("_force", "force_plot"),
    "image_plot": ("_image", "image_plot"),
}

# shap names ferroshap does not offer, with what to use instead.
_NOT_OFFERED: dict[str, str] = {
    "image_to_text": (
        "shap.plots.image_to_text is not offered by ferroshap; use ferroshap.plots.image for the "
        "image and ferroshap.plots.text for the tokens"
    ),
    "benchmark": (
        "shap.plots.benchmark is not offered by ferroshap (there is no benchmark module); "
        "compare explanations with ferroshap.plots.bar"
    ),
}


class NotOfferedError(AttributeError):
    """A shap plotting name ferroshap does not offer; the message says what to use instead."""


def __getattr__(name: str) -> Any:
    if name == "colors":  # shap.plots.colors: a module of colour names
        return importlib.import_module("ferroshap.plots.colors")
    location = _LOCATIONS.get(name)
    if location is None:
        if name in _NOT_OFFERED:
            raise NotOfferedError(_NOT_OFFERED[name])
        raise AttributeError(f"module 'ferroshap.plots' has no attribute {name!r}")
    module_name, attribute = location
    try:
        module = importlib.import_module(f"ferroshap.plots.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name == "matplotlib" or (exc.name or "").startswith("matplotlib."):
            raise ImportError(
                f"ferroshap.plots.{name} needs matplotlib: pip install 'ferroshap[plots]'"
            ) from exc
        if exc.name == f"ferroshap.plots.{module_name}":
            raise NotOfferedError(
                f"ferroshap.plots.{name} is not available in this build of ferroshap"
            ) from exc
        raise
    value = getattr(module, attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
