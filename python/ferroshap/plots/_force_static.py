"""The force plot of one row drawn with matplotlib (``force(..., matplotlib=True)``)."""

from __future__ import annotations

from typing import Any

from ferroshap.plots._common import TEXT, finish, format_value, pyplot
from ferroshap.plots._force_layout import ForceLayout, axis_ticks, link_function, place_labels

__all__ = ["draw"]

_LABEL_ROWS = 3


def draw(
    layout: ForceLayout,
    out_name: str,
    link: str,
    colours: tuple[str, str],
    figsize: tuple[float, float] | None,
    text_rotation: float,
    ax: Any,
    show: bool,
) -> Any:
    """Draw ``layout`` into ``ax`` (or a new figure) and return the Axes."""
    plt = pyplot()
    from matplotlib.patches import Polygon

    if ax is None:
        _, ax = plt.subplots(figsize=figsize or (12, 3), layout="constrained")
    fig = ax.figure
    ax.set_xlim(layout.lo, layout.hi)
    # Bar from 0 to 1, outputs above, label rows below; final limits once labels are placed.
    ax.set_ylim(-2.5, 2.6)
    to_output = link_function(link)
    # Arrow tips a fixed fraction of the axis wide, so they look alike at any scale.
    tip = 0.006 * (layout.hi - layout.lo)
    for seg in layout.segments:
        h = min(tip, 0.8 * (seg.end - seg.start))
        if seg.phi > 0:
            x0, x1 = seg.start, seg.end
            points = [(x0 - h, 1), (x1 - h, 1), (x1, 0.5), (x1 - h, 0), (x0 - h, 0), (x0, 0.5)]
            colour = colours[0]
        else:
            x0, x1 = seg.start, seg.end
            points = [(x0, 0.5), (x0 + h, 1), (x1 + h, 1), (x1, 0.5), (x1 + h, 0), (x0 + h, 0)]
            colour = colours[1]
        ax.add_patch(Polygon(points, closed=True, facecolor=colour, edgecolor="white", lw=0.8))
    ax.plot([layout.fx, layout.fx], [-0.1, 1.1], color="#222222", lw=1.5)
    ax.plot([layout.base, layout.base], [0, 1.45], color="#777777", lw=1, ls="--")
    fx_text = ax.text(
        layout.fx,
        1.55,
        f"{out_name} = {format_value(to_output(layout.fx))}",
        ha="center",
        va="bottom",
        fontsize=12,
        fontweight="bold",
        color=TEXT,
    )
    base_text = ax.text(
        layout.base,
        1.55,
        f"base value = {format_value(to_output(layout.base))}",
        ha="center",
        va="bottom",
        fontsize=10,
        color="#777777",
    )
    renderer = fig.canvas.get_renderer()
    if fx_text.get_window_extent(renderer).overlaps(base_text.get_window_extent(renderer)):
        base_text.set_y(2.05)
    lowest = _labels(ax, layout, colours, text_rotation, renderer)
    ax.set_ylim(min(lowest, -0.5) - 0.1, 2.6)
    ticks = axis_ticks(layout.lo, layout.hi, link)
    ax.set_xticks([x for x, _ in ticks], [label for _, label in ticks])
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", colors="#777777", labelsize=9, length=3)
    ax.set_yticks([])
    for side in ("left", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.spines["top"].set_color("#BBBBBB")
    # The legend sits above the tick labels, in the middle.
    for text, x_shift, ha, colour in (
        (f"higher \u25b6 {out_name}", -3, "right", colours[0]),
        ("\u25c0 lower", 3, "left", colours[1]),
    ):
        ax.annotate(
            text,
            (0.5, 1.0),
            xycoords="axes fraction",
            xytext=(x_shift, 20),
            textcoords="offset points",
            ha=ha,
            va="bottom",
            fontsize=9,
            color=colour,
        )
    return finish(ax, show)


def _labels(ax: Any, layout: ForceLayout, colours, rotation: float, renderer: Any) -> float:
    """``name = value`` under the labelled segments, stacked into rows so none overlap;
    returns how far down (in data units) the lowest label reaches."""
    labelled = [s for s in layout.segments if s.labelled]
    top = -0.3
    texts = [
        ax.text(
            (s.start + s.end) / 2,
            top,
            s.label,
            ha="center" if not rotation else "right",
            va="top",
            rotation=rotation,
            rotation_mode="anchor",
            fontsize=10,
            color=TEXT,
        )
        for s in labelled
    ]
    to_data = ax.transData.inverted()
    extents, heights = [], []
    anchors = [(s.start + s.end) / 2 for s in labelled]
    for anchor, text in zip(anchors, texts, strict=True):
        box = to_data.transform(text.get_window_extent(renderer).get_points())
        # Extents relative to the anchor: rotated labels hang to the left of it.
        extents.append((box[0, 0] - anchor, box[1, 0] - anchor))
        heights.append(box[1, 1] - box[0, 1])
    step = max(heights, default=0.5) + 0.12
    gap = 0.005 * (layout.hi - layout.lo)
    placed = place_labels(
        anchors,
        extents,
        [abs(s.phi) for s in labelled],
        (layout.lo, layout.hi),
        _LABEL_ROWS,
        gap,
    )
    for seg, text, anchor, (row, x) in zip(labelled, texts, anchors, placed, strict=True):
        if row < 0:
            text.remove()
            continue
        y = top - step * row
        text.set_position((x, y))
        colour = colours[0] if seg.phi > 0 else colours[1]
        ax.plot([anchor, anchor], [-0.05, y + 0.05], color=colour, lw=0.8)
    used = max((row for row, _ in placed), default=-1) + 1
    return top - step * used
