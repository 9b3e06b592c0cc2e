"""Explanation.to_shap() output is accepted by shap's own plots."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import shap

from ferroshap import Explanation


@pytest.fixture
def sv():
    rng = np.random.default_rng(0)
    return Explanation(
        rng.normal(size=(30, 5)),
        base_values=np.full(30, 0.25),
        data=rng.normal(size=(30, 5)),
        feature_names=["age", "sex", "bmi", "bp", "s1"],
    )


def _labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


def test_shap_waterfall_draws_to_shap_output(sv):
    ax = shap.plots.waterfall(sv.to_shap()[0], show=False)
    # shap labels each bar "<feature value> = <name>" and marks E[f(X)] on a twin axis.
    assert {label.split(" = ")[-1] for label in _labels(ax)} >= {"age", "bmi", "s1"}
    ticks = [t.get_text() for a in plt.gcf().axes for t in a.get_xticklabels()]
    assert any("E[f(X)]" in t for t in ticks)


def test_shap_beeswarm_and_bar_draw_to_shap_output(sv):
    ax = shap.plots.beeswarm(sv.to_shap(), show=False)
    assert {"age", "sex", "bmi", "bp", "s1"} <= set(_labels(ax))
    plt.close("all")
    ax = shap.plots.bar(sv.to_shap(), show=False)
    assert {"age", "sex", "bmi", "bp", "s1"} <= set(_labels(ax))
