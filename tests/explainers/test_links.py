"""The logit link on the engine's explainers (Exact, Permutation, Partition), as shap's masked
model applies it: with ``linearize_link`` each background row's output goes through the link
under shap's linearizing weights; without it the link applies to the mean output."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import shap
from scipy.special import logit
from sklearn import datasets, linear_model

import ferroshap


@pytest.fixture(scope="module")
def wine():
    X, y = datasets.load_wine(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X[:, :6], y


@pytest.fixture(scope="module")
def binary(wine):
    X, y = wine
    # Regularised so that no probability comes near 0 or 1 (where shap's unclipped logit and
    # ferroshap's, clipped at 1e-15, would part).
    model = linear_model.LogisticRegression(C=0.05).fit(X, y == 0)
    return X, (lambda A: model.predict_proba(A)[:, 1])


@pytest.fixture(scope="module")
def multiclass(wine):
    X, y = wine
    return X, linear_model.LogisticRegression(C=0.05).fit(X, y).predict_proba


def _assert_same(got, theirs):
    # Same coalition values summed in another order: rounding of ~1e-15 relative, and the
    # linearizing weights divide by differences of logits (about 1e-12 absolute at most).
    np.testing.assert_allclose(got.values, theirs.values, rtol=0, atol=1e-8)
    np.testing.assert_allclose(got.base_values, theirs.base_values, rtol=0, atol=1e-8)


def _assert_adds_up_in_log_odds(explanation, f, rows):
    # The full coalition is logit(f(x)) exactly when linearized (the weights sum to one, up
    # to rounding) and by definition otherwise.
    total = explanation.values.sum(axis=1) + explanation.base_values
    np.testing.assert_allclose(total, logit(f(rows)), rtol=0, atol=1e-10)


def _shap(explainer_cls, f, masker, rows, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return explainer_cls(f, masker, **kwargs)(rows, silent=True)


@pytest.mark.parametrize("linearize", [True, False])
def test_exact_matches_shap(binary, linearize):
    X, f = binary
    background, rows = X[::12], X[100:104]
    got = ferroshap.ExactExplainer(f, background, link="logit", linearize_link=linearize)(
        rows, silent=True
    )
    theirs = _shap(
        shap.ExactExplainer, f, background, rows, link=shap.links.logit, linearize_link=linearize
    )
    _assert_same(got, theirs)
    _assert_adds_up_in_log_odds(got, f, rows)


def test_exact_multiclass_per_output_weights_match_shap(multiclass):
    X, f = multiclass
    background, rows = X[::15], X[[5, 70, 140]]
    got = ferroshap.ExactExplainer(f, background, link=shap.links.logit)(rows, silent=True)
    theirs = _shap(shap.ExactExplainer, f, background, rows, link=shap.links.logit)
    assert got.values.shape == theirs.values.shape == (3, 6, 3)
    _assert_same(got, theirs)
    _assert_adds_up_in_log_odds(got, f, rows)


def test_partition_at_a_full_budget_matches_shap(binary):
    X, f = binary
    background, rows = X[::12], X[100:103]
    masker = ferroshap.maskers.Partition(background)
    got = ferroshap.PartitionExplainer(f, masker, link="logit", linearize_link=False)(
        rows, max_evals=2000, silent=True
    )
    theirs_masker = shap.maskers.Partition(background, clustering=masker.clustering)
    # shap 0.51's Partition fails with a link under linearize_link=True (its masked model is
    # called without the index of the empty coalition), so parity is without linearizing.
    theirs = _shap(
        shap.PartitionExplainer,
        f,
        theirs_masker,
        rows,
        link=shap.links.logit,
        linearize_link=False,
        max_evals=2000,
    )
    # Every cluster split (2000 evaluations cover the 6-feature hierarchy): deterministic in
    # both.
    _assert_same(got, theirs)
    # Linearized: the exact Owen values on the logit scale (ExactExplainer over the same
    # hierarchy, whose Exact values match shap's above), adding up to logit(f(x)).
    linear = ferroshap.PartitionExplainer(f, masker, link="logit")(
        rows, max_evals=2000, silent=True
    )
    owen = ferroshap.ExactExplainer(f, masker, link="logit")(rows, silent=True)
    np.testing.assert_allclose(linear.values, owen.values, rtol=0, atol=1e-12)
    _assert_adds_up_in_log_odds(linear, f, rows)


def test_permutation_adds_up_in_log_odds_and_is_exact_for_a_logistic_model(binary):
    X, f = binary
    background, rows = X[::12], X[100:104]
    # A logistic model is additive in log-odds for one background row: Permutation's
    # antithetic walks are then exact, equal to Exact's values at any seed.
    bg1 = background[:1]
    got = ferroshap.PermutationExplainer(f, bg1, link="logit", seed=3)(rows, silent=True)
    exact = ferroshap.ExactExplainer(f, bg1, link="logit")(rows, silent=True)
    np.testing.assert_allclose(got.values, exact.values, rtol=0, atol=1e-10)
    many = ferroshap.PermutationExplainer(f, background, link="logit", seed=3)(rows, silent=True)
    _assert_adds_up_in_log_odds(many, f, rows)
    # The base value is the link of the mean output over the background.
    np.testing.assert_allclose(many.base_values, logit(f(background).mean()), rtol=0, atol=1e-12)


def test_link_errors(binary, wine):
    X, f = binary
    background = X[::12]
    with pytest.raises(ValueError, match="link must be 'identity' or 'logit'"):
        ferroshap.ExactExplainer(f, background, link="probit")
    with pytest.raises(ValueError, match=r"link='logit' needs probabilities in \[0, 1\]"):
        ferroshap.PermutationExplainer(lambda A: A[:, 0], background, link="logit")
    with pytest.raises(ValueError, match="only the identity link"):
        ferroshap.SamplingExplainer(f, background, link="logit")


def test_explainer_dispatch_passes_the_link(binary):
    X, f = binary
    background, rows = X[::12], X[100:102]
    # Six features: ferroshap.Explainer picks Exact, as shap's does.
    got = ferroshap.Explainer(f, background, link=shap.links.logit)(rows, silent=True)
    want = ferroshap.ExactExplainer(f, background, link="logit")(rows, silent=True)
    np.testing.assert_array_equal(got.values, want.values)
    _assert_adds_up_in_log_odds(got, f, rows)
