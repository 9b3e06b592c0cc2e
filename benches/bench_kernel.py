"""Side-by-side Kernel SHAP benchmark: ferroshap.KernelExplainer against shap.KernelExplainer.

Cases (issue 5): 12 features, 100 background rows, 2,048 coalitions per row, 100 explained
rows, (a) a cheap numpy model (best of ``--repeats`` alternating rounds); with ``--hgb``, on
fewer rows, (b) a scikit-learn HistGradientBoosting model called through ``predict`` by
shap; ferroshap, given the same ``predict``, checks that its converted trees reproduce it and
evaluates the game from the trees in Rust (``native="auto"``; ``native=False`` is shown too),
(c) the converted ensemble given directly (native path), and (d) a HistGradientBoosting
classifier's ``predict_proba``. In (a) both explainers run in one process on the same inputs;
the model is wrapped to time its own calls, and the figure of merit is the time *beyond* the
model (overhead: planning, masking, bookkeeping, regression). (b)-(d) compare whole runs. All
use ``l1_reg=False`` so they solve the same problem. Run from the repository root:

    python benches/bench_kernel.py            # the case above
    python benches/bench_kernel.py --quick    # 10 rows, seconds
    python benches/bench_kernel.py --hgb      # also cases (b)-(d), 20 rows
    python benches/bench_kernel.py --accuracy # error against exact values per budget
    python benches/bench_kernel.py --wide     # one row of 500 and of 2,000 features

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
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds (3)")
    parser.add_argument("--accuracy", action="store_true", help="only the accuracy table")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per budget (--accuracy)")
    parser.add_argument("--wide", action="store_true", help="only the wide-row cases")
    parser.add_argument(
        "--widths", type=int, nargs="+", default=[500, 2000], help="features (--wide)"
    )
    args = parser.parse_args()
    n_rows = 10 if args.quick else args.rows
    if args.accuracy:
        accuracy_table(args.seeds)
        return
    if args.wide:
        wide_cases(args.widths)
        return

    import shap

    import ferroshap

    rng = np.random.default_rng(SEED)
    background = rng.standard_normal((N_BACKGROUND, N_FEATURES))
    X = rng.standard_normal((n_rows, N_FEATURES))
    model = TimedModel(N_FEATURES, rng)

    fs = ferroshap.KernelExplainer(model, background, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sh = shap.KernelExplainer(model, background)
    kw = dict(nsamples=N_COALITIONS, l1_reg=False, silent=True)
    # Alternating rounds, the least overhead of each side counts: load from other processes
    # then falls on both sides instead of on whichever ran during a busy spell.
    ours_runs, theirs_runs = [], []
    for _ in range(args.repeats):
        ours_runs.append(run("ferroshap", lambda: fs.shap_values(X, **kw), model))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs_runs.append(run("shap", lambda: sh.shap_values(X, **kw), model))
    ours = min(ours_runs, key=lambda r: r["overhead"])
    theirs = min(theirs_runs, key=lambda r: r["overhead"])
    print(
        "overhead per round, ferroshap: "
        + ", ".join(f"{r['overhead']:.3f}" for r in ours_runs)
        + " s; shap: "
        + ", ".join(f"{r['overhead']:.3f}" for r in theirs_runs)
        + " s"
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


def wide_cases(widths: list[int]) -> None:
    """One explained row of many features (issue 14: 500 features took 11 s, 2,000 over 130 s
    against shap's 0.6 s and 3.4 s): default budget (2M + 2048 coalitions), 10 background
    rows, a linear numpy model, ``l1_reg=False`` on both sides; whole runs, best of two."""
    import shap

    import ferroshap

    print(f"{'features':>8} {'ferroshap s':>12} {'shap s':>8} {'shap/ferroshap':>15}")
    for m in widths:
        rng = np.random.default_rng(SEED + m)
        beta = rng.standard_normal(m)
        background = rng.standard_normal((10, m))
        x = rng.standard_normal((1, m))

        def model(X, beta=beta):
            return X @ beta

        fs = ferroshap.KernelExplainer(model, background, seed=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sh = shap.KernelExplainer(model, background)
        times = {"ferroshap": [], "shap": []}
        for _ in range(2):
            t0 = time.perf_counter()
            ours = fs.shap_values(x, l1_reg=False, silent=True)
            times["ferroshap"].append(time.perf_counter() - t0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                theirs = sh.shap_values(x, l1_reg=False, silent=True)
                times["shap"].append(time.perf_counter() - t0)
        # A linear game is fitted exactly by both: the values must agree to rounding.
        exact = beta * (x - background.mean(axis=0))
        assert np.allclose(ours, exact, atol=1e-6) and np.allclose(theirs, exact, atol=1e-6)
        a, b = min(times["ferroshap"]), min(times["shap"])
        print(f"{m:8d} {a:12.3f} {b:8.3f} {b / a:14.2f}x")


def accuracy_table(n_seeds: int) -> None:
    """Mean relative error against exact values, per coalition budget, ferroshap vs shap.

    Model: scikit-learn GradientBoostingClassifier on breast cancer (30 features), explained
    on the margin (``decision_function``). Exact values: interventional Tree SHAP for the same
    background (ferroshap.TreeExplainer(model, data=background)), which is what Kernel SHAP
    estimates. Error of one run: ||phi - exact|| / ||exact|| per explained row, averaged over
    rows and seeds (the same seeds for every column; shap's global NumPy seed is set to each).
    All Kernel explainers use l1_reg=False except "shap default" (``"num_features(10)"``).
    Columns: ferroshap's default design (size-stratified pairs without replacement),
    ferroshap with ``sampling="shap"`` (shap's design, ferroshap's random streams), shap.
    """
    import shap
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    import ferroshap

    X, y = load_breast_cancer(return_X_y=True)
    model = GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=0).fit(X, y)
    background, rows = X[:10], X[200:210]
    exact = ferroshap.TreeExplainer(model, data=background).shap_values(rows)
    m = X.shape[1]

    def rel_err(values: np.ndarray) -> float:
        num = np.linalg.norm(values - exact, axis=1)
        return float(np.mean(num / np.linalg.norm(exact, axis=1)))

    print(
        f"Mean relative error vs exact, {m} features, 10 background rows, {len(rows)} rows, "
        f"{n_seeds} seeds"
    )
    header = ["budget", "ferroshap", "fs sampling=shap", "shap l1=False", "shap default", "ratio"]
    print(
        f"{header[0]:>7} {header[1]:>10} {header[2]:>17} {header[3]:>14} {header[4]:>13} "
        f"{header[5]:>6}"
    )
    for budget in [2 * m + 2, 128, 256, 512, 1024, 2048, 4096]:
        ours, ours_shap, theirs, default = [], [], [], []
        for seed in range(n_seeds):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ill-conditioned regressions at 2M+2
                fs = ferroshap.KernelExplainer(model.decision_function, background, seed=seed)
                kw = dict(nsamples=budget, silent=True)
                ours.append(rel_err(fs.shap_values(rows, **kw)))
                ours_shap.append(rel_err(fs.shap_values(rows, sampling="shap", **kw)))
                np.random.seed(seed)  # noqa: NPY002 (shap has no seed argument)
                sh = shap.KernelExplainer(model.decision_function, background)
                theirs.append(rel_err(sh.shap_values(rows, l1_reg=False, **kw)))
                default.append(rel_err(sh.shap_values(rows, **kw)))
        print(
            f"{budget:7d} {np.mean(ours):10.4f} {np.mean(ours_shap):17.4f} "
            f"{np.mean(theirs):14.4f} {np.mean(default):13.4f} "
            f"{np.mean(theirs) / np.mean(ours):6.2f}"
        )
    print("ratio = shap l1=False / ferroshap (above 1: ferroshap more accurate)")


def hgb_cases(background: np.ndarray, rng: np.random.Generator, n_rows: int) -> None:
    import shap
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

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

    def fs(model, **options):
        explainer = ferroshap.KernelExplainer(model, background, seed=0, **options)
        return lambda: explainer.shap_values(X, **kw)

    def sh(model):
        def explain():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return shap.KernelExplainer(model, background).shap_values(X, **kw)

        return explain

    # (b) predict: ferroshap checks that the converted trees reproduce predict on the
    # background and explained rows, then evaluates the game from the trees (native="auto").
    t_shap, v_shap = timed(sh(model.predict))
    t_fs, v_fs = timed(fs(model.predict))
    t_called, v_called = timed(fs(model.predict, native=False))
    # (c) the converted ensemble given directly (its margin: the same function here).
    t_native, v_native = timed(fs(ensemble))
    print(f"\nHistGradientBoostingRegressor (100 iterations), {n_rows} explained rows, whole run:")
    print(f"  shap (predict)                        {t_shap:8.2f} s")
    print(f"  ferroshap (predict, native='auto')    {t_fs:8.2f} s   {t_shap / t_fs:7.1f}x faster")
    print(
        f"  ferroshap (predict, native=False)     {t_called:8.2f} s   "
        f"{t_shap / t_called:7.1f}x faster"
    )
    print(
        f"  ferroshap (native ensemble)           {t_native:8.2f} s   "
        f"{t_shap / t_native:7.1f}x faster"
    )
    print(
        f"  max |native - native=False| {np.abs(v_fs - v_called).max():.2g}, "
        f"|ensemble - native=False| {np.abs(v_native - v_called).max():.2g}"
    )

    # (d) a probability output: the sigmoid is applied per background row, so the game is
    # tabulated per (explained row, background row) pair rather than once per explained row.
    y_bin = (y_train > np.median(y_train)).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(X_train, y_bin)
    t_shap_p, _ = timed(sh(clf.predict_proba))
    t_fs_p, _ = timed(fs(clf.predict_proba))
    t_called_p, _ = timed(fs(clf.predict_proba, native=False))
    print(f"\nHistGradientBoostingClassifier (100 iterations) predict_proba, {n_rows} rows:")
    print(f"  shap                                  {t_shap_p:8.2f} s")
    print(
        f"  ferroshap (native='auto')             {t_fs_p:8.2f} s   "
        f"{t_shap_p / t_fs_p:7.1f}x faster"
    )
    print(
        f"  ferroshap (native=False)              {t_called_p:8.2f} s   "
        f"{t_shap_p / t_called_p:7.1f}x faster"
    )


if __name__ == "__main__":
    main()
