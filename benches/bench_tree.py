"""Side-by-side Tree SHAP benchmark: ferroshap against each library's own SHAP code.

One process, one data set per case, anchor and ferroshap timed back to back on the same
input, so the ratio ferroshap/anchor is meaningful even on a shared machine (absolute
rows/s are not). Run from the repository root:

    benches/.venv312/bin/python benches/bench_tree.py             # cases a-d
    benches/.venv312/bin/python benches/bench_tree.py --deep      # plus case e
    benches/.venv312/bin/python benches/bench_tree.py --quick     # smoke run, seconds
    benches/.venv312/bin/python benches/bench_tree.py --cases b --latency  # + one-row latency,
                                                                           #   thread scaling

Anchors (what "beat shap" means for each model family):

* XGBoost:  ``Booster.predict(DMatrix(X), pred_contribs=True)``  (QuadratureTreeSHAP from
  XGBoost 3.3 on; float32; OpenMP over rows). shap.TreeExplainer calls exactly this.
* LightGBM: ``Booster.predict(X, pred_contrib=True)``  (classic TreeSHAP, f64, OpenMP).
* scikit-learn: ``shap.TreeExplainer(model).shap_values(X)``  (shap's single-threaded C++).

See benches/README.md for installing ferroshap into the benchmark environment.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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
INSTALL_HINT = (
    "install it into this interpreter with\n"
    "    benches/.venv312/bin/pip install /work/main\n"
    "(a release build through maturin, several minutes on 2 cores), or\n"
    "    benches/.venv312/bin/maturin build --release -o /tmp/ferroshap-wheels && "
    "benches/.venv312/bin/pip install --force-reinstall --no-deps /tmp/ferroshap-wheels/*.whl\n"
    "see benches/README.md"
)


@dataclasses.dataclass(frozen=True)
class Case:
    key: str
    name: str
    family: str  # "xgboost" | "lightgbm" | "sklearn"
    params: dict[str, Any]
    deep_only: bool = False


CASES = [
    Case("a", "xgb-100x6", "xgboost", {"n_estimators": 100, "max_depth": 6}),
    Case("b", "xgb-500x8", "xgboost", {"n_estimators": 500, "max_depth": 8}),
    Case("c", "lgbm-500x255", "lightgbm", {"n_estimators": 500, "num_leaves": 255}),
    Case("d", "rf-100x12", "sklearn", {"n_estimators": 100, "max_depth": 12}),
    Case("e", "xgb-200x12", "xgboost", {"n_estimators": 200, "max_depth": 12}, deep_only=True),
]
QUICK_PARAMS = {
    "a": {"n_estimators": 10, "max_depth": 4},
    "b": {"n_estimators": 20, "max_depth": 6},
    "c": {"n_estimators": 20, "num_leaves": 31},
    "d": {"n_estimators": 10, "max_depth": 6},
    "e": {"n_estimators": 10, "max_depth": 10},
}


@dataclasses.dataclass
class Timing:
    best_s: float
    repeats: int
    all_s: list[float]

    def rows_per_s(self, n: int) -> float:
        return n / self.best_s if self.best_s > 0 else float("inf")


def time_interleaved(
    calls: dict[str, Callable[[], Any]], repeats: int, slow_s: float
) -> tuple[dict[str, Timing], dict[str, Any]]:
    """Time several calls in rounds: one warm-up each, then ``repeats`` rounds of one call each.

    Interleaving spreads load from other processes on a shared machine over all contenders
    instead of penalising whichever ran during a busy spell. A call slower than ``slow_s`` is
    timed by its warm-up alone (start-up costs vanish at that length, and the full run has to
    fit in minutes on 2 cores). A call that raises is reported in the results as the exception.
    """
    results: dict[str, Any] = {}
    times: dict[str, list[float]] = {}
    for name, fn in calls.items():
        t0 = time.perf_counter()
        try:
            results[name] = fn()
        except Exception as exc:  # reported by the caller; the other calls go on
            results[name] = exc
            continue
        times[name] = [time.perf_counter() - t0]
    repeat = [name for name in times if times[name][0] <= slow_s]
    for _ in range(repeats):
        for name in repeat:
            t0 = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - t0)
    timings = {}
    for name, ts in times.items():
        measured = ts[1:] if name in repeat else ts
        timings[name] = Timing(min(measured), len(measured), ts)
    return timings, results


def make_data(rows: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_regression

    X, y = make_regression(
        n_samples=rows,
        n_features=N_FEATURES,
        n_informative=30,
        noise=10.0,
        random_state=SEED,
    )
    # A non-additive target, so that deep trees have interactions to fit.
    y = y + 50.0 * np.sin(X[:, 0] * X[:, 1]) + 20.0 * (X[:, 2] > 0) * X[:, 3]
    return np.ascontiguousarray(X, dtype=dtype), y


def train(case: Case, params: dict[str, Any], X: np.ndarray, y: np.ndarray, threads: int):
    """Train the case's model; returns (model, description of its trees)."""
    if case.family == "xgboost":
        import xgboost as xgb

        model = xgb.XGBRegressor(
            tree_method="hist", learning_rate=0.1, n_jobs=threads, random_state=0, **params
        )
        model.fit(X, y)
        return model, xgb_tree_stats(model.get_booster())
    if case.family == "lightgbm":
        import lightgbm as lgb

        # min_child_samples=2 and no hessian floor let 2,000 rows grow trees to ~255 leaves.
        model = lgb.LGBMRegressor(
            learning_rate=0.1,
            min_child_samples=2,
            min_child_weight=0.0,
            num_threads=threads,
            random_state=0,
            verbose=-1,
            **params,
        )
        model.fit(X, y)
        return model, lgb_tree_stats(model.booster_)
    if case.family == "sklearn":
        from sklearn.ensemble import RandomForestRegressor

        model = RandomForestRegressor(n_jobs=threads, random_state=0, **params)
        model.fit(X, y)
        leaves = [est.tree_.n_leaves for est in model.estimators_]
        depths = [est.tree_.max_depth for est in model.estimators_]
        return model, tree_stats(leaves, depths)
    raise ValueError(case.family)


def tree_stats(leaves: list[int], depths: list[int]) -> dict[str, float]:
    return {
        "trees": len(leaves),
        "mean_leaves": float(np.mean(leaves)),
        "max_leaves": int(np.max(leaves)),
        "mean_depth": float(np.mean(depths)),
        "max_depth": int(np.max(depths)),
    }


def xgb_tree_stats(booster) -> dict[str, float]:
    model = json.loads(booster.save_raw("json"))
    leaves, depths = [], []
    for tree in model["learner"]["gradient_booster"]["model"]["trees"]:
        left, right = tree["left_children"], tree["right_children"]
        leaves.append(sum(1 for c in left if c == -1))
        depths.append(_depth(left, right))
    return tree_stats(leaves, depths)


def _depth(left: list[int], right: list[int]) -> int:
    deepest, stack = 0, [(0, 0)]
    while stack:
        node, d = stack.pop()
        if left[node] == -1:
            deepest = max(deepest, d)
        else:
            stack += [(left[node], d + 1), (right[node], d + 1)]
    return deepest


def lgb_tree_stats(booster) -> dict[str, float]:
    leaves, depths = [], []
    for info in booster.dump_model()["tree_info"]:
        leaves.append(info["num_leaves"])
        depths.append(_lgb_depth(info["tree_structure"]))
    return tree_stats(leaves, depths)


def _lgb_depth(root: dict) -> int:
    deepest, stack = 0, [(root, 0)]
    while stack:
        node, d = stack.pop()
        if "leaf_index" in node or "left_child" not in node:
            deepest = max(deepest, d)
        else:
            stack += [(node["left_child"], d + 1), (node["right_child"], d + 1)]
    return deepest


def anchor_for(case: Case, model, threads: int):
    """(anchor name, thread setting, callable returning (values n x M, base value per row))."""
    if case.family == "xgboost":
        import xgboost as xgb

        booster = model.get_booster()
        booster.set_param({"nthread": threads})
        nthread = json.loads(booster.save_config())["learner"]["generic_param"]["nthread"]

        def run():
            out = booster.predict(xgb.DMatrix(X_ref[0], nthread=threads), pred_contribs=True)
            return out[:, :-1], out[:, -1]

        return f"xgboost {xgb.__version__} pred_contribs", f"nthread={nthread}", run
    if case.family == "lightgbm":
        import lightgbm as lgb

        booster = model.booster_

        def run():
            out = booster.predict(X_ref[0], pred_contrib=True, num_threads=threads)
            return out[:, :-1], out[:, -1]

        return f"lightgbm {lgb.__version__} pred_contrib", f"num_threads={threads}", run
    if case.family == "sklearn":
        import shap

        explainer = shap.TreeExplainer(model)

        def run():
            values = explainer.shap_values(X_ref[0])
            return values, np.full(len(values), float(np.ravel(explainer.expected_value)[0]))

        return f"shap {shap.__version__} TreeExplainer", "1 thread (shap C++)", run
    raise ValueError(case.family)


# The anchors read X from here so that their closures time only the call itself.
X_ref: list[np.ndarray] = []


def import_ferroshap():
    """ferroshap, or None with the reason printed once."""
    try:
        import ferroshap

        ferroshap.TreeExplainer  # noqa: B018  (the API this benchmark needs)
    except (ImportError, AttributeError) as exc:
        print(
            f"ferroshap is unavailable in {sys.executable}: {exc!r}\n"
            f"Anchors only. To benchmark ferroshap, {INSTALL_HINT}\n",
            flush=True,
        )
        return None
    return ferroshap


def run_case(case: Case, args, ferroshap, threads: int) -> dict[str, Any]:
    params = QUICK_PARAMS[case.key] if args.quick else case.params
    X_train, y = make_data(args.rows, args.dtype)
    t0 = time.perf_counter()
    model, stats = train(case, params, X_train, y, threads)
    train_s = time.perf_counter() - t0
    # Explain the first n training rows (a C-contiguous copy, so no library pays for a view).
    n = min(args.explain_rows or args.rows, args.rows)
    X = np.ascontiguousarray(X_train[:n])
    X_ref[:] = [X]
    print(
        f"[{case.key}] {case.name}: {params}, trained in {train_s:.1f}s; "
        f"trees={stats['trees']} leaves mean={stats['mean_leaves']:.1f} "
        f"max={stats['max_leaves']} depth mean={stats['mean_depth']:.1f} "
        f"max={stats['max_depth']}; explaining {n} rows",
        flush=True,
    )
    anchor_name, anchor_threads, anchor = anchor_for(case, model, threads)
    calls: dict[str, Callable[[], Any]] = {"anchor": anchor}
    result: dict[str, Any] = {
        "case": case.key,
        "name": case.name,
        "family": case.family,
        "params": params,
        "train_rows": args.rows,
        "rows": n,
        "trees": stats,
        "train_s": train_s,
        "anchor": anchor_name,
        "anchor_threads": anchor_threads,
    }
    if args.with_shap and case.family != "sklearn":
        import shap

        t0 = time.perf_counter()
        shap_explainer = shap.TreeExplainer(model)
        result["shap_construct_s"] = time.perf_counter() - t0
        calls["shap"] = lambda: shap_explainer.shap_values(X)
    explainer = None
    if ferroshap is not None:
        try:
            t0 = time.perf_counter()
            explainer = ferroshap.TreeExplainer(model)
            result["ferroshap_construct_s"] = time.perf_counter() - t0
        except Exception as exc:
            result["ferroshap_error"] = f"{type(exc).__name__}: {exc}"
        else:
            calls["ferroshap"] = lambda: explainer.shap_values(X)
            if args.nocheck:
                calls["ferroshap_nocheck"] = lambda: explainer.shap_values(
                    X, check_additivity=False
                )

    timings, outputs = time_interleaved(calls, args.repeats, args.slow)
    if isinstance(outputs["anchor"], Exception):
        raise outputs["anchor"]
    anchor_t = timings["anchor"]
    anchor_values, anchor_base = outputs["anchor"]
    # Output scale: the largest |model output| over the rows (values sum + base value).
    scale = float(np.max(np.abs(anchor_values.sum(axis=1) + anchor_base)))
    result.update(
        {
            "anchor_s": anchor_t.best_s,
            "anchor_repeats": anchor_t.repeats,
            "anchor_all_s": anchor_t.all_s,
            "anchor_rows_per_s": anchor_t.rows_per_s(n),
            "output_scale": scale,
        }
    )
    print(
        f"    anchor {anchor_name} ({anchor_threads}): best {anchor_t.best_s:.4f}s "
        f"of {anchor_t.repeats} -> {anchor_t.rows_per_s(n):,.1f} rows/s",
        flush=True,
    )
    if "shap" in timings:
        shap_t = timings["shap"]
        result["shap_s"] = shap_t.best_s
        result["shap_rows_per_s"] = shap_t.rows_per_s(n)
        print(
            f"    shap TreeExplainer (native underneath): construct "
            f"{result['shap_construct_s']:.3f}s, best {shap_t.best_s:.4f}s "
            f"of {shap_t.repeats}",
            flush=True,
        )
    if ferroshap is None:
        return result
    for name in ("ferroshap", "ferroshap_nocheck"):
        if isinstance(outputs.get(name), Exception) and "ferroshap_error" not in result:
            exc = outputs[name]
            result["ferroshap_error"] = f"{type(exc).__name__}: {exc}"
    if "ferroshap_error" in result:
        print(f"    ferroshap FAILED: {result['ferroshap_error']}", flush=True)
        return result

    fs_t = timings["ferroshap"]
    fs_values = np.asarray(outputs["ferroshap"])
    max_abs = float(np.max(np.abs(fs_values - anchor_values)))
    base_diff = float(np.max(np.abs(np.ravel(explainer.expected_value)[0] - anchor_base)))
    result.update(
        {
            "ferroshap_threads": explainer.n_jobs or os.cpu_count(),
            "ferroshap_s": fs_t.best_s,
            "ferroshap_repeats": fs_t.repeats,
            "ferroshap_all_s": fs_t.all_s,
            "ferroshap_rows_per_s": fs_t.rows_per_s(n),
            "ratio": anchor_t.best_s / fs_t.best_s,
            "max_abs_diff": max_abs,
            "max_rel_diff": max_abs / scale if scale > 0 else max_abs,
            "base_value_diff": base_diff,
        }
    )
    ensemble = explainer.ensemble
    result["model_bytes"] = ensemble.size_bytes
    result["table_bytes"] = ensemble.path_dependent_table_bytes()
    result["single_row_table_bytes"] = ensemble.single_row_table_bytes()
    result["output_bytes"] = fs_values.nbytes
    print(
        f"    memory: model {result['model_bytes'] / 2**20:.1f} MiB, path-dependent tables "
        f"{result['table_bytes'] / 2**20:.1f} MiB "
        f"({result['table_bytes'] / result['model_bytes']:.2f}x the model), "
        f"one-row layout (built on the first call with <= 8 rows) "
        f"{result['single_row_table_bytes'] / 2**20:.1f} MiB "
        f"({result['single_row_table_bytes'] / result['model_bytes']:.2f}x), "
        f"output {result['output_bytes'] / 2**20:.1f} MiB",
        flush=True,
    )
    nocheck = ""
    if "ferroshap_nocheck" in timings:
        fs_nocheck_t = timings["ferroshap_nocheck"]
        result["ferroshap_nocheck_s"] = fs_nocheck_t.best_s
        result["ratio_nocheck"] = anchor_t.best_s / fs_nocheck_t.best_s
        nocheck = f" (check_additivity=False: {fs_nocheck_t.best_s:.4f}s)"
    print(
        f"    ferroshap {ferroshap.__version__}: construct "
        f"{result['ferroshap_construct_s']:.3f}s, best {fs_t.best_s:.4f}s of {fs_t.repeats} "
        f"-> {fs_t.rows_per_s(n):,.1f} rows/s{nocheck}; max|diff| {max_abs:.3g} = "
        f"{result['max_rel_diff']:.2g} of output scale {scale:.3g}; "
        f"base value diff {base_diff:.3g}",
        flush=True,
    )
    if args.latency:
        result["latency"] = latency_and_scaling(case, model, X, ferroshap, threads, args.repeats)
    return result


def latency_and_scaling(case: Case, model, X: np.ndarray, ferroshap, threads: int, repeats: int):
    """One-row latency (median of many calls) and the speed-up from 1 thread to all threads,
    for the anchor and for ferroshap, on the same model and rows."""
    one = np.ascontiguousarray(X[:1])
    out: dict[str, Any] = {}
    if case.family == "xgboost":
        import xgboost as xgb

        booster = model.get_booster()

        def anchor(rows, nthread):
            booster.set_param({"nthread": nthread})
            return lambda: booster.predict(xgb.DMatrix(rows, nthread=nthread), pred_contribs=True)

    elif case.family == "lightgbm":
        booster = model.booster_

        def anchor(rows, nthread):
            return lambda: booster.predict(rows, pred_contrib=True, num_threads=nthread)

    else:
        anchor = None
    explainers = {
        1: ferroshap.TreeExplainer(model, n_jobs=1),
        threads: ferroshap.TreeExplainer(model),
    }

    def fs(rows, nthread):
        return lambda: explainers[nthread].shap_values(rows, check_additivity=False)

    contenders = {"ferroshap": fs}
    if anchor is not None:
        contenders = {"anchor": anchor, "ferroshap": fs}
    for who, make in contenders.items():
        for nthread in sorted({1, threads}):
            call = make(one, nthread)
            call()
            ts = []
            for _ in range(200):
                t0 = time.perf_counter()
                call()
                ts.append(time.perf_counter() - t0)
            out[f"{who}_one_row_ms_{nthread}t"] = 1e3 * float(np.median(ts))
        timings, _ = time_interleaved(
            {f"{nthread}t": make(X, nthread) for nthread in sorted({1, threads})},
            repeats,
            slow_s=60.0,
        )
        if threads > 1:
            out[f"{who}_speedup_1_to_{threads}t"] = (
                timings["1t"].best_s / timings[f"{threads}t"].best_s
            )
    parts = [f"{k} {v:.3f}" for k, v in out.items()]
    print("    latency/scaling: " + ", ".join(parts), flush=True)
    return out


def print_table(results: list[dict[str, Any]]) -> None:
    nocheck = any("ratio_nocheck" in r for r in results)
    header = (
        f"{'case':<16}{'rows':>6}  {'anchor':<37}{'anchor rows/s':>14}{'ferroshap rows/s':>18}"
        f"{'ratio':>8}{'ratio*' if nocheck else '':>8}{'construct s':>13}"
        f"{'max|diff|/scale':>17}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        if "ferroshap_s" in r:
            ratio_nocheck = f"{r['ratio_nocheck']:>8.2f}" if "ratio_nocheck" in r else " " * 8
            fs = (
                f"{r['ferroshap_rows_per_s']:>18,.1f}{r['ratio']:>8.2f}{ratio_nocheck}"
                f"{r['ferroshap_construct_s']:>13.3f}{r['max_rel_diff']:>17.2g}"
            )
        else:
            fs = f"{'(failed)' if 'ferroshap_error' in r else '(unavailable)':>18}"
        print(
            f"{r['case'] + ' ' + r['name']:<16}{r['rows']:>6}  {r['anchor']:<37}"
            f"{r['anchor_rows_per_s']:>14,.1f}{fs}"
        )
    print(
        "\nratio = ferroshap rows/s / anchor rows/s (>1: ferroshap faster)"
        + ("; ratio* with check_additivity=False" if nocheck else "")
        + ".\nconstruct s = ferroshap.TreeExplainer(model), outside the timed region. "
        "max|diff|/scale = max |ferroshap - anchor| / max |model output|."
    )


def environment(threads: int, ferroshap) -> dict[str, Any]:
    import lightgbm
    import shap
    import sklearn
    import xgboost

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "numpy": np.__version__,
        "xgboost": xgboost.__version__,
        "lightgbm": lightgbm.__version__,
        "scikit-learn": sklearn.__version__,
        "shap": shap.__version__,
        "ferroshap": getattr(ferroshap, "__version__", None) if ferroshap else None,
        "ferroshap_path": getattr(ferroshap, "__file__", None) if ferroshap else None,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "RAYON_NUM_THREADS": os.environ.get("RAYON_NUM_THREADS"),
    }
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=None, help="rows trained on and explained (2000; 200 quick)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="best of R after a warm-up")
    parser.add_argument(
        "--cases", default=None, help="comma-separated case keys (a,b,c,d,e) or names"
    )
    parser.add_argument("--deep", action="store_true", help="add case e: XGBoost 200 x depth 12")
    parser.add_argument("--quick", action="store_true", help="tiny models and 200 rows")
    parser.add_argument(
        "--with-shap",
        action="store_true",
        help="also time shap.TreeExplainer on XGBoost/LightGBM (it calls their native code)",
    )
    parser.add_argument(
        "--explain-rows",
        type=int,
        default=None,
        help="explain only the first N training rows (default: all of --rows)",
    )
    parser.add_argument(
        "--nocheck",
        action="store_true",
        help="also time ferroshap with check_additivity=False",
    )
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument(
        "--slow", type=float, default=15.0, help="warm-ups slower than this many s repeat once"
    )
    parser.add_argument(
        "--latency",
        action="store_true",
        help="also time one-row calls (median of 200) and 1 thread vs all threads",
    )
    parser.add_argument("--json", metavar="OUT", help="write results and environment here")
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = 200 if args.quick else 2000

    selected = [c for c in CASES if args.deep or not c.deep_only]
    if args.cases:
        wanted = {w.strip() for w in args.cases.split(",")}
        selected = [c for c in CASES if c.key in wanted or c.name in wanted]
        unknown = wanted - {c.key for c in CASES} - {c.name for c in CASES}
        if unknown:
            parser.error(
                f"unknown cases {sorted(unknown)}; known: "
                + ", ".join(f"{c.key}={c.name}" for c in CASES)
            )

    warnings.filterwarnings("ignore", category=UserWarning)
    threads = os.cpu_count() or 1
    ferroshap = import_ferroshap()
    env = environment(threads, ferroshap)
    print(
        f"cpu: {env['cpu']} x {env['cpu_count']} (os.cpu_count); threads {threads} for "
        f"xgboost nthread / lightgbm num_threads / ferroshap n_jobs=None (all cores)\n"
        f"python {env['python']}, numpy {env['numpy']}, xgboost {env['xgboost']}, "
        f"lightgbm {env['lightgbm']}, scikit-learn {env['scikit-learn']}, shap {env['shap']}, "
        f"ferroshap {env['ferroshap']} ({env['ferroshap_path']})\n"
        f"train rows {args.rows} x {N_FEATURES} features ({args.dtype}), explain "
        f"{min(args.explain_rows or args.rows, args.rows)} rows; best of {args.repeats} after "
        f"one warm-up each, interleaved (calls over {args.slow:g}s: the warm-up alone)\n",
        flush=True,
    )
    results = [run_case(case, args, ferroshap, threads) for case in selected]
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "argv": sys.argv, "results": results}, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
