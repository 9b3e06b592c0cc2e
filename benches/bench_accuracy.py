"""Accuracy per model call (issue 11): Sampling and Permutation, ferroshap vs shap, one run.

Two real models on scikit-learn's bundled data, each wrapped in a function that counts the
rows it is called on (so neither library can take a native shortcut, and both are charged
for every row they evaluate):

- a GradientBoostingRegressor (100 trees, depth 3) on the diabetes data (10 features);
- an MLP classifier's probability on the first 12 features of the breast-cancer data
  (standardised in a pipeline).

20 background rows, 10 explained rows. The reference is ExactExplainer's exact Shapley
values (checked against shap's ExactExplainer in the same run). At each budget each library
runs ``--seeds`` times (ferroshap ``seed=s``; shap: ``seed=s`` for Permutation, which seeds
NumPy's global state, and ``np.random.seed(s)`` before Sampling, which has no seed); the
error of a run is the relative RMSE ``||phi - exact|| / ||exact||`` over all rows and
features. Printed per budget: mean error +- its standard error and the model rows per
explained row for each library; ``shap/fs``, the ratio of mean errors (above 1: ferroshap
more accurate); ``eff``, shap's ``error^2 x rows`` over ferroshap's (above 1: ferroshap needs
fewer model rows for the same error, as error^2 falls like 1/rows); and the verdict:
``no worse`` when ferroshap's mean error is at most shap's plus two standard errors of the
difference, ``WORSE`` otherwise.

Run from the repository root::

    PYTHONPATH=python python benches/bench_accuracy.py            # 20 seeds, about 5 min
    PYTHONPATH=python python benches/bench_accuracy.py --seeds 5  # quicker
    # more seeds where the two are closest: the two smallest Sampling budgets
    PYTHONPATH=python python benches/bench_accuracy.py --seeds 200 --estimator sampling --first 2
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the BLAS thread settings)

N_BACKGROUND = 20
N_ROWS = 10


class CountedModel:
    """A model function that counts the rows it is called on."""

    def __init__(self, predict) -> None:
        self._predict = predict
        self.rows = 0

    def __call__(self, X):
        self.rows += len(X)
        return self._predict(np.asarray(X))


def _models():
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X, y = load_diabetes(return_X_y=True)
    gbr = GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0).fit(X, y)
    order = rng.permutation(len(X))
    yield (
        "GradientBoostingRegressor, diabetes (10 features)",
        gbr.predict,
        X[order[:N_BACKGROUND]],
        X[order[N_BACKGROUND : N_BACKGROUND + N_ROWS]],
    )
    X, y = load_breast_cancer(return_X_y=True)
    X = X[:, :12]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings
        mlp = make_pipeline(
            StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=1000, random_state=0)
        ).fit(X, y)
    order = rng.permutation(len(X))
    yield (
        "MLPClassifier probability, breast cancer (12 features)",
        lambda A: mlp.predict_proba(A)[:, 1],
        X[order[:N_BACKGROUND]],
        X[order[N_BACKGROUND : N_BACKGROUND + N_ROWS]],
    )


def _runs(fn, model: CountedModel, exact: np.ndarray, n_seeds: int):
    """Per-seed relative RMSE and mean model rows per explained row of ``fn(seed)``."""
    errors, rows = [], []
    for seed in range(n_seeds):
        model.rows = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = np.asarray(fn(seed))
        errors.append(np.linalg.norm(values - exact) / np.linalg.norm(exact))
        rows.append(model.rows / len(exact))
    return np.array(errors), float(np.mean(rows))


def _line(name: str, budget: int, ours, theirs) -> str:
    (e_f, r_f), (e_s, r_s) = ours, theirs
    m_f, m_s = e_f.mean(), e_s.mean()
    se_f, se_s = e_f.std(ddof=1) / np.sqrt(len(e_f)), e_s.std(ddof=1) / np.sqrt(len(e_s))
    worse = m_f > m_s + 2 * np.hypot(se_f, se_s)
    eff = (m_s**2 * r_s) / (m_f**2 * r_f)
    return (
        f"| {name} | {budget} | {m_f:.4f} +- {se_f:.4f} [{r_f:.0f}] | "
        f"{m_s:.4f} +- {se_s:.4f} [{r_s:.0f}] | {m_s / m_f:.2f} | {eff:.2f} | "
        f"{'WORSE' if worse else 'no worse'} |"
    )


def _compare(title, predict, background, rows, n_seeds: int, which: str, first: int) -> None:
    import shap

    import ferroshap

    t0 = time.perf_counter()
    model = CountedModel(predict)
    m = background.shape[1]
    exact = ferroshap.ExactExplainer(predict, background)(rows, silent=True).values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs_exact = shap.ExactExplainer(predict, background)(rows, silent=True).values
    gap = np.abs(exact - theirs_exact).max() / np.abs(exact).max()
    print(
        f"\n### {title}\n\nExact: ferroshap vs shap max difference {gap:.1e} "
        "(relative to the largest value)\n"
    )
    print("| estimator | budget | ferroshap | shap | shap/fs | eff | verdict |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for k in (1, 2, 5, 10, 25, 50)[:first] if which in ("both", "permutation") else ():
        budget = (2 * m + 1) * k  # k antithetic permutations in shap's accounting

        def ours(seed, budget=budget):
            explainer = ferroshap.PermutationExplainer(model, background, seed=seed)
            return explainer(rows, max_evals=budget, silent=True).values

        def theirs(seed, budget=budget):
            explainer = shap.PermutationExplainer(model, background, seed=seed)
            return explainer(rows, max_evals=budget, silent=True).values

        a = _runs(ours, model, exact, n_seeds)
        b = _runs(theirs, model, exact, n_seeds)
        print(_line("Permutation", budget, a, b), flush=True)
    for k in (10, 30, 100, 300, 1000)[:first] if which in ("both", "sampling") else ():
        budget = m * k

        def ours(seed, budget=budget):
            explainer = ferroshap.SamplingExplainer(model, background, seed=seed)
            return explainer(rows, nsamples=budget, silent=True).values

        def theirs(seed, budget=budget):
            np.random.seed(seed)  # noqa: NPY002 (shap's Sampling has no seed argument)
            explainer = shap.SamplingExplainer(model, background)
            return explainer.shap_values(rows, nsamples=budget, silent=True)

        a = _runs(ours, model, exact, n_seeds)
        b = _runs(theirs, model, exact, n_seeds)
        print(_line("Sampling", budget, a, b), flush=True)
    print(f"\n({time.perf_counter() - t0:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="runs per budget and library")
    parser.add_argument("--estimator", choices=("both", "permutation", "sampling"), default="both")
    parser.add_argument("--first", type=int, default=6, help="only the first budgets (6: all)")
    args = parser.parse_args()

    import shap

    print(
        f"shap {shap.__version__}, {args.seeds} seeds, {N_BACKGROUND} background rows, "
        f"{N_ROWS} explained rows; error: relative RMSE vs exact (mean +- SE) "
        "[model rows per explained row]"
    )
    for title, predict, background, rows in _models():
        _compare(title, predict, background, rows, args.seeds, args.estimator, args.first)


if __name__ == "__main__":
    main()
