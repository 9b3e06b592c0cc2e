"""Side-by-side interventional Tree SHAP benchmark: ferroshap against shap's C++.

One process, one model, one data set; shap and ferroshap timed back to back on the same rows
and background, so the ratio is meaningful on a shared machine (absolute rows/s are not).
Run from the repository root with any Python that has ferroshap, xgboost and shap:

    python benches/bench_interventional.py            # the full case (minutes: shap is slow)
    python benches/bench_interventional.py --quick    # smoke run, seconds
    python benches/bench_interventional.py --one-row  # per-call latency of one row

Case: ``XGBRegressor(n_estimators=500, max_depth=8)`` trained on 2,000 rows x 50 features of
``make_regression`` (plus a non-additive term); explain 1,000 rows.

* shap: ``shap.TreeExplainer(model, data=bg100, feature_perturbation="interventional")
  .shap_values(X, check_additivity=False)`` -- shap's single-threaded C++, O(rows x background)
  per tree. shap is timed on ``--shap-rows`` rows (default 100; its cost is linear in rows)
  and its rows/s compared with ferroshap's on all 1,000.
* ferroshap: ``ferroshap.TreeExplainer(model, data=bg).shap_values(X)`` on every core, and
  with ``n_jobs=1`` (one thread against shap's one: the ratio least disturbed when other
  work shares the machine) (construction, which
  computes the base value, outside the timed region; default ``check_additivity=True``), with
  background 100 and background 10,000: the time ratio shows the cost growing as rows +
  background, not rows x background.

``--one-row``: the latency of explaining one row at a time (``--calls`` calls, a different row
each, after one warm-up call that builds what the explainer keeps), with 100 background rows:
shap's ``shap_values(X[i:i+1], check_additivity=False)``, ferroshap's explainer (every core,
with and without its additivity check, and ``n_jobs=1``), the
prepared core object alone (``_core.Interventional.shap_values``) and the core's one-shot call
that aggregates the background on every call (``TreeEnsemble.interventional_shap_values``,
what every call did before explainers kept their tables).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

N_FEATURES = 50
SEED = 20260811


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def make_data(rows: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_regression

    X, y = make_regression(rows, N_FEATURES, n_informative=20, noise=0.5, random_state=SEED)
    y = y + 5.0 * X[:, 0] * X[:, 1] + 3.0 * np.sin(X[:, 2] * X[:, 3])
    return X, y


def train(quick: bool) -> tuple[Any, np.ndarray, tuple[int, int, int]]:
    """The benchmark's model (500 trees of depth 8; 20 of depth 4 when quick), its training
    rows, and (trees, depth, cores)."""
    import xgboost as xgb

    trees, depth = (20, 4) if quick else (500, 8)
    threads = os.cpu_count() or 1
    X_train, y = make_data(2000)
    model = xgb.XGBRegressor(
        n_estimators=trees, max_depth=depth, tree_method="hist", nthread=threads
    ).fit(X_train, y)
    return model, X_train, (trees, depth, threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny model and data")
    parser.add_argument("--rows", type=int, default=1000, help="rows to explain")
    parser.add_argument("--shap-rows", type=int, default=100, help="rows shap explains")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one-row", action="store_true", help="one-row latency instead")
    parser.add_argument("--calls", type=int, default=200, help="one-row calls per explainer")
    args = parser.parse_args()
    if args.one_row:
        one_row(args)
        return

    import shap
    import xgboost as xgb

    import ferroshap

    rows = 100 if args.quick else args.rows
    shap_rows = min(rows, 20 if args.quick else args.shap_rows)
    model, X_train, (trees, depth, threads) = train(args.quick)
    rng = np.random.default_rng(SEED)
    X = X_train[:rows]
    pool, _ = make_data(12000)
    bg100 = X_train[rng.choice(len(X_train), 100, replace=False)]
    bg10k = pool[rng.choice(len(pool), 10_000, replace=False)]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shap_explainer = shap.TreeExplainer(
            model, data=bg100, feature_perturbation="interventional"
        )
        shap_s, shap_values = best_of(
            lambda: shap_explainer.shap_values(X[:shap_rows], check_additivity=False), 1
        )
    fs100 = ferroshap.TreeExplainer(model, data=bg100)
    fs100_s, fs_values = best_of(lambda: fs100.shap_values(X), args.repeats)
    # One thread against shap's one thread: the ratio least disturbed by a loaded machine.
    fs1 = ferroshap.TreeExplainer(model, data=bg100, n_jobs=1)
    fs1_s, _ = best_of(lambda: fs1.shap_values(X), args.repeats)
    start = time.perf_counter()
    fs10k = ferroshap.TreeExplainer(model, data=bg10k)
    fs10k_init = time.perf_counter() - start
    fs10k_s, _ = best_of(lambda: fs10k.shap_values(X), args.repeats)

    scale = float(np.max(np.abs(model.predict(X, output_margin=True))))
    diff = float(np.max(np.abs(fs_values[:shap_rows] - shap_values))) / scale
    shap_rps = shap_rows / shap_s
    fs_rps = rows / fs100_s

    print(
        f"ferroshap {ferroshap.__version__}, shap {shap.__version__}, xgboost {xgb.__version__}, "
        f"Python {platform.python_version()}, {threads} cores ({platform.machine()})"
    )
    print(
        f"XGBRegressor {trees} trees depth {depth}, {rows} rows x {N_FEATURES} features "
        f"(shap timed on {shap_rows} rows), best of {args.repeats} after a warm-up "
        f"(shap: 1 run after a warm-up)\n"
    )
    print("| what | background | time (s) | rows/s | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(
        f"| shap {shap.__version__} interventional | 100 | {shap_s:.3f} ({shap_rows} rows) "
        f"| {shap_rps:,.0f} | 1 |"
    )
    print(
        f"| ferroshap interventional | 100 | {fs100_s:.3f} | {fs_rps:,.0f} | "
        f"{fs_rps / shap_rps:,.0f}x shap |"
    )
    print(
        f"| ferroshap interventional, 1 thread | 100 | {fs1_s:.3f} | {rows / fs1_s:,.0f} | "
        f"{rows / fs1_s / shap_rps:,.0f}x shap |"
    )
    print(
        f"| ferroshap interventional | 10,000 | {fs10k_s:.3f} | {rows / fs10k_s:,.0f} | "
        f"{fs10k_s / fs100_s:.2f}x the time at 100 |"
    )
    print(
        f"\nferroshap vs shap: max |difference| / max |margin| = {diff:.1e} "
        f"(shap stores leaves and thresholds as float32); "
        f"explainer construction with 10,000 background rows: {fs10k_init:.3f} s"
    )
    sys.stdout.flush()


def one_row(args: argparse.Namespace) -> None:
    import shap
    import xgboost as xgb

    import ferroshap
    from ferroshap import _core

    calls = 20 if args.quick else args.calls
    model, X_train, (trees, depth, threads) = train(args.quick)
    rng = np.random.default_rng(SEED)
    bg = X_train[rng.choice(len(X_train), 100, replace=False)]
    rows = [X_train[i : i + 1] for i in range(calls)]

    def per_call(fn: Callable[[np.ndarray], Any], n: int = calls) -> float:
        fn(rows[0])  # warm-up: builds what the explainer keeps
        start = time.perf_counter()
        for row in rows[:n]:
            fn(row)
        return (time.perf_counter() - start) / n

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shap_explainer = shap.TreeExplainer(model, data=bg, feature_perturbation="interventional")
        shap_n = max(5, calls // 10)  # shap's calls are slow; its latency varies little
        shap_s = per_call(lambda r: shap_explainer.shap_values(r, check_additivity=False), shap_n)
    fs = ferroshap.TreeExplainer(model, data=bg)
    fs1 = ferroshap.TreeExplainer(model, data=bg, n_jobs=1)
    ensemble = fs.ensemble
    prepared = _core.Interventional(ensemble, bg)
    cases = [
        ("ferroshap TreeExplainer.shap_values", lambda r: fs.shap_values(r)),
        (
            "ferroshap TreeExplainer.shap_values, check_additivity=False (as shap here)",
            lambda r: fs.shap_values(r, check_additivity=False),
        ),
        ("ferroshap TreeExplainer.shap_values, n_jobs=1", lambda r: fs1.shap_values(r)),
        ("core Interventional.shap_values (prepared)", lambda r: prepared.shap_values(r)),
        (
            "core TreeEnsemble.interventional_shap_values (one-shot)",
            lambda r: ensemble.interventional_shap_values(r, bg),
        ),
    ]
    # Alternating rounds, best per case: the machine's load moves between rounds.
    best = [float("inf")] * len(cases)
    for _ in range(args.repeats):
        for i, (_, fn) in enumerate(cases):
            best[i] = min(best[i], per_call(fn))
    check = np.max(np.abs(fs.shap_values(rows[1]) - shap_explainer.shap_values(rows[1])))
    print(
        f"ferroshap {ferroshap.__version__}, shap {shap.__version__}, xgboost {xgb.__version__}, "
        f"Python {platform.python_version()}, {threads} cores ({platform.machine()}), "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(
        f"XGBRegressor {trees} trees depth {depth}, {N_FEATURES} features, background 100: "
        f"one row per call, {calls} calls (shap {shap_n}), best of {args.repeats} rounds\n"
    )
    print("| what | ms per call | shap / this |")
    print("| --- | ---: | ---: |")
    print(f"| shap {shap.__version__} interventional | {shap_s * 1e3:.3f} | 1 |")
    for (name, _), t in zip(cases, best, strict=True):
        print(f"| {name} | {t * 1e3:.3f} | {shap_s / t:,.1f}x |")
    print(f"\nferroshap vs shap on one row: max |difference| = {check:.1e}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
