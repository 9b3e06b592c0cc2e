"""Side-by-side Kernel SHAP benchmark: ferroshap.KernelExplainer against shap.KernelExplainer.

Cases (issue 5): 12 features, 100 background rows, 2,048 coalitions per row, 100 explained
rows, (a) a cheap numpy model; with ``--hgb``, on fewer rows, (b) a scikit-learn
HistGradientBoosting model called through ``predict`` by both, and (c) the same model converted
to a ferroshap tree ensemble, whose masked batches ferroshap evaluates in Rust (native path)
while shap calls ``predict``. Both explainers run back to back in one process on the same
inputs; the model is wrapped to time its own calls, and the figure of merit is the time
*beyond* the model (overhead: planning, masking, bookkeeping, regression). Both use
``l1_reg=False`` so they solve the same problem. Run from the repository root:

    python benches/bench_kernel.py            # the case above
    python benches/bench_kernel.py --quick    # 10 rows, seconds
    python benches/bench_kernel.py --hgb      # also cases (b) and (c), 20 rows
    python benches/bench_kernel.py --accuracy # error against exact values per budget

BLAS is pinned to one thread (unless OPENBLAS_NUM_THREADS etc. are set): on a small shared
machine a multi-threaded BLAS matvec for a cheap model spins against the explainer's own
threads and the model's time, not the explainer's, then dominates and varies run to run.

Note: an editable install (``pip install -e .``) builds the Rust core with the dev profile
(our crates at opt-level 1); a release build is faster still.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the BLAS thread settings)

N_FEATURES = 12
N_BACKGROUND = 100
N_COALITIONS = 2048
SEED = 20261123


class TimedModel:
    """A cheap nonlinear model that records the time spent in its own calls."""

    def __init__(self, n_features: int, rng: np.random.Generator) -> None:
        self.beta = rng.standard_normal(n_features)
        self.seconds = 0.0
        self.rows = 0
        self.calls = 0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        out = X @ self.beta + 0.5 * np.tanh(X[:, 0] * X[:, 1])
        self.seconds += time.perf_counter() - t0
        self.rows += len(X)
        self.calls += 1
        return out


def run(name: str, explain, model: TimedModel) -> dict:
    model.seconds, model.rows, model.calls = 0.0, 0, 0
    t0 = time.perf_counter()
    values = explain()
    total = time.perf_counter() - t0
    return {
        "name": name,
        "total": total,
        "model": model.seconds,
        "overhead": total - model.seconds,
        "rows": model.rows,
        "calls": model.calls,
        "values": values,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 explained rows")
    parser.add_argument("--rows", type=int, default=100, help="explained rows (default 100)")
    parser.add_argument("--hgb", action="store_true", help="HistGradientBoosting cases")
    parser.add_argument("--hgb-rows", type=int, default=20, help="rows for --hgb (20)")
    parser.add_argument("--accuracy", action="store_true", help="only the accuracy table")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per budget (--accuracy)")
    args = parser.parse_args()
    n_rows = 10 if args.quick else args.rows
    if args.accuracy:
        accuracy_table(args.seeds)
        return

    import shap

    import ferroshap

    rng = np.random.default_rng(SEED)
    background = rng.standard_normal((N_BACKGROUND, N_FEATURES))
    X = rng.standard_normal((n_rows, N_FEATURES))
    model = TimedModel(N_FEATURES, rng)

    fs = ferroshap.KernelExplainer(model, background, seed=0)
    ours = run(
        "ferroshap",
        lambda: fs.shap_values(X, nsamples=N_COALITIONS, l1_reg=False, silent=True),
        model,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sh = shap.KernelExplainer(model, background)
        theirs = run(
            "shap",
            lambda: sh.shap_values(X, nsamples=N_COALITIONS, l1_reg=False, silent=True),
            model,
        )

    print(
        f"Kernel SHAP: {N_FEATURES} features, {N_BACKGROUND} background rows, "
        f"{N_COALITIONS} coalitions, {n_rows} explained rows, cheap numpy model"
    )
    print(f"{'':10} {'total s':>9} {'model s':>9} {'overhead s':>11} {'ms/row':>8} {'calls':>6}")
    for r in (ours, theirs):
        print(
            f"{r['name']:10} {r['total']:9.3f} {r['model']:9.3f} {r['overhead']:11.3f} "
            f"{1e3 * r['overhead'] / n_rows:8.2f} {r['calls']:6d}"
        )
    print(f"overhead ratio shap/ferroshap: {theirs['overhead'] / ours['overhead']:.1f}x")
    print(f"total ratio shap/ferroshap:    {theirs['total'] / ours['total']:.1f}x")
    # Sanity: both are unbiased estimates of the same values (sampled designs differ).
    err = np.abs(ours["values"] - theirs["values"]).max()
    print(f"max |ferroshap - shap| (sampling noise of two estimates): {err:.3g}")
    if args.hgb:
        hgb_cases(background, rng, 3 if args.quick else args.hgb_rows)


def accuracy_table(n_seeds: int) -> None:
    """Mean relative RMSE against exact values, per coalition budget, ferroshap vs shap.

    Model: scikit-learn GradientBoostingClassifier on breast cancer (30 features), explained
    on the margin (``decision_function``). Exact values: interventional Tree SHAP for the same
    background (ferroshap.TreeExplainer(model, data=background)), which is what Kernel SHAP
    estimates. Both Kernel explainers use l1_reg=False; shap's default
    ``"num_features(10)"`` is shown too.
    """
    import shap
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    import ferroshap

    X, y = load_breast_cancer(return_X_y=True)
    model = GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=0).fit(X, y)
    background, rows = X[:10], X[200:205]
    exact = ferroshap.TreeExplainer(model, data=background).shap_values(rows)
    m = X.shape[1]

    def rel_err(values: np.ndarray) -> float:
        num = np.linalg.norm(values - exact, axis=1)
        return float(np.mean(num / np.linalg.norm(exact, axis=1)))

    print(f"Relative RMSE vs exact, {m} features, 10 background rows, 5 rows, {n_seeds} seeds")
    print(f"{'budget':>7} {'ferroshap':>10} {'shap l1=False':>14} {'shap default':>13}")
    for budget in [2 * m + 2, 128, 256, 512, 1024, 2048, 4096]:
        ours, theirs, default = [], [], []
        for seed in range(n_seeds):
            fs = ferroshap.KernelExplainer(model.decision_function, background, seed=seed)
            ours.append(rel_err(fs.shap_values(rows, nsamples=budget, silent=True)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                np.random.seed(seed)  # noqa: NPY002 (shap has no seed argument)
                sh = shap.KernelExplainer(model.decision_function, background)
                kw = dict(nsamples=budget, silent=True)
                theirs.append(rel_err(sh.shap_values(rows, l1_reg=False, **kw)))
                default.append(rel_err(sh.shap_values(rows, **kw)))
        print(f"{budget:7d} {np.mean(ours):10.4f} {np.mean(theirs):14.4f} {np.mean(default):13.4f}")


def hgb_cases(background: np.ndarray, rng: np.random.Generator, n_rows: int) -> None:
    import shap
    from sklearn.ensemble import HistGradientBoostingRegressor

    import ferroshap

    X_train = rng.standard_normal((2000, N_FEATURES))
    y_train = X_train[:, 0] * X_train[:, 1] + np.sin(X_train[:, 2]) + X_train[:, 3]
    model = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(X_train, y_train)
    X = rng.standard_normal((n_rows, N_FEATURES))
    ensemble = ferroshap.TreeExplainer(model).ensemble

    def timed(explain) -> tuple[float, np.ndarray]:
        t0 = time.perf_counter()
        values = explain()
        return time.perf_counter() - t0, values

    kw = dict(nsamples=N_COALITIONS, l1_reg=False, silent=True)
    t_fs, _ = timed(
        lambda: ferroshap.KernelExplainer(model.predict, background, seed=0).shap_values(X, **kw)
    )
    t_native, _ = timed(
        lambda: ferroshap.KernelExplainer(ensemble, background, seed=0).shap_values(X, **kw)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_shap, _ = timed(
            lambda: shap.KernelExplainer(model.predict, background).shap_values(X, **kw)
        )
    print(f"\nHistGradientBoosting (100 iterations), {n_rows} explained rows, whole run:")
    print(f"  shap (predict)                {t_shap:8.2f} s")
    print(f"  ferroshap (predict)           {t_fs:8.2f} s   {t_shap / t_fs:5.1f}x faster")
    print(f"  ferroshap (native ensemble)   {t_native:8.2f} s   {t_shap / t_native:5.1f}x faster")


if __name__ == "__main__":
    main()
