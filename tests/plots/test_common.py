"""Shared plot helpers: labels, numbers, palette, output choice, show handling."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import ferroshap
from ferroshap.plots import _common


def test_shorten_wraps_then_ellipsizes():
    assert _common.shorten("bmi") == "bmi"
    two = _common.shorten("serum triglycerides level (log scale)", 20)
    assert two.split("\n") == ["serum triglycerides", "level (log scale)"]
    three = _common.shorten("a " * 40, 20)
    lines = three.split("\n")
    assert len(lines) == 2 and lines[1].endswith("\u2026") and all(len(x) <= 20 for x in lines)


def test_format_value_uses_true_minus_and_significant_digits():
    assert _common.format_value(-0.012345) == "\u22120.0123"
    assert _common.format_value(2.0) == "2" and _common.format_value("red") == "red"
    assert _common.format_at_scale(150.273, 1.5) == "150.27"


def test_palette_is_okabe_ito_and_colormap_runs_between_it():
    from matplotlib.colors import to_hex

    assert (_common.POSITIVE, _common.NEGATIVE) == ("#D55E00", "#0072B2")
    cmap = _common.colormap()
    assert to_hex(cmap(0.0)).upper() == _common.NEGATIVE
    assert to_hex(cmap(1.0)).upper() == _common.POSITIVE


def test_display_order_counts_the_sum_row():
    shown, rest = _common.display_order(np.array([1.0, 5.0, 3.0, 4.0]), 3)
    assert shown.tolist() == [1, 3] and rest.tolist() == [2, 0]
    shown, rest = _common.display_order(np.array([1.0, 5.0]), 3)
    assert shown.tolist() == [1, 0] and rest.size == 0
    with pytest.raises(ValueError, match="at least 1"):
        _common.display_order(np.ones(4), 0)


def test_output_without_names_lists_positions():
    sv = ferroshap.Explanation(np.zeros((3, 2, 4)))
    with pytest.raises(ValueError, match=r"4 outputs \(0 \.\. 3\).*explanation\[\.\.\., 1\]"):
        _common.as_matrix(sv, "bar")
    assert _common.as_matrix(sv, "bar", output=-1).shape == (3, 2)
    single = ferroshap.Explanation(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="has one output"):
        _common.as_matrix(single, "bar", output=0)


def test_show_true_returns_the_axes(diabetes_sv):
    # On Agg plt.show() draws nothing; the plot still returns its Axes.
    ax = ferroshap.plots.bar(diabetes_sv, show=True)
    assert ax.figure in map(plt.figure, plt.get_fignums())


def test_every_public_name_of_this_module_resolves():
    mine = [
        "waterfall",
        "beeswarm",
        "bar",
        "scatter",
        "heatmap",
        "decision",
        "violin",
        "summary_plot",
        "dependence_plot",
        "waterfall_plot",
        "bar_plot",
        "decision_plot",
    ]
    for name in mine:
        assert callable(getattr(ferroshap.plots, name)), name
        assert name in dir(ferroshap.plots)


def test_value_label_keeps_long_values_on_one_line():
    label = _common.value_label("education", "Graduate degree (MSc, PhD, or equivalent)")
    assert label == "education = Graduate degree (MS\u2026"
    assert _common.value_label("age", -3.14159) == "age = \u22123.14"
    assert _common.value_label("age") == "age"


@pytest.mark.parametrize("plot", ["beeswarm", "bar", "heatmap", "violin", "decision"])
def test_shap_explanations_draw_like_ferroshap_ones(diabetes_sv, helpers, plot):
    sv = diabetes_sv[:40]
    draw = getattr(ferroshap.plots, plot)
    ours = helpers.ytick_texts(draw(sv, show=False))
    plt.close("all")
    theirs = helpers.ytick_texts(draw(sv.to_shap(), show=False))
    assert theirs == ours and len(ours) >= 9


def test_shap_opchains_work_as_orders(diabetes_sv, helpers):
    import shap

    sv = diabetes_sv[:40]
    ours = helpers.ytick_texts(
        ferroshap.plots.beeswarm(sv, order=ferroshap.Explanation.abs.max(0), show=False)
    )
    theirs = helpers.ytick_texts(
        ferroshap.plots.beeswarm(sv, order=shap.Explanation.abs.max(0), show=False)
    )
    assert theirs == ours
    ax = ferroshap.plots.heatmap(sv, instance_order=shap.Explanation.hclust(), show=False)
    np.testing.assert_array_equal(
        ax.child_axes[0].lines[0].get_ydata(), (sv.base_values + sv.values.sum(1))[sv.hclust()]
    )
