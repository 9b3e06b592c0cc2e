"""The force plot as self-contained SVG + inline script: one row, or many rows stacked."""

from __future__ import annotations

import numpy as np

from ferroshap.plots._common import NEGATIVE, POSITIVE, TEXT, format_value
from ferroshap.plots._force_layout import (
    ForceLayout,
    axis_ticks,
    link_function,
    place_labels,
)
from ferroshap.plots._html import BASE_CSS, TOOLTIP_JS, HTMLPlot, esc, json_for_script

__all__ = ["single_html", "stacked_html"]

_WIDTH = 1000
_MARGIN = 40
_CHAR_PX = 7.3  # average width of a 12px sans-serif character (DejaVu Sans: ~7.2)
# Beyond this many features the stacked view merges the least important into one band.
_STACK_FEATURES = 20

CSS = BASE_CSS + (
    ".ferroshap-plot svg{width:100%;max-width:1000px;min-width:560px;height:auto;display:block}"
    ".ferroshap-plot text{font-size:12px;fill:" + TEXT + "}"
    ".ferroshap-plot .fs-tick{font-size:11px;fill:#777}"
    ".ferroshap-plot .fs-out{font-size:14px;font-weight:bold}"
    ".ferroshap-plot .fs-seg,.ferroshap-plot .fs-band{stroke:#fff;stroke-width:1}"
    ".ferroshap-plot .fs-seg.fs-hot,.ferroshap-plot .fs-band.fs-hot{stroke:#222;stroke-width:1.5}"
    ".ferroshap-plot .fs-controls{font-size:12px;margin:0 0 4px 40px}"
)

SINGLE_JS = TOOLTIP_JS + (
    'root.querySelectorAll(".fs-seg").forEach(function(seg){var text=takeTitle(seg);'
    'seg.addEventListener("mousemove",function(ev){seg.classList.add("fs-hot");showTip(text,ev);});'
    'seg.addEventListener("mouseleave",function(){seg.classList.remove("fs-hot");hideTip();});});'
    'root.setAttribute("data-ready","1");'
)

_STACKED_JS = TOOLTIP_JS + (
    'var data=JSON.parse(root.querySelector("script.fs-data").textContent);'
    'var svg=root.querySelector("svg");var groups=root.querySelectorAll("g.fs-order");'
    'var box=document.createElement("div");box.className="fs-controls";'
    'var lab=document.createElement("label");lab.textContent="Order rows by ";'
    'var sel=document.createElement("select");sel.className="fs-order-select";'
    'data.orders.forEach(function(o){var opt=document.createElement("option");'
    "opt.value=o.key;opt.textContent=o.label;sel.appendChild(opt);});"
    "lab.appendChild(sel);box.appendChild(lab);root.insertBefore(box,svg);"
    "var current=0;"
    "function choose(k){current=k;groups.forEach(function(g,i){"
    'g.style.display=(i===k)?"":"none";});}'
    'sel.addEventListener("change",function(){choose(sel.selectedIndex);});'
    'root.querySelectorAll(".fs-band").forEach(function(b){takeTitle(b);});'
    'var guide=root.querySelector(".fs-guide");'
    "function rowAt(ev){var r=svg.getBoundingClientRect();"
    "var x=(ev.clientX-r.left)*data.width/r.width;"
    "var i=Math.round((x-data.left)/(data.right-data.left)*(data.n-1));"
    "if(i<0||i>=data.n){return null;}return {i:i,x:data.left+i*(data.right-data.left)/"
    "Math.max(data.n-1,1)};}"
    'svg.addEventListener("mousemove",function(ev){var at=rowAt(ev);'
    'if(!at){hideTip();guide.style.display="none";return;}'
    "var row=data.orders[current].rows[at.i];var phi=data.phi[row];"
    "var idx=phi.map(function(v,j){return j;}).sort(function(a,b){"
    "return Math.abs(phi[b])-Math.abs(phi[a]);}).slice(0,6);"
    'var lines=[data.rowNames[row]+": "+data.outName+" = "+data.fx[row]];'
    "idx.forEach(function(j){if(phi[j]!==0){"
    'lines.push(data.names[j]+(data.values[row][j]!==""?" = "+data.values[row][j]:"")+'
    '"  "+(phi[j]>0?"+":"\u2212")+Math.abs(phi[j]));}});'
    'guide.setAttribute("x1",at.x);guide.setAttribute("x2",at.x);guide.style.display="";'
    'showTip(lines.join("\\n"),ev);});'
    'svg.addEventListener("mouseleave",function(){hideTip();guide.style.display="none";});'
    'root.setAttribute("data-ready","1");'
)


def _polygon(points: list[tuple[float, float]]) -> str:
    return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points) + "Z"


def _legend(out_name: str, y: float, colours: tuple[str, str]) -> str:
    return (
        f'<text x="{_MARGIN}" y="{y}" style="fill:{colours[0]}">higher \u25b6</text>'
        f'<text x="{_MARGIN + 70}" y="{y}" style="fill:{TEXT}">{esc(out_name)}</text>'
        f'<text x="{_MARGIN + 80 + len(out_name) * _CHAR_PX}" y="{y}" '
        f'style="fill:{colours[1]}">\u25c0 lower</text>'
    )


def single_html(
    layout: ForceLayout,
    out_name: str,
    link: str,
    title: str,
    colours: tuple[str, str] = (POSITIVE, NEGATIVE),
) -> HTMLPlot:
    """One row's force plot: chevrons on the output axis, the larger pushes labelled."""
    return HTMLPlot(
        "force", title, single_svg(layout, out_name, link, title, colours), CSS, SINGLE_JS
    )


def single_svg(
    layout: ForceLayout,
    out_name: str,
    link: str,
    title: str,
    colours: tuple[str, str] = (POSITIVE, NEGATIVE),
    max_label_rows: int = 3,
) -> str:
    """The SVG markup of :func:`single_html` (the text plot draws it above the tokens)."""
    inner = _WIDTH - 2 * _MARGIN
    span = layout.hi - layout.lo

    def px(v: float) -> float:
        return _MARGIN + (v - layout.lo) / span * inner

    to_output = link_function(link)
    parts = [_legend(out_name, 16, colours)]
    # Rows from the top: legend, tick labels, axis line, outputs (two levels), bar, labels.
    axis_y, bar_top, bar_h = 40, 84, 24
    parts.append(
        f'<line x1="{_MARGIN}" x2="{_WIDTH - _MARGIN}" y1="{axis_y}" y2="{axis_y}" stroke="#bbb"/>'
    )
    for x, label in axis_ticks(layout.lo, layout.hi, link):
        parts.append(
            f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{axis_y}" y2="{axis_y + 4}" '
            f'stroke="#bbb"/><text class="fs-tick" x="{px(x):.1f}" y="{axis_y - 6}" '
            f'text-anchor="middle">{esc(label)}</text>'
        )
    mid = bar_top + bar_h / 2
    for seg in layout.segments:
        x0, x1 = px(seg.start), px(seg.end)
        h = min(7.0, (x1 - x0) * 0.8)
        if seg.phi > 0:
            points = [(x0 - h, bar_top), (x1 - h, bar_top), (x1, mid)]
            points += [(x1 - h, bar_top + bar_h), (x0 - h, bar_top + bar_h), (x0, mid)]
            colour = colours[0]
        else:
            points = [(x0, mid), (x0 + h, bar_top), (x1 + h, bar_top), (x1, mid)]
            points += [(x1 + h, bar_top + bar_h), (x0 + h, bar_top + bar_h)]
            colour = colours[1]
        tip = f"{seg.full_label}\nSHAP value {'+' if seg.phi > 0 else ''}{format_value(seg.phi)}"
        parts.append(
            f'<path class="fs-seg" data-index="{seg.feature}" data-feature="{esc(seg.name)}" '
            f'd="{_polygon(points)}" '
            f'fill="{colour}"><title>{esc(tip)}</title></path>'
        )
    # f(x) above the axis; the base value beside it, or a level higher if they would touch.
    fx_text = f"{out_name} = {format_value(to_output(layout.fx))}"
    base_text = f"base value = {format_value(to_output(layout.base))}"
    fx_x, base_x = px(layout.fx), px(layout.base)
    clash = abs(fx_x - base_x) < (len(fx_text) + len(base_text)) * _CHAR_PX / 2 + 10
    parts.append(
        f'<text class="fs-out" x="{fx_x:.1f}" y="74" text-anchor="middle">{esc(fx_text)}</text>'
        f'<line x1="{fx_x:.1f}" x2="{fx_x:.1f}" y1="{bar_top - 4}" y2="{bar_top + bar_h + 4}" '
        'stroke="#222" stroke-width="1.5"/>'
    )
    base_y = 57 if clash else 74
    parts.append(
        f'<text class="fs-base" x="{base_x:.1f}" y="{base_y}" text-anchor="middle" '
        f'style="fill:#777">{esc(base_text)}</text>'
        f'<line x1="{base_x:.1f}" x2="{base_x:.1f}" y1="{base_y + 4}" y2="{bar_top + bar_h}" '
        'stroke="#777" stroke-dasharray="3,3"/>'
    )
    labelled = [s for s in layout.segments if s.labelled]
    anchors = [(px(s.start) + px(s.end)) / 2 for s in labelled]
    extents = [(-len(s.label) * _CHAR_PX / 2, len(s.label) * _CHAR_PX / 2) for s in labelled]
    placed = place_labels(
        anchors, extents, [abs(s.phi) for s in labelled], (4.0, _WIDTH - 4.0), max_label_rows, 4.0
    )
    used = max((row for row, _ in placed), default=-1) + 1
    for seg, anchor, (row, x) in zip(labelled, anchors, placed, strict=True):
        if row < 0:
            continue
        y = bar_top + bar_h + 22 + 18 * row
        colour = colours[0] if seg.phi > 0 else colours[1]
        parts.append(
            f'<line x1="{anchor:.1f}" x2="{anchor:.1f}" y1="{bar_top + bar_h + 2}" '
            f'y2="{y - 12}" stroke="{colour}" stroke-width="1"/>'
            f'<text class="fs-label" x="{x:.1f}" y="{y}" text-anchor="middle">'
            f"{esc(seg.label)}</text>"
        )
    height = bar_top + bar_h + 22 + 18 * max(used, 1)
    return (
        f'<svg viewBox="0 0 {_WIDTH} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-label="{esc(title)}">{"".join(parts)}</svg>'
    )


def _similarity_order(phi: np.ndarray, fx: np.ndarray) -> np.ndarray:
    """Rows in a chain of nearest neighbours (Euclidean, in SHAP-value space), starting at the
    lowest output: rows explained alike sit together, as in shap's clustered order."""
    n = phi.shape[0]
    left = np.ones(n, dtype=bool)
    current = int(np.argmin(fx))
    order = [current]
    left[current] = False
    for _ in range(n - 1):
        candidates = np.flatnonzero(left)
        distance = ((phi[candidates] - phi[current]) ** 2).sum(axis=1)
        current = int(candidates[np.argmin(distance)])
        order.append(current)
        left[current] = False
    return np.asarray(order)


def _merge_small(phi: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The most important features by mean |phi|, the rest summed into one band."""
    importance = np.abs(phi).mean(axis=0)
    ranked = np.argsort(-importance, kind="stable")
    if len(ranked) <= _STACK_FEATURES:
        return phi[:, ranked], [names[j] for j in ranked], ranked
    keep, rest = ranked[: _STACK_FEATURES - 1], ranked[_STACK_FEATURES - 1 :]
    merged = np.column_stack([phi[:, keep], phi[:, rest].sum(axis=1)])
    return merged, [names[j] for j in keep] + [f"{len(rest)} other features"], keep


def stacked_html(
    base: np.ndarray,
    phi: np.ndarray,
    names: list[str],
    value_texts: list[list[str]],
    out_name: str,
    link: str,
    title: str,
    row_names: list[str],
    ordering_keys: list[str] | None = None,
    key_order: np.ndarray | None = None,
    colours: tuple[str, str] = (POSITIVE, NEGATIVE),
) -> HTMLPlot:
    """Many rows side by side, each a force plot turned upright: raising values stacked below
    the f(x) line, lowering ones above; a menu picks the order of the rows."""
    n = phi.shape[0]
    fx = base + phi.sum(axis=1)
    bands, band_names, _ = _merge_small(phi, names)
    orders = [("similarity", "similarity (nearest-neighbour chain)", _similarity_order(phi, fx))]
    orders.append(("output", f"output value ({out_name})", np.argsort(fx, kind="stable")))
    orders.append(("original", "original row order", np.arange(n)))
    if key_order is not None:
        orders.insert(0, ("keys", "ordering keys", key_order))
    pos = np.where(bands > 0, bands, 0.0)
    neg = np.where(bands < 0, -bands, 0.0)
    low = fx - pos.sum(axis=1)
    high = fx + neg.sum(axis=1)
    lo, hi = float(min(low.min(), base.min())), float(max(high.max(), base.max()))
    pad = 0.05 * (hi - lo) if hi > lo else 1.0
    lo, hi = lo - pad, hi + pad
    left, right, top, bottom = 70.0, _WIDTH - 80.0, 16.0, 330.0

    def py(v: np.ndarray | float) -> np.ndarray:
        return bottom - (np.asarray(v) - lo) / (hi - lo) * (bottom - top)

    xs = left + np.arange(n) * (right - left) / max(n - 1, 1)
    parts = []
    for x, label in axis_ticks(lo, hi, link, target=6):
        y = float(py(x))
        parts.append(
            f'<line x1="{left - 4}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text class="fs-tick" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{esc(label)}</text>"
        )
    for key, _, order in orders:
        group = [
            f'<g class="fs-order" data-order="{key}"'
            + (">" if key == orders[0][0] else ' style="display:none">')
        ]
        f_sorted = fx[order]
        below = np.zeros(n)
        above = np.zeros(n)
        for j, name in enumerate(band_names):
            for sign, amount, stack in ((1, pos[order, j], below), (-1, neg[order, j], above)):
                if not amount.any():
                    continue
                if sign > 0:
                    upper, lower = f_sorted - stack, f_sorted - stack - amount
                else:
                    lower, upper = f_sorted + stack, f_sorted + stack + amount
                stack += amount
                points = list(zip(xs, py(upper), strict=True))
                points += list(zip(xs[::-1], py(lower)[::-1], strict=True))
                colour = colours[0] if sign > 0 else colours[1]
                group.append(
                    f'<path class="fs-band" data-feature="{esc(name)}" d="{_polygon(points)}" '
                    f'fill="{colour}"><title>{esc(name)}</title></path>'
                )
        line = "L".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, py(f_sorted), strict=True))
        group.append(
            f'<path class="fs-fx" d="M{line}" fill="none" stroke="#222" stroke-width="1.2"/>'
        )
        if key == "keys" and ordering_keys is not None:
            for i in np.linspace(0, n - 1, min(n, 6)).round().astype(int):
                group.append(
                    f'<text class="fs-tick" x="{xs[i]:.1f}" y="{bottom + 16}" '
                    f'text-anchor="middle">{esc(ordering_keys[order[i]])}</text>'
                )
        group.append("</g>")
        parts.append("".join(group))
    base_level = float(np.median(base))
    parts.append(
        f'<line x1="{left}" x2="{right}" y1="{float(py(base_level)):.1f}" '
        f'y2="{float(py(base_level)):.1f}" stroke="#555" stroke-dasharray="4,3"/>'
        f'<text class="fs-tick" x="{right + 4}" y="{float(py(base_level)) + 4:.1f}">'
        "base value</text>"
        f'<line class="fs-guide" x1="0" x2="0" y1="{top}" y2="{bottom}" stroke="#222" '
        'style="display:none"/>'
        f'<text x="{(left + right) / 2}" y="{bottom + 34}" text-anchor="middle">'
        f"{n} rows (hover for the row's values)</text>"
        f'<text x="14" y="{(top + bottom) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(top + bottom) / 2})">{esc(out_name)}</text>'
    )
    to_output = link_function(link)
    data = {
        "n": n,
        "width": _WIDTH,
        "left": left,
        "right": right,
        "outName": out_name,
        "names": names,
        "rowNames": row_names,
        "fx": [format_value(to_output(float(v)), 4) for v in fx],
        "phi": np.vectorize(lambda v: float(f"{v:.4g}"))(phi).tolist() if phi.size else [],
        "values": value_texts,
        "orders": [{"key": k, "label": label, "rows": o.tolist()} for k, label, o in orders],
    }
    svg = (
        f'<svg viewBox="0 0 {_WIDTH} {bottom + 44}" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-label="{esc(title)}">{"".join(parts)}</svg>'
        f'<script type="application/json" class="fs-data">{json_for_script(data)}</script>'
    )
    body = (
        f'<div style="font-size:12px;margin-left:{_MARGIN}px">'
        f'<span style="color:{colours[0]}">\u25a0 raises {esc(out_name)}</span> &nbsp; '
        f'<span style="color:{colours[1]}">\u25a0 lowers {esc(out_name)}</span></div>' + svg
    )
    return HTMLPlot("force-stacked", title, body, CSS, _STACKED_JS)


def row_value_texts(row: np.ndarray | None, n: int) -> list[str]:
    """Feature values as short texts (empty where there is no data)."""
    if row is None:
        return [""] * n
    return [format_value(v) for v in row]
