"""Self-contained HTML plots: the object the force and text plots return, and ``save_html``.

Every HTML plot is one fragment: an inline ``<style>``, the markup (SVG or spans) and an inline
``<script>``. Nothing is loaded from the network and no JavaScript library is needed, so the
same fragment renders in Jupyter, JupyterLab, VS Code, Colab, a Streamlit ``components.html``
and a plain browser. The markup is complete before any script runs: where scripts are stripped
(GitHub's notebook viewer, e-mail) the picture still shows, with the browser's own tooltips;
the script only adds the interactive parts.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import os
from typing import Any

__all__ = ["HTMLPlot", "save_html"]

_counter = itertools.count()


class HTMLPlot:
    """An interactive plot as self-contained HTML; shows itself in notebooks.

    Returned by :func:`ferroshap.plots.force` (without ``matplotlib=True``) and
    :func:`ferroshap.plots.text`.

    Attributes
    ----------
    kind
        ``"force"``, ``"force-stacked"`` or ``"text"``.

    Examples
    --------
    >>> plot = ferroshap.plots.force(explanation[0])  # doctest: +SKIP
    >>> plot  # in a notebook: draws the plot  # doctest: +SKIP
    >>> plot.save_html("force.html")  # a page that opens in any browser  # doctest: +SKIP
    >>> fragment = plot.html()  # to embed in your own page  # doctest: +SKIP
    """

    def __init__(self, kind: str, title: str, body: str, css: str, script: str) -> None:
        self.kind = kind
        self.title = title
        digest = hashlib.sha1(body.encode()).hexdigest()[:8]
        # Unique within a page even when the same plot is shown twice in one notebook.
        self.element_id = f"ferroshap-{kind}-{digest}-{next(_counter)}"
        self._body = body
        self._css = css
        self._script = script

    def html(self, full_html: bool = False) -> str:
        """The plot as HTML.

        Parameters
        ----------
        full_html
            ``True``: a whole page (``<!DOCTYPE html>`` ... ``</html>``); ``False``: a fragment
            to embed in a page (what notebooks show).
        """
        fragment = (
            f'<div class="ferroshap-plot ferroshap-{self.kind}" id="{self.element_id}">'
            f"<style>{self._css}</style>{self._body}"
            f"<script>(function(root){{{self._script}}})"
            f'(document.getElementById("{self.element_id}"));</script></div>'
        )
        if not full_html:
            return fragment
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title></head>"
            f'<body style="margin:16px">{fragment}</body></html>\n'
        )

    def _repr_html_(self) -> str:
        return self.html()

    def save_html(self, path: str | os.PathLike[str], full_html: bool = True) -> None:
        """Write the plot to ``path`` as an HTML page (or a fragment with ``full_html=False``)."""
        with open(path, "w", encoding="utf-8") as out:
            out.write(self.html(full_html=full_html))

    def __str__(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return f"<ferroshap {self.kind} plot: {self.title}>"


def save_html(out_file: str | os.PathLike[str] | Any, plot: Any, full_html: bool = True) -> None:
    """Save an HTML plot (a force or text plot) to a file, like ``shap.save_html``.

    Parameters
    ----------
    out_file
        A path, or an open text file to write into.
    plot
        What :func:`ferroshap.plots.force` or :func:`ferroshap.plots.text` returned.
    full_html
        ``True``: a whole page; ``False``: a fragment to embed.

    The file needs no network and no JavaScript library.

    Examples
    --------
    >>> ferroshap.save_html("force.html", ferroshap.plots.force(explanation[0]))  # doctest: +SKIP
    """
    if not isinstance(plot, HTMLPlot):
        hint = ""
        if type(plot).__name__ in {"Axes", "Figure"}:
            hint = " (a matplotlib plot: save it with plt.savefig or ax.figure.savefig)"
        raise TypeError(
            f"save_html takes a plot from ferroshap.plots.force or ferroshap.plots.text, "
            f"not {type(plot).__name__}{hint}"
        )
    if hasattr(out_file, "write"):
        out_file.write(plot.html(full_html=full_html))
    else:
        plot.save_html(out_file, full_html=full_html)


def json_for_script(data: Any) -> str:
    """``data`` as JSON that is safe inside a ``<script>`` element (no ``</script>`` breakout)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def esc(text: Any) -> str:
    """Text escaped for HTML / SVG content and attributes."""
    return html.escape(str(text), quote=True)


# Styles and script pieces every HTML plot uses: a tooltip that replaces the browser's own
# (``<title>`` / ``title=``) once the script runs.
BASE_CSS = (
    ".ferroshap-plot{position:relative;font-family:'DejaVu Sans',Arial,Helvetica,sans-serif;"
    "color:#333;line-height:1.3}"
    ".ferroshap-plot .fs-tooltip{position:absolute;z-index:10;pointer-events:none;"
    "background:rgba(255,255,255,.96);border:1px solid #999;border-radius:3px;padding:4px 7px;"
    "font-size:12px;white-space:pre;box-shadow:0 1px 4px rgba(0,0,0,.2)}"
)

TOOLTIP_JS = (
    'var tip=document.createElement("div");tip.className="fs-tooltip";'
    'tip.style.display="none";root.appendChild(tip);'
    'function showTip(text,ev){tip.textContent=text;tip.style.display="block";'
    "var r=root.getBoundingClientRect();var x=ev.clientX-r.left+14;"
    "if(x+tip.offsetWidth>r.width){x=Math.max(0,ev.clientX-r.left-14-tip.offsetWidth);}"
    'tip.style.left=x+"px";tip.style.top=(ev.clientY-r.top+14)+"px";}'
    'function hideTip(){tip.style.display="none";}'
    'function takeTitle(el){var t=el.querySelector("title");'
    'if(t){el.setAttribute("data-tip",t.textContent);t.parentNode.removeChild(t);}'
    'else if(el.hasAttribute("title")){el.setAttribute("data-tip",el.getAttribute("title"));'
    'el.removeAttribute("title");}return el.getAttribute("data-tip")||"";}'
)
