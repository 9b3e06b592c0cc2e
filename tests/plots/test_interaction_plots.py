"""shap's legacy plots of SHAP interaction values: ``summary_plot(interaction_values, X)``
(a row of beeswarms) and ``dependence_plot(("a", "b"), interaction_values, X)``, drawn from
a real model's interaction values; checked on what they draw, not on pixels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xgboost  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402

import ferroshap  # noqa: E402


@pytest.fixture(scope="module")
def interactions():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X = X.iloc[:120]
    model = xgboost.XGBRegressor(n_estimators=20, max_depth=3).fit(X, y[:120])
    return ferroshap.TreeExplainer(model).shap_interaction_values(X), X


def test_summary_plot_draws_one_beeswarm_per_important_feature(interactions):
    iv, X = interactions
    axes = ferroshap.summary_plot(iv, X, max_display=4, show=False)
    assert len(axes) == 4
    importance = np.abs(iv.sum(axis=1)).sum(axis=0)
    top = [X.columns[i] for i in np.argsort(-importance)[:4]]
    assert [ax.get_title() for ax in axes] == top
    # Each panel has one point per row and shown feature; the first panel's points on the
    # main-effect line are the main effects themselves (not doubled).
    first = axes[0]
    offsets = np.concatenate([c.get_offsets()[:, 0] for c in first.collections])
    assert len(offsets) == 4 * len(X)
    main = iv[:, X.columns.get_loc(top[0]), X.columns.get_loc(top[0])]
    assert np.isin(np.round(main, 9), np.round(offsets, 9)).all()
    assert axes[2].get_xlabel() == "SHAP interaction value"
    assert axes[0].get_xlim() == axes[3].get_xlim()
    plt.close("all")


def test_summary_plot_compact_and_bar_forms(interactions):
    iv, X = interactions
    ax = ferroshap.summary_plot(iv, X, plot_type="compact_dot", max_display=30, show=False)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any("* - " in label for label in labels) and len(labels) == 30  # pairs and mains
    plt.close("all")
    with pytest.raises(ValueError, match="interaction values are summarised"):
        ferroshap.summary_plot(iv, X, plot_type="violin", show=False)


def test_dependence_plot_of_a_pair(interactions):
    iv, X = interactions
    a, b = X.columns.get_loc("bmi"), X.columns.get_loc("s5")
    ax = ferroshap.dependence_plot(("bmi", "s5"), iv, X, show=False)
    ys = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets())])
    np.testing.assert_allclose(np.sort(ys), np.sort(2 * iv[:, b, a]))  # both halves of the pair
    assert "interaction value" in ax.get_ylabel() and "s5" in ax.get_ylabel()
    plt.close("all")
    ax = ferroshap.dependence_plot(("bmi", "bmi"), iv, X, show=False)
    ys = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets())])
    np.testing.assert_allclose(np.sort(ys), np.sort(iv[:, a, a]))
    assert "main effect" in ax.get_ylabel()
    plt.close("all")


def test_a_three_d_array_as_bars_is_one_output_per_last_index():
    values = np.random.default_rng(0).normal(size=(30, 4, 3))
    ax = ferroshap.summary_plot(values, plot_type="bar", show=False)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 3  # one bar segment (and legend entry) per output
    plt.close("all")
