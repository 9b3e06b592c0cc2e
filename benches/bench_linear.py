"""LinearExplainer, ferroshap vs shap, side by side in one run.

- correlation-dependent transform (``nsamples=1000`` feature orders, shap's default): the
  constructor's time, on the diabetes data (10 features) and on generated correlated data
  with 50 and 100 features (2,000 rows), with the same orders on both sides (ferroshap
  ``seed=s``, shap after ``np.random.seed(s)``) and the largest difference of the values;
- interventional values of 100,000 rows (``shap_values``), 100 features.

Best of ``--repeats`` alternating rounds. Run from the repository root::

    PYTHONPATH=python python benches/bench_linear.py
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the BLAS thread settings)


def _alternating(ours, theirs, repeats: int):
    """Best times of ``ours()`` and ``theirs()`` over alternating rounds, and their results."""
    times, out = [[], []], [None, None]
    for _ in range(repeats):
        for side, fn in enumerate((ours, theirs)):
            t0 = time.perf_counter()
            out[side] = fn()
            times[side].append(time.perf_counter() - t0)
    return min(times[0]), min(times[1]), out[0], out[1]


def _transform_case(name: str, data, coef, repeats: int) -> None:
    import ferroshap

    kw = dict(feature_perturbation="correlation_dependent", nsamples=1000)
    ours_t, theirs_t, ours, theirs = _alternating(
        lambda: ferroshap.LinearExplainer((coef, 0.0), data, seed=1, **kw),
        lambda: _shap_seeded(1, (coef, 0.0), data, **kw),
        repeats,
    )
    gap = np.abs(ours.shap_values(data[:50]) - theirs.shap_values(data[:50])).max()
    print(
        f"| correlation-dependent transform, {name} ({data.shape[1]} features) | "
        f"{ours_t:.3f} | {theirs_t:.3f} | {theirs_t / ours_t:.1f}x | {gap:.1e} |",
        flush=True,
    )


def _shap_seeded(seed: int, *args, **kwargs):
    import shap

    np.random.seed(seed)  # noqa: NPY002 (shap draws its orders from the global state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return shap.LinearExplainer(*args, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import shap
    from sklearn.datasets import load_diabetes

    import ferroshap

    os.environ["TQDM_DISABLE"] = "1"  # shap's progress bar over the orders
    rng = np.random.default_rng(0)
    X, y = load_diabetes(return_X_y=True)
    cases = [("diabetes", X, np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0][:-1])]
    for m in (50, 100):
        data = rng.normal(size=(2000, m)) @ rng.normal(size=(m, m))
        cases.append((f"generated, {m} features", data, rng.normal(size=m)))
    print(f"shap {shap.__version__}; best of {args.repeats}")
    print("| case | ferroshap s | shap s | shap / ferroshap | max value difference |")
    print("| --- | --- | --- | --- | --- |")
    for name, data, coef in cases:
        _transform_case(name, data, coef, args.repeats)
    data = rng.normal(size=(100_000, 100))
    coef = rng.normal(size=100)
    ours = ferroshap.LinearExplainer((coef, 0.0), data[:100])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = shap.LinearExplainer((coef, 0.0), data[:100])
    ours_t, theirs_t, a, b = _alternating(
        lambda: ours.shap_values(data), lambda: theirs.shap_values(data), args.repeats
    )
    print(
        f"| interventional shap_values, 100,000 rows x 100 features | {ours_t:.3f} | "
        f"{theirs_t:.3f} | {theirs_t / ours_t:.1f}x | {np.abs(a - b).max():.1e} |"
    )


if __name__ == "__main__":
    main()
