"""heatmap, decision and violin: what they draw, their options and errors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import ferroshap


def test_heatmap_matrix_order_and_sum_row(diabetes_sv, helpers):
    sv = diabetes_sv[:60]
    ax = ferroshap.plots.heatmap(sv, max_display=4, show=False)
    labels = helpers.ytick_texts(ax)
    ranked = np.argsort(-np.abs(sv.values).mean(0), kind="stable")
    assert labels == [*(sv.feature_names[j] for j in ranked[:3]), "Sum of 7 other features"]
    matrix = ax.images[0].get_array()
    order = sv.hclust()
    np.testing.assert_array_equal(matrix[0], sv.values[order, ranked[0]])
    np.testing.assert_allclose(matrix[3], sv.values[order][:, ranked[3:]].sum(1), rtol=1e-12)
    top = ax.child_axes[0].lines[0].get_ydata()  # f(x) line above, in instance order
    np.testing.assert_allclose(top, sv.base_values[order] + sv.values[order].sum(1), rtol=1e-12)
    lo, hi = ax.images[0].get_clim()
    assert lo == -hi  # symmetric colour scale: white is zero


def test_heatmap_instance_order_options(diabetes_sv):
    sv = diabetes_sv[:30]
    by_output = np.argsort(sv.values.sum(1))
    ax = ferroshap.plots.heatmap(sv, instance_order=by_output, show=False)
    fx = ax.child_axes[0].lines[0].get_ydata()
    assert np.all(np.diff(fx) >= 0)
    ax = ferroshap.plots.heatmap(sv, instance_order=ferroshap.Explanation.hclust, show=False)
    assert ax.images[0].get_array().shape == (10, 30)
    with pytest.raises(ValueError, match="row indices"):
        ferroshap.plots.heatmap(sv, instance_order=np.arange(5), show=False)


def test_decision_lines_end_at_outputs(diabetes_sv, helpers):
    sv = diabetes_sv[:25]
    ax = ferroshap.plots.decision(sv, show=False)
    segments = ax.collections[0].get_segments()
    assert len(segments) == 25
    ends = np.array([s[-1, 0] for s in segments])
    np.testing.assert_allclose(ends, sv.base_values + sv.values.sum(1), rtol=1e-12)
    starts = np.array([s[0, 0] for s in segments])
    np.testing.assert_allclose(starts, sv.base_values, rtol=1e-12)
    labels = helpers.ytick_texts(ax)
    ranked = np.argsort(-np.abs(sv.values).sum(0), kind="stable")
    assert labels[0] == sv.feature_names[ranked[0]]  # most important at the top


def test_decision_shap_style_arguments_and_options(diabetes_sv, helpers):
    sv = diabetes_sv[:10]
    ax = ferroshap.plots.decision(
        float(sv.base_values[0]),
        sv.values,
        sv.data,
        sv.feature_names,
        feature_display_range=slice(-4, None),
        highlight=[0],
        link="logit",
        legend_labels=[f"r{i}" for i in range(10)],
        title="t",
        show=False,
    )
    labels = helpers.ytick_texts(ax)
    assert labels[-1] == "Sum of 6 other features" and len(labels) == 5
    ends = np.array([s[-1, 0] for s in ax.collections[0].get_segments()])
    expected = 1 / (1 + np.exp(-(sv.base_values + sv.values.sum(1))))
    np.testing.assert_allclose(ends, expected, rtol=1e-12)
    assert len(ax.collections[1].get_segments()) == 1  # the highlighted row
    assert len(ax.get_legend().get_texts()) == 10
    result = ferroshap.plots.decision(sv, return_objects=True, show=False)
    assert result.feature_idx.shape == (10,) and result.ax.get_xlim() == result.xlim
    one = helpers.ytick_texts(ferroshap.plots.decision(sv[0], show=False))
    assert all(" = " in lab for lab in one[:-1])
    with pytest.raises(ValueError, match="one number"):
        ferroshap.plots.decision(np.zeros(3), sv.values, show=False)
    with pytest.raises(ValueError, match="link must be"):
        ferroshap.plots.decision(sv, link="probit", show=False)


@pytest.mark.parametrize("plot_type", ["violin", "layered_violin"])
def test_violin_rows_and_types(diabetes_sv, helpers, plot_type):
    ax = ferroshap.plots.violin(diabetes_sv, max_display=5, plot_type=plot_type, show=False)
    labels = helpers.ytick_texts(ax)
    ranked = np.argsort(-np.abs(diabetes_sv.values).mean(0), kind="stable")
    assert labels == [
        *(diabetes_sv.feature_names[j] for j in ranked[:4]),
        "Sum of 6 other features",
    ]
    polys = [c for c in ax.collections if type(c).__name__ == "PolyCollection"]
    assert len(polys) == 5
    # The top violin sits on the top line (y = 4) and fills its band, 0.4 each side.
    ys = np.concatenate([p.vertices[:, 1] for p in polys[0].get_paths()])
    assert ys.max() == pytest.approx(4.4) and ys.min() == pytest.approx(3.6)
    assert helpers.pixel_std(ax.figure) > 0.05


def test_violin_array_arguments_and_errors(diabetes_sv, iris_sv, helpers):
    frame = diabetes_sv.to_pandas()
    ax = ferroshap.plots.violin(diabetes_sv.values, frame, max_display=3, show=False)
    assert helpers.ytick_texts(ax)[-1] == "Sum of 8 other features"
    with pytest.raises(ValueError, match="plot_type must be"):
        ferroshap.plots.violin(diabetes_sv, plot_type="box", show=False)
    with pytest.raises(ValueError, match="3 outputs"):
        ferroshap.plots.violin(iris_sv, show=False)
    fig, ax = plt.subplots()
    assert ferroshap.plots.violin(iris_sv, output=0, ax=ax, show=False) is ax
