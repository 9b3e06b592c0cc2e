"""The geometry of a force plot, shared by the HTML (SVG) and matplotlib renderers.

A force plot lays one row's SHAP values end to end on the model-output axis: the features that
raise the prediction push from the left up to f(x), those that lower it push from the right down
to f(x). Positions are in the model's margin (what the values add up in); with
``link="logit"`` only the tick labels and printed outputs are mapped to probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Feature names longer than this are shortened with an ellipsis in the labels under the bar.
_NAME_WIDTH = 32

__all__ = ["ForceLayout", "Segment", "place_labels", "axis_ticks", "layout_row", "link_function"]


@dataclass(frozen=True)
class Segment:
    """One feature's push: from ``start`` to ``end`` on the output axis (``start < end``)."""

    feature: int
    name: str
    value_text: str
    phi: float
    start: float
    end: float
    labelled: bool

    @property
    def label(self) -> str:
        """``name = value`` with long names shortened (the tooltip keeps the whole name)."""
        name = (
            self.name if len(self.name) <= _NAME_WIDTH else self.name[: _NAME_WIDTH - 1] + "\u2026"
        )
        return f"{name} = {self.value_text}" if self.value_text else name

    @property
    def full_label(self) -> str:
        return f"{self.name} = {self.value_text}" if self.value_text else self.name


@dataclass(frozen=True)
class ForceLayout:
    """Segments of one row (raising ones first, left to right) and the axis range to show."""

    base: float
    fx: float
    segments: list[Segment]
    lo: float
    hi: float


def link_function(link: str):
    """The map from margin to displayed output: ``"identity"`` or ``"logit"`` (to probability)."""
    if link == "identity":
        return lambda x: x
    if link == "logit":
        return lambda x: 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0
    raise ValueError(f"link must be 'identity' or 'logit', got {link!r}")


def layout_row(
    base: float,
    phi: np.ndarray,
    names: list[str],
    value_texts: list[str],
    contribution_threshold: float,
) -> ForceLayout:
    """Place one row's values: the largest push of each side sits next to f(x).

    A feature is labelled when ``|phi| >= contribution_threshold * sum(|phi|)``; the others are
    drawn but named only in the tooltip (as shap does).
    """
    phi = np.asarray(phi, dtype=np.float64)
    fx = float(base + phi.sum())
    total = float(np.abs(phi).sum())
    cut = contribution_threshold * total
    raise_idx = [j for j in np.argsort(phi, kind="stable") if phi[j] > 0]
    lower_idx = [j for j in np.argsort(phi, kind="stable") if phi[j] < 0]
    segments = []
    x = fx - float(phi[phi > 0].sum())
    for j in raise_idx:  # smallest first, so the largest ends at f(x)
        segments.append(
            Segment(int(j), names[j], value_texts[j], float(phi[j]), x, x + phi[j], phi[j] >= cut)
        )
        x += phi[j]
    x = fx
    for j in lower_idx:  # most negative first, next to f(x)
        segments.append(
            Segment(int(j), names[j], value_texts[j], float(phi[j]), x, x - phi[j], -phi[j] >= cut)
        )
        x -= phi[j]
    lo = min(base, fx - float(phi[phi > 0].sum()))
    hi = max(base, fx - float(phi[phi < 0].sum()))
    pad = 0.06 * (hi - lo) if hi > lo else max(abs(fx) * 0.1, 1.0)
    return ForceLayout(float(base), fx, segments, lo - pad, hi + pad)


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def axis_ticks(lo: float, hi: float, link: str, target: int = 7) -> list[tuple[float, str]]:
    """Tick positions (margin units) and labels (in the linked output) between ``lo`` and
    ``hi``: round numbers for ``identity``, round probabilities for ``logit``."""
    from ferroshap.plots._common import format_value

    if link == "logit":
        probabilities = [0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
        probabilities += [0.95, 0.99, 0.999]
        ticks = [(math.log(p / (1 - p)), p) for p in probabilities]
        inside = [(x, format_value(p)) for x, p in ticks if lo <= x <= hi]
        return inside[:: max(1, math.ceil(len(inside) / target))]
    step = _nice_step(hi - lo, target)
    first = math.ceil(lo / step)
    ticks = []
    for k in range(first, int(math.floor(hi / step)) + 1):
        x = k * step
        ticks.append((x, format_value(round(x, 12))))
    return ticks


def place_labels(
    anchors: list[float],
    extents: list[tuple[float, float]],
    priority: list[float],
    bounds: tuple[float, float],
    max_rows: int,
    gap: float,
) -> list[tuple[int, float]]:
    """Stack labels into text rows under the bar so that no two overlap and no leader line (a
    vertical line from the bar at the label's ``anchor`` down to its row) crosses a label.

    ``extents`` are each label's (left, right) relative to where it is drawn; a label is first
    moved inside ``bounds``. The most important label gets the first row it fits in; one that
    fits in none of ``max_rows`` rows gets row ``-1`` (not drawn). Returns (row, x) per label.
    """
    lo, hi = bounds
    spans: list[list[tuple[float, float]]] = [[] for _ in range(max_rows)]
    posts: list[list[float]] = [[] for _ in range(max_rows)]  # leader lines through each row
    placed = [(-1, 0.0)] * len(anchors)
    for i in sorted(range(len(anchors)), key=lambda i: -priority[i]):
        left, right = extents[i]
        x = min(max(anchors[i], lo - left), hi - right)
        span = (x + left - gap, x + right + gap)
        for r in range(max_rows):
            if any(span[1] > a and span[0] < b for a, b in spans[r]):
                continue
            if any(span[0] < post < span[1] for post in posts[r]):
                continue
            if any(a < anchors[i] < b for row in spans[:r] for a, b in row):
                continue
            spans[r].append(span)
            for above in range(r):
                posts[above].append(anchors[i])
            placed[i] = (r, x)
            break
    return placed
