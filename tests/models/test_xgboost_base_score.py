"""XGBoost's ``base_score`` is a float32 inside XGBoost, turned into a margin in float32.

A model trained with ``eta=0`` has all-zero leaves, so XGBoost's margin prediction is its base
margin exactly, with nothing added: ferroshap's ``expected_value`` must equal it bit for bit
(before the fix it was the f64 logit of the decimal, off by up to ~1e-6 here). On ordinary
models the bias column of ``pred_contribs`` is the base margin plus each tree's expectation
summed in float32: equal to ferroshap's to 1e-6 of the output scale (float32 round-off over
20 trees).
"""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

import ferroshap


@pytest.mark.parametrize(
    "objective", ["binary:logistic", "reg:logistic", "count:poisson", "reg:gamma", "reg:tweedie"]
)
def test_expected_value_is_xgboost_base_margin_bit_for_bit(objective):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 3))
    for p in rng.uniform(0.03, 0.97, size=6):
        y = (rng.uniform(size=300) < p).astype(float)
        if objective in ("reg:gamma",):
            y = y + 0.5  # gamma needs positive labels
        booster = xgb.train({"objective": objective, "eta": 0.0}, xgb.DMatrix(X, y), 1)
        margin = booster.predict(xgb.DMatrix(X[:1]), output_margin=True)[0]
        assert ferroshap.TreeExplainer(booster).expected_value == float(margin)


def test_bias_column_matches_pred_contribs():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(400, 4))
    y = (X[:, 0] + rng.normal(size=400) > 0.3).astype(int)
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, y), 20)
    bias = booster.predict(xgb.DMatrix(X[:1]), pred_contribs=True)[0, -1]
    assert abs(ferroshap.TreeExplainer(booster).expected_value - bias) < 1e-6
