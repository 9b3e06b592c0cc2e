"""``plots._style`` (shap's style options) and the waterfall plot drawn with them."""

import dataclasses
from typing import get_type_hints

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgba

import ferroshap
from ferroshap.plots import _style
from ferroshap.utils._exceptions import InvalidStyleOptionError

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def default_style():
    _style.set_style(_style.load_default_style())
    yield
    _style.set_style(_style.load_default_style())


def test_set_style_and_context_restore():
    assert _style.get_style() == _style.load_default_style()
    _style.set_style(text_color="green")
    assert _style.get_style().text_color == "green"
    with _style.style_context(text_color="black", vlines_color="red"):
        assert (_style.get_style().text_color, _style.get_style().vlines_color) == ("black", "red")
    assert _style.get_style().text_color == "green"
    with pytest.raises(RuntimeError), _style.style_context(text_color="blue"):
        raise RuntimeError("inside")
    assert _style.get_style().text_color == "green"  # restored after an error too


def test_unknown_options_are_refused_by_name():
    with pytest.raises(InvalidStyleOptionError, match="Invalid style config option: foo"):
        _style.set_style(foo="bar")
    with pytest.raises(ValueError, match="foo"), _style.style_context(foo="bar"):
        pass


def test_config_and_options_have_the_same_fields():
    assert get_type_hints(_style.StyleConfig) == get_type_hints(_style.StyleOptions)
    assert set(_style.load_default_style().asdict()) == {
        f.name for f in dataclasses.fields(_style.StyleConfig)
    }


def _explanation():
    values = np.array([[0.5, -0.25, 1.0]])
    return ferroshap.Explanation(
        values, base_values=np.array([0.1]), data=np.array([[1.0, 2.0, 3.0]])
    )[0]


def test_waterfall_draws_with_the_style():
    import matplotlib.pyplot as plt

    with _style.style_context(
        primary_color_positive="#9ACD32",
        primary_color_negative="#FFA500",
        text_color="black",
        vlines_color="red",
        tick_labels_color="red",
    ):
        ax = ferroshap.plots.waterfall(_explanation(), show=False)
    bars = {tuple(p.get_facecolor()) for p in ax.patches}
    assert bars == {to_rgba("#9ACD32"), to_rgba("#FFA500")}
    assert {to_rgba(line.get_color()) for line in ax.lines} == {to_rgba("red")}
    assert all(to_rgba(t.get_color()) == to_rgba("red") for t in ax.get_yticklabels())
    inside = [t for t in ax.texts if t.get_text().startswith(("+", "-"))]
    assert any(to_rgba(t.get_color()) == to_rgba("black") for t in inside)
    plt.close("all")
    default = ferroshap.plots.waterfall(_explanation(), show=False)
    assert {tuple(p.get_facecolor()) for p in default.patches} == {
        to_rgba("#D55E00"),
        to_rgba("#0072B2"),
    }
    plt.close("all")
