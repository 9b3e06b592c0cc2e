"""CoalitionExplainer (Winter values over a given hierarchy), ferroshap against shap 0.51 side
by side in one process, on the scenario of shap's own test (tests/explainers/test_coalition.py):
an XGBoost classifier trained on the first 100 rows of the adult data, its 12 features in the
test's 4 groups (with ``Relationship``, which the test leaves out, in ``Demographics``: a
hierarchy must name every feature), 100 background rows and 100 explained rows.

The model explained is ``predict_proba`` (two outputs): shap 0.51 cannot explain a single
output under numpy >= 2.3 (it calls ``float()`` on one-element arrays). ferroshap runs twice:
with its default ``native="auto"`` (the converted trees evaluate every coalition, in Rust, in
float64) and with ``native=False`` (it calls ``predict_proba`` on large batches of masked rows,
as shap calls it once per coalition). Printed: seconds, rows per second, the ratio of rates
to shap (shap explains only the first ``--shap-rows`` rows: it takes seconds per row), and the
largest difference from shap's values on those rows (XGBoost predicts in float32, so the trees'
float64 values differ from the model's own by ~1e-7; calling the model gives shap's values
to rounding).

    FERROSHAP_DATA_DIR=<dir with adult.data> python benches/bench_coalition.py [--rows 100]
        [--shap-rows 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import shap
import xgboost

import ferroshap

TREE = {
    "Demographics": ["Sex", "Age", "Race", "Marital Status", "Education-Num", "Relationship"],
    "Work": ["Occupation", "Workclass", "Hours per week"],
    "Finance": ["Capital Gain", "Capital Loss"],
    "Residence": ["Country"],
}


def best_of(repeat: int, fn):
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
        if best is None or elapsed < best[0]:
            best = (elapsed, out)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100, help="explained rows (shap's test: 100)")
    parser.add_argument("--repeat", type=int, default=3, help="ferroshap runs (best is kept)")
    parser.add_argument(
        "--shap-rows",
        type=int,
        default=10,
        help="rows shap explains (it takes seconds per row: its rate is compared)",
    )
    args = parser.parse_args()

    X, y = ferroshap.datasets.adult()
    features = list(X.columns)
    X, y = X.iloc[:100].to_numpy(), y[:100]
    model = xgboost.XGBClassifier(tree_method="exact", base_score=0.5, seed=42)
    model.fit(X, y)
    rows = X[: args.rows]
    shap_rows = rows[: args.shap_rows]

    masker = shap.maskers.Partition(X)
    masker.feature_names = features
    theirs = shap.CoalitionExplainer(model.predict_proba, masker, partition_tree=TREE)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = theirs(shap_rows).values
    shap_rate = len(shap_rows) / (time.perf_counter() - start)

    ours = ferroshap.maskers.Partition(X)
    ours.feature_names = features
    n_coalitions = ferroshap.CoalitionExplainer(
        model.predict_proba, ours, partition_tree=TREE
    )._n_coalitions
    print(
        f"adult, XGBoost ({model.n_estimators or 100} trees), 12 features in 4 groups, "
        f"{len(X)} background rows, {len(rows)} rows, {n_coalitions} coalitions per row; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(f"  shap {shap.__version__}, {len(shap_rows)} rows: {shap_rate:.2f} rows/s")
    for native in ("auto", False):
        explainer = ferroshap.CoalitionExplainer(
            model.predict_proba, ours, partition_tree=TREE, native=native
        )
        seconds, got = best_of(args.repeat, lambda e=explainer: e(rows, silent=True).values)
        diff = float(np.max(np.abs(got[: len(shap_rows)] - want)))
        label = "trees (native='auto')" if explainer.native_model is not None else "model calls"
        rate = len(rows) / seconds
        print(
            f"  ferroshap, {label}, {len(rows)} rows: {seconds:.3f} s, {rate:.1f} rows/s, "
            f"{rate / shap_rate:.1f}x shap, max |ferroshap - shap| {diff:.1e}"
        )


if __name__ == "__main__":
    main()
