"""shap's legacy functions: summary_plot, dependence_plot, bar_plot, waterfall_plot, decision_plot
(reached the way shap users call them, from the top-level package)."""

from __future__ import annotations

import numpy as np
import pytest

import ferroshap


@pytest.fixture(scope="module")
def arrays(diabetes_sv):
    return diabetes_sv.values, diabetes_sv.to_pandas() * 0 + diabetes_sv.data


def test_summary_plot_dot_bar_violin(arrays, helpers):
    values, frame = arrays
    ranked = np.argsort(-np.abs(values).mean(0), kind="stable")
    names = list(frame.columns)
    ax = ferroshap.summary_plot(values, frame, max_display=4, show=False)
    assert helpers.ytick_texts(ax) == [*(names[j] for j in ranked[:3]), "Sum of 7 other features"]
    assert ax.get_xlabel().startswith("SHAP value")
    ax = ferroshap.summary_plot(values, frame, plot_type="bar", show=False)
    assert helpers.ytick_texts(ax) == [names[j] for j in ranked]
    ax = ferroshap.summary_plot(values, frame, plot_type="violin", sort=False, show=False)
    assert helpers.ytick_texts(ax) == names  # sort=False keeps the given order
    ax = ferroshap.summary_plot(values, feature_names=names, title="t", show=False)
    assert ax.get_title() == "t"


def test_summary_plot_multi_output_stacked_bar(iris_sv, helpers):
    per_class = [iris_sv.values[..., k] for k in range(3)]
    ax = ferroshap.summary_plot(
        per_class,
        iris_sv.data,
        feature_names=iris_sv.feature_names,
        class_names=["setosa", "versicolor", "virginica"],
        show=False,
    )
    assert len(ax.patches) == 3 * 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "setosa",
        "versicolor",
        "virginica",
    ]
    # The stacked bar of the top feature is the sum of its mean |SHAP| over the classes.
    totals = np.abs(iris_sv.values).mean(0).sum(1)
    top = int(np.argmax(totals))
    assert helpers.ytick_texts(ax)[0] == iris_sv.feature_names[top]
    ends = [p.get_x() + p.get_width() for p in ax.patches if p.get_y() + p.get_height() / 2 == 3]
    assert max(ends) == pytest.approx(totals[top], rel=1e-12)
    assert len(ferroshap.summary_plot(iris_sv, show=False).patches) == 12
    with pytest.raises(ValueError, match="plot_type='bar'.*shap_values\\[1\\]"):
        ferroshap.summary_plot(per_class, plot_type="dot", show=False)


def test_summary_plot_bad_input(arrays):
    values, frame = arrays
    with pytest.raises(ValueError, match="plot_type must be"):
        ferroshap.summary_plot(values, frame, plot_type="pie", show=False)
    with pytest.raises(ValueError, match="do not match"):
        ferroshap.summary_plot(values, frame.iloc[:5], show=False)
    with pytest.raises(ValueError, match=r"interaction values have shape \(n_rows, n_features"):
        ferroshap.summary_plot(np.zeros((4, 3, 4)), show=False)


def test_dependence_plot_by_name_rank_and_interaction(arrays):
    values, frame = arrays
    ax = ferroshap.dependence_plot("bmi", values, frame, interaction_index="bp", show=False)
    assert ax.get_xlabel() == "bmi" and ax.figure.axes[-1].get_ylabel() == "bp"
    top = frame.columns[int(np.argmax(np.abs(values).mean(0)))]
    ax = ferroshap.dependence_plot("rank(0)", values, frame, interaction_index=None, show=False)
    assert ax.get_xlabel() == top and len(ax.figure.axes) == 1
    ax = ferroshap.dependence_plot(2, values, frame, show=False)  # auto interaction: a colour bar
    assert ax.get_xlabel() == "bmi" and len(ax.figure.axes) == 2
    with pytest.raises(ValueError, match="no feature named 'bmx'"):
        ferroshap.dependence_plot("bmx", values, frame, show=False)
    with pytest.raises(IndexError, match="out of range for 10 features"):
        ferroshap.dependence_plot(10, values, frame, show=False)


def test_bar_waterfall_decision_plot(diabetes_sv, helpers):
    row = diabetes_sv[0]
    ax = ferroshap.bar_plot(row.values, row.data, row.feature_names, max_display=3, show=False)
    assert helpers.ytick_texts(ax)[-1] == "Sum of 8 other features"
    assert len(ferroshap.waterfall_plot(row, max_display=4, show=False).patches) == 4
    ax = ferroshap.decision_plot(float(row.base_values), diabetes_sv.values[:5], show=False)
    assert len(ax.collections[0].get_segments()) == 5
    assert ferroshap.plots.summary_plot is ferroshap.summary_plot


def test_feature_names_in_the_features_slot(arrays, helpers):
    values, frame = arrays
    ax = ferroshap.summary_plot(values, list(frame.columns), plot_type="bar", show=False)
    assert set(helpers.ytick_texts(ax)) == set(frame.columns)
