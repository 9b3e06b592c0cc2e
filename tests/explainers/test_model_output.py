"""``TreeExplainer(model_output=...)``: probabilities, losses and method names on real models.

Oracle: the exact Shapley values of the transformed interventional game, by subset enumeration
of v(S) = mean over background rows r of out(x_S, r_rest), where ``out`` is the model's own
``predict_proba`` (or its loss against the label) on every hybrid row. M <= 6 features, so the
2^M hybrids per background row are cheap.

Tolerances and why:

- LightGBM and scikit-learn predict in f64 from the same leaves as ferroshap, so the two sides
  differ only in the order of additions and in exp/log rounding: 1e-9.
- XGBoost predicts in float32: probabilities carry float32 rounding (~6e-8 relative) per
  hybrid row, and the Shapley sums of 2^M differences keep that size: 1e-5 absolute on values
  of order 0.1.
- Parity with shap 0.51 where shap is exact (the margin, and the forest probabilities that are
  its margins): shap stores leaves as float32, 1e-6 of the output scale (as in
  test_interventional.py).
"""

from __future__ import annotations

import math
import warnings

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from sklearn import ensemble
from sklearn.datasets import make_classification

import ferroshap

M = 5


def _data(n_classes: int, n: int = 240):
    X, y = make_classification(
        n_samples=n,
        n_features=M,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        random_state=3,
    )
    return X.astype(np.float32).astype(np.float64), y


def _shapley(values: dict[int, np.ndarray], m: int) -> np.ndarray:
    """Shapley values (m, K) from v(S) for every subset S (bitmask)."""
    phi = np.zeros((m,) + values[0].shape)
    for i in range(m):
        for s in range(1 << m):
            if s >> i & 1:
                continue
            k = bin(s).count("1")
            w = math.factorial(k) * math.factorial(m - k - 1) / math.factorial(m)
            phi[i] += w * (values[s | 1 << i] - values[s])
    return phi


def _brute_force(out, rows: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Exact Shapley values (n, M, K) of v(S) = mean_r out(x_S, r_rest), out: rows -> (n, K)."""
    m = rows.shape[1]
    result = []
    for x in rows:
        hybrids = []
        for s in range(1 << m):
            h = background.copy()
            for f in range(m):
                if s >> f & 1:
                    h[:, f] = x[f]
            hybrids.append(h)
        outs = out(np.concatenate(hybrids)).reshape(1 << m, len(background), -1).mean(axis=1)
        result.append(_shapley(dict(enumerate(outs)), m))
    return np.array(result)


def _classifiers():
    X2, y2 = _data(2)
    X3, y3 = _data(3)
    return {
        "xgb_binary": (xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(X2, y2), X2, y2),
        "xgb_multi": (xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(X3, y3), X3, y3),
        "lgb_binary": (
            lgb.LGBMClassifier(n_estimators=20, num_leaves=8, verbose=-1).fit(X2, y2),
            X2,
            y2,
        ),
        "lgb_binary_rf": (
            lgb.LGBMClassifier(
                boosting_type="rf",
                n_estimators=10,
                num_leaves=8,
                bagging_freq=1,
                bagging_fraction=0.7,
                verbose=-1,
            ).fit(X2, y2),
            X2,
            y2,
        ),
        "lgb_multi": (
            lgb.LGBMClassifier(n_estimators=8, num_leaves=6, verbose=-1).fit(X3, y3),
            X3,
            y3,
        ),
        "rf_binary": (
            ensemble.RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(
                X2, y2
            ),
            X2,
            y2,
        ),
        "gbc_binary": (
            ensemble.GradientBoostingClassifier(n_estimators=15, max_depth=3).fit(X2, y2),
            X2,
            y2,
        ),
        "gbc_multi": (
            ensemble.GradientBoostingClassifier(n_estimators=8, max_depth=2).fit(X3, y3),
            X3,
            y3,
        ),
    }


CLASSIFIERS = _classifiers()


def _tolerance(name: str) -> float:
    return 1e-5 if name.startswith("xgb") else 1e-9


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_probability_matches_brute_force_of_predict_proba(name):
    model, X, _ = CLASSIFIERS[name]
    background, rows = X[:12], X[100:104]
    explainer = ferroshap.TreeExplainer(model, data=background, model_output="probability")
    got = explainer.shap_values(rows)
    proba = model.predict_proba
    single = got.ndim == 2
    out = (lambda h: proba(h)[:, 1:]) if single else proba
    want = _brute_force(out, rows, background)
    got = got[..., None] if single else got
    tol = _tolerance(name)
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)
    # Efficiency against the model itself: values + expected_value = predict_proba(x).
    base = np.atleast_1d(explainer.expected_value)
    np.testing.assert_allclose(got.sum(axis=1) + base, out(rows), rtol=0, atol=tol)
    np.testing.assert_allclose(base, out(background).mean(axis=0), rtol=0, atol=tol)


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_log_loss_matches_brute_force_of_the_cross_entropy(name):
    model, X, y = CLASSIFIERS[name]
    background, rows, labels = X[:10], X[110:113], y[110:113]
    explainer = ferroshap.TreeExplainer(model, data=background, model_output="log_loss")
    got = explainer.shap_values(rows, y=labels)
    assert got.shape == (3, M)
    tol = _tolerance(name) * 10  # the log amplifies float32 probabilities' rounding
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        column = list(model.classes_).index(label)

        def loss(h, column=column):
            p = np.clip(model.predict_proba(h)[:, column], np.finfo(np.float64).eps, 1)
            return -np.log(p)[:, None]

        want = _brute_force(loss, row[None], background)[0, :, 0]
        np.testing.assert_allclose(got[i], want, rtol=0, atol=tol)
        base = explainer.expected_value(label)
        np.testing.assert_allclose(base, loss(background).mean(), rtol=0, atol=tol)
        np.testing.assert_allclose(got[i].sum() + base, loss(row[None])[0, 0], atol=tol)
    # The Explanation carries the per-row base value of the row's label.
    explanation = explainer(rows, y=labels)
    np.testing.assert_allclose(
        explanation.base_values, explainer.expected_value(np.asarray(labels)), rtol=0, atol=0
    )


def test_binary_predict_proba_is_two_columns_like_shap():
    model, X, _ = CLASSIFIERS["xgb_binary"]
    background, rows = X[:12], X[100:104]
    ours = ferroshap.TreeExplainer(model, data=background, model_output="predict_proba")
    probability = ferroshap.TreeExplainer(model, data=background, model_output="probability")
    values = ours.shap_values(rows)
    assert values.shape == (4, M, 2)
    one = probability.shap_values(rows)
    np.testing.assert_array_equal(values[..., 1], one)
    np.testing.assert_array_equal(values[..., 0], -one)
    p = probability.expected_value
    np.testing.assert_array_equal(ours.expected_value, [1 - p, p])
    np.testing.assert_allclose(
        values.sum(axis=1) + ours.expected_value, model.predict_proba(rows), rtol=0, atol=1e-5
    )
    import shap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = shap.TreeExplainer(model, background, model_output="predict_proba")
        assert np.shape(theirs.shap_values(rows)) == values.shape
    assert np.shape(theirs.expected_value) == np.shape(ours.expected_value)


def test_shap_probability_is_an_approximation_ours_is_exact():
    model, X, _ = CLASSIFIERS["lgb_binary"]
    background, rows = X[:12], X[100:106]
    want = _brute_force(lambda h: model.predict_proba(h)[:, 1:], rows, background)[..., 0]
    ours = ferroshap.TreeExplainer(model, data=background, model_output="probability")
    np.testing.assert_allclose(ours.shap_values(rows), want, rtol=0, atol=1e-9)
    import shap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = shap.TreeExplainer(model, background, model_output="probability")
        shap_values = theirs.shap_values(rows)
    # shap rescales margin attributions per background row: its values still add up to
    # the probability but are not the Shapley values of the probability game.
    np.testing.assert_allclose(shap_values.sum(axis=1), want.sum(axis=1), atol=1e-6)
    assert np.max(np.abs(shap_values - want)) > 1e-3


@pytest.mark.parametrize("name", ["xgb_binary", "lgb_binary", "rf_binary"])
def test_parity_with_shap_where_shap_is_exact(name):
    """The margin (and a forest's probability, which is its margin) are linear in the trees:
    shap's rescaling is exact there."""
    import shap

    model, X, _ = CLASSIFIERS[name]
    background, rows = X[:20], X[100:110]
    output = "probability" if name.startswith("rf") else "raw"
    ours = ferroshap.TreeExplainer(model, data=background, model_output=output)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = shap.TreeExplainer(model, background, model_output=output)
        want = theirs.shap_values(rows)
    got = ours.shap_values(rows)
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(ours.expected_value, theirs.expected_value, atol=1e-6 * scale)


def test_lightgbm_random_forest_probability_divides_by_iterations():
    model, X, _ = CLASSIFIERS["lgb_binary_rf"]
    background, rows = X[:8], X[100:103]
    explainer = ferroshap.TreeExplainer(model, data=background, model_output="probability")
    raw = model.predict(rows, raw_score=True)
    # LightGBM's raw score is the plain sum of the trees; the probability averages first.
    iterations = model.booster_.num_trees()
    np.testing.assert_allclose(
        model.predict_proba(rows)[:, 1], 1 / (1 + np.exp(-raw / iterations)), atol=1e-12
    )
    total = explainer.shap_values(rows).sum(axis=1) + explainer.expected_value
    np.testing.assert_allclose(total, model.predict_proba(rows)[:, 1], rtol=0, atol=1e-9)


def test_regression_log_loss_is_squared_error_and_predict_is_the_response():
    X, _ = _data(2)
    y = X[:, 0] * 2 + np.sin(X[:, 1])
    model = lgb.LGBMRegressor(n_estimators=15, num_leaves=8, verbose=-1).fit(X, y)
    background, rows, labels = X[:10], X[50:53], y[50:53]
    explainer = ferroshap.TreeExplainer(model, data=background, model_output="log_loss")
    got = explainer.shap_values(rows, y=labels)
    for i in range(3):

        def loss(h, i=i):
            return ((model.predict(h) - labels[i]) ** 2)[:, None]

        want = _brute_force(loss, rows[i : i + 1], background)[0, :, 0]
        np.testing.assert_allclose(got[i], want, rtol=0, atol=1e-9)
    poisson = lgb.LGBMRegressor(objective="poisson", n_estimators=15, verbose=-1)
    poisson.fit(X, np.exp(X[:, 0]))
    predict = ferroshap.TreeExplainer(poisson, data=background, model_output="predict")
    want = _brute_force(lambda h: poisson.predict(h)[:, None], rows, background)[..., 0]
    np.testing.assert_allclose(predict.shap_values(rows), want, rtol=0, atol=1e-9)


def test_bad_model_output_and_labels_are_clear_errors():
    model, X, y = CLASSIFIERS["xgb_binary"]
    background = X[:10]
    with pytest.raises(ValueError, match="only defined with background data"):
        ferroshap.TreeExplainer(model, model_output="probability")
    with pytest.raises(ValueError, match="only defined with background data"):
        ferroshap.TreeExplainer(model, model_output="log_loss")
    with pytest.raises(ValueError, match="has no method 'predict_bananas'"):
        ferroshap.TreeExplainer(model, data=background, model_output="predict_bananas")
    with pytest.raises(ValueError, match="cannot express"):
        ferroshap.TreeExplainer(model, data=background, model_output="apply")
    with pytest.raises(ValueError, match="class labels"):
        ferroshap.TreeExplainer(model, data=background, model_output="predict")
    regressor = xgb.XGBRegressor(n_estimators=3).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="needs a classifier"):
        ferroshap.TreeExplainer(regressor, data=background, model_output="probability")
    with pytest.raises(ValueError, match="has no method 'predict_proba'"):
        ferroshap.TreeExplainer(regressor, data=background, model_output="predict_proba")
    explainer = ferroshap.TreeExplainer(model, data=background, model_output="log_loss")
    rows = X[100:103]
    with pytest.raises(ValueError, match="pass them as shap_values"):
        explainer.shap_values(rows)
    with pytest.raises(ValueError, match="NaN labels"):
        explainer.shap_values(rows, y=np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="2 labels but X has 3 rows"):
        explainer.shap_values(rows, y=y[:2])
    with pytest.raises(ValueError, match="between 0 and 1"):
        explainer.shap_values(rows, y=np.array([0.0, 2.0, 1.0]))
    probability = ferroshap.TreeExplainer(model, data=background, model_output="probability")
    with pytest.raises(ValueError, match="only used by model_output='log_loss'"):
        probability.shap_values(rows, y=y[:3])
    with pytest.raises(NotImplementedError, match="margin only"):
        probability.shap_interaction_values(rows)


def test_bad_estimator_options_are_refused():
    model, X, _ = CLASSIFIERS["xgb_binary"]
    with pytest.raises(ValueError, match="between 1 and 24"):
        ferroshap.TreeExplainer(model, data=X[:5], model_output="probability", max_pair_features=30)
    with pytest.raises(ValueError, match="model_output_method must be"):
        ferroshap.TreeExplainer(
            model, data=X[:5], model_output="probability", model_output_method="exactish"
        )
    with pytest.raises(ValueError, match="estimate_tolerance"):
        ferroshap.TreeExplainer(
            model, data=X[:5], model_output="probability", estimate_tolerance=0.0
        )
    with pytest.raises(ValueError, match="seed"):
        ferroshap.TreeExplainer(model, data=X[:5], model_output="probability", seed=-1)


def test_thread_count_does_not_change_the_values():
    model, X, _ = CLASSIFIERS["lgb_multi"]
    one = ferroshap.TreeExplainer(model, data=X[:9], model_output="probability", n_jobs=1)
    two = ferroshap.TreeExplainer(model, data=X[:9], model_output="probability", n_jobs=2)
    np.testing.assert_array_equal(one.shap_values(X[:40]), two.shap_values(X[:40]))


def test_subset_enumeration_oracle_is_itself_right():
    """The helper's Shapley values of a known game: v(S) = [0 in S and 2 in S]."""
    values = {s: np.array([float(s & 0b101 == 0b101)]) for s in range(8)}
    np.testing.assert_allclose(_shapley(values, 3)[:, 0], [0.5, 0.0, 0.5])
