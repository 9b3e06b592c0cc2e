"""group_difference, monitoring and multioutput_decision: shap's three remaining plots, checked
on real models against the numbers they draw (and against shap's own drawing where shap is
deterministic)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier

import ferroshap


def _bars(ax):
    """Bar widths top to bottom and their tick labels."""
    patches = sorted(ax.patches, key=lambda p: -p.get_y())
    labels = {round(t.get_position()[1]): t.get_text() for t in ax.get_yticklabels()}
    names = [labels[round(p.get_y() + p.get_height() / 2)] for p in patches]
    return np.array([p.get_width() for p in patches]), names


def test_group_difference_bars_are_the_mean_differences_and_add_up(diabetes_sv):
    sex = diabetes_sv.data[:, 1] > 0  # diabetes' sex column takes two values
    ax = ferroshap.plots.group_difference(diabetes_sv, sex, show=False)
    widths, names = _bars(ax)
    v = diabetes_sv.values
    want = v[sex].mean(0) - v[~sex].mean(0)
    order = np.argsort(-np.abs(want), kind="stable")
    # 1e-12: the same means, drawn as float64 bar widths.
    np.testing.assert_allclose(widths, want[order], atol=1e-12)
    assert names == [diabetes_sv.feature_names[i] for i in order]
    # Bars add up to the gap in mean prediction (TreeExplainer is additive to ~1e-9 here).
    out = v.sum(1) + diabetes_sv.base_values
    assert widths.sum() == pytest.approx(out[sex].mean() - out[~sex].mean(), abs=1e-8)


def _error_bars(ax):
    """Each error bar's (low, high) x, top to bottom."""
    from matplotlib.container import ErrorbarContainer

    (container,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    segments = container.lines[2][0].get_segments()
    segments = sorted(segments, key=lambda s: -s[0, 1])
    return np.array([[s[:, 0].min(), s[:, 0].max()] for s in segments])


def test_group_difference_error_bars_bracket_the_bar_and_are_seeded(diabetes_sv):
    sex = diabetes_sv.data[:, 1] > 0
    bars = []
    for _ in range(2):
        ax = ferroshap.plots.group_difference(diabetes_sv, sex, show=False, seed=3)
        bars.append(_error_bars(ax))
    np.testing.assert_array_equal(bars[0], bars[1])  # same seed, same bars
    widths, _ = _bars(ax)
    lo, hi = bars[0][:, 0], bars[0][:, 1]
    assert np.all(lo <= widths + 1e-12) and np.all(widths <= hi + 1e-12)
    assert np.all(hi - lo > 0)
    other = _error_bars(ferroshap.plots.group_difference(diabetes_sv, sex, show=False, seed=4))
    assert not np.array_equal(other, bars[0])


def test_group_difference_takes_arrays_a_vector_and_max_display(diabetes_sv):
    sex = diabetes_sv.data[:, 1] > 0
    ax = ferroshap.plots.group_difference(
        diabetes_sv.values,
        sex,
        feature_names=diabetes_sv.feature_names,
        max_display=3,
        sort=True,
        show=False,
    )
    assert len(ax.patches) == 3
    out = diabetes_sv.values.sum(1)
    ax = ferroshap.plots.group_difference(out, sex, show=False)
    (width,), _ = _bars(ax)
    assert width == pytest.approx(out[sex].mean() - out[~sex].mean(), abs=1e-12)


def test_group_difference_matches_shaps_bars(diabetes_sv):
    shap = pytest.importorskip("shap")  # the test extra installs shap; a reason if not
    sex = diabetes_sv.data[:, 1] > 0
    names = list(diabetes_sv.feature_names)
    shap.plots.group_difference(diabetes_sv.values, sex, feature_names=names, show=False)
    theirs, their_names = _bars(plt.gca())
    ours, our_names = _bars(
        ferroshap.plots.group_difference(diabetes_sv.values, sex, feature_names=names, show=False)
    )
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
    assert our_names == their_names


def test_group_difference_bad_masks(diabetes_sv):
    with pytest.raises(ValueError, match="both groups"):
        ferroshap.plots.group_difference(diabetes_sv, np.ones(200, bool), show=False)
    with pytest.raises(ValueError, match="200 booleans"):
        ferroshap.plots.group_difference(diabetes_sv, np.ones(10, bool), show=False)
    with pytest.raises(ValueError, match="booleans"):
        ferroshap.plots.group_difference(diabetes_sv, np.ones(200), show=False)


@pytest.fixture(scope="module")
def drifting():
    """A real model explained on rows in time order whose bmi drifts up after row 300."""
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0).fit(X, y)
    rows = X.iloc[:400].copy()
    rows.iloc[300:, rows.columns.get_loc("bmi")] += 0.08
    return ferroshap.TreeExplainer(model)(rows)


def test_monitoring_marks_the_change_point(drifting):
    ax = ferroshap.plots.monitoring("bmi", drifting, show=False)
    assert len(ax.lines) == 1 and ax.lines[0].get_xdata()[0] == 300
    points = ax.collections[0].get_offsets()
    j = drifting.feature_names.index("bmi")
    np.testing.assert_array_equal(points[:, 1], drifting.values[:, j])
    # A feature that does not drift (sex) has no significant change: no line.
    ax = ferroshap.plots.monitoring(1, drifting, show=False)
    assert len(ax.lines) == 0


def test_monitoring_matches_shaps_change_point(drifting):
    shap = pytest.importorskip("shap")  # the test extra installs shap; a reason if not
    j = drifting.feature_names.index("bmi")
    shap.plots.monitoring(j, drifting.values, drifting.data, show=False)
    theirs = [line.get_xdata()[0] for line in plt.gca().lines]
    ax = ferroshap.plots.monitoring(j, drifting.values, drifting.data, show=False)
    assert [line.get_xdata()[0] for line in ax.lines] == theirs == [300.0]


def test_monitoring_bad_input(drifting):
    with pytest.raises(ValueError, match="no feature named"):
        ferroshap.plots.monitoring("nope", drifting, show=False)
    with pytest.raises(ValueError, match="more than 100 rows"):
        ferroshap.plots.monitoring(0, drifting[:60], show=False)


@pytest.fixture(scope="module")
def iris_model():
    X, y = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, y)
    explainer = ferroshap.TreeExplainer(model)
    return explainer, X


def test_multioutput_decision_lines_end_at_each_outputs_prediction(iris_model):
    explainer, X = iris_model
    values = explainer.shap_values(X[:20])  # (20, 4, 3)
    base = np.asarray(explainer.expected_value)
    ax = ferroshap.plots.multioutput_decision(base, values, row_index=7, show=False)
    ends = np.array([seg[-1, 0] for seg in ax.collections[0].get_segments()])
    starts = np.array([seg[0, 0] for seg in ax.collections[0].get_segments()])
    # Each line ends at that output's prediction (additivity ~1e-9 in probability units).
    want = explainer.model.original_model.predict_proba(X[7:8])[0]
    np.testing.assert_allclose(ends, want, atol=1e-9)
    # ... and starts from the mean base value plus the features not drawn (none: 4 < 20).
    np.testing.assert_allclose(starts, base.mean(), atol=1e-12)
    # shap's list form and an Explanation give the same lines.
    listed = [values[..., k] for k in range(3)]
    ax2 = ferroshap.plots.multioutput_decision(list(base), listed, 7, show=False)
    ax3 = ferroshap.plots.multioutput_decision(explainer(X[:20]), row_index=7, show=False)
    for other in (ax2, ax3):
        for a, b in zip(
            ax.collections[0].get_segments(), other.collections[0].get_segments(), strict=True
        ):
            np.testing.assert_allclose(a, b, atol=1e-12)


def test_multioutput_decision_matches_shaps_lines(iris_model):
    shap = pytest.importorskip("shap")  # the test extra installs shap; a reason if not
    explainer, X = iris_model
    values = explainer.shap_values(X[:20])
    base = list(np.asarray(explainer.expected_value))
    listed = [values[..., k] for k in range(3)]
    shap.multioutput_decision_plot(base, listed, 7, show=False)
    theirs = sorted(line.get_xdata()[-1] for line in plt.gca().lines if len(line.get_xdata()) > 2)
    ax = ferroshap.plots.multioutput_decision(base, listed, 7, show=False)
    ours = sorted(seg[-1, 0] for seg in ax.collections[0].get_segments())
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_multioutput_decision_bad_input(iris_model):
    explainer, X = iris_model
    values = explainer.shap_values(X[:5])
    with pytest.raises(ValueError, match="row_index"):
        ferroshap.plots.multioutput_decision(explainer.expected_value, values, show=False)
    with pytest.raises(ValueError, match="2 base values for 3 outputs"):
        ferroshap.plots.multioutput_decision([0.1, 0.2], values, 0, show=False)
    with pytest.raises(ValueError, match="interaction values"):
        ferroshap.plots.multioutput_decision([0.0] * 3, [np.zeros((5, 4, 4))] * 3, 0, show=False)


# -- order arguments read as shap reads them ----------------------------------------------------


def _labels(ax):
    """Tick labels from the top of the plot down (whichever way the y axis runs)."""
    pairs = zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()], strict=True)
    return [text for _, text in sorted(pairs, reverse=not ax.yaxis_inverted())]


def test_beeswarm_and_bar_take_an_argsort_order_as_shap(diabetes_sv):
    """``order=sv.abs.mean(0).argsort.flip`` is an order of feature indices (shap reads an
    Explanation made by argsort so), not sort keys."""
    shap = pytest.importorskip("shap")  # the test extra installs shap; a reason if not
    theirs_sv = diabetes_sv.to_shap()
    shap.plots.beeswarm(
        theirs_sv, order=theirs_sv.abs.mean(0).argsort.flip, show=False, max_display=6
    )
    theirs = _labels(plt.gca())
    by_index = diabetes_sv.abs.mean(0).argsort.flip
    ours = _labels(ferroshap.plots.beeswarm(diabetes_sv, order=by_index, show=False, max_display=6))
    assert ours == theirs
    # The same order given as keys (largest first) draws the same picture, in bar too.
    for plot in (ferroshap.plots.beeswarm, ferroshap.plots.bar):
        by_keys = _labels(plot(diabetes_sv, order=diabetes_sv.abs.mean(0), show=False))
        assert _labels(plot(diabetes_sv, order=by_index, show=False)) == by_keys
        # A bare permutation of indices is an order too, as shap takes arrays.
        assert _labels(plot(diabetes_sv, order=by_index.values, show=False)) == by_keys


def test_heatmap_instance_order_by_a_number_per_row_as_shap(diabetes_sv):
    """shap's documented ``instance_order=sv.sum(1)``: rows by that number, largest first."""
    ax = ferroshap.plots.heatmap(
        diabetes_sv[:40], instance_order=diabetes_sv[:40].sum(1), show=False
    )
    image = ax.images[0].get_array()
    totals = diabetes_sv[:40].values.sum(1)
    want = diabetes_sv[:40].values[np.argsort(-totals, kind="stable")]
    # The image's columns are the rows in that order: their column sums (over all features
    # drawn, the "other features" line included) are the rows' SHAP totals, descending.
    np.testing.assert_allclose(np.asarray(image).sum(0), want.sum(1), atol=1e-9)
    assert np.all(np.diff(np.asarray(image).sum(0)) <= 1e-9)


def test_identity_order_keeps_the_features_own_order(diabetes_sv):
    ax = ferroshap.plots.bar(
        diabetes_sv, order=ferroshap.Explanation.identity, max_display=20, show=False
    )
    assert _labels(ax) == list(diabetes_sv.feature_names)
    assert diabetes_sv.identity.values is not None
    np.testing.assert_array_equal(diabetes_sv.identity.values, diabetes_sv.values)


def test_shaps_colour_names_and_rgb_arrays_are_solid_colours(diabetes_sv):
    """shap's documented ``beeswarm(sv.abs, color="shap_red")`` and ``color=colors.blue_rgb``."""
    from matplotlib.colors import to_rgba

    from ferroshap.plots import colors

    for plot in (ferroshap.plots.beeswarm, ferroshap.plots.violin):
        ax = plot(diabetes_sv.abs, color="shap_red", show=False)
        faces = np.unique(ax.collections[0].get_facecolors()[:, :3], axis=0)
        np.testing.assert_allclose(faces, [colors.red_rgb], atol=1e-6)
        plt.close("all")
    ax = ferroshap.plots.scatter(diabetes_sv[:, "bmi"], color=colors.blue_rgb, show=False)
    face = ax.collections[0].get_facecolors()[0]
    np.testing.assert_allclose(face[:3], to_rgba(tuple(colors.blue_rgb))[:3], atol=1e-6)


def test_plt_tight_layout_after_a_plot_with_a_colour_bar(diabetes_sv):
    """shap users call ``plt.tight_layout()`` after a plot; matplotlib refuses it on a
    constrained-layout figure holding a colour bar, so ferroshap lays its own figures out once
    and drops the engine when they hold one. A figure the user made keeps its engine."""
    calls = [
        lambda: ferroshap.plots.beeswarm(diabetes_sv, show=False),
        lambda: ferroshap.plots.heatmap(diabetes_sv[:40], show=False),
        lambda: ferroshap.plots.violin(diabetes_sv, show=False),
        lambda: ferroshap.plots.scatter(diabetes_sv[:, "bmi"], color=diabetes_sv, show=False),
        lambda: ferroshap.plots.decision(diabetes_sv[:20], show=False),
    ]
    import warnings

    for call in calls:
        ax = call()
        assert any(hasattr(a, "_colorbar") for a in ax.figure.axes)  # the case in question
        with warnings.catch_warnings():
            # matplotlib's own note for inset axes (the heatmap's), not an error.
            warnings.filterwarnings("ignore", "This figure includes Axes", UserWarning)
            plt.tight_layout()
        plt.close("all")
    figure, ax = plt.subplots(layout="constrained")
    ferroshap.plots.beeswarm(diabetes_sv, ax=ax, show=False)
    assert figure.get_layout_engine() is not None


def test_bar_refuses_bad_input_with_shaps_messages(diabetes_sv):
    from ferroshap.utils._exceptions import DimensionError

    for bad in ([1, 2, 3], np.array([1.0, 2.0]), {"a": 1}):
        with pytest.raises(TypeError, match="must be an Explanation object, Cohorts object"):
            ferroshap.plots.bar(bad, show=False)
    with pytest.raises(DimensionError, match="same number of feature columns"):
        ferroshap.plots.bar({"a": diabetes_sv[:, :3], "b": diabetes_sv[:, :4]}, show=False)
    with pytest.raises(ValueError, match="The passed Explanation is empty"):
        ferroshap.plots.bar(diabetes_sv[0:0], show=False)
    with pytest.raises(TypeError, match="does not seem to be a partition tree"):
        ferroshap.plots.bar(diabetes_sv, clustering=np.array([1, 2, 3]), show=False)
