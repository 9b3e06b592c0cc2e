"""text: token colouring, several texts and outputs, and the HTML string form."""

from __future__ import annotations

import re

import numpy as np
import pytest

import ferroshap
from ferroshap.plots._common import NEGATIVE, POSITIVE

TOKENS = np.array(["A ", "truly ", "<great> ", "film", "."])
VALUES = np.array([0.0, 0.2, 0.8, -0.4, 0.05])


def _token_spans(html: str) -> list[tuple[str, str]]:
    """(background, text) of every token span."""
    return re.findall(r'class="fs-token"[^>]*background:([^;]*);[^>]*>([^<]*)</span>', html)


def _rgb(hex_colour: str) -> str:
    return ",".join(str(int(hex_colour[i : i + 2], 16)) for i in (1, 3, 5))


def test_one_text_colours_each_token_by_sign_and_size():
    sv = ferroshap.Explanation(VALUES, base_values=0.1, data=TOKENS)
    html = ferroshap.plots.text(sv, display=False)
    spans = _token_spans(html)
    assert [text for _, text in spans] == ["A ", "truly ", "&lt;great&gt; ", "film", "."]
    alphas = [float(bg.rsplit(",", 1)[1].rstrip(")")) for bg, _ in spans]
    # Strongest colour for the largest |SHAP| (cmax defaults to it); 0 for a zero value.
    assert alphas[2] == pytest.approx(0.85) and alphas[0] == 0.0
    assert alphas[3] == pytest.approx(0.85 * 0.4 / 0.8)
    assert _rgb(POSITIVE) in spans[2][0] and _rgb(NEGATIVE) in spans[3][0]
    assert "f(x) <b>0.75</b>" in html  # 0.1 + sum of the values
    assert 'title="&lt;great&gt;: +0.8"' in html  # tooltip text, escaped


def test_several_texts_ragged_and_outputs_give_one_block_each():
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.array([0.1, -0.2]), np.array([0.3, 0.1, -0.5])
    tokens = np.empty(2, dtype=object)
    tokens[0], tokens[1] = np.array(["ok ", "then"]), np.array(["no ", "way ", "!"])
    sv = ferroshap.Explanation(
        ragged, base_values=np.array([0.0, 1.0]), data=tokens, axis_names=("rows",)
    )
    plot = ferroshap.plots.text(sv)
    assert plot.kind == "text" and plot.html().count('class="fs-block"') == 2
    assert len(_token_spans(plot.html())) == 5
    # shap's own Explanation with ragged rows, as its text explainers return.
    import shap

    from_shap = ferroshap.plots.text(shap.Explanation(ragged, np.array([0.0, 1.0]), data=tokens))
    assert from_shap.html().count('class="fs-block"') == 2
    two_outputs = ferroshap.Explanation(
        np.stack([VALUES, -VALUES], axis=1),
        base_values=np.array([0.1, -0.1]),
        data=TOKENS,
        output_names=["pos", "neg"],
    )
    html = ferroshap.plots.text(two_outputs, display=False)
    assert html.count('class="fs-block"') == 2
    assert "<b>pos</b>" in html and "<b>neg</b>" in html


def test_options_and_errors():
    sv = ferroshap.Explanation(VALUES, base_values=0.1, data=TOKENS)
    html = ferroshap.plots.text(sv, cmax=1.6, separator=" ", display=False)
    alphas = [float(bg.rsplit(",", 1)[1].rstrip(")")) for bg, _ in _token_spans(html)]
    assert alphas[2] == pytest.approx(0.85 * 0.5)
    # Only the top token labelled in the force bar.
    top1 = ferroshap.plots.text(sv, num_starting_labels=1, display=False)
    assert re.findall(r'class="fs-label"[^>]*>([^<]*)<', top1) == ["&lt;great&gt;"]
    with pytest.raises(ValueError, match="tokens in the explanation's data"):
        ferroshap.plots.text(ferroshap.Explanation(VALUES, base_values=0.0))
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.array([0.1, -0.2]), np.array([0.3, 0.1, -0.5])
    tokens = np.empty(2, dtype=object)
    tokens[0], tokens[1] = np.array(["ok ", "then"]), np.array(["no ", "way "])
    bad = ferroshap.Explanation(ragged, base_values=np.zeros(2), data=tokens, axis_names=("rows",))
    with pytest.raises(ValueError, match=r"values \(3,\) for \(2,\) tokens"):
        ferroshap.plots.text(bad)
    with pytest.raises(ValueError, match="cmax must be positive"):
        ferroshap.plots.text(sv, cmax=0)


def test_html_plots_need_no_matplotlib():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['matplotlib'] = None\n"  # makes `import matplotlib` fail
        "import numpy as np, ferroshap\n"
        "sv = ferroshap.Explanation(np.array([0.5, -0.2]), base_values=0.1,"
        " data=np.array(['good ', 'day']))\n"
        "assert 'good' in ferroshap.plots.text(sv, display=False)\n"
        "sv = ferroshap.Explanation(np.ones((3, 2)), base_values=np.zeros(3),"
        " feature_names=['a', 'b'])\n"
        "assert 'data-feature=\"b\"' in ferroshap.plots.force(sv[0]).html()\n"
        "assert ferroshap.plots.force(sv).kind == 'force-stacked'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
