"""force / force_plot / initjs: the static matplotlib picture and the self-contained HTML."""

from __future__ import annotations

import io
import math
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402

import ferroshap  # noqa: E402
from ferroshap.plots._common import NEGATIVE, POSITIVE  # noqa: E402


@pytest.fixture(scope="module")
def diabetes():
    from ferroshap.datasets import load_example

    model_path, X = load_example()
    return ferroshap.TreeExplainer.from_file(model_path)(X)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _label_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts if " = " in t.get_text()]


def test_static_draws_one_segment_per_feature_in_the_right_colour(diabetes):
    row = diabetes[0]
    ax = ferroshap.plots.force(row, matplotlib=True, show=False)
    patches = [p for p in ax.patches if isinstance(p, Polygon)]
    assert len(patches) == np.count_nonzero(row.values)
    n_raising = int((row.values > 0).sum())
    colours = [to_hex(p.get_facecolor()).upper() for p in patches]
    # Raising segments are drawn first, left to right.
    assert colours == [POSITIVE] * n_raising + [NEGATIVE] * (len(patches) - n_raising)
    fx = float(row.base_values + row.values.sum())
    texts = [t.get_text() for t in ax.texts]
    assert f"f(x) = {ferroshap.plots._common.format_value(fx)}" in texts
    # The largest push is labelled with its value.
    top = int(np.argmax(np.abs(row.values)))
    name = row.feature_names[top]
    value = ferroshap.plots._common.format_value(row.data[top])
    assert f"{name} = {value}" in _label_texts(ax)


def test_static_labels_never_overlap(diabetes):
    # A low threshold labels every feature: they must be spread over rows or dropped.
    ax = ferroshap.plots.force(
        diabetes[5], matplotlib=True, show=False, contribution_threshold=0.0, figsize=(6, 3)
    )
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts if " = " in t.get_text()]
    assert len(boxes) >= 4
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (i, j)
    # Every label stays inside the figure.
    width = ax.figure.bbox.width
    assert all(b.x0 >= 0 and b.x1 <= width for b in boxes)


def test_static_into_given_axes_and_saved_not_blank(diabetes, tmp_path):
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3))
    returned = ferroshap.plots.force(diabetes[1], matplotlib=True, show=False, ax=right)
    assert returned is right and not left.patches
    fig.savefig(tmp_path / "force.png", dpi=60)
    image = plt.imread(tmp_path / "force.png")[..., :3]
    # The bar fills a few percent of the picture; a blank save would be all white.
    assert (image.min(axis=-1) < 0.9).mean() > 0.02


def test_legacy_force_plot_with_pandas_matches_explanation(diabetes):
    row = diabetes[3]
    features = pd.Series(row.data, index=row.feature_names)
    ax1 = ferroshap.force_plot(
        float(row.base_values), row.values, features, matplotlib=True, show=False
    )
    ax2 = ferroshap.plots.force(row, matplotlib=True, show=False)
    assert _label_texts(ax1) == _label_texts(ax2)
    # The features given as a list of names (as shap accepts).
    html = ferroshap.force_plot(0.5, row.values, list(row.feature_names)).html()
    assert all(f'data-feature="{name}"' in html for name in row.feature_names)


def test_logit_link_shows_probabilities():
    phi = np.array([1.2, -0.4, 0.3])
    ax = ferroshap.plots.force(
        -0.5, phi, np.array([1.0, 2.0, 3.0]), link="logit", matplotlib=True, show=False
    )
    labels = [float(t.get_text().replace("\u2212", "-")) for t in ax.get_xticklabels()]
    assert labels and all(0 < p < 1 for p in labels)
    fx = 1 / (1 + math.exp(-(-0.5 + phi.sum())))
    assert f"f(x) = {ferroshap.plots._common.format_value(fx)}" in [t.get_text() for t in ax.texts]


def test_html_single_row_holds_every_feature_and_output(diabetes, tmp_path):
    row = diabetes[0]
    plot = ferroshap.plots.force(row, out_names="progression")
    html = plot._repr_html_()
    assert "<script" in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")
    for name in row.feature_names:
        assert f'data-feature="{name}"' in html
    fx = ferroshap.plots._common.format_value(float(row.base_values + row.values.sum()))
    assert f"progression = {fx}" in html
    plot.save_html(tmp_path / "force.html")
    page = (tmp_path / "force.html").read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("fs-seg") >= 10
    buffer = io.StringIO()
    ferroshap.save_html(buffer, plot, full_html=False)
    assert buffer.getvalue() == plot.html()


def test_html_stacked_orders_and_ordering_keys(diabetes):
    rows = diabetes[:40]
    plot = ferroshap.plots.force(rows)
    html = plot.html()
    assert plot.kind == "force-stacked"
    assert re.findall(r'data-order="(\w+)"', html) == ["similarity", "output", "original"]
    data = re.search(r'class="fs-data">(.*?)</script>', html).group(1)
    assert '"n":40' in data
    keys = np.arange(40)[::-1]
    keyed = ferroshap.plots.force(rows, ordering_keys=keys).html()
    assert re.findall(r'data-order="(\w+)"', keyed)[0] == "keys"
    with pytest.raises(ValueError, match="ordering_keys has 3 entries for 40 rows"):
        ferroshap.plots.force(rows, ordering_keys=[1, 2, 3])


def test_similarity_order_visits_each_row_once_and_groups_alike_rows():
    from ferroshap.plots._force_html import _similarity_order

    rng = np.random.default_rng(0)
    # Two well separated groups of explanations, interleaved.
    phi = np.concatenate([rng.normal(0, 0.1, (10, 3)), rng.normal(5, 0.1, (10, 3))])
    order = _similarity_order(phi, phi.sum(axis=1))
    assert sorted(order.tolist()) == list(range(20))
    groups = (order >= 10).astype(int)
    assert np.count_nonzero(np.diff(groups)) == 1  # the chain crosses between groups once


def test_shap_explanation_accepted(diabetes):
    plot = ferroshap.plots.force(diabetes[0].to_shap())
    assert all(f'data-feature="{n}"' in plot.html() for n in diabetes.feature_names)


def test_bad_input_errors(diabetes):
    with pytest.raises(ValueError, match="draws one row, got 5 rows"):
        ferroshap.plots.force(diabetes[:5], matplotlib=True)
    multi = ferroshap.Explanation(
        np.ones((2, 3, 2)), base_values=np.zeros((2, 2)), output_names=["a", "b"]
    )
    with pytest.raises(ValueError, match="'a', 'b'"):
        ferroshap.plots.force(multi)
    with pytest.raises(ValueError, match="base_value has 2 entries"):
        ferroshap.plots.force_plot(np.array([0.1, 0.2]), np.ones(3))
    with pytest.raises(ValueError, match="features has shape"):
        ferroshap.plots.force_plot(0.0, np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="link must be"):
        ferroshap.plots.force(diabetes[0], link="probit")
    with pytest.raises(ValueError, match="plot_cmap"):
        ferroshap.plots.force(diabetes[0], plot_cmap="GnPR")
    with pytest.raises(TypeError, match="save_html takes a plot"):
        ferroshap.save_html("x.html", plt.gca())


def test_plot_cmap_pair_colours_segments(diabetes):
    ax = ferroshap.plots.force(
        diabetes[0], matplotlib=True, show=False, plot_cmap=("#000000", "#FFFF00")
    )
    colours = {to_hex(p.get_facecolor()).upper() for p in ax.patches}
    assert colours == {"#000000", "#FFFF00"}


def test_initjs_is_a_harmless_no_op():
    assert ferroshap.initjs() is None
    assert ferroshap.plots.initjs() is None


def test_legacy_rows_with_a_dataframe_and_the_many_rows_warning(diabetes):
    rows = diabetes[:30]
    frame = pd.DataFrame(rows.data, columns=rows.feature_names)
    base = np.full(30, float(rows.base_values[0]))
    html = ferroshap.force_plot(base, rows.values, frame).html()
    data = re.search(r'class="fs-data">(.*?)</script>', html).group(1)
    assert '"names":["age","sex","bmi"' in data and '"n":30' in data
    many = ferroshap.Explanation(
        np.zeros((3001, 2)), base_values=np.zeros(3001), feature_names=["a", "b"]
    )
    with pytest.warns(UserWarning, match="3001 rows"):
        ferroshap.plots.force(many)


def test_label_placement_keeps_leader_lines_off_other_labels():
    from ferroshap.plots._force_layout import place_labels

    rng = np.random.default_rng(3)
    anchors = sorted(rng.uniform(0, 100, 25).tolist())
    extents = [(-w / 2, w / 2) for w in rng.uniform(5, 30, 25)]
    priority = rng.uniform(0, 1, 25).tolist()
    placed = place_labels(anchors, extents, priority, (0.0, 100.0), 3, 0.5)
    drawn = [(i, r, x) for i, (r, x) in enumerate(placed) if r >= 0]
    assert len(drawn) >= 6
    for i, r, x in drawn:
        left, right = x + extents[i][0], x + extents[i][1]
        assert 0 <= left and right <= 100  # inside the axis
        for k, s, y in drawn:
            if k == i:
                continue
            other = (y + extents[k][0], y + extents[k][1])
            if s == r:
                assert right <= other[0] or left >= other[1]  # same row: no overlap
            if s > r:
                assert not left < anchors[k] < right  # k's leader passes row r outside i


def test_long_names_shortened_in_labels_whole_in_tooltips():
    name = "a very long feature name that goes on and on"
    sv = ferroshap.Explanation(
        np.array([3.0, -1.0]), base_values=0.0, data=np.array([1.0, 2.0]),
        feature_names=[name, "b"],
    )  # fmt: skip
    html = ferroshap.plots.force(sv).html()
    assert "a very long feature name that g\u2026 = 1" in html
    assert f"<title>{name} = 1\nSHAP value +3</title>" in html
    ax = ferroshap.plots.force(sv, matplotlib=True, show=False)
    assert "a very long feature name that g\u2026 = 1" in _label_texts(ax)
