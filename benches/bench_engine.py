"""Model-agnostic estimators on the engine, side by side with shap (and with an earlier build).

Cheap numpy model (linear plus a tanh interaction), 12 features, 100 background rows. The
model is wrapped to time its own calls; the figure of merit is the time *beyond* the model
(planning, masking, bookkeeping, reduction), plus total masked rows per second. Best of
``--repeats`` alternating rounds (load from other processes falls on both sides).

Cases:

- Permutation at shap's default budget (``max_evals=500``), ferroshap vs shap;
- Exact (4,096 coalitions per row), ferroshap vs shap;
- with ``--tree``: a scikit-learn GradientBoostingRegressor's ``predict`` (100 trees, depth
  4), Permutation and Exact, ferroshap evaluating the game from the trees in Rust vs shap
  calling ``predict`` (whole runs);
- with ``--before PATH`` (a ``python/`` directory holding an earlier build's package):
  Permutation and Exact as above, and Kernel SHAP (2,048 coalitions, ``l1_reg=False``), this
  build against that one: each round runs both builds in fresh subprocesses, one after the
  other (on a loaded machine the most robust of these numbers); with ``--tree`` too, the
  gradient-boosting cases (explainer built and called, as a user does) the same way, with the
  largest difference between the two builds' values.

With ``--accuracy``: error per model call against exact Shapley values (ExactExplainer) for
Permutation and Sampling, ferroshap and shap side by side at the same budgets, on an
scikit-learn MLP trained on the diabetes data (10 features, 20 background rows, 10 explained
rows, mean over seeds; shap's global NumPy seed is set to each seed).

Run from the repository root::

    PYTHONPATH=python python benches/bench_engine.py --before /tmp/engine-before/python
    PYTHONPATH=python python benches/bench_engine.py --accuracy
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the BLAS thread settings)

N_FEATURES = 12
N_BACKGROUND = 100
SEED = 20261207


class TimedModel:
    """A cheap nonlinear model that records the time and rows of its own calls."""

    def __init__(self, n_features: int, rng: np.random.Generator) -> None:
        self.beta = rng.standard_normal(n_features)
        self.seconds = 0.0
        self.rows = 0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        X = np.asarray(X)
        out = X @ self.beta + 0.5 * np.tanh(X[:, 0] * X[:, 1])
        self.seconds += time.perf_counter() - t0
        self.rows += len(X)
        return out


def timed(fn, model: TimedModel) -> dict:
    model.seconds, model.rows = 0.0, 0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn()
    total = time.perf_counter() - t0
    return {
        "total": total,
        "model": model.seconds,
        "overhead": total - model.seconds,
        "rows": model.rows,
    }


def kernel_child(n_rows: int) -> None:
    """Kernel SHAP's overhead with whichever ferroshap is on the path (one JSON line)."""
    import ferroshap

    rng = np.random.default_rng(SEED)
    background = rng.standard_normal((N_BACKGROUND, N_FEATURES))
    X = rng.standard_normal((n_rows, N_FEATURES))
    model = TimedModel(N_FEATURES, rng)
    fs = ferroshap.KernelExplainer(model, background, seed=0)
    r = timed(lambda: fs.shap_values(X, nsamples=2048, l1_reg=False, silent=True), model)
    r["values"] = fs.shap_values(X, nsamples=2048, l1_reg=False, silent=True).tolist()
    print(json.dumps(r))


def alternate(before: str, child: str, n_rows: int, repeats: int) -> dict[str, list[dict]]:
    """The JSON lines of ``repeats`` rounds of this script's ``child`` mode, run in fresh
    subprocesses with the build at ``before`` and with this one, alternating."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python")
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for _ in range(repeats):
        for name, path in (("before", before), ("after", here)):
            env = dict(os.environ, PYTHONPATH=path)
            out = subprocess.run(
                [sys.executable, __file__, child, str(n_rows)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    return runs


def engine_child(n_rows: int) -> None:
    """Permutation and Exact with whichever ferroshap is on the path: one JSON line of
    ``{case: {total, model, overhead, rows}}`` (one run each, after a warm-up)."""
    import ferroshap

    rng = np.random.default_rng(SEED)
    background = rng.standard_normal((N_BACKGROUND, N_FEATURES))
    X = rng.standard_normal((n_rows, N_FEATURES))
    model = TimedModel(N_FEATURES, rng)
    cases = {
        "Permutation": lambda: ferroshap.PermutationExplainer(model, background, seed=0)(
            X, max_evals=500, silent=True
        ),
        "Exact": lambda: ferroshap.ExactExplainer(model, background)(X, silent=True),
    }
    out = {}
    for name, fn in cases.items():
        fn()
        out[name] = timed(fn, model)
    print(json.dumps(out))


def _gradient_boosting():
    """The ``--tree`` model: 100 trees of depth 4 on 12 features, its data."""
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((2000, N_FEATURES))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + X[:, 3:].sum(axis=1)
    model = GradientBoostingRegressor(n_estimators=100, max_depth=4, random_state=0).fit(X, y)
    return model, X


def tree_child(n_rows: int) -> None:
    """The native tree cases with whichever ferroshap is on the path: one JSON line of
    ``{case: {"seconds": best of 5, "values": ...}}`` (explainer built and called each time)."""
    import ferroshap

    model, X = _gradient_boosting()
    background, rows = X[:N_BACKGROUND], X[1000 : 1000 + n_rows]
    cases = {
        "Permutation": lambda: ferroshap.PermutationExplainer(model.predict, background, seed=0)(
            rows, max_evals=500, silent=True
        ),
        "Exact": lambda: ferroshap.ExactExplainer(model.predict, background)(rows, silent=True),
    }
    out = {}
    for name, fn in cases.items():
        values = fn().values
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[name] = {"seconds": min(times), "values": values.tolist()}
    print(json.dumps(out))


def tree_before_after(before: str, n_rows: int, repeats: int) -> None:
    """The native tree cases, this build against the build at ``before`` (fresh subprocesses,
    alternating; best of the rounds), and how far apart their values are."""
    runs = alternate(before, "--tree-child", n_rows, repeats)
    print(f"\nNative tree cases, this build against --before, {n_rows} rows:")
    for case in ("Permutation", "Exact"):
        b = min(r[case]["seconds"] for r in runs["before"])
        a = min(r[case]["seconds"] for r in runs["after"])
        diff = np.abs(
            np.array(runs["before"][0][case]["values"]) - np.array(runs["after"][0][case]["values"])
        ).max()
        print(
            f"{case:12} before {b * 1e3:.2f} ms, after {a * 1e3:.2f} ms, before/after "
            f"{b / a:.2f}x; largest difference between their values {diff:.2g}"
        )


def engine_before_after(before: str, n_rows: int, repeats: int) -> None:
    """Permutation and Exact, this build against the build at ``before``, alternating fresh
    subprocesses (best of ``repeats`` by time beyond the model)."""
    runs = alternate(before, "--engine-child", n_rows, repeats)
    print(f"\nThis build against --before, {n_rows} rows (fresh subprocesses, alternating):")
    for case in ("Permutation", "Exact"):
        b = min((r[case] for r in runs["before"]), key=lambda r: r["overhead"])
        a = min((r[case] for r in runs["after"]), key=lambda r: r["overhead"])
        print(
            f"{case:12} total / model / beyond: before {b['total']:.3f} / {b['model']:.3f} / "
            f"{b['overhead']:.3f} s, after {a['total']:.3f} / {a['model']:.3f} / "
            f"{a['overhead']:.3f} s; before/after: beyond {b['overhead'] / a['overhead']:.2f}x, "
            f"total {b['total'] / a['total']:.2f}x"
        )


def kernel_before_after(before: str, n_rows: int, repeats: int) -> None:
    runs = alternate(before, "--kernel-child", n_rows, repeats)
    b = min(runs["before"], key=lambda r: r["overhead"])
    a = min(runs["after"], key=lambda r: r["overhead"])
    same = np.array_equal(np.array(b["values"]), np.array(a["values"]))
    print(
        f"\nKernel SHAP, {n_rows} rows, 2048 coalitions: overhead before "
        f"{b['overhead']:.3f} s, after {a['overhead']:.3f} s (before/after "
        f"{b['overhead'] / a['overhead']:.2f}x); total before {b['total']:.3f} s, after "
        f"{a['total']:.3f} s; values identical: {same}"
    )


def agnostic_vs_shap(n_rows: int, repeats: int) -> None:
    import shap

    import ferroshap

    rng = np.random.default_rng(SEED)
    background = rng.standard_normal((N_BACKGROUND, N_FEATURES))
    X = rng.standard_normal((n_rows, N_FEATURES))
    model = TimedModel(N_FEATURES, rng)
    cases = {
        "Permutation max_evals=500": (
            lambda: ferroshap.PermutationExplainer(model, background, seed=0)(
                X, max_evals=500, silent=True
            ),
            lambda: shap.PermutationExplainer(model, background, seed=0)(
                X, max_evals=500, silent=True
            ),
        ),
        "Exact 4096 coalitions": (
            lambda: ferroshap.ExactExplainer(model, background)(X, silent=True),
            lambda: shap.ExactExplainer(model, background)(X, silent=True),
        ),
    }
    print(
        f"{N_FEATURES} features, {N_BACKGROUND} background rows, {n_rows} explained rows, "
        "cheap numpy model"
    )
    header = (
        f"{'case':27} {'side':9} {'total s':>8} {'model s':>8} {'beyond s':>9} "
        f"{'rows/s':>10} {'beyond ratio':>12} {'total ratio':>12}"
    )
    print(header)
    for name, (ours_fn, theirs_fn) in cases.items():
        ours_runs, theirs_runs = [], []
        for _ in range(repeats):
            ours_runs.append(timed(ours_fn, model))
            theirs_runs.append(timed(theirs_fn, model))
        ours = min(ours_runs, key=lambda r: r["overhead"])
        theirs = min(theirs_runs, key=lambda r: r["overhead"])
        # rows/s: model rows per second of the whole run (ferroshap asks fewer rows for the
        # same Permutation estimator: the empty and full coalitions once per row); the
        # total ratio compares whole runs computing the same values.
        for side, r in (("ferroshap", ours), ("shap", theirs)):
            rate = r["rows"] / r["total"]
            ratio = (
                f"{theirs['overhead'] / ours['overhead']:12.1f}x"
                f"{(theirs['total'] / ours['total']):12.1f}x"
                if side == "ferroshap"
                else ""
            )
            print(
                f"{name:27} {side:9} {r['total']:8.3f} {r['model']:8.3f} "
                f"{r['overhead']:9.3f} {rate:10.3g} {ratio}"
            )
    print("ratios: shap / ferroshap (time beyond the model; total time for the same values)")


def tree_case(n_rows: int, repeats: int) -> None:
    """A scikit-learn gradient-boosting model's ``predict``: shap calls it on masked rows;
    ferroshap evaluates the coalitions from the converted trees in Rust (``native="auto"``)."""
    import shap

    import ferroshap

    model, X = _gradient_boosting()
    background, rows = X[:N_BACKGROUND], X[1000 : 1000 + n_rows]
    for name, ours_fn, theirs_fn in (
        (
            "Permutation max_evals=500",
            lambda: ferroshap.PermutationExplainer(model.predict, background, seed=0)(
                rows, max_evals=500, silent=True
            ),
            lambda: shap.PermutationExplainer(model.predict, background, seed=0)(
                rows, max_evals=500, silent=True
            ),
        ),
        (
            "Exact 4096 coalitions",
            lambda: ferroshap.ExactExplainer(model.predict, background)(rows, silent=True),
            lambda: shap.ExactExplainer(model.predict, background)(rows, silent=True),
        ),
    ):
        ours, theirs = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            ours_fn()
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs_fn()
            theirs.append(time.perf_counter() - t0)
        print(
            f"GradientBoosting 100 trees depth 4, {name}, {n_rows} rows: ferroshap (native) "
            f"{min(ours):.3f} s, shap {min(theirs):.3f} s, shap/ferroshap "
            f"{min(theirs) / min(ours):.1f}x"
        )


def accuracy(n_seeds: int) -> None:
    import shap
    from sklearn.datasets import load_diabetes
    from sklearn.neural_network import MLPRegressor

    import ferroshap

    X, y = load_diabetes(return_X_y=True)
    X = X * 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPRegressor(hidden_layer_sizes=(32,), max_iter=500, random_state=0).fit(X, y)
    background, rows = X[:20], X[200:210]
    counter = TimedModel(1, np.random.default_rng(0))

    def f(A):
        counter.rows += len(A)
        return model.predict(A)

    exact = ferroshap.ExactExplainer(model.predict, background)(rows, silent=True).values

    def rel_rmse(values) -> float:
        return float(np.sqrt(np.mean((values - exact) ** 2)) / np.sqrt(np.mean(exact**2)))

    def measure(fn) -> tuple[float, float]:
        errs, used = [], []
        for seed in range(n_seeds):
            counter.rows = 0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                errs.append(rel_rmse(fn(seed)))
            used.append(counter.rows / len(rows))
        return float(np.mean(errs)), float(np.mean(used))

    print(
        f"Relative RMSE vs exact, MLP on diabetes (10 features), 20 background rows, "
        f"{len(rows)} rows, {n_seeds} seeds; model rows per explained row in brackets"
    )
    print(f"{'estimator':12} {'budget':>7} {'ferroshap':>22} {'shap':>22} {'shap/fs':>8}")
    for budget in (21, 105, 525, 2100):

        def ours(seed, budget=budget):
            e = ferroshap.PermutationExplainer(f, background, seed=seed)
            return e(rows, max_evals=budget, silent=True).values

        def theirs(seed, budget=budget):
            e = shap.PermutationExplainer(f, background, seed=seed)
            return e(rows, max_evals=budget, silent=True).values

        (a, ra), (b, rb) = measure(ours), measure(theirs)
        print(
            f"{'Permutation':12} {budget:7d} {a:12.4f} [{ra:7.0f}] {b:12.4f} [{rb:7.0f}] "
            f"{b / a:8.2f}"
        )
    for budget in (200, 2000, 20000):

        def ours(seed, budget=budget):
            e = ferroshap.SamplingExplainer(f, background, seed=seed)
            return e(rows, nsamples=budget, silent=True).values

        def theirs(seed, budget=budget):
            np.random.seed(seed)  # noqa: NPY002 (shap has no seed argument)
            return shap.SamplingExplainer(f, background).shap_values(
                rows, nsamples=budget, silent=True
            )

        (a, ra), (b, rb) = measure(ours), measure(theirs)
        print(
            f"{'Sampling':12} {budget:7d} {a:12.4f} [{ra:7.0f}] {b:12.4f} [{rb:7.0f}] {b / a:8.2f}"
        )
    print("shap/fs above 1: ferroshap more accurate at the same budget")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20, help="explained rows (20)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds (3)")
    parser.add_argument("--before", help="python/ dir of an earlier build, for Kernel SHAP")
    parser.add_argument("--kernel-rows", type=int, default=100, help="Kernel rows (100)")
    parser.add_argument("--kernel-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--engine-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tree-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--accuracy", action="store_true", help="error per model call")
    parser.add_argument("--tree", action="store_true", help="gradient-boosting model case")
    parser.add_argument("--tree-rows", type=int, default=5, help="rows for --tree (5)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds (--accuracy)")
    args = parser.parse_args()
    if args.accuracy:
        accuracy(args.seeds)
        return
    if args.kernel_child is not None:
        kernel_child(args.kernel_child)
        return
    if args.engine_child is not None:
        engine_child(args.engine_child)
        return
    if args.tree_child is not None:
        tree_child(args.tree_child)
        return
    agnostic_vs_shap(args.rows, args.repeats)
    if args.tree:
        tree_case(args.tree_rows, args.repeats)
    if args.before:
        engine_before_after(args.before, args.rows, args.repeats)
        kernel_before_after(args.before, args.kernel_rows, args.repeats)
        if args.tree:
            tree_before_after(args.before, args.tree_rows, args.repeats)


if __name__ == "__main__":
    main()
