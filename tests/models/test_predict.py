"""``TreeEnsemble.predict``: the core's one output type against the libraries' own predictions.

Tolerances: LightGBM and scikit-learn predict in f64 from the same margins, so their
probabilities agree with the core's to 1e-12 (only the order of the trees' additions and the
platform's ``exp`` differ); the numpy formula on the core's own margins agrees to 1e-15
relative, or 1e-15 absolute for probabilities (one rounding of ``exp``: numpy's and Rust's
may differ by an ulp). Any wrong
transform (a missing scale, the wrong column, softmax over the wrong axis) is off by 1e-2 or
more.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier

from ferroshap.models import load_tree_model

SMALL = {"n_estimators": 20, "num_leaves": 7, "learning_rate": 0.3, "verbose": -1}


def _numpy(output: str, m: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The textbook transforms of margins ``m`` (n, k), written independently of the core."""
    z = scale * m
    if output == "margin":
        return m
    if output == "exp":
        return np.exp(z)
    if output == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    p = 1.0 / (1.0 + np.exp(-z))
    return np.column_stack([1.0 - p[:, 0], p[:, 0]]) if output == "logistic_pair" else p


@pytest.fixture(scope="module")
def binary():
    """A LightGBM binary classifier, its rows and its converted ensemble."""
    X, y = make_classification(200, 5, n_informative=3, random_state=0)
    model = lgb.LGBMClassifier(**SMALL).fit(X, y)
    return X, model, load_tree_model(model).ensemble


def test_default_output_is_the_models_prediction_and_pair_is_predict_proba(binary):
    X, model, ensemble = binary
    assert ensemble.link == "logistic"
    p = ensemble.predict(X)
    assert p.shape == (len(X), 1)
    np.testing.assert_allclose(p[:, 0], model.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    pair = ensemble.predict(X, "logistic_pair")
    np.testing.assert_allclose(pair, model.predict_proba(X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ensemble.predict(X, "margin"), ensemble.predict_margin(X))


def test_multiclass_softmax_matches_predict_proba():
    X, y = make_classification(200, 6, n_informative=4, n_classes=3, random_state=1)
    model = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(X, y)
    ensemble = load_tree_model(model).ensemble
    got = ensemble.predict(X)
    assert got.shape == (len(X), 3)
    np.testing.assert_allclose(got, model.predict_proba(X), rtol=0, atol=1e-12)


def test_log_link_matches_predict():
    X, y = make_regression(200, 4, random_state=2)
    model = lgb.LGBMRegressor(objective="poisson", **SMALL).fit(X, np.exp(y / np.std(y)))
    ensemble = load_tree_model(model).ensemble
    np.testing.assert_allclose(ensemble.predict(X)[:, 0], model.predict(X), rtol=1e-12, atol=0)


@pytest.mark.parametrize("output", ["margin", "logistic", "logistic_pair", "exp"])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_outputs_equal_the_numpy_formulas_on_the_margins(binary, output, scale):
    X, _, ensemble = binary
    m = ensemble.predict_margin(X)
    got = ensemble.predict(X, output, scale=scale)
    want = _numpy(output, m, 1.0 if output == "margin" else scale)
    # 1 - p carries p's absolute rounding (an ulp of p), large relative to a small 1 - p:
    # probabilities (scale 1) are compared to 1e-15 absolute as well.
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-15 if "logistic" in output else 0)


def test_bad_outputs_are_value_errors_that_say_why(binary):
    X, _, ensemble = binary
    with pytest.raises(ValueError, match='unknown output "sigmoid".*"probability_loss"'):
        ensemble.predict(X, "sigmoid")
    with pytest.raises(ValueError, match="needs labels|is a loss"):
        ensemble.predict(X, "logistic_loss")
    with pytest.raises(ValueError, match="at least 2 outputs"):
        ensemble.predict(X, "softmax")
    with pytest.raises(ValueError, match="scale must be finite"):
        ensemble.predict(X, "logistic", scale=0.0)
