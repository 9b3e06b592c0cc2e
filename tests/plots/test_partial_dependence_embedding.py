"""partial_dependence (model called on modified data) and embedding (PCA of SHAP values)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import polars as pl
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402

import ferroshap  # noqa: E402
from ferroshap.plots._common import NEGATIVE, POSITIVE  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def linear():
    """A linear regression on generated data: its exact SHAP values are w * (x - mean(x))."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([2.0, -1.0, 0.5]) + rng.normal(scale=0.1, size=200)
    model = LinearRegression().fit(X, y)
    values = model.coef_ * (X - X.mean(axis=0))
    base = np.full(200, model.predict(X).mean())
    sv = ferroshap.Explanation(values, base_values=base, data=X, feature_names=["a", "b", "c"])
    return model, X, sv


def test_pd_line_is_the_mean_prediction_and_shap_stems_end_on_it(linear):
    model, X, sv = linear
    ax = ferroshap.plots.partial_dependence(
        "a",
        model.predict,
        X,
        feature_names=["a", "b", "c"],
        ice=False,
        npoints=25,
        shap_values=sv[[3, 7]],
        show=False,
    )
    (line,) = ax.get_lines()[:1]
    grid, pd_values = line.get_data()
    assert len(grid) == 25 and grid[0] == X[:, 0].min() and grid[-1] == X[:, 0].max()
    expected = [model.predict(np.column_stack([np.full(200, g), X[:, 1:]])).mean() for g in grid]
    np.testing.assert_allclose(pd_values, expected, rtol=1e-12)
    # For an additive model, base + SHAP value = the PD line at the row's value (float noise).
    stems = ax.collections[0]
    for (x0, y0), (x1, y1) in (seg for seg in stems.get_segments()):
        assert x0 == x1 and y0 == pytest.approx(sv.base_values[0])
        assert y1 == pytest.approx(np.interp(x0, grid, pd_values), abs=1e-9)
    colours = [to_hex(c).upper() for c in stems.get_colors()]
    signs = np.sign(sv.values[[3, 7], 0])
    assert colours == [POSITIVE if s > 0 else NEGATIVE for s in signs]
    assert ax.get_xlabel() == "a" and ax.get_ylabel() == "E[f(x) | a]"


def test_ice_lines_one_per_row_and_dataframes_reach_the_model(linear):
    model, X, _ = linear
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    seen = []

    def predict(data):
        seen.append(type(data))
        return model.predict(data.to_numpy())

    ax = ferroshap.plots.partial_dependence("c", predict, frame, npoints=10, show=False)
    assert set(seen) == {pd.DataFrame}
    ice = [line for line in ax.get_lines() if len(line.get_xdata()) == 10]
    assert len(ice) == 200 + 1  # one per row, then the average
    polars_seen = []

    def predict_polars(data):
        polars_seen.append(type(data))
        return model.predict(data.to_numpy())

    ferroshap.plots.partial_dependence(
        1, predict_polars, pl.from_pandas(frame), npoints=5, hist=False, show=False
    )
    assert set(polars_seen) == {pl.DataFrame}


def test_expected_value_lines_and_percentile_bounds(linear, tmp_path):
    model, X, _ = linear
    ax = ferroshap.plots.partial_dependence(
        0,
        model.predict,
        X,
        xmin="percentile(5)",
        xmax="percentile(95)",
        model_expected_value=True,
        feature_expected_value=True,
        show=False,
    )
    low, high = np.percentile(X[:, 0], [5, 95])
    assert ax.get_xlim() == pytest.approx((low, high))
    texts = [t.get_text() for t in ax.texts]
    assert "E[f(x)]" in texts and "E[Feature 0]" in texts
    ax.figure.savefig(tmp_path / "pd.png", dpi=50)
    assert plt.imread(tmp_path / "pd.png")[..., :3].std() > 0.05  # not blank


def test_pd_errors(linear):
    model, X, _ = linear
    with pytest.raises(ValueError, match="no feature named 'z'"):
        ferroshap.plots.partial_dependence("z", model.predict, X, show=False)
    with pytest.raises(IndexError, match="out of range for 3 features"):
        ferroshap.plots.partial_dependence(5, model.predict, X, show=False)
    with pytest.raises(ValueError, match="one output per row"):
        ferroshap.plots.partial_dependence(0, lambda d: np.ones((len(d), 2)), X, show=False)
    with pytest.raises(ValueError, match="percentile"):
        ferroshap.plots.partial_dependence(0, model.predict, X, xmin="median", show=False)
    with pytest.raises(NotImplementedError, match="one feature"):
        ferroshap.plots.partial_dependence((0, 1), model.predict, X, show=False)


def test_embedding_is_the_pca_of_the_values_coloured_by_the_feature(linear):
    _, _, sv = linear
    ax = ferroshap.plots.embedding("b", sv, show=False)
    points = ax.collections[0]
    offsets = points.get_offsets()
    # numpy's SVD projection equals scikit-learn's PCA up to the sign of each component.
    from sklearn.decomposition import PCA

    reference = PCA(n_components=2).fit_transform(sv.values)
    for k in range(2):
        assert np.allclose(offsets[:, k], reference[:, k], atol=1e-9) or np.allclose(
            offsets[:, k], -reference[:, k], atol=1e-9
        )
    np.testing.assert_array_equal(points.get_array(), sv.values[:, 1])
    colorbar_label = ax.figure.axes[-1].get_ylabel()
    assert colorbar_label == "SHAP value of b"
    top = ferroshap.plots.embedding("rank(0)", sv.values, feature_names=["a", "b", "c"], show=False)
    assert top.figure.axes[-1].get_ylabel() == "SHAP value of a"  # |w| = 2 is the largest


def test_embedding_custom_positions_and_errors(linear):
    _, _, sv = linear
    positions = np.column_stack([np.arange(200.0), np.zeros(200)])
    ax = ferroshap.plots.embedding(0, sv, method=positions, show=False)
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), positions)
    with pytest.raises(ValueError, match=r"shape \(200, 2\)"):
        ferroshap.plots.embedding(0, sv, method=positions[:5], show=False)
    with pytest.raises(ValueError, match="no feature named"):
        ferroshap.plots.embedding("nope", sv, show=False)
    with pytest.raises(ValueError, match="several rows"):
        ferroshap.plots.embedding(0, sv[0], show=False)
    multi = ferroshap.Explanation(np.ones((4, 3, 2)), base_values=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="2 outputs"):
        ferroshap.plots.embedding(0, multi, show=False)
