"""ferroshap.plots: lazy loading, shap's names, and clear errors for names not offered."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ferroshap
import ferroshap.plots


def test_import_loads_no_matplotlib():
    code = "import sys, ferroshap, ferroshap.plots; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", ["image_to_text", "benchmark"])
def test_shap_names_not_offered_say_what_to_use(name):
    with pytest.raises(ferroshap.plots.NotOfferedError, match="ferroshap.plots.") as info:
        getattr(ferroshap.plots, name)
    assert isinstance(info.value, AttributeError) and type(info.value) is not AttributeError


@pytest.mark.parametrize(
    ("legacy", "name"),
    [
        ("group_difference_plot", "group_difference"),
        ("monitoring_plot", "monitoring"),
        ("multioutput_decision_plot", "multioutput_decision"),
    ],
)
def test_top_level_legacy_names_are_the_plots(legacy, name):
    assert getattr(ferroshap, legacy) is getattr(ferroshap.plots, name)


def test_unknown_name_is_a_plain_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        ferroshap.plots.nonsense  # noqa: B018
