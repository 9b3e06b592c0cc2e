"""Soak: 1,000,000 rows explained in batches through each tree value function, memory flat.

Explains the same model batch after batch (path-dependent, interventional with 100
background rows, and interaction values) and prints the process's resident memory (RSS) after
the first batch and at the end of each value function: a leak of even one buffer per call
grows RSS by megabytes over 100 calls. Run from the repository root (a release build):

    python benches/soak_tree.py                    # 1,000,000 rows, batches of 10,000
    python benches/soak_tree.py --rows 100000      # quicker
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()

    import xgboost as xgb

    import ferroshap

    rng = np.random.default_rng(7)
    X = rng.normal(size=(5_000, 8))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + 0.1 * rng.normal(size=len(X))
    model = xgb.XGBRegressor(n_estimators=100, max_depth=6, n_jobs=2).fit(X, y)
    explainers = {
        "path-dependent": (ferroshap.TreeExplainer(model), "shap_values"),
        "interventional": (ferroshap.TreeExplainer(model, data=X[:100]), "shap_values"),
        "interactions": (ferroshap.TreeExplainer(model), "shap_interaction_values"),
    }
    batch = rng.normal(size=(args.batch, 8))
    print(f"{args.rows:,} rows in batches of {args.batch:,}; XGBoost 100 x depth 6, 8 features")
    print(f"{'value function':16} {'RSS after 1st (MiB)':>20} {'RSS at end (MiB)':>17} {'s':>7}")
    for name, (explainer, method) in explainers.items():
        explain = getattr(explainer, method)
        t0 = time.perf_counter()
        explain(batch)
        first = rss_mib()
        for _ in range(args.rows // args.batch - 1):
            explain(batch)
        print(f"{name:16} {first:20.1f} {rss_mib():17.1f} {time.perf_counter() - t0:7.1f}")


if __name__ == "__main__":
    main()
