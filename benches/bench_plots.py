"""Side-by-side benchmark of the beeswarm and scatter plots: ferroshap against shap's own.

Both libraries draw the same explanation (random SHAP values and feature values, 100,000 rows x
50 features by default) on matplotlib's Agg backend, and each timing covers the whole job a user
waits for: the plot call and ``savefig`` of a PNG at 100 dpi (matplotlib draws lazily, so
without the save the drawing is not timed). Runs alternate between the two libraries and the
fastest of ``--repeat`` runs counts. Run from the repository root:

    PYTHONPATH=python python benches/bench_plots.py            # 100,000 x 50, 3 runs each
    PYTHONPATH=python python benches/bench_plots.py --quick    # 5,000 x 50, 1 run

Cases:

* beeswarm: ``plots.beeswarm(sv)`` (10 lines, the last one "Sum of 41 other features").
* scatter: ``plots.scatter(sv[:, "f0"], color=sv)``: one feature against its values, coloured
  by the automatically chosen interacting feature (shap: ``approximate_interactions``).
"""

from __future__ import annotations

import argparse
import io
import platform
import time
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def make_explanation(n_rows: int, n_features: int):
    import ferroshap

    rng = np.random.default_rng(0)
    data = rng.normal(size=(n_rows, n_features))
    scale = np.linspace(2.0, 0.1, n_features)
    values = data * scale + 0.3 * data[:, [1]] * data[:, [0]] + rng.normal(size=data.shape) * 0.1
    names = [f"f{j}" for j in range(n_features)]
    return ferroshap.Explanation(
        values, base_values=np.zeros(n_rows), data=data, feature_names=names
    )


def timed(draw) -> float:
    start = time.perf_counter()
    draw()
    buffer = io.BytesIO()
    plt.gcf().savefig(buffer, format="png", dpi=100)
    elapsed = time.perf_counter() - start
    plt.close("all")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="5,000 rows, one run")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeat = 5_000, 1

    import shap

    import ferroshap

    sv = make_explanation(args.rows, args.features)
    theirs = sv.to_shap()
    cases = {
        "beeswarm": (
            lambda: ferroshap.plots.beeswarm(sv, show=False),
            lambda: shap.plots.beeswarm(theirs, show=False),
        ),
        "scatter": (
            lambda: ferroshap.plots.scatter(sv[:, "f0"], color=sv, show=False),
            lambda: shap.plots.scatter(theirs[:, "f0"], color=theirs, show=False),
        ),
    }
    print(
        f"python {platform.python_version()}, matplotlib {matplotlib.__version__}, "
        f"shap {shap.__version__}, ferroshap {ferroshap.__version__}"
    )
    print(
        f"{args.rows:,} rows x {args.features} features, best of {args.repeat}, "
        "plot + savefig(png, dpi=100)"
    )
    print(f"{'plot':<10} {'ferroshap s':>12} {'shap s':>10} {'shap/ferroshap':>15}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shap's own deprecation notices
        for name, (ours, anchor) in cases.items():
            mine, shaps = [], []
            for _ in range(args.repeat):
                mine.append(timed(ours))
                shaps.append(timed(anchor))
            print(
                f"{name:<10} {min(mine):>12.2f} {min(shaps):>10.2f} "
                f"{min(shaps) / min(mine):>14.1f}x"
            )


if __name__ == "__main__":
    main()
