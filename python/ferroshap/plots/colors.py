"""shap's colour names (``shap.plots.colors``) in ferroshap's colour-blind-safe palette.

shap's red and blue become ferroshap's Okabe-Ito vermillion (:data:`red_rgb`: values that
raise the prediction) and blue (:data:`blue_rgb`: values that lower it), so code that passes
``cmap=shap.plots.colors.red_blue`` or ``color=shap.plots.colors.blue_rgb`` to a plot keeps
working and draws ferroshap's colours. Needs matplotlib.

Examples
--------
>>> from ferroshap.plots import colors
>>> colors.red_blue(0.0)[:3] == tuple(colors.blue_rgb)
True
"""

from __future__ import annotations

import numpy as np

from ferroshap.plots._common import NEGATIVE, NEUTRAL, POSITIVE, colormap, diverging_colormap

try:
    from matplotlib.colors import LinearSegmentedColormap, to_rgb
except ModuleNotFoundError as exc:  # matplotlib is an optional extra
    raise ImportError(
        "ferroshap.plots.colors needs matplotlib: pip install 'ferroshap[plots]'"
    ) from exc

__all__ = [
    "blue_rgb",
    "gray_rgb",
    "light_blue_rgb",
    "light_red_rgb",
    "red_blue",
    "red_blue_circle",
    "red_blue_no_bounds",
    "red_blue_transparent",
    "red_rgb",
    "red_transparent_blue",
    "red_white_blue",
    "transparent_blue",
    "transparent_red",
]

red_rgb = np.array(to_rgb(POSITIVE))
blue_rgb = np.array(to_rgb(NEGATIVE))
gray_rgb = np.array(to_rgb(NEUTRAL))
# Halfway to white, as shap's light variants are.
light_red_rgb = (red_rgb + 1.0) / 2.0
light_blue_rgb = (blue_rgb + 1.0) / 2.0

#: Feature values, low (blue) to high (vermillion): ferroshap's beeswarm colormap.
red_blue = colormap()
red_blue_no_bounds = red_blue
red_blue_circle = red_blue
#: SHAP values, negative (blue) through white to positive (vermillion).
red_white_blue = diverging_colormap()


def _alpha_ramp(name: str, stops: list[tuple[np.ndarray, float]]) -> LinearSegmentedColormap:
    return LinearSegmentedColormap.from_list(name, [(*rgb, a) for rgb, a in stops])


red_blue_transparent = _alpha_ramp("red_blue_transparent", [(blue_rgb, 0.5), (red_rgb, 0.5)])
transparent_blue = _alpha_ramp("transparent_blue", [(blue_rgb, 0.0), (blue_rgb, 1.0)])
transparent_red = _alpha_ramp("transparent_red", [(red_rgb, 0.0), (red_rgb, 1.0)])
red_transparent_blue = _alpha_ramp(
    "red_transparent_blue", [(blue_rgb, 1.0), (np.ones(3), 0.0), (red_rgb, 1.0)]
)
