"""Two builds of ferroshap side by side: every Tree SHAP, interaction, interventional and
Kernel case, timed in alternating processes, with the ratio of the new build to the old.

Each build is a ``python/`` folder holding ``ferroshap`` with its compiled ``_core``. The models
and data are made once by the driver and saved; each round runs every case in a fresh process
per build (``--worker``), old then new, and each case keeps its best time over the rounds.
Only ferroshap runs here (the cases are those of bench_tree, bench_interactions,
bench_interventional and bench_kernel, smaller so that a round takes about a minute on 2 busy
cores). Run from the repository root, for example with the old build in a worktree:

    git worktree add /tmp/before fac47da   # then build its release wheel and unzip _core
    python benches/bench_before_after.py --before /tmp/before/python --after python

Cases (XGBoost regressor 500 trees of depth 8 on 50 features unless said):
``pd``: path-dependent, 500 rows; ``pd_1row``: path-dependent, one row per call;
``pd_interactions``: path-dependent interaction values, 10 rows; ``iv``: interventional, 100
background rows, 500 rows; ``iv_1row``: the same, one row per call; ``iv_interactions``:
interventional interaction values (100 trees of depth 6), 5 rows; ``iv_probability``:
``model_output="probability"`` of an XGBoost classifier (100 trees of depth 6), 10 rows;
``kernel_numpy``: Kernel SHAP of a numpy model (12 features, 100 background rows, 2,048
coalitions), 10 rows; ``kernel_native``: Kernel SHAP of a HistGradientBoosting regressor's
converted ensemble (the native tree game), 5 rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

SEED = 20261207


def make(folder: Path) -> None:
    """Trains the models and writes them with the data to ``folder``."""
    import xgboost as xgb
    from sklearn.datasets import make_classification, make_regression
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y = make_regression(2000, 50, n_informative=20, noise=0.5, random_state=SEED)
    y = y + 5.0 * X[:, 0] * X[:, 1]
    xgb.XGBRegressor(n_estimators=500, max_depth=8, tree_method="hist").fit(X, y).save_model(
        folder / "reg.json"
    )
    xgb.XGBRegressor(n_estimators=100, max_depth=6, tree_method="hist").fit(X, y).save_model(
        folder / "small.json"
    )
    Xc, yc = make_classification(2000, 20, n_informative=10, random_state=SEED)
    xgb.XGBClassifier(n_estimators=100, max_depth=6).fit(Xc, yc).save_model(folder / "clf.json")
    rng = np.random.default_rng(SEED)
    Xk = rng.standard_normal((2000, 12))
    yk = Xk[:, 0] * Xk[:, 1] + np.sin(Xk[:, 2]) + Xk[:, 3]
    hgb = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(Xk, yk)
    import pickle

    (folder / "hgb.pkl").write_bytes(pickle.dumps(hgb))
    np.savez(folder / "data.npz", X=X, Xc=Xc, Xk=Xk, beta=rng.standard_normal(12))


def best(fn: Any, repeats: int) -> float:
    fn()  # warm-up (builds what explainers keep)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def worker(folder: Path, repeats: int, only: list[str] | None) -> dict[str, float]:
    import pickle

    import ferroshap

    data = np.load(folder / "data.npz")
    X, Xc, Xk, beta = data["X"], data["Xc"], data["Xk"], data["beta"]
    bg = X[np.random.default_rng(SEED).choice(len(X), 100, replace=False)]
    pd = ferroshap.TreeExplainer.from_file(folder / "reg.json")
    iv = ferroshap.TreeExplainer.from_file(folder / "reg.json", data=bg)
    small_iv = ferroshap.TreeExplainer.from_file(folder / "small.json", data=bg[:50])
    proba = ferroshap.TreeExplainer.from_file(
        folder / "clf.json", data=Xc[:50], model_output="probability"
    )
    rows = [X[i : i + 1] for i in range(100)]

    def per_row(explainer: Any, n: int) -> Any:
        def run() -> None:
            for row in rows[:n]:
                explainer.shap_values(row)

        return run

    def kernel_numpy() -> None:
        def f(A: np.ndarray) -> np.ndarray:
            return A @ beta + 0.5 * np.tanh(A[:, 0] * A[:, 1])

        explainer = ferroshap.KernelExplainer(f, Xk[:100], seed=0)
        explainer.shap_values(Xk[100:110], nsamples=2048, l1_reg=False, silent=True)

    hgb = pickle.loads((folder / "hgb.pkl").read_bytes())
    ensemble = ferroshap.TreeExplainer(hgb).ensemble

    def kernel_native() -> None:
        explainer = ferroshap.KernelExplainer(ensemble, Xk[:100], seed=0)
        explainer.shap_values(Xk[200:205], nsamples=2048, l1_reg=False, silent=True)

    cases = {
        "pd": lambda: pd.shap_values(X[:500]),
        "pd_1row": per_row(pd, 100),
        "pd_interactions": lambda: pd.shap_interaction_values(X[:10]),
        "iv": lambda: iv.shap_values(X[:500]),
        "iv_1row": per_row(iv, 20),
        "iv_interactions": lambda: small_iv.shap_interaction_values(X[:5]),
        "iv_probability": lambda: proba.shap_values(Xc[:10]),
        "kernel_numpy": kernel_numpy,
        "kernel_native": kernel_native,
    }
    per_call = {"pd_1row": 100, "iv_1row": 20}
    return {
        name: best(fn, repeats) / per_call.get(name, 1)
        for name, fn in cases.items()
        if only is None or name in only
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="python/ folder of the old build")
    parser.add_argument("--after", type=Path, help="python/ folder of the new build")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--repeats", type=int, default=1, help="best of R per case and round")
    parser.add_argument("--cases", nargs="+", help="only these cases (default: all)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeats, args.cases)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make(folder)
        times: dict[str, dict[str, float]] = {"before": {}, "after": {}}
        loads = []
        for _ in range(args.rounds):
            for label, path in (("before", args.before), ("after", args.after)):
                env = {**os.environ, "PYTHONPATH": str(path.resolve())}
                cmd = [sys.executable, __file__, "--worker", str(folder)]
                cmd += ["--repeats", str(args.repeats)]
                cmd += ["--cases", *args.cases] if args.cases else []
                out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                for name, t in result.items():
                    times[label][name] = min(t, times[label].get(name, float("inf")))
                loads.append(os.getloadavg()[0])
                print(f"{label}: {result}", file=sys.stderr, flush=True)
    print(
        f"{args.rounds} alternating rounds, best of {args.repeats} per round; "
        f"load {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores\n"
    )
    print("| case | before | after | after / before |")
    print("| --- | ---: | ---: | ---: |")
    for name, before in times["before"].items():
        after = times["after"][name]
        unit, scale = ("ms", 1e3) if before < 0.1 else ("s", 1.0)
        print(
            f"| {name} | {before * scale:.3f} {unit} | {after * scale:.3f} {unit} "
            f"| {after / before:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
