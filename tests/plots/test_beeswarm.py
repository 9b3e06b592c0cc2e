"""ferroshap.plots.beeswarm: lines, order, colours, the sum line, layout, errors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import ferroshap
from ferroshap.plots._beeswarm import swarm_offsets
from ferroshap.plots._common import NEUTRAL, colormap


def _point_collections(ax):
    return [c for c in ax.collections if len(c.get_offsets())]


def test_lines_order_points_and_sum_line(diabetes_sv, helpers):
    ax = ferroshap.plots.beeswarm(diabetes_sv, max_display=5, show=False)
    labels = helpers.ytick_texts(ax)
    mean_abs = np.abs(diabetes_sv.values).mean(0)
    ranked = np.argsort(-mean_abs, kind="stable")
    assert labels == [
        *(diabetes_sv.feature_names[j] for j in ranked[:4]),
        "Sum of 6 other features",
    ]
    points = _point_collections(ax)
    assert len(points) == 5  # one scatter call per line; the sum line is one grey call
    top = points[0].get_offsets()
    # x of the top line: exactly that feature's SHAP values (as a set: the swarm reorders none)
    np.testing.assert_array_equal(np.sort(top[:, 0]), np.sort(diabetes_sv.values[:, ranked[0]]))
    assert np.abs(top[:, 1] - 4).max() <= 0.4 + 1e-12  # offsets stay within the line's band
    rest = points[-1].get_offsets()[:, 0]
    np.testing.assert_allclose(
        np.sort(rest), np.sort(diabetes_sv.values[:, ranked[4:]].sum(1)), rtol=1e-12
    )
    assert (points[-1].get_facecolor()[:, :3] == plt.matplotlib.colors.to_rgb(NEUTRAL)).all()


def test_colours_follow_feature_values(diabetes_sv):
    ax = ferroshap.plots.beeswarm(diabetes_sv[:, ["bmi"]], show=False)
    points = _point_collections(ax)[0]
    colour_values = points.get_array()
    bmi = diabetes_sv[:, "bmi"].data
    # The point with the highest bmi has the "high" end of the colormap (values are scaled to
    # 0..1 between bmi's 5th and 95th percentiles and clipped).
    x_of_max = diabetes_sv[:, "bmi"].values[np.argmax(bmi)]
    hit = np.flatnonzero(points.get_offsets()[:, 0] == x_of_max)[0]
    assert colour_values[hit] == 1.0 and points.get_cmap() is colormap()


def test_missing_feature_values_are_grey():
    values = np.arange(20.0).reshape(10, 2)
    data = np.ones((10, 2))
    data[:3, 0] = np.nan
    sv = ferroshap.Explanation(values, data=data, feature_names=["a", "b"])
    ax = ferroshap.plots.beeswarm(sv, show=False)
    sizes = sorted(len(c.get_offsets()) for c in _point_collections(ax))
    assert sizes == [3, 7, 10]  # a: 3 grey + 7 coloured; b: 10 coloured


def test_options(diabetes_sv, helpers):
    ax = ferroshap.plots.beeswarm(
        diabetes_sv,
        max_display=3,
        group_remaining_features=False,
        color="black",
        log_scale=True,
        color_bar=False,
        s=4,
        alpha=0.5,
        plot_size=(5, 3),
        show=False,
    )
    assert len(helpers.ytick_texts(ax)) == 3 and ax.get_xscale() == "symlog"
    assert len(ax.figure.axes) == 1  # no colour bar
    assert tuple(ax.figure.get_size_inches()) == (5, 3)
    order = ferroshap.Explanation.abs.max(0)
    by_max = helpers.ytick_texts(ferroshap.plots.beeswarm(diabetes_sv, order=order, show=False))
    ranked = np.argsort(-np.abs(diabetes_sv.values).max(0), kind="stable")
    assert by_max == [diabetes_sv.feature_names[j] for j in ranked]


def test_ax_and_saved_image(diabetes_sv, helpers):
    fig, ax = plt.subplots()
    assert ferroshap.plots.beeswarm(diabetes_sv, ax=ax, show=False) is ax
    assert helpers.pixel_std(fig) > 0.05


def test_multi_output_and_wrong_shape(iris_sv, diabetes_sv, helpers):
    with pytest.raises(ValueError, match=r"beeswarm draws one output.*'0', '1', '2'"):
        ferroshap.plots.beeswarm(iris_sv, show=False)
    ax = ferroshap.plots.beeswarm(iris_sv[..., "1"], show=False)
    assert len(helpers.ytick_texts(ax)) == 4
    assert len(helpers.ytick_texts(ferroshap.plots.beeswarm(iris_sv, output=1, show=False))) == 4
    with pytest.raises(ValueError, match=r"\(n_rows, n_features\).*one row"):
        ferroshap.plots.beeswarm(diabetes_sv[0], show=False)


def test_swarm_offsets_spread_dense_bins_only():
    x = np.concatenate([np.zeros(9), [5.0]])
    off = swarm_offsets(x)
    assert off[-1] == 0.0  # alone in its bin: on the line
    assert sorted(np.round(off[:9] / 0.1, 9).tolist()) == [-4, -3, -2, -1, 0, 1, 2, 3, 4]


def test_large_swarm_is_one_image_with_the_right_colours():
    # Above RASTER_ABOVE points the coloured points become one image (mean colour per pixel).
    from matplotlib.colors import to_rgb

    from ferroshap.plots._common import NEGATIVE, POSITIVE, RASTER_ABOVE

    rng = np.random.default_rng(1)
    n = RASTER_ABOVE  # two lines: 2n points in all
    data = rng.normal(size=(n, 2))
    sv = ferroshap.Explanation(data * [2.0, 1.0], data=data, feature_names=["a", "b"])
    ax = ferroshap.plots.beeswarm(sv, show=False)
    assert len(ax.images) == 1 and not _point_collections(ax)
    image = ax.images[0]
    rgba = image.get_array()
    x0, x1, y0, y1 = image.get_extent()
    assert (x0, x1) == ax.get_xlim() and (y0, y1) == ax.get_ylim()
    # The top line ("a", y = 1): its right end (high SHAP = high feature value) is vermillion,
    # its left end blue. Pixel columns of x > 3 and x < -3 on that line's rows:
    height, width = rgba.shape[:2]
    rows = slice(int((0.6 - y0) / (y1 - y0) * height), int((1.4 - y0) / (y1 - y0) * height))

    def mean_colour(lo, hi):
        cols = slice(int((lo - x0) / (x1 - x0) * width), int((hi - x0) / (x1 - x0) * width))
        block = rgba[rows, cols]
        return block[block[..., 3] > 0][:, :3].mean(axis=0)

    right, left = mean_colour(3, x1), mean_colour(x0, -3)
    dist = lambda c, ref: np.abs(c - np.array(to_rgb(ref))).sum()  # noqa: E731
    assert dist(right, POSITIVE) < dist(right, NEGATIVE)
    assert dist(left, NEGATIVE) < dist(left, POSITIVE)


def test_clustering_merges_the_closest_features_down_to_max_display(helpers):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(300, 4)) * np.array([4.0, 1.0, 2.5, 1.5])
    sv = ferroshap.Explanation(values, data=values, feature_names=["a", "b", "c", "d"])
    linkage = np.array([[0, 1, 0.1, 2], [2, 3, 0.2, 2], [4, 5, 0.4, 4]], dtype=float)
    ax = ferroshap.plots.beeswarm(sv, clustering=linkage, max_display=3, show=False)
    assert helpers.ytick_texts(ax) == ["a + 1 other feature", "c", "d"]
    merged = _point_collections(ax)[0].get_offsets()[:, 0]
    np.testing.assert_allclose(np.sort(merged), np.sort(values[:, 0] + values[:, 1]), rtol=1e-12)
    # Merges stop at cluster_threshold: then the least important lines are summed instead.
    ax = ferroshap.plots.beeswarm(
        sv, clustering=linkage, cluster_threshold=0.05, max_display=3, show=False
    )
    assert helpers.ytick_texts(ax) == ["a", "c", "Sum of 2 other features"]
