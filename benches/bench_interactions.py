"""Side-by-side benchmark of SHAP interaction values: ferroshap against the anchors.

One process; anchor and ferroshap timed interleaved on the same rows (see bench_tree.py's
``time_interleaved``), so the printed ratios are meaningful on a shared machine. Run from the
repository root:

    benches/.venv312/bin/python benches/bench_interactions.py           # full cases
    benches/.venv312/bin/python benches/bench_interactions.py --quick   # smoke run, seconds

Cases (issue 4):

* XGBoost 500 trees, depth 8, 200 rows x 50 features, against
  ``Booster.predict(DMatrix(X), pred_interactions=True)`` (XGBoost's own C++, OpenMP over
  rows, float32; what shap.TreeExplainer calls for XGBoost).
* LightGBM 500 trees, 255 leaves, against ``shap.TreeExplainer(model)
  .shap_interaction_values`` (shap's single-threaded C++: LightGBM has no native
  interactions). shap takes seconds per row here, so it explains only the first
  ``--shap-rows`` of the rows ferroshap explains; rows/s are compared.

Both explain path-dependent interactions (no background data), all trees, exact in f64.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np
from bench_tree import INSTALL_HINT, make_data, time_interleaved

TRAIN_ROWS = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small models, seconds")
    parser.add_argument("--rows", type=int, default=200, help="rows explained by ferroshap")
    parser.add_argument("--shap-rows", type=int, default=4, help="rows explained by shap")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import lightgbm as lgb
    import shap
    import xgboost as xgb

    try:
        import ferroshap
    except ImportError:
        sys.exit(f"ferroshap is not installed in {sys.executable}; {INSTALL_HINT}")

    threads = os.cpu_count() or 1
    print(
        f"python {platform.python_version()}, {threads} cores; ferroshap {ferroshap.__version__}"
        f" ({os.path.dirname(ferroshap.__file__)}), xgboost {xgb.__version__}, "
        f"lightgbm {lgb.__version__}, shap {shap.__version__}"
    )
    train_rows = 2_000 if args.quick else TRAIN_ROWS
    X_train, y = make_data(train_rows, "float64")
    X = np.ascontiguousarray(X_train[: args.rows])

    # XGBoost 500 x 8 vs its own pred_interactions.
    params = (
        {"n_estimators": 20, "max_depth": 6}
        if args.quick
        else {"n_estimators": 500, "max_depth": 8}
    )
    t0 = time.perf_counter()
    model = xgb.XGBRegressor(
        tree_method="hist", learning_rate=0.1, n_jobs=threads, random_state=0, **params
    ).fit(X_train, y)
    print(f"\n[xgb] {params}, trained in {time.perf_counter() - t0:.1f}s; {len(X)} rows")
    booster = model.get_booster()
    explainer = ferroshap.TreeExplainer(model)
    timings, results = time_interleaved(
        {
            "xgboost": lambda: booster.predict(xgb.DMatrix(X), pred_interactions=True),
            "ferroshap": lambda: explainer.shap_interaction_values(X),
        },
        args.repeats,
        slow_s=60.0,
    )
    native = results["xgboost"][:, :-1, :-1]
    ours = results["ferroshap"]
    scale = max(1.0, float(np.abs(native).max()))
    print(f"    max |ferroshap - xgboost| = {np.abs(ours - native).max() / scale:.2e} of the scale")
    report(timings, {"xgboost": len(X), "ferroshap": len(X)}, "xgboost")

    # LightGBM 500 x 255 vs shap's C++.
    params = (
        {"n_estimators": 20, "num_leaves": 31}
        if args.quick
        else {"n_estimators": 500, "num_leaves": 255}
    )
    t0 = time.perf_counter()
    model = lgb.LGBMRegressor(
        learning_rate=0.1, n_jobs=threads, random_state=0, verbose=-1, **params
    ).fit(X_train, y)
    depth = max(_depth(t["tree_structure"]) for t in model.booster_.dump_model()["tree_info"])
    print(f"\n[lgbm] {params}, max depth {depth}, trained in {time.perf_counter() - t0:.1f}s")
    X_shap = X[: args.shap_rows]
    shap_explainer = shap.TreeExplainer(model)
    explainer = ferroshap.TreeExplainer(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        timings, results = time_interleaved(
            {
                "shap": lambda: shap_explainer.shap_interaction_values(X_shap),
                "ferroshap": lambda: explainer.shap_interaction_values(X),
            },
            args.repeats,
            slow_s=30.0,
        )
    theirs = results["shap"]
    ours = results["ferroshap"][: len(X_shap)]
    scale = max(1.0, float(np.abs(theirs).max()))
    print(f"    max |ferroshap - shap| = {np.abs(ours - theirs).max() / scale:.2e} of the scale")
    report(timings, {"shap": len(X_shap), "ferroshap": len(X)}, "shap")


def _depth(node: dict) -> int:
    if "left_child" not in node:
        return 0
    return 1 + max(_depth(node["left_child"]), _depth(node["right_child"]))


def report(timings, rows, anchor) -> None:
    rates = {name: t.rows_per_s(rows[name]) for name, t in timings.items()}
    for name, t in timings.items():
        print(
            f"    {name:>10}: {rows[name]:4d} rows in {t.best_s:8.3f} s (best of {t.repeats})"
            f" = {rates[name]:10.1f} rows/s"
        )
    print(f"    ratio ferroshap / {anchor}: {rates['ferroshap'] / rates[anchor]:.2f}x")


if __name__ == "__main__":
    main()
