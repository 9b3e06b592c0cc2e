"""Draw every ferroshap plot into docs/gallery/: a PNG per plot, the HTML force and text plots.

Usage::

    python scripts/make_gallery.py [OUT_DIR]      # default: docs/gallery

The data is the bundled example (XGBoost on scikit-learn's diabetes data, ``ferroshap.datasets``)
and scikit-learn's bundled digits (image plot); nothing is downloaded. Every picture is
deterministic for a given matplotlib: the Agg backend, fixed sizes, DPI and fonts (matplotlib's
own DejaVu Sans), and no randomness without a seed. ``gallery.json`` records the matplotlib and
FreeType versions that drew the PNGs: ``tests/plots/test_gallery.py`` redraws them and compares
with these baselines where the versions match.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ferroshap  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "gallery"
DPI = 100
# Fixed rendering settings, whatever the user's matplotlibrc says.
RC = {
    "font.family": "DejaVu Sans",
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "path.simplify": True,
}

# The review sentences of the text-plot example: a tiny bag-of-words sentiment model.
_REVIEWS = [
    ("a great film with a wonderful cast", 1),
    ("great acting and a moving story", 1),
    ("not good at all , a dull story", 0),
    ("a boring and predictable plot", 0),
    ("wonderful , moving and funny", 1),
    ("the cast was great but the plot was dull", 0),
    ("funny and clever , not boring", 1),
    ("bad acting , bad story , not funny", 0),
    ("a clever plot and a great ending", 1),
    ("predictable , dull and far too long", 0),
]
_TEXT = ["The ", "cast ", "was ", "great ", "but ", "the ", "story ", "was ", "dull ", "and "]
_TEXT += ["far ", "too ", "long", "."]


def diabetes() -> tuple[Any, Any, Any]:
    """The bundled example: its explanation, the explainer and the data."""
    from ferroshap.datasets import load_example

    model_path, X = load_example()
    explainer = ferroshap.TreeExplainer.from_file(model_path)
    return explainer(X), explainer, X


def digits_explanation() -> Any:
    """Exact SHAP values of a linear one-vs-rest digit classifier (ridge regression on one-hot
    classes, closed form) for four digits: ``phi = w * (x - mean(x))``, as shap's
    LinearExplainer gives for a linear model with independent features."""
    from sklearn.datasets import load_digits

    data = load_digits()
    X = data.data / 16.0
    onehot = np.eye(10)[data.target]
    centred = X - X.mean(axis=0)
    coef = np.linalg.solve(centred.T @ centred + np.eye(64), centred.T @ onehot).T
    picked = [0, 1, 2, 3]
    phi = coef[None] * (X[picked] - X.mean(axis=0))[:, None, :]  # (4, 10, 64)
    return ferroshap.Explanation(
        phi.transpose(0, 2, 1).reshape(4, 8, 8, 10),
        base_values=np.tile(onehot.mean(axis=0), (4, 1)),
        data=X[picked].reshape(4, 8, 8),
        output_names=[f"digit {k}" for k in range(10)],
        axis_names=("rows", "height", "width", "outputs"),
    ), [f"true: {data.target[i]}" for i in picked]


def text_explanation() -> Any:
    """Token SHAP values of a linear bag-of-words sentiment model (ridge regression on word
    presence over ten short reviews) for one sentence: ``phi = w * (x - mean(x))`` per word,
    split evenly over the word's tokens when it occurs more than once."""
    vocabulary = sorted({w for text, _ in _REVIEWS for w in text.split()})
    index = {w: i for i, w in enumerate(vocabulary)}
    X = np.zeros((len(_REVIEWS), len(vocabulary)))
    for row, (text, _) in enumerate(_REVIEWS):
        for word in text.split():
            X[row, index[word]] = 1.0
    y = np.array([label for _, label in _REVIEWS], dtype=np.float64)
    mean = X.mean(axis=0)
    centred = X - mean
    coef = np.linalg.solve(
        centred.T @ centred + 0.5 * np.eye(len(vocabulary)), centred.T @ (y - y.mean())
    )
    words = [t.strip().lower() for t in _TEXT]
    present = np.zeros(len(vocabulary))
    for w in words:
        if w in index:
            present[index[w]] = 1.0
    word_phi = coef * (present - mean)
    counts = {w: words.count(w) for w in words}
    values = np.array([word_phi[index[w]] / counts[w] if w in index else 0.0 for w in words])
    return ferroshap.Explanation(values, base_values=float(y.mean()), data=np.array(_TEXT))


def _rows_at_quantiles(X: Any, column: str) -> list[int]:
    """Rows at the 10th, 50th and 90th percentile of a column: stems spread over the axis."""
    values = np.asarray(X[column] if hasattr(X, "columns") else X[:, 2], dtype=np.float64)
    order = np.argsort(values, kind="stable")
    return [int(order[int(q * (len(order) - 1))]) for q in (0.1, 0.5, 0.9)]


def _partial_dependence(sv, explainer, X) -> Any:
    ensemble = explainer.ensemble

    def predict(frame: Any) -> np.ndarray:
        matrix = np.asarray(frame.to_numpy() if hasattr(frame, "to_numpy") else frame, float)
        return ensemble.predict_margin(matrix)[:, 0]

    return ferroshap.plots.partial_dependence(
        "bmi", predict, X, model_expected_value=True, feature_expected_value=True,
        shap_values=sv[_rows_at_quantiles(X, "bmi")], npoints=60, show=False,
    )  # fmt: skip


def _image(plots: Any) -> Any:
    digits, labels = digits_explanation()
    return plots.image(digits[..., :5], true_labels=labels, show=False)


def png_plots() -> dict[str, Callable[[], Any]]:
    """Name -> a function that draws the plot (and returns its Axes or array of Axes)."""
    sv, explainer, X = diabetes()
    plots = ferroshap.plots
    return {
        "waterfall": lambda: plots.waterfall(sv[0], show=False),
        "beeswarm": lambda: plots.beeswarm(sv, show=False),
        "bar": lambda: plots.bar(sv, show=False),
        "scatter": lambda: plots.scatter(sv[:, "bmi"], color=sv, show=False),
        "heatmap": lambda: plots.heatmap(sv[:200], show=False),
        "decision": lambda: plots.decision(
            float(sv.base_values[0]), sv.values[:30], X[:30], show=False
        ),
        "violin": lambda: plots.violin(sv, show=False),
        "force": lambda: plots.force(sv[0], matplotlib=True, show=False),
        "image": lambda: _image(plots),
        "partial_dependence": lambda: _partial_dependence(sv, explainer, X),
        "embedding": lambda: plots.embedding("bmi", sv, show=False),
    }


def _figure(drawn: Any) -> Any:
    if isinstance(drawn, np.ndarray):
        drawn = drawn.ravel()[0]
    if hasattr(drawn, "figure"):
        return drawn.figure
    return plt.gcf()


def draw_png(name: str, draw: Callable[[], Any], out: Path) -> Path:
    """Draw one plot with the fixed settings and save it as ``out / name.png``."""
    path = out / f"{name}.png"
    with matplotlib.rc_context(RC):
        figure = _figure(draw())
        figure.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.15,
                       metadata={"Software": None})  # fmt: skip
        plt.close("all")
    return path


def versions() -> dict[str, str]:
    """What decides the pixels: matplotlib and the FreeType it renders text with."""
    from matplotlib import ft2font

    return {"matplotlib": matplotlib.__version__, "freetype": ft2font.__freetype_version__}


def make_gallery(out: Path = DEFAULT_OUT) -> list[Path]:
    """Write every picture into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [draw_png(name, draw, out) for name, draw in png_plots().items()]
    sv, _, _ = diabetes()
    html = {
        "force.html": ferroshap.plots.force(sv[0]),
        "force_rows.html": ferroshap.plots.force(sv[:150]),
        "text.html": ferroshap.plots.text(text_explanation()),
    }
    for name, plot in html.items():
        plot.save_html(out / name)
        written.append(out / name)
    manifest = {
        **versions(),
        "dpi": DPI,
        "png": sorted(p.name for p in written if p.suffix == ".png"),
    }
    (out / "gallery.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    for path in make_gallery(target):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
