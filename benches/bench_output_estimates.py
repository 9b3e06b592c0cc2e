"""Transformed outputs (``model_output="probability"``) on a real-size model: ferroshap's exact
and estimated pairs against shap's rescaling, side by side, with the error of both against the
exact Shapley values of the probability game.

    PYTHONPATH=python python benches/bench_output_estimates.py

Two models on breast cancer (569 x 30), background = first 100 rows:

- the issue's XGBClassifier(n_estimators=50) (default depth 6): many pairs part on 20+ features,
  so no exact reference exists; timing and additivity only;
- XGBClassifier(n_estimators=50, max_depth=2): every pair parts on few enough features for
  exact tables (max_pair_features=24) on 10 rows, the reference for the errors; ferroshap
  estimates pairs above max_pair_features=8 here to measure the estimator's error, and above
  6 over 5 seeds to check that its standard errors are honest (z-scores against exact).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import shap
import xgboost as xgb
from sklearn.datasets import load_breast_cancer

import ferroshap


def best_of(f, repeat=3):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    warnings.simplefilter("ignore")
    X, y = load_breast_cancer(return_X_y=True)
    background = X[:100]
    rows = X[100:150]
    print(f"rows explained: {len(rows)}, background rows: {len(background)}")

    model = xgb.XGBClassifier(n_estimators=50, n_jobs=1).fit(X, y)
    ours = ferroshap.TreeExplainer(model, data=background, model_output="probability")
    theirs = shap.TreeExplainer(model, background, model_output="probability")
    t_ours, explanation = best_of(lambda: ours(rows), 1)
    t_theirs, _ = best_of(lambda: theirs.shap_values(rows), 3)
    err = np.abs(
        explanation.values.sum(1) + explanation.base_values - model.predict_proba(rows)[:, 1]
    ).max()
    print(
        f"depth 6: ferroshap {t_ours:.3f} s ({ours.n_estimated_pairs} of "
        f"{len(rows) * len(background)} pairs estimated, max std error "
        f"{explanation.error_std.max():.1e}, additivity error {err:.1e}); shap {t_theirs:.3f} s;"
        f" ferroshap / shap time {t_ours / t_theirs:.1f}x"
    )

    model = xgb.XGBClassifier(n_estimators=50, max_depth=2, n_jobs=1).fit(X, y)
    rows = rows[:10]  # exact tables of up to 2^24 entries per pair: a small subset
    print(f"depth 2 subset: {len(rows)} rows")
    exact = ferroshap.TreeExplainer(
        model, data=background, model_output="probability", max_pair_features=24
    )
    t_exact, want = best_of(lambda: exact.shap_values(rows), 1)
    assert exact.n_estimated_pairs == 0, "the reference must be exact"
    estimated = ferroshap.TreeExplainer(
        model, data=background, model_output="probability", max_pair_features=8
    )
    t_est, got = best_of(lambda: estimated(rows), 1)
    default = ferroshap.TreeExplainer(model, data=background, model_output="probability")
    t_default, got_default = best_of(lambda: default.shap_values(rows), 1)
    theirs = shap.TreeExplainer(model, background, model_output="probability")
    t_theirs, shap_values = best_of(lambda: theirs.shap_values(rows), 3)
    for name, t, values, extra in [
        ("ferroshap exact (max_pair_features=24)", t_exact, want, ""),
        (
            "ferroshap default (max_pair_features=12)",
            t_default,
            got_default,
            f", {default.n_estimated_pairs} pairs estimated",
        ),
        (
            "ferroshap estimated (max_pair_features=8)",
            t_est,
            got.values,
            f", {estimated.n_estimated_pairs} pairs estimated,"
            f" max std error {got.error_std.max():.1e}",
        ),
        ("shap rescaling", t_theirs, shap_values, ""),
    ]:
        e = np.abs(values - want)
        print(
            f"depth 2: {name}: {t:.3f} s ({t / t_theirs:.1f}x shap), max error {e.max():.1e},"
            f" mean error {e.mean():.1e}{extra}"
        )

    # Are the standard errors honest? (value - exact) / std error over seeds should look like
    # a standard normal: ~5% beyond 1.96, sd ~1, mean ~0 (unbiased).
    z = []
    for seed in range(5):
        explainer = ferroshap.TreeExplainer(
            model, data=background, model_output="probability", max_pair_features=6, seed=seed
        )
        explanation = explainer(rows)
        estimated_values = explanation.error_std > 0
        z.append(
            (explanation.values - want)[estimated_values] / explanation.error_std[estimated_values]
        )
    z = np.concatenate(z)
    print(
        f"depth 2: standard errors (max_pair_features=6, 5 seeds, {z.size} estimated values):"
        f" |z| > 1.96 for {np.mean(np.abs(z) > 1.96):.1%},"
        f" |z| > 3 for {np.mean(np.abs(z) > 3):.2%},"
        f" sd(z) {z.std():.2f}, mean(z) {z.mean():+.3f}"
    )
    tolerance_sweep(X, y, background, want, t_theirs, shap_values)


def tolerance_sweep(X, y, background, want, t_shap_depth2, shap_depth2) -> None:
    """What ``estimate_tolerance`` buys: time against shap on the issue's depth-6 call, and the
    error against exact values on the depth-2 subset (median time of 3 seeds; errors over the
    3 seeds together)."""
    rows6 = X[100:150]
    model6 = xgb.XGBClassifier(n_estimators=50, n_jobs=1).fit(X, y)
    theirs6 = shap.TreeExplainer(model6, background, model_output="probability")
    t_shap6, _ = best_of(lambda: theirs6.shap_values(rows6), 3)
    model2 = xgb.XGBClassifier(n_estimators=50, max_depth=2, n_jobs=1).fit(X, y)
    rows2 = X[100:110]
    e = np.abs(shap_depth2 - want)
    print(
        "tolerance sweep: estimate_tolerance | depth 6: time / shap | depth 2: time / shap,"
        " max error, mean error"
    )
    print(f"  shap's rescaling | 1.0x | 1.0x, {e.max():.1e}, {e.mean():.1e}")
    for tol in (5e-4, 1e-3, 2e-3):
        times6, times2, errors = [], [], []
        for seed in range(3):
            kw = dict(model_output="probability", estimate_tolerance=tol, seed=seed)
            ours6 = ferroshap.TreeExplainer(model6, data=background, **kw)
            times6.append(best_of(lambda e=ours6: e(rows6), 1)[0])
            ours2 = ferroshap.TreeExplainer(model2, data=background, **kw)
            t2, got = best_of(lambda e=ours2: e(rows2), 1)
            times2.append(t2)
            errors.append(np.abs(got.values - want))
        errors = np.array(errors)
        print(
            f"  {tol:.0e} | {np.median(times6) / t_shap6:.1f}x |"
            f" {np.median(times2) / t_shap_depth2:.1f}x, {errors.max():.1e}, {errors.mean():.1e}"
        )


if __name__ == "__main__":
    main()
