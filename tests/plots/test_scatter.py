"""ferroshap.plots.scatter: points, interaction colouring, options, errors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import ferroshap
from ferroshap.plots._interactions import interaction_scores


@pytest.fixture(scope="module")
def interacting():
    """y = x0 * x2 + x1 (x3 constant): x0's SHAP values depend on x2, not on x1 or x3."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 4))
    X[:, 3] = 1.0
    values = np.column_stack([X[:, 0] * X[:, 2] / 2, X[:, 1], X[:, 0] * X[:, 2] / 2, X[:, 3] * 0])
    return ferroshap.Explanation(
        values, base_values=np.zeros(800), data=X, feature_names=["x0", "x1", "x2", "x3"]
    )


def test_points_are_values_against_data(diabetes_sv):
    ax = ferroshap.plots.scatter(diabetes_sv[:, "bmi"], show=False)
    points = [c for c in ax.collections if len(c.get_offsets())][0].get_offsets()
    np.testing.assert_array_equal(points[:, 0], diabetes_sv[:, "bmi"].data)  # no jitter: continuous
    np.testing.assert_array_equal(points[:, 1], diabetes_sv[:, "bmi"].values)
    assert ax.get_xlabel() == "bmi" and ax.get_ylabel() == "SHAP value for\nbmi"


def test_automatic_interaction_picks_the_interacting_feature(interacting):
    scores = interaction_scores(0, interacting.values, interacting.data)
    assert int(np.argmax(scores)) == 2
    assert scores[0] == -np.inf and scores[3] == -np.inf  # itself; x3 is constant
    ax = ferroshap.plots.scatter(interacting[:, "x0"], color=interacting, show=False)
    colour_bar = ax.figure.axes[-1]
    assert colour_bar.get_ylabel() == "x2"


def test_colour_by_given_feature_and_solid(interacting):
    ax = ferroshap.plots.scatter(interacting[:, "x0"], color=interacting[:, "x1"], show=False)
    assert ax.figure.axes[-1].get_ylabel() == "x1"
    plt.close("all")
    ax = ferroshap.plots.scatter(interacting[:, "x0"], color="black", hist=False, show=False)
    assert len(ax.figure.axes) == 1  # no colour bar, no histogram twin


def test_jitter_limits_overlay_and_title():
    x = np.repeat([0.0, 1.0, 2.0], 30)
    sv = ferroshap.Explanation(x[:, None] * 2.0, data=x[:, None], feature_names=["level"])
    ax = ferroshap.plots.scatter(
        sv[:, "level"],
        x_jitter=0.5,
        ymin="percentile(10)",
        ymax=5,
        title="t",
        overlay={"line": ([0, 2], [0, 4])},
        show=False,
    )
    points = [c for c in ax.collections if len(c.get_offsets()) == 90][0].get_offsets()
    spread = np.abs(points[:, 0] - x)
    assert 0 < spread.max() <= 0.5  # jitter: half the gap between levels at most
    assert ax.get_ylim() == (pytest.approx(0.0), 5.0) and ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["line"]
    with pytest.raises(ValueError, match="percentile"):
        ferroshap.plots.scatter(sv[:, "level"], xmin="median", show=False)


def test_missing_values_and_categories():
    data = np.array([["a"], ["b"], ["a"], ["c"]], dtype=object)
    sv = ferroshap.Explanation(
        np.array([[1.0], [2.0], [1.5], [0.5]]), data=data, feature_names=["kind"]
    )
    ax = ferroshap.plots.scatter(sv[:, "kind"], show=False)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    nan_sv = ferroshap.Explanation(
        np.arange(4.0)[:, None], data=np.array([[1.0], [np.nan], [2], [3]]), feature_names=["f"]
    )
    ax = ferroshap.plots.scatter(nan_sv[:, "f"], show=False)
    ticks = [c for c in ax.collections if len(c.get_offsets()) == 1]
    assert len(ticks) == 1 and ticks[0].get_offsets()[0, 1] == 1.0  # the NaN row, at the edge


def test_several_features_give_one_axes_each(diabetes_sv, helpers):
    axes = ferroshap.plots.scatter(diabetes_sv[:, ["bmi", "bp"]], show=False)
    assert [a.get_xlabel() for a in axes] == ["bmi", "bp"]
    fig, ax = plt.subplots()
    assert ferroshap.plots.scatter(diabetes_sv[:, "bp"], ax=ax, show=False) is ax
    assert helpers.pixel_std(fig) > 0.05


def test_bad_input(diabetes_sv, iris_sv):
    with pytest.raises(ValueError, match=r"one feature's column.*\(n_rows,\)"):
        ferroshap.plots.scatter(diabetes_sv[0], show=False)
    with pytest.raises(ValueError, match="3 outputs"):
        ferroshap.plots.scatter(iris_sv[:, 0], show=False)
    with pytest.raises(IndexError, match="no feature named 'bmx'"):
        ferroshap.plots.scatter(diabetes_sv[:, "bmx"], show=False)
