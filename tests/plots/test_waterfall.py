"""ferroshap.plots.waterfall: bars, labels, colours, the sum row, figure handling, errors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import ferroshap
from ferroshap.plots._common import NEGATIVE, NEUTRAL, POSITIVE


def test_bars_labels_and_colours(diabetes_sv, helpers):
    row = diabetes_sv[3]
    ax = ferroshap.plots.waterfall(row, max_display=5, show=False)
    labels = helpers.ytick_texts(ax)
    assert len(ax.patches) == 5 and len(labels) == 5
    assert labels[-1] == "Sum of 6 other features"
    ranked = np.argsort(-np.abs(row.values), kind="stable")
    top = row.feature_names[ranked[0]]
    assert labels[0].startswith(f"{top} = ")
    assert [lab.split(" = ")[0] for lab in labels[:4]] == [row.feature_names[j] for j in ranked[:4]]
    # Bars bottom to top: the summed rest, then features smallest to largest.
    widths = np.array([p.get_width() for p in ax.patches])
    np.testing.assert_allclose(widths[-1], row.values[ranked[0]], rtol=1e-12)
    # The drawn bars add up from the base value to the output (float sum order: 1e-9).
    assert widths.sum() == pytest.approx(row.values.sum(), abs=1e-9)
    for patch, width in zip(ax.patches[1:], widths[1:], strict=True):
        assert helpers.hex_of(patch) == (POSITIVE if width >= 0 else NEGATIVE)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "E[f(X)] =" in texts and "f(x) =" in texts


def test_all_features_without_sum_row(diabetes_sv, helpers):
    ax = ferroshap.plots.waterfall(diabetes_sv[0], max_display=20, show=False)
    labels = helpers.ytick_texts(ax)
    assert len(labels) == 10 and not any("other feature" in lab for lab in labels)
    assert NEUTRAL not in {helpers.hex_of(p) for p in ax.patches}


def test_ax_honoured_and_saved_image_not_blank(diabetes_sv, helpers, tmp_path):
    fig, ax = plt.subplots()
    assert ferroshap.plots.waterfall(diabetes_sv[1], ax=ax, show=False) is ax
    assert helpers.pixel_std(fig) > 0.05
    ferroshap.plots.waterfall(diabetes_sv[1], show=False)
    plt.savefig(tmp_path / "w.png")  # the current figure is the plot, not a blank one
    assert helpers.pixel_std(plt.gcf()) > 0.05


def test_shap_explanation_input(diabetes_sv, helpers):
    theirs = helpers.ytick_texts(ferroshap.plots.waterfall(diabetes_sv.to_shap()[2], show=False))
    ours = helpers.ytick_texts(ferroshap.plots.waterfall(diabetes_sv[2], show=False))
    assert len(theirs) == 10 and theirs == ours


def test_long_feature_names_wrap(helpers):
    name = "body mass index measured at the first visit in kilograms per square metre"
    sv = ferroshap.Explanation(np.array([1.0, -2.0]), base_values=0.0, feature_names=[name, "a"])
    labels = helpers.ytick_texts(ferroshap.plots.waterfall(sv, show=False))
    assert "\n" in labels[1] and all(len(line) <= 30 for line in labels[1].split("\n"))


def test_multi_output_error_names_outputs_and_output_choice(iris_sv, helpers):
    with pytest.raises(
        ValueError, match=r"3 outputs \('0', '1', '2'\).*explanation\[\.\.\., '1'\]"
    ):
        ferroshap.plots.waterfall(iris_sv[0], show=False)
    ax = ferroshap.plots.waterfall(iris_sv[0], output="2", show=False)
    widths = np.array([p.get_width() for p in ax.patches])
    assert widths.sum() == pytest.approx(iris_sv.values[0, :, 2].sum(), abs=1e-9)
    with pytest.raises(IndexError, match="out of range for 3 outputs"):
        ferroshap.plots.waterfall(iris_sv[0], output=3, show=False)


def test_wrong_shape_is_a_clear_error(diabetes_sv):
    with pytest.raises(ValueError, match=r"shape \(n_features,\).*explanation\[0\]"):
        ferroshap.plots.waterfall(diabetes_sv, show=False)
    with pytest.raises(TypeError, match="takes an Explanation"):
        ferroshap.plots.waterfall(diabetes_sv.values[0], show=False)
