"""image / image_plot: layouts (channels first / last, grey), outputs as columns, labels."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import ferroshap  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    """Exact SHAP values of a linear one-vs-rest classifier (ridge regression on one-hot
    classes, solved in closed form) on 8x8 digits: for a linear model with independent
    features, phi = w * (x - mean(x)), what shap's LinearExplainer gives."""
    data = load_digits()
    X = data.data / 16.0
    onehot = np.eye(10)[data.target]
    centred = X - X.mean(axis=0)
    coef = np.linalg.solve(centred.T @ centred + np.eye(64), centred.T @ onehot).T  # (10, 64)
    rows = X[:3]
    phi = coef[None] * (rows - X.mean(axis=0))[:, None, :]  # (3, 10, 64)
    values = phi.transpose(0, 2, 1).reshape(3, 8, 8, 10)
    base = np.tile(onehot.mean(axis=0), (3, 1))
    return ferroshap.Explanation(
        values,
        base_values=base,
        data=rows.reshape(3, 8, 8),
        output_names=[f"digit {k}" for k in range(10)],
        axis_names=("rows", "height", "width", "outputs"),
    )


def _overlay(ax) -> np.ndarray:
    """The SHAP map drawn in a panel (the last image; the first is the grey underlay)."""
    return ax.get_images()[-1].get_array()


def test_outputs_are_columns_with_their_names(digits):
    axes = ferroshap.plots.image(digits[..., :4], true_labels=["a", "b", "c"], show=False)
    assert axes.shape == (3, 5)  # the image, then 4 outputs
    assert [ax.get_title() for ax in axes[0]] == ["a", "digit 0", "digit 1", "digit 2", "digit 3"]
    assert axes[1, 0].get_title() == "b" and axes[1, 1].get_title() == ""
    np.testing.assert_allclose(_overlay(axes[2, 3]), digits.values[2, :, :, 2])
    # One symmetric colour scale over every panel.
    limits = {axes[i, k].get_images()[-1].get_clim() for i in range(3) for k in range(1, 5)}
    assert len(limits) == 1 and next(iter(limits))[0] == -next(iter(limits))[1]


def test_channels_first_and_last_give_the_same_picture(tmp_path):
    rng = np.random.default_rng(1)
    last = rng.normal(size=(2, 6, 5, 3))  # (n, h, w, c)
    pixels = rng.uniform(0, 255, size=(2, 6, 5, 3))
    first = last.transpose(0, 3, 1, 2)
    a = ferroshap.plots.image(last, pixels, show=False)
    b = ferroshap.plots.image(first, pixels.transpose(0, 3, 1, 2), channels_first=True, show=False)
    assert a.shape == b.shape == (2, 2)
    np.testing.assert_allclose(_overlay(a[1, 1]), last[1].sum(axis=-1))
    np.testing.assert_allclose(_overlay(b[1, 1]), last[1].sum(axis=-1))
    # 0..255 pixels are rescaled to [0, 1] for display.
    shown = a[0, 0].get_images()[0].get_array()
    assert shown.min() >= 0 and shown.max() <= 1 and shown.max() > 0.9
    # Axis names decide without channels_first.
    sv = ferroshap.Explanation(
        first, data=pixels.transpose(0, 3, 1, 2), axis_names=("rows", "channels", "height", "width")
    )
    c = ferroshap.plots.image(sv, show=False)
    np.testing.assert_allclose(_overlay(c[0, 1]), last[0].sum(axis=-1))
    with pytest.raises(ValueError, match="contradicts"):
        ferroshap.plots.image(sv, channels_first=False, show=False)


def test_shap_explanation_of_images(digits):
    import shap

    # shap's Explanation has no axis names: shap's channels-last layout applies.
    sv = shap.Explanation(digits.values[..., np.newaxis, :2], data=digits.data[..., np.newaxis])
    axes = ferroshap.plots.image(sv, show=False)
    assert axes.shape == (3, 3)
    np.testing.assert_allclose(_overlay(axes[1, 2]), digits.values[1, :, :, 1])


def test_plainly_channels_first_array_asks_for_the_flag():
    with pytest.raises(ValueError, match="channels_first=True"):
        ferroshap.plots.image(np.zeros((2, 3, 28, 28)), show=False)


def test_legacy_list_of_outputs_and_labels_per_panel():
    rng = np.random.default_rng(2)
    outputs = [rng.normal(size=(2, 4, 4)) for _ in range(3)]  # grey images, 3 outputs
    labels = np.array([["x0", "y0", "z0"], ["x1", "y1", "z1"]])
    axes = ferroshap.image_plot(outputs, labels=labels, show=False)
    assert axes.shape == (2, 3)  # no pixel column
    assert [ax.get_title() for ax in axes[1]] == ["x1", "y1", "z1"]
    np.testing.assert_allclose(_overlay(axes[0, 2]), outputs[2][0])


def test_given_axes_and_saved_image_not_blank(digits, tmp_path):
    fig, grid = plt.subplots(3, 3, figsize=(6, 6))
    returned = ferroshap.plots.image(digits[..., :2], ax=grid, show=False)
    assert returned.shape == (3, 3) and returned[0, 0] is grid[0, 0]
    fig.savefig(tmp_path / "image.png", dpi=50)
    image = plt.imread(tmp_path / "image.png")[..., :3]
    assert image.std() > 0.1  # digits and colour maps, not a blank page
    with pytest.raises(ValueError, match="must hold 9 Axes"):
        ferroshap.plots.image(digits[..., :2], ax=grid[:2], show=False)


def test_bad_input_errors(digits):
    with pytest.raises(ValueError, match="labels must be 10 output names"):
        ferroshap.plots.image(digits, labels=["a", "b"], show=False)
    with pytest.raises(ValueError, match="true_labels has 1 entries for 3 images"):
        ferroshap.plots.image(digits, true_labels=["a"], show=False)
    with pytest.raises(ValueError, match="must match"):
        ferroshap.plots.image(np.zeros((2, 4, 4, 1)), np.zeros((2, 5, 4, 1)), show=False)
    with pytest.raises(ValueError, match="images"):
        ferroshap.plots.image(np.zeros(5), show=False)
