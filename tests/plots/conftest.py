"""Plot tests draw on matplotlib's Agg backend (no display) and close every figure they open.

Fixtures give real explanations: ferroshap's TreeExplainer on scikit-learn models trained on
scikit-learn's bundled diabetes (regression, named DataFrame columns) and iris (3 classes).
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

import ferroshap  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def diabetes_sv():
    """(200 rows, 10 named features), one output, with base values and data."""
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X, y = X.iloc[:200], y.iloc[:200]
    model = GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X, y)
    return ferroshap.TreeExplainer(model)(X)


@pytest.fixture(scope="session")
def iris_sv():
    """(150 rows, 4 features, 3 outputs named '0', '1', '2')."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, y)
    return ferroshap.TreeExplainer(model)(X)


def pixel_std(fig) -> float:
    """Standard deviation of the saved PNG's pixels: 0 for a blank (single-colour) image."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=50)
    buffer.seek(0)
    return float(matplotlib.image.imread(buffer, format="png")[..., :3].std())


def ytick_texts(ax) -> list[str]:
    """Tick labels top to bottom, whatever order the ticks were set in."""
    ax.figure.canvas.draw()
    ticks = zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels()), strict=True)
    bottom, top = ax.get_ylim()
    return [text for _, text in sorted(ticks, reverse=bool(top > bottom))]


def hex_of(patch) -> str:
    return to_hex(patch.get_facecolor(), keep_alpha=False).upper()


@pytest.fixture
def helpers():
    """pixel_std, ytick_texts and hex_of, for test modules (importlib mode has no package)."""
    return type(
        "Helpers",
        (),
        {
            "pixel_std": staticmethod(pixel_std),
            "ytick_texts": staticmethod(ytick_texts),
            "hex_of": staticmethod(hex_of),
        },
    )


def top_features(sv, k: int) -> list[str]:
    order = np.argsort(-np.abs(sv.values).mean(0), kind="stable")
    return [sv.feature_names[j] for j in order[:k]]
