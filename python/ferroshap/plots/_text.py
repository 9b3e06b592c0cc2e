"""The text plot: token-level SHAP values as coloured text (self-contained HTML)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap.explanation import Explanation
from ferroshap.plots._common import NEGATIVE, POSITIVE, format_value, to_explanation
from ferroshap.plots._force_html import CSS as FORCE_CSS
from ferroshap.plots._force_html import single_svg
from ferroshap.plots._force_layout import layout_row
from ferroshap.plots._html import TOOLTIP_JS, HTMLPlot, esc

__all__ = ["text"]

_CSS = FORCE_CSS + (
    ".ferroshap-text .fs-block{margin:0 0 18px 0}"
    ".ferroshap-text .fs-head{font-size:13px;margin:0 0 2px 40px}"
    ".ferroshap-text .fs-head b{font-weight:bold}"
    ".ferroshap-text .fs-tokens{font-size:15px;line-height:1.9;margin:4px 40px;"
    "white-space:pre-wrap;max-width:920px}"
    ".ferroshap-text .fs-token{border-radius:3px;padding:1px 0;cursor:default}"
    ".ferroshap-text .fs-token.fs-hot{outline:2px solid #222}"
    ".ferroshap-text .fs-scale{font-size:11px;color:#666;margin:0 40px}"
)

_JS = TOOLTIP_JS + (
    'root.querySelectorAll(".fs-block").forEach(function(block){'
    'function partner(el){var sel=el.classList.contains("fs-token")?".fs-seg":".fs-token";'
    'return block.querySelector(sel+"[data-index=\\""+el.getAttribute("data-index")+"\\"]");}'
    'block.querySelectorAll(".fs-seg,.fs-token").forEach(function(el){var text=takeTitle(el);'
    'el.addEventListener("mousemove",function(ev){el.classList.add("fs-hot");'
    'var p=partner(el);if(p){p.classList.add("fs-hot");}showTip(text,ev);});'
    'el.addEventListener("mouseleave",function(){el.classList.remove("fs-hot");'
    'var p=partner(el);if(p){p.classList.remove("fs-hot");}hideTip();});});});'
    'root.setAttribute("data-ready","1");'
)


def text(
    shap_values: Any,
    num_starting_labels: int = 0,
    separator: str = "",
    xmin: float | None = None,
    xmax: float | None = None,
    cmax: float | None = None,
    display: bool = True,
) -> Any:
    """Token-level SHAP values as coloured text, with a force bar of the tokens above.

    Each token's background is vermillion where it raises the output and blue where it lowers
    it, stronger for larger ``|SHAP|``; hovering a token shows its value and highlights its push
    in the bar. The result is self-contained HTML (no network, no JavaScript library).

    Parameters
    ----------
    shap_values
        An :class:`~ferroshap.Explanation` (or ``shap.Explanation``) whose ``data`` holds the
        tokens (strings): one text ``(n_tokens,)``, several ``(n_rows, n_tokens)`` (ragged rows
        as object arrays, as shap's text explainers give), each optionally with a last output
        axis (one block per output).
    num_starting_labels
        Label this many tokens (largest ``|SHAP|`` first) in the force bar; ``0`` labels those
        with at least 5% of the total ``|SHAP|``.
    separator
        Put between tokens when showing the text (``""``: tokens carry their own spaces, as
        sub-word tokenizers give them; ``" "`` for word lists).
    xmin, xmax
        The force bar's range (default: fitted to each block).
    cmax
        The ``|SHAP|`` that gets the strongest colour (default: the largest in the plot).
    display
        ``True``: return the plot object (a notebook shows it); ``False``: return the HTML
        string, as ``shap.plots.text(..., display=False)`` does.

    Returns
    -------
    HTMLPlot or str
        The plot (``.html()``, ``.save_html(path)``, shown by notebooks), or its HTML.

    Examples
    --------
    >>> sv = ferroshap.Explanation(
    ...     np.array([0.5, -0.2, 1.5]), base_values=0.1, data=np.array(["I ", "did ", "enjoy"])
    ... )
    >>> "enjoy" in ferroshap.plots.text(sv, display=False)
    True
    """
    sv = _explanation(shap_values)
    blocks = _blocks(sv)
    if not blocks:
        raise ValueError("text needs at least one text; the explanation is empty")
    if num_starting_labels < 0:
        raise ValueError(f"num_starting_labels must be >= 0, got {num_starting_labels}")
    if cmax is None:
        cmax = max(float(np.abs(b[1]).max(initial=0.0)) for b in blocks) or 1.0
    elif cmax <= 0:
        raise ValueError(f"cmax must be positive, got {cmax}")
    html_blocks = [
        _block(title, phi, tokens, base, num_starting_labels, separator, xmin, xmax, cmax)
        for title, phi, tokens, base in blocks
    ]
    scale = (
        f'<div class="fs-scale">colour scale: <span style="background:{_rgba(NEGATIVE, 0.9)};'
        f'color:#fff;padding:0 4px">\u2212{esc(format_value(cmax))}</span> '
        f'<span style="padding:0 4px">0</span> '
        f'<span style="background:{_rgba(POSITIVE, 0.9)};color:#fff;padding:0 4px">'
        f"+{esc(format_value(cmax))}</span> (SHAP value)</div>"
    )
    plot = HTMLPlot("text", "text plot", "".join(html_blocks) + scale, _CSS, _JS)
    return plot if display else plot.html()


def _explanation(shap_values: Any) -> Explanation:
    values = getattr(shap_values, "values", None)
    ragged = getattr(getattr(values, "dtype", None), "kind", "") == "O"
    if type(shap_values).__module__.startswith("shap") and ragged:
        # shap's text explainers give ragged rows as object arrays: one row per text.
        return Explanation(
            values,
            base_values=shap_values.base_values,
            data=_object_array(shap_values.data),
            output_names=getattr(shap_values, "output_names", None),
            axis_names=("rows",),
        )
    return to_explanation(shap_values, "text")


def _object_array(rows: Any) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    out[:] = [np.asarray(row) for row in rows]
    return out


def _blocks(sv: Any) -> list[tuple[str, np.ndarray, list[str], float]]:
    """(heading, values, tokens, base value) for every text and output."""
    if sv.data is None:
        raise ValueError("text needs the tokens in the explanation's data; it has none")
    values, data, base = sv.values, sv.data, sv.base_values
    if values.dtype == object or (values.ndim >= 2 and "rows" in sv.axis_names):
        rows = [
            (np.asarray(values[i], dtype=np.float64), np.asarray(data[i]))
            for i in range(len(values))
        ]
        bases = [None if base is None else np.asarray(base[i]) for i in range(len(values))]
        names = [f"text {i}" for i in range(len(values))]
    else:
        rows = [(np.asarray(values, dtype=np.float64), np.asarray(data))]
        bases = [None if base is None else np.asarray(base)]
        names = [""]
    outputs = sv.output_names
    blocks = []
    for (phi, tokens), b, name in zip(rows, bases, names, strict=True):
        if phi.ndim not in (1, 2) or tokens.ndim != 1 or tokens.shape[0] != phi.shape[0]:
            raise ValueError(
                f"text needs one value per token: values {phi.shape} for {tokens.shape} tokens"
            )
        tokens_list = [str(t) for t in tokens]
        if phi.ndim == 1:
            blocks.append((name, phi, tokens_list, _scalar(b, 0)))
            continue
        labels = _output_labels(outputs, phi.shape[1])
        for k, label in enumerate(labels):
            title = f"{name} \u00b7 {label}" if name else label
            blocks.append((title, phi[:, k], tokens_list, _scalar(b, k)))
    return blocks


def _output_labels(outputs: Any, n: int) -> list[str]:
    if isinstance(outputs, (list, tuple, np.ndarray)) and len(outputs) == n:
        return [str(x) for x in outputs]
    return [f"output {k}" for k in range(n)]


def _scalar(base: Any, k: int) -> float:
    if base is None:
        return 0.0
    base = np.asarray(base, dtype=np.float64).reshape(-1)
    return float(base[k] if base.size > 1 else base[0])


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:.3f})"


def _block(title, phi, tokens, base, num_labels, separator, xmin, xmax, cmax) -> str:
    shown = [t.strip() or repr(t) for t in tokens]
    layout = layout_row(base, phi, shown, [""] * len(tokens), 0.05)
    if num_labels:
        top = set(np.argsort(-np.abs(phi), kind="stable")[:num_labels].tolist())
        segments = [
            type(s)(s.feature, s.name, s.value_text, s.phi, s.start, s.end, s.feature in top)
            for s in layout.segments
        ]
        layout = type(layout)(layout.base, layout.fx, segments, layout.lo, layout.hi)
    if xmin is not None or xmax is not None:
        lo = layout.lo if xmin is None else float(xmin)
        hi = layout.hi if xmax is None else float(xmax)
        if not hi > lo:
            raise ValueError(f"xmax must be above xmin, got {lo} .. {hi}")
        layout = type(layout)(layout.base, layout.fx, layout.segments, lo, hi)
    svg = single_svg(layout, "f(x)", "identity", "token force plot", max_label_rows=2)
    spans = []
    for i, (token, value) in enumerate(zip(tokens, phi, strict=True)):
        alpha = min(abs(value) / cmax, 1.0) * 0.85
        colour = _rgba(POSITIVE if value > 0 else NEGATIVE, alpha)
        ink = "#fff" if alpha > 0.55 else "#222"
        sign = "+" if value > 0 else ""
        spans.append(
            f'<span class="fs-token" data-index="{i}" style="background:{colour};color:{ink}" '
            f'title="{esc(shown[i])}: {sign}{esc(format_value(value))}">{esc(token)}</span>'
        )
    head = (
        f'<div class="fs-head">{f"<b>{esc(title)}</b> &nbsp; " if title else ""}'
        f"base value {esc(format_value(base))} \u2192 f(x) <b>{esc(format_value(layout.fx))}</b>"
        "</div>"
    )
    tokens_html = esc(separator).join(spans)
    return f'<div class="fs-block">{head}{svg}<div class="fs-tokens">{tokens_html}</div></div>'
