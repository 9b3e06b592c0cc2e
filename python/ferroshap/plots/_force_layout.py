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

__all__ = ["ForceLayout", "Segment", "assign_rows", "axis_ticks", "layout_row", "link_function"]


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


def assign_rows(
    spans: list[tuple[float, float]], priority: list[float], max_rows: int, gap: float
) -> list[int]:
    """Stack labels (their ``(left, right)`` extents) into text rows so none overlap: the most
    important label gets the first row it fits in; a label that fits in none of ``max_rows``
    rows gets ``-1`` (not drawn)."""
    rows: list[list[tuple[float, float]]] = [[] for _ in range(max_rows)]
    placed = [-1] * len(spans)
    for i in sorted(range(len(spans)), key=lambda i: -priority[i]):
        left, right = spans[i]
        for r, taken in enumerate(rows):
            if all(right + gap <= a or left - gap >= b for a, b in taken):
                taken.append((left, right))
                placed[i] = r
                break
    return placed
