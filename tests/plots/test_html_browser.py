"""The HTML force and text plots in a real headless Chromium (the system package).

Each page is opened twice: ``--dump-dom`` (the DOM after the plot's script and a small test
script ran, plus the browser's console log on stderr) and ``--screenshot``. Checked: no console
message at all (the plots log nothing, so any message is an error or a warning), the elements
the script adds, a tooltip that appears on a synthetic hover, and a screenshot that shows the
plot's colours.

Chromium comes from the system packages (``scripts/ensure_chromium.sh``; CI runs it). Where it is
missing the tests skip with that reason, unless ``FERROSHAP_REQUIRE_BROWSER=1`` is set (CI sets
it), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import ferroshap
from ferroshap.plots._common import NEGATIVE, POSITIVE

CHROMIUM = next(
    (path for path in map(shutil.which, ["chromium", "chromium-browser", "google-chrome"]) if path),
    None,
)

# Runs after the plot's own script: hovers the first segment / token (or the stacked chart),
# switches the stacked view's order, and records what happened on <body> for --dump-dom.
_PROBE = """<script>
(function(){
  var root = document.querySelector(".ferroshap-plot");
  var target = root.querySelector(".fs-token") || root.querySelector(".fs-seg")
      || root.querySelector("svg");
  var box = target.getBoundingClientRect();
  target.dispatchEvent(new MouseEvent("mousemove", {bubbles: true,
      clientX: box.left + box.width / 2, clientY: box.top + box.height / 2}));
  var tip = root.querySelector(".fs-tooltip");
  document.body.setAttribute("data-tip-display", tip ? tip.style.display : "missing");
  document.body.setAttribute("data-tip-text", tip ? tip.textContent : "");
  var hot = root.querySelectorAll(".fs-hot").length;
  document.body.setAttribute("data-hot", String(hot));
  var select = root.querySelector("select.fs-order-select");
  if (select) {
    select.selectedIndex = 1;
    select.dispatchEvent(new Event("change"));
    var shown = [];
    root.querySelectorAll("g.fs-order").forEach(function(g) {
      if (g.style.display !== "none") { shown.push(g.getAttribute("data-order")); }
    });
    document.body.setAttribute("data-shown-order", shown.join(","));
  }
})();
</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        if os.environ.get("FERROSHAP_REQUIRE_BROWSER"):
            pytest.fail("FERROSHAP_REQUIRE_BROWSER is set but no chromium is on PATH")
        pytest.skip("Chromium is not installed: run scripts/ensure_chromium.sh (CI does)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    flags += ["--disable-dev-shm-usage"]  # containers often have a tiny /dev/shm
    flags += ["--enable-logging=stderr", "--v=0", "--no-first-run", "--disable-extensions"]
    return subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120, check=True
    )


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def _open(tmp_path, plot) -> tuple[str, np.ndarray]:
    """The DOM after the scripts ran, and the screenshot as an RGB array in [0, 1]."""
    import matplotlib.image

    page = tmp_path / "plot.html"
    page.write_text(plot.html(full_html=True).replace("</body>", _PROBE + "</body>"), "utf-8")
    profile = f"--user-data-dir={tmp_path / 'profile'}"
    dumped = _chromium(profile, "--dump-dom", page.as_uri())
    assert _console(dumped.stderr) == [], _console(dumped.stderr)
    shot = tmp_path / "shot.png"
    taken = _chromium(profile, "--window-size=1100,700", f"--screenshot={shot}", page.as_uri())
    assert _console(taken.stderr) == [], _console(taken.stderr)
    return dumped.stdout, matplotlib.image.imread(shot)[..., :3]


def _pixels_near(image: np.ndarray, hex_colour: str, tolerance: float = 0.08) -> int:
    """Pixels within ``tolerance`` (per channel, of 1.0) of the colour: the fill of a shape;
    anti-aliased edges fall outside, so the count measures filled area."""
    rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image - rgb).max(axis=-1) < tolerance).sum())


def _attribute(dom: str, name: str) -> str:
    match = re.search(rf'<body[^>]* {name}="([^"]*)"', dom)
    assert match, f"<body> has no {name} after the scripts ran"
    return match.group(1)


@pytest.fixture(scope="module")
def diabetes():
    from ferroshap.datasets import load_example

    model_path, X = load_example()
    return ferroshap.TreeExplainer.from_file(model_path)(X)


def test_force_single_row_in_chromium(tmp_path, diabetes):
    dom, image = _open(tmp_path, ferroshap.plots.force(diabetes[0]))
    assert 'data-ready="1"' in dom  # the plot's script ran to its end
    # Every feature of this row pushes (none is exactly 0): one segment each.
    assert np.count_nonzero(diabetes[0].values) == 10
    assert len(re.findall(r"class=\"fs-seg[\" ]", dom)) == 10
    for name in ("bmi", "s5", "sex"):
        assert f'data-feature="{name}"' in dom
    # Hovering a segment shows the tooltip with the feature and its SHAP value.
    assert _attribute(dom, "data-tip-display") == "block"
    assert "SHAP value" in _attribute(dom, "data-tip-text")
    assert _attribute(dom, "data-hot") == "1"
    # Filled areas of both colours: ~20k px in a 1100 px wide window; 2000 is far above noise.
    assert _pixels_near(image, POSITIVE) > 2000 and _pixels_near(image, NEGATIVE) > 2000


def test_force_stacked_in_chromium(tmp_path, diabetes):
    dom, image = _open(tmp_path, ferroshap.plots.force(diabetes[:60]))
    assert 'data-ready="1"' in dom
    assert dom.count("<option") == 3  # similarity, output value, original order
    # Choosing the second order shows exactly that group of bands.
    assert _attribute(dom, "data-shown-order") == "output"
    assert "row " in _attribute(dom, "data-tip-text")  # hover names the row under the mouse
    assert _pixels_near(image, POSITIVE) > 2000 and _pixels_near(image, NEGATIVE) > 2000


def test_text_in_chromium(tmp_path):
    tokens = np.array(["The ", "film ", "was ", "not ", "good ", "at ", "all", "."])
    values = np.array([0.01, 0.05, -0.02, -0.7, 0.4, -0.1, -0.3, 0.02])
    sv = ferroshap.Explanation(values, base_values=0.3, data=tokens)
    dom, image = _open(tmp_path, ferroshap.plots.text(sv))
    assert 'data-ready="1"' in dom
    assert len(re.findall(r"class=\"fs-token[\" ]", dom)) == len(tokens)
    assert "not :" not in dom  # tooltips name the stripped token
    assert _attribute(dom, "data-tip-text") == "The: +0.01"
    # The hovered token and its segment in the force bar light up together.
    assert _attribute(dom, "data-hot") == "2"
    # 'not ' has the largest |SHAP|: a strong blue background.
    assert _pixels_near(image, NEGATIVE, tolerance=0.25) > 300


def test_two_plots_on_one_page_each_run_their_own_script(tmp_path, diabetes):
    # As in a notebook: several outputs in one document; ids and scripts must not collide.
    first, second = ferroshap.plots.force(diabetes[0]), ferroshap.plots.force(diabetes[0])
    assert first.element_id != second.element_id
    page = tmp_path / "two.html"
    page.write_text(
        "<!DOCTYPE html><html><body>" + first.html() + second.html() + "</body></html>", "utf-8"
    )
    dumped = _chromium(f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri())
    assert _console(dumped.stderr) == []
    assert dumped.stdout.count('data-ready="1"') == 2
    assert dumped.stdout.count('class="fs-tooltip"') == 2  # one per plot, inside its own root
