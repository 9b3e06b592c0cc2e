"""CatBoost path-dependent Tree SHAP: ferroshap against CatBoost's own ``ShapValues``.

One process, one model and data set; CatBoost's ``get_feature_importance(type="ShapValues")``
(multithreaded C++, what ``shap.TreeExplainer`` calls for CatBoost) and ferroshap's
``TreeExplainer(model).shap_values`` are timed back to back, alternating, on the same rows, so
the ratio is meaningful on a shared machine. The values are compared too. Run from the
repository root with a release build of ferroshap importable:

    PYTHONPATH=<release build>/python python benches/bench_catboost.py
    python benches/bench_catboost.py --quick      # smoke run
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small model, seconds")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import catboost

    import ferroshap

    trees, rows = (50, 200) if args.quick else (500, args.rows)
    rng = np.random.default_rng(20261207)
    n_features = 20
    X = rng.normal(size=(5000, n_features))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + X[:, 3] ** 2 + 0.1 * rng.normal(size=5000)
    model = catboost.CatBoostRegressor(
        iterations=trees,
        depth=6,
        verbose=False,
        random_seed=0,
        thread_count=-1,
        allow_writing_files=False,
    ).fit(X, y)
    explain = X[:rows]
    pool = catboost.Pool(explain)
    explainer = ferroshap.TreeExplainer(model)

    def theirs():
        return model.get_feature_importance(data=pool, type="ShapValues")

    def ours():
        return explainer.shap_values(explain)

    # The general path-dependent walk, as before oblivious tables: calls of fewer rows than a
    # tree has split patterns (2^6) never build the tables.
    def walked():
        return np.concatenate(
            [explainer.shap_values(explain[i : i + 63]) for i in range(0, rows, 63)]
        )

    ours()  # tables built once per model, as an explainer keeps them
    times = {"catboost": [], "ferroshap": [], "walk": []}
    for _ in range(2):  # alternate, best of each
        t, reference = _best(theirs, args.repeats)
        times["catboost"].append(t)
        t, values = _best(ours, args.repeats)
        times["ferroshap"].append(t)
        t, _ = _best(walked, args.repeats)
        times["walk"].append(t)
    catboost_s, ferroshap_s = min(times["catboost"]), min(times["ferroshap"])
    walk_s = min(times["walk"])
    diff = np.abs(values - reference[:, :-1]).max()
    print(
        f"catboost {catboost.__version__}, {trees} trees depth 6, {n_features} features, "
        f"{rows} rows, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    print(f"CatBoost ShapValues   {catboost_s:.4f} s")
    print(f"ferroshap             {ferroshap_s:.4f} s")
    print(f"CatBoost / ferroshap  {catboost_s / ferroshap_s:.2f}x")
    print(f"ferroshap general walk (63-row calls)  {walk_s:.4f} s  ({catboost_s / walk_s:.2f}x)")
    print(f"max |difference|      {diff:.2e}")


if __name__ == "__main__":
    main()
