"""ferroshap.plots.bar: global, local, cohorts, outputs and clustering."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import ferroshap
from ferroshap.plots._bar import GROUP_COLORS
from ferroshap.plots._common import NEGATIVE, NEUTRAL, POSITIVE


def test_global_bar_order_lengths_and_sum_row(diabetes_sv, helpers):
    ax = ferroshap.plots.bar(diabetes_sv, max_display=4, show=False)
    labels = helpers.ytick_texts(ax)
    mean_abs = np.abs(diabetes_sv.values).mean(0)
    ranked = np.argsort(-mean_abs, kind="stable")
    assert labels == [
        *(diabetes_sv.feature_names[j] for j in ranked[:3]),
        "Sum of 7 other features",
    ]
    widths = [p.get_width() for p in ax.patches]
    np.testing.assert_allclose(widths[:3], mean_abs[ranked[:3]], rtol=1e-12)
    assert widths[3] == pytest.approx(mean_abs[ranked[3:]].sum(), rel=1e-12)
    assert [helpers.hex_of(p) for p in ax.patches] == [POSITIVE] * 3 + [NEUTRAL]
    assert ax.get_xlabel() == "mean(|SHAP value|)"


def test_local_bar_signs_colours_and_data_labels(diabetes_sv, helpers):
    row = diabetes_sv[5]
    ax = ferroshap.plots.bar(row, max_display=11, show=False)
    labels = helpers.ytick_texts(ax)
    assert len(labels) == 10 and all(" = " in lab for lab in labels)
    for patch in ax.patches:
        assert helpers.hex_of(patch) == (POSITIVE if patch.get_width() >= 0 else NEGATIVE)
    no_data = helpers.ytick_texts(ferroshap.plots.bar(row, show_data=False, show=False))
    assert not any(" = " in lab for lab in no_data)


def test_cohorts_draw_one_colour_per_cohort(diabetes_sv, helpers):
    sex = np.where(diabetes_sv[:, "sex"].data > 0, "male", "female")
    groups = diabetes_sv.cohorts(sex)
    ax = ferroshap.plots.bar(groups, max_display=5, show=False)
    assert len(ax.patches) == 2 * 5
    assert {helpers.hex_of(p) for p in ax.patches} == {GROUP_COLORS[0], GROUP_COLORS[1]}
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0].startswith("female (n=") and legend[1].startswith("male (n=")
    female = diabetes_sv[sex == "female"]
    top = helpers.ytick_texts(ax)[0]
    first_bar = ax.patches[0].get_width()
    assert first_bar == pytest.approx(np.abs(female[:, top].values).mean(), rel=1e-12)
    auto = ferroshap.plots.bar(diabetes_sv.cohorts(3), show=False)
    assert len(auto.get_legend().get_texts()) == 3


def test_multi_output_draws_one_group_per_output(iris_sv, helpers):
    ax = ferroshap.plots.bar(iris_sv, show=False)
    assert len(ax.patches) == 4 * 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]


def test_clustering_orders_along_the_dendrogram(helpers):
    from scipy.cluster import hierarchy

    rng = np.random.default_rng(0)
    values = rng.normal(size=(500, 4)) * np.array([4.0, 1.0, 2.5, 1.5])
    sv = ferroshap.Explanation(values, feature_names=["a", "b", "c", "d"])
    # a joins b and c joins d; the (a, b) cluster carries more mean |SHAP| (about 5 vs 4).
    linkage = np.array([[0, 1, 0.1, 2], [2, 3, 0.2, 2], [4, 5, 0.4, 4]], dtype=float)
    hierarchy.is_valid_linkage(linkage, throw=True)
    ax = ferroshap.plots.bar(sv, clustering=linkage, show=False)
    labels = helpers.ytick_texts(ax)
    # Pairs stay adjacent: a next to b and c next to d, larger member first.
    assert labels == ["a", "b", "c", "d"]
    assert len(ax.child_axes) == 1 and len(ax.child_axes[0].collections[0].get_segments()) == 3
    unclustered = helpers.ytick_texts(ferroshap.plots.bar(sv, show=False))
    assert unclustered == ["a", "c", "d", "b"]


def test_ax_and_blank_check(diabetes_sv, helpers):
    fig, ax = plt.subplots()
    assert ferroshap.plots.bar(diabetes_sv, ax=ax, show=False) is ax
    assert helpers.pixel_std(fig) > 0.05


def test_bad_input(diabetes_sv):
    with pytest.raises(IndexError, match="no feature named 'nope'"):
        ferroshap.plots.bar(diabetes_sv[:, ["bmi", "nope"]], show=False)
    with pytest.raises(ValueError, match="linkage matrix of shape"):
        ferroshap.plots.bar(diabetes_sv, clustering=np.zeros((3, 4)), show=False)
    with pytest.raises(ValueError, match="one number per feature"):
        ferroshap.plots.bar(diabetes_sv, order=np.ones(3), show=False)
