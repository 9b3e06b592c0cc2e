"""Side-by-side Kernel SHAP benchmark: ferroshap.KernelExplainer against shap.KernelExplainer.

Case (issue 5): 12 features, 100 background rows, 2,048 coalitions per row, 100 explained
rows, a cheap numpy model. Both explainers run back to back in one process on the same
inputs; the model is wrapped to time its own calls, and the figure of merit is the time
*beyond* the model (overhead: planning, masking, bookkeeping, regression). Both use
``l1_reg=False`` so they solve the same problem. Run from the repository root:

    python benches/bench_kernel.py            # the case above
    python benches/bench_kernel.py --quick    # 10 rows, seconds

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
    args = parser.parse_args()
    n_rows = 10 if args.quick else args.rows

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


if __name__ == "__main__":
    main()
