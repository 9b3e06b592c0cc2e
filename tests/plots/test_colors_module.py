"""``ferroshap.plots.colors``: shap's colour names, usable where shap's are (a ``cmap=`` or
``color=`` argument), drawn in ferroshap's palette."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

import ferroshap  # noqa: E402
from ferroshap.plots import _common, colors  # noqa: E402


def test_names_and_palette():
    assert ferroshap.plots.colors is colors
    np.testing.assert_allclose(colors.red_blue(1.0)[:3], colors.red_rgb)
    np.testing.assert_allclose(colors.red_blue(0.0)[:3], colors.blue_rgb)
    np.testing.assert_allclose(colors.red_white_blue(0.5)[:3], [1.0, 1.0, 1.0], atol=0.01)
    assert colors.transparent_red(0.0)[3] == 0.0 and colors.transparent_red(1.0)[3] == 1.0
    assert np.all(colors.light_red_rgb > colors.red_rgb - 1e-12)
    assert matplotlib.colors.to_hex(colors.red_rgb) == _common.POSITIVE.lower()


def test_usable_as_shap_passes_them():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(50, 3))
    ferroshap.summary_plot(values, rng.normal(size=(50, 3)), cmap=colors.red_blue, show=False)
    ferroshap.dependence_plot(
        0, values, rng.normal(size=(50, 3)), color=colors.blue_rgb, show=False
    )
    matplotlib.pyplot.close("all")
