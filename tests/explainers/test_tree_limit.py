"""``tree_limit=``, early stopping and ``approximate=True`` (Saabas values), against the libraries.

Tolerances:
- values vs XGBoost ``pred_contribs`` / ``approx_contribs`` and LightGBM ``pred_contrib``:
  2e-5 of the output scale (at least 1). Both libraries add float32 leaf values in float32
  (XGBoost computes its contributions in float32 too); ferroshap computes in f64, so the
  difference is float32 round-off over a few dozen trees (measured: up to ~3e-7).
- additivity of ferroshap's own values against ferroshap's margin: 1e-9 (f64 sums).
- Saabas values vs shap's ``approximate=True`` on a scikit-learn forest: 1e-9 (both f64).
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
import shap
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.ensemble import RandomForestRegressor

import ferroshap

LIB_ATOL = 2e-5
EXACT_ATOL = 1e-9


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def stopped_xgb(cancer):
    X, y = cancer
    model = xgb.XGBClassifier(
        n_estimators=100, max_depth=3, early_stopping_rounds=5, learning_rate=0.3
    )
    model.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])], verbose=False)
    assert model.best_iteration + 1 < model.get_booster().num_boosted_rounds()
    return model


def _contribs(booster: xgb.Booster, X: np.ndarray, rounds: int, **kw) -> np.ndarray:
    return booster.predict(
        xgb.DMatrix(X), pred_contribs=True, iteration_range=(0, rounds), strict_shape=True, **kw
    )


def test_xgboost_sklearn_default_follows_best_iteration(stopped_xgb, cancer):
    X, _ = cancer
    explainer = ferroshap.TreeExplainer(stopped_xgb)
    values = explainer.shap_values(X[:40])
    rounds = stopped_xgb.best_iteration + 1
    ref = _contribs(stopped_xgb.get_booster(), X[:40], rounds)[:, 0]
    np.testing.assert_allclose(values, ref[:, :-1], atol=LIB_ATOL)
    np.testing.assert_allclose(explainer.expected_value, ref[0, -1], atol=LIB_ATOL)
    # The values add up to what the model's own predict uses (the best iteration).
    margin = stopped_xgb.predict(X[:40], output_margin=True)
    np.testing.assert_allclose(values.sum(1) + explainer.expected_value, margin, atol=LIB_ATOL)


def test_xgboost_booster_default_is_every_tree(stopped_xgb, cancer):
    X, _ = cancer
    booster = stopped_xgb.get_booster()
    values = ferroshap.TreeExplainer(booster).shap_values(X[:20])
    ref = _contribs(booster, X[:20], booster.num_boosted_rounds())[:, 0]
    np.testing.assert_allclose(values, ref[:, :-1], atol=LIB_ATOL)
    # -1 is every tree (shap's spelling), also on the early-stopped scikit-learn model.
    every = ferroshap.TreeExplainer(stopped_xgb).shap_values(X[:20], tree_limit=-1)
    np.testing.assert_allclose(every, values, atol=EXACT_ATOL)


@pytest.mark.parametrize("perturbation", ["tree_path_dependent", "interventional"])
def test_xgboost_tree_limit_multiclass_forest(perturbation):
    X, y = make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)
    booster = xgb.train(
        {"objective": "multi:softprob", "num_class": 3, "num_parallel_tree": 2, "max_depth": 3},
        xgb.DMatrix(X, y),
        num_boost_round=6,
    )
    data = X[:30] if perturbation == "interventional" else None
    explainer = ferroshap.TreeExplainer(booster, data=data, feature_perturbation=perturbation)
    explanation = explainer(X[:15], tree_limit=2)
    assert explanation.values.shape == (15, 6, 3)
    margin = booster.predict(xgb.DMatrix(X[:15]), output_margin=True, iteration_range=(0, 2))
    total = explanation.values.sum(1) + explanation.base_values
    np.testing.assert_allclose(total, margin, atol=LIB_ATOL)
    if perturbation == "tree_path_dependent":
        ref = _contribs(booster, X[:15], 2)  # (n, classes, features + 1)
        np.testing.assert_allclose(
            explanation.values, ref[:, :, :-1].transpose(0, 2, 1), atol=LIB_ATOL
        )
    # The explainer's own expected_value stays the whole model's.
    np.testing.assert_allclose(
        explainer.expected_value, explainer(X[:1]).base_values[0], atol=EXACT_ATOL
    )


def test_tree_limit_interactions_add_up_to_the_limited_model(stopped_xgb, cancer):
    X, _ = cancer
    explainer = ferroshap.TreeExplainer(stopped_xgb)
    inter = explainer.shap_interaction_values(X[:5], tree_limit=4)
    values = explainer.shap_values(X[:5], tree_limit=4)
    np.testing.assert_allclose(inter.sum(2), values, atol=EXACT_ATOL)
    ref = stopped_xgb.get_booster().predict(
        xgb.DMatrix(X[:5]), pred_interactions=True, iteration_range=(0, 4)
    )
    np.testing.assert_allclose(inter, ref[:, :-1, :-1], atol=LIB_ATOL)


def test_lightgbm_default_and_limit_follow_num_iteration(cancer):
    X, y = cancer
    train = lgb.Dataset(X[:400], y[:400])
    model = lgb.train(
        {"objective": "binary", "learning_rate": 0.3, "verbose": -1},
        train,
        200,
        valid_sets=[lgb.Dataset(X[400:], y[400:], reference=train)],
        callbacks=[lgb.early_stopping(5, verbose=False)],
        # Otherwise train() returns the model saved up to its best iteration only.
        keep_training_booster=True,
    )
    best = model.best_iteration
    assert 0 < best < model.current_iteration()
    explainer = ferroshap.TreeExplainer(model)
    values = explainer.shap_values(X[:30])
    ref = model.predict(X[:30], pred_contrib=True, num_iteration=best)
    np.testing.assert_allclose(values, ref[:, :-1], atol=LIB_ATOL)
    np.testing.assert_allclose(explainer.expected_value, ref[0, -1], atol=LIB_ATOL)
    np.testing.assert_allclose(
        values.sum(1) + explainer.expected_value,
        model.predict(X[:30], raw_score=True),
        atol=LIB_ATOL,
    )
    limited = explainer.shap_values(X[:30], tree_limit=3)
    ref3 = model.predict(X[:30], pred_contrib=True, num_iteration=3)
    np.testing.assert_allclose(limited, ref3[:, :-1], atol=LIB_ATOL)


def test_lightgbm_multiclass_tree_limit_counts_rounds():
    X, y = make_classification(300, 5, n_informative=4, n_redundant=0, n_classes=3, random_state=1)
    model = lgb.LGBMClassifier(n_estimators=8, verbose=-1).fit(X, y)
    values = ferroshap.TreeExplainer(model).shap_values(X[:10], tree_limit=5)
    ref = model.booster_.predict(X[:10], pred_contrib=True, num_iteration=5)
    ref = ref.reshape(10, 3, 6)[:, :, :-1].transpose(0, 2, 1)
    np.testing.assert_allclose(values, ref, atol=LIB_ATOL)


@pytest.mark.parametrize("limit", [0, -2, 10**6])
def test_bad_tree_limits_are_refused(stopped_xgb, cancer, limit):
    explainer = ferroshap.TreeExplainer(stopped_xgb)
    with pytest.raises(ValueError, match="tree_limit"):
        explainer.shap_values(cancer[0][:2], tree_limit=limit)


def test_tree_limit_must_be_an_int(stopped_xgb, cancer):
    with pytest.raises(TypeError, match="tree_limit"):
        ferroshap.TreeExplainer(stopped_xgb).shap_values(cancer[0][:2], tree_limit=2.5)


def test_saabas_matches_xgboost_approx_contribs(stopped_xgb, cancer):
    X, _ = cancer
    explainer = ferroshap.TreeExplainer(stopped_xgb)
    values = explainer.shap_values(X[:40], approximate=True)
    ref = _contribs(stopped_xgb.get_booster(), X[:40], 6, approx_contribs=True)[:, 0]
    limited = explainer.shap_values(X[:40], approximate=True, tree_limit=6)
    np.testing.assert_allclose(limited, ref[:, :-1], atol=LIB_ATOL)
    # Saabas values add up like SHAP values, but are not them.
    margin = stopped_xgb.predict(X[:40], output_margin=True)
    np.testing.assert_allclose(values.sum(1) + explainer.expected_value, margin, atol=LIB_ATOL)
    assert np.abs(values - explainer.shap_values(X[:40])).max() > 1e-3
    explanation = explainer(X[:3], approximate=True)
    np.testing.assert_allclose(explanation.values, values[:3], atol=EXACT_ATOL)


def test_saabas_matches_shap_on_a_forest():
    X, y = make_classification(200, 5, random_state=2)
    forest = RandomForestRegressor(n_estimators=10, max_depth=5, random_state=0).fit(X, y)
    ours = ferroshap.TreeExplainer(forest).shap_values(X[:20], approximate=True)
    theirs = shap.TreeExplainer(forest).shap_values(X[:20], approximate=True)
    np.testing.assert_allclose(ours, theirs, atol=EXACT_ATOL)


def test_saabas_needs_the_path_dependent_margin(stopped_xgb, cancer):
    X, _ = cancer
    explainer = ferroshap.TreeExplainer(stopped_xgb, data=X[:20])
    with pytest.raises(ValueError, match="path-dependent"):
        explainer.shap_values(X[:2], approximate=True)
    with pytest.raises(ValueError, match="interaction"):
        ferroshap.TreeExplainer(stopped_xgb)(X[:2], interactions=True, approximate=True)


def test_lightgbm_random_forest_probability_averages_the_rounds_explained():
    """LightGBM's random forest predicts the mean of the rounds it uses: with tree_limit=k the
    probability is the logistic of the sum of k rounds over k (raw scores stay plain sums)."""
    X, y = make_classification(300, 5, n_informative=3, n_redundant=0, random_state=4)
    model = lgb.LGBMClassifier(
        boosting_type="rf",
        n_estimators=12,
        subsample=0.7,
        subsample_freq=1,
        colsample_bytree=0.8,
        verbose=-1,
        n_jobs=1,
    ).fit(X, y)
    explainer = ferroshap.TreeExplainer(model, data=X[:20], model_output="probability")
    explanation = explainer(X[:6], tree_limit=5)
    np.testing.assert_allclose(
        explanation.values.sum(1) + explanation.base_values,
        model.predict_proba(X[:6], num_iteration=5)[:, 1],
        atol=1e-9,
    )
    raw = ferroshap.TreeExplainer(model)(X[:6], tree_limit=5)
    np.testing.assert_allclose(
        raw.values.sum(1) + raw.base_values,
        model.predict(X[:6], raw_score=True, num_iteration=5),
        atol=1e-9,
    )
