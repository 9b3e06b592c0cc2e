"""What every plot shares: input checks, output choice, ordering, labels, colours, axes.

Colours
-------
shap's red/blue pair (#FF0051 / #008BFB) is hard to tell apart for many colour-blind readers.
ferroshap uses the Okabe-Ito pair instead: vermillion :data:`POSITIVE` (#D55E00) for values that
raise the prediction and blue :data:`NEGATIVE` (#0072B2) for values that lower it. Both stay
distinct under deuteranopia, protanopia and tritanopia, and differ in lightness, so a greyscale
print still separates them. :func:`colormap` (feature value low -> high) runs from the same blue
through a muted purple to the same vermillion.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from ferroshap.explanation import Explanation, OpChain

__all__ = [
    "NEGATIVE",
    "NEUTRAL",
    "POSITIVE",
    "TEXT",
    "as_matrix",
    "as_row",
    "colormap",
    "display_order",
    "feature_labels",
    "finish",
    "format_value",
    "importance",
    "is_opchain",
    "new_axes",
    "others_label",
    "pyplot",
    "select_output",
    "shorten",
    "to_explanation",
    "value_label",
]

POSITIVE = "#D55E00"  # Okabe-Ito vermillion: pushes the prediction up
NEGATIVE = "#0072B2"  # Okabe-Ito blue: pushes the prediction down
NEUTRAL = "#999999"  # missing values, the "other features" row
TEXT = "#333333"
# Feature names longer than this wrap onto a second line, then get an ellipsis.
LABEL_WIDTH = 30


def pyplot() -> Any:
    """``matplotlib.pyplot``, imported on first use with a clear error if it is missing."""
    try:
        import matplotlib.pyplot as plt
    except ModuleNotFoundError as exc:  # matplotlib is an optional extra
        raise ImportError(
            "ferroshap.plots needs matplotlib: pip install 'ferroshap[plots]'"
        ) from exc
    return plt


@cache
def colormap() -> Any:
    """The feature-value colormap (low: blue, high: vermillion), colour-blind safe."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list(
        "ferroshap_blue_vermillion", [NEGATIVE, "#8E6C9E", POSITIVE]
    )


@cache
def diverging_colormap() -> Any:
    """SHAP values: blue (negative) through white (zero) to vermillion (positive)."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("ferroshap_diverging", [NEGATIVE, "#ffffff", POSITIVE])


# shap's names for its two colours, as its plots accept them (``color="shap_red"``).
_SHAP_COLOR_NAMES = {"shap_red": POSITIVE, "shap_blue": NEGATIVE}


def solid_color(color: Any) -> Any:
    """``color`` as one matplotlib colour when it is one (a name, shap's ``"shap_red"`` /
    ``"shap_blue"``, or an RGB(A) sequence such as ``plots.colors.red_rgb``), else None (then
    it is a colormap, or nothing)."""
    if isinstance(color, str):
        return _SHAP_COLOR_NAMES.get(color, color)
    if color is None or callable(color):
        return None
    from matplotlib.colors import is_color_like

    return tuple(np.asarray(color, dtype=np.float64)) if is_color_like(color) else None


def from_arrays(
    shap_values: Any, features: Any = None, feature_names: Any = None, base_values: Any = None
) -> Explanation:
    """An Explanation from shap's legacy plot arguments: a values array, the feature values
    (array or pandas DataFrame, whose columns name the features) and feature names."""
    if isinstance(shap_values, Explanation) or type(shap_values).__name__ == "Explanation":
        return to_explanation(shap_values, "plot")
    values = np.asarray(shap_values, dtype=np.float64)
    if (
        isinstance(features, list)
        and features
        and all(isinstance(f, str) for f in features)
        and feature_names is None
    ):
        # shap accepts the feature names in the features slot.
        features, feature_names = None, features
    if feature_names is None and hasattr(features, "columns"):
        feature_names = [str(c) for c in features.columns]
    if features is not None and hasattr(features, "to_numpy"):
        features = features.to_numpy()
    if features is not None:
        features = np.asarray(features)
        if features.shape != values.shape[: features.ndim] or features.ndim > 2:
            raise ValueError(
                f"features of shape {features.shape} do not match shap_values of shape "
                f"{values.shape}"
            )
    if feature_names is not None:
        feature_names = [str(n) for n in feature_names]
        if len(feature_names) != values.shape[-1]:
            raise ValueError(f"{len(feature_names)} feature_names for {values.shape[-1]} features")
    if values.ndim not in (1, 2):
        raise ValueError(
            f"expected SHAP values of shape (n_rows, n_features) or (n_features,), got "
            f"{values.shape}"
        )
    return Explanation(values, base_values=base_values, data=features, feature_names=feature_names)


# -- input --------------------------------------------------------------------------------------


def to_explanation(obj: Any, plot: str) -> Explanation:
    """A :class:`ferroshap.Explanation` from ``obj`` (a ferroshap or a shap Explanation).

    Raises ``TypeError`` naming the plot and what it takes for anything else.
    """
    if isinstance(obj, Explanation):
        return obj
    if type(obj).__name__ == "Explanation" and type(obj).__module__.startswith("shap"):
        return Explanation.from_shap(obj)
    hint = ""
    if isinstance(obj, (np.ndarray, list)):
        hint = " (for a bare array use the legacy functions, e.g. ferroshap.summary_plot)"
    raise TypeError(
        f"{plot} takes an Explanation, e.g. explainer(X), not {type(obj).__name__}{hint}"
    )


def select_output(sv: Explanation, plot: str, output: Any = None) -> Explanation:
    """``sv`` for one output: ``sv`` itself without an output axis, else ``sv[..., output]``.

    With several outputs and no ``output`` given, raises a ``ValueError`` that lists the output
    names and shows how to pick one.
    """
    if "outputs" not in sv.axis_names:
        if output is not None:
            raise ValueError(f"{plot}: output={output!r} given, but the explanation has one output")
        return sv
    n = sv.values.shape[-1]
    names = sv.output_names if isinstance(sv.output_names, list) else None
    if output is None:
        if n == 1:
            return sv[..., 0]
        listed = ", ".join(repr(x) for x in names) if names else f"0 .. {n - 1}"
        example = repr(names[1] if names else 1)
        raise ValueError(
            f"{plot} draws one output at a time and this explanation has {n} outputs "
            f"({listed}); pick one, e.g. {plot}(explanation[..., {example}])"
        )
    if isinstance(output, (int, np.integer)) and not -n <= output < n:
        raise IndexError(f"{plot}: output {output} is out of range for {n} outputs")
    return sv[..., output]


def _check_axes(sv: Explanation, plot: str, wanted: tuple[str, ...], shape: str) -> Explanation:
    if sv.axis_names != wanted:
        hint = ""
        if wanted == ("features",) and sv.axis_names == ("rows", "features"):
            hint = "; pick one row, e.g. explanation[0]"
        elif wanted == ("rows", "features") and sv.axis_names == ("features",):
            hint = "; it holds one row: pass several rows, e.g. explanation[:100]"
        raise ValueError(
            f"{plot} needs an Explanation of shape {shape}; got values of shape "
            f"{sv.values.shape} with axes {sv.axis_names}{hint}"
        )
    return sv


def matrix_from_arrays(
    shap_values: Any, features: Any, feature_names: Any, plot: str, output: Any = None
) -> Explanation:
    """Like :func:`as_matrix`, from an Explanation or shap's legacy arrays (values, feature
    values, names)."""
    sv = select_output(from_arrays(shap_values, features, feature_names), plot, output)
    return _check_axes(sv, plot, ("rows", "features"), "(n_rows, n_features)")


def as_matrix(obj: Any, plot: str, output: Any = None) -> Explanation:
    """Coerce ``obj`` to a one-output Explanation of shape ``(n_rows, n_features)``."""
    sv = select_output(to_explanation(obj, plot), plot, output)
    return _check_axes(sv, plot, ("rows", "features"), "(n_rows, n_features)")


def as_row(obj: Any, plot: str, output: Any = None) -> Explanation:
    """Coerce ``obj`` to a one-output Explanation of one row, shape ``(n_features,)``."""
    sv = select_output(to_explanation(obj, plot), plot, output)
    return _check_axes(sv, plot, ("features",), "(n_features,)")


# -- names and order ----------------------------------------------------------------------------


def feature_labels(sv: Explanation, n: int | None = None) -> list[str]:
    """The feature names of ``sv`` as strings (``Feature i`` where there are none)."""
    n = sv.values.shape[sv.axis_names.index("features")] if n is None else n
    names = sv.feature_names
    if names is None or isinstance(names, str) or len(names) != n:
        return [f"Feature {i}" for i in range(n)]
    return [str(name) for name in names]


def shorten(label: str, width: int = LABEL_WIDTH) -> str:
    """``label`` wrapped onto at most two lines of ``width`` characters, with an ellipsis if
    it needs more, so long feature names stay readable instead of being cut by the figure."""
    label = str(label)
    if len(label) <= width:
        return label
    lines = textwrap.wrap(label, width, break_long_words=True, break_on_hyphens=True)
    if len(lines) > 2:
        lines = [lines[0], lines[1][: width - 1].rstrip() + "\u2026"]
    return "\n".join(lines)


def value_label(name: str, value: Any = None, value_width: int = 20) -> str:
    """``"name = value"`` for a feature: the name as :func:`shorten` makes it, the value on one
    line with an ellipsis past ``value_width`` characters (``name`` alone without a value)."""
    label = shorten(name)
    if value is None:
        return label
    text = format_value(value)
    if len(text) > value_width:
        text = text[: value_width - 1].rstrip() + "\u2026"
    return f"{label} = {text}"


def resolve_ordering(obj: Any, sv: Explanation) -> tuple[str, np.ndarray]:
    """What an ``order`` argument means, as shap reads it: ``("order", indices)`` (first
    drawn first) or ``("keys", numbers)`` (larger first).

    An OpChain is applied to ``sv`` first. An Explanation made with ``argsort`` (its
    ``op_history`` says so, e.g. ``sv.abs.mean(0).argsort.flip``) holds indices; any other
    Explanation holds keys (``sv.abs.max(0)``, ``sv.sum(1)``). A bare array of ints that is a
    permutation is indices (as shap takes arrays), other arrays are keys.
    ``Explanation.identity`` keeps the features' own order.
    """
    if is_opchain(obj):
        if [step[0] for step in getattr(obj, "_ops", ())] == ["identity"]:
            return "order", np.arange(sv.values.shape[-1])  # the features' own order
        obj = obj.apply(sv)
    if isinstance(obj, Explanation) or type(obj).__name__ == "Explanation":
        history = getattr(obj, "op_history", None) or []
        kind = "order" if any(getattr(op, "name", None) == "argsort" for op in history) else "keys"
        return kind, np.asarray(obj.values)
    array = np.asarray(obj)
    if (
        array.ndim == 1
        and array.dtype.kind in "iu"
        and np.array_equal(np.sort(array), np.arange(len(array)))
    ):
        return "order", array
    return "keys", array


def importance(sv: Explanation, order: Any) -> np.ndarray:
    """Per-feature sort keys (larger first) from ``order``: an OpChain such as
    ``Explanation.abs.mean(0)``, an Explanation, or an array (see :func:`resolve_ordering`)."""
    n = sv.values.shape[-1]
    kind, array = resolve_ordering(order, sv)
    if kind == "order":
        indices = array.astype(np.int64)
        if sorted(indices.tolist()) != list(range(n)):
            raise ValueError(f"order must be a permutation of the {n} feature indices")
        keys = np.empty(n)
        keys[indices] = n - np.arange(n, dtype=np.float64)
        return keys
    keys = np.asarray(array, dtype=np.float64)
    if keys.shape != (n,):
        raise ValueError(f"order must give one number per feature ({n}), got shape {keys.shape}")
    return keys


def is_opchain(obj: Any) -> bool:
    """Whether ``obj`` is a recorded chain (ferroshap's or shap's ``Explanation.abs.mean(0)``);
    shap's replays on a ferroshap Explanation too: it only calls methods both classes have."""
    if isinstance(obj, OpChain):
        return True
    return type(obj).__name__ == "OpChain" and type(obj).__module__.startswith("shap")


def display_order(keys: np.ndarray, max_display: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Split features into those drawn (largest ``keys`` first) and the rest.

    ``max_display`` counts the "Sum of N other features" row: with more features than that,
    ``max_display - 1`` are drawn and the others are summed into one row.
    """
    ranked = np.argsort(-np.asarray(keys), kind="stable")
    if max_display is None or len(ranked) <= max_display:
        return ranked, ranked[:0]
    if max_display < 1:
        raise ValueError(f"max_display must be at least 1, got {max_display}")
    cut = max(max_display - 1, 1)
    return ranked[:cut], ranked[cut:]


def others_label(n: int) -> str:
    """The label of the row that sums the ``n`` features not drawn."""
    return f"Sum of {n} other feature{'s' if n != 1 else ''}"


def format_value(x: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits and a true minus sign (strings pass)."""
    if isinstance(x, str):
        return x
    try:
        value = float(x)
    except (TypeError, ValueError):
        return str(x)
    if np.isnan(value):
        return "nan"
    text = f"{value:.{digits}g}"
    if "e" not in text and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace("-", "\u2212")


def format_at_scale(x: float, span: float) -> str:
    """``x`` with enough decimals to tell apart numbers ``span`` apart (e.g. 150.27, not 150)."""
    decimals = int(max(0, 2 - np.floor(np.log10(span)))) if span > 0 else 3
    return f"{x:.{min(decimals, 8)}f}".replace("-", "\u2212")


def feature_values(sv: Explanation) -> np.ndarray | None:
    """What to show as the feature values: ``display_data`` if set, else ``data``."""
    return sv.display_data if sv.display_data is not None else sv.data


# Above this many points, colour-mapped points are drawn as one image computed with numpy
# instead of one matplotlib marker each: Agg draws per-point colours at about 4 µs a point, so
# 1,000,000 beeswarm points would take seconds. Each pixel shows the mean colour value of the
# points whose marker disc covers it (like datashader's mean aggregate), so dense regions
# show their typical colour, not whichever point happened to be drawn last.
RASTER_ABOVE = 5_000


def colored_points(
    ax: Any,
    x: np.ndarray,
    y: np.ndarray,
    c: np.ndarray,
    cmap: Any,
    s: float,
    alpha: float,
    limits: tuple[float, float, float, float] | None = None,
) -> None:
    """Points at ``(x, y)`` coloured by ``c`` (scaled to 0..1, all finite), marker area ``s``.

    Up to ``RASTER_ABOVE`` points: one scatter call with exact colours. More: one image over
    ``limits`` (x0, x1, y0, y1; default the points' range plus 5%), with the axes limits set to
    it. Never a Python loop over points.
    """
    if len(x) <= RASTER_ABOVE:
        ax.scatter(
            x,
            y,
            c=c,
            cmap=cmap,
            vmin=0.0,
            vmax=1.0,
            s=s,
            alpha=alpha,
            linewidths=0,
            rasterized=len(x) > 2000,
        )
        return
    if limits is None:
        limits = (*padded_range(x), *padded_range(y))
    x0, x1, y0, y1 = limits
    figure = ax.figure
    box = ax.get_position()
    width = max(int(figure.get_figwidth() * box.width * figure.dpi), 10)
    height = max(int(figure.get_figheight() * box.height * figure.dpi), 10)
    radius = np.sqrt(s) / 2 * figure.dpi / 72  # marker diameter is sqrt(s) points
    px = np.floor((x - x0) / (x1 - x0) * width).astype(np.int64)
    py = np.floor((y - y0) / (y1 - y0) * height).astype(np.int64)
    reach = int(np.ceil(radius))
    offsets = [
        (dx, dy)
        for dx in range(-reach, reach + 1)
        for dy in range(-reach, reach + 1)
        if dx * dx + dy * dy <= radius * radius + 0.25
    ]
    total = np.zeros(width * height)
    count = np.zeros(width * height)
    for dx, dy in offsets:  # a few dozen disc offsets, each over all points at once
        qx, qy = px + dx, py + dy
        inside = (qx >= 0) & (qx < width) & (qy >= 0) & (qy < height)
        flat = qy[inside] * width + qx[inside]
        total += np.bincount(flat, weights=c[inside], minlength=width * height)
        count += np.bincount(flat, minlength=width * height)
    covered = count > 0
    mean = np.divide(total, count, out=np.zeros_like(total), where=covered)
    image = cmap(mean.reshape(height, width))
    image[..., 3] = np.where(covered.reshape(height, width), alpha, 0.0)
    ax.imshow(
        image,
        extent=(x0, x1, y0, y1),
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        zorder=2,
    )
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def padded_range(v: np.ndarray) -> tuple[float, float]:
    lo, hi = float(v.min()), float(v.max())
    pad = 0.05 * (hi - lo) if hi > lo else 0.5
    return lo - pad, hi + pad


# -- figures ------------------------------------------------------------------------------------


def new_axes(ax: Any, size: Sequence[float]) -> Any:
    """``ax`` itself, or the Axes of a new figure of ``size`` inches when ``ax`` is None."""
    if ax is not None:
        return ax
    # Constrained layout makes room for long tick labels and colour bars, so nothing is clipped.
    _, ax = pyplot().subplots(figsize=tuple(size), layout="constrained")
    ax.figure._ferroshap_layout = True  # ours: finish() may freeze its layout
    return ax


def rows_size(n_rows: int, width: float = 8.0) -> tuple[float, float]:
    """A figure size for a plot with ``n_rows`` horizontal rows (bars, beeswarm lines)."""
    return (width, min(1.2 + 0.42 * max(n_rows, 1), 40.0))


def finish(ax: Any, show: bool) -> Any:
    """End a plot: ``plt.show()`` when ``show``; return ``ax`` either way.

    With ``show=False`` the figure stays open, so ``plt.savefig`` afterwards saves it.
    """
    first = np.ravel(ax)[0] if isinstance(ax, np.ndarray) else ax
    _freeze_layout(first.figure)
    if show:
        pyplot().show()
    return ax


def _freeze_layout(figure: Any) -> None:
    """Lay out a figure this module made (constrained layout) once and drop the layout engine
    when it holds a colour bar: matplotlib refuses ``plt.tight_layout()`` -- which shap users
    call after a plot -- on a constrained-layout figure with a colour bar, and with no engine
    it is free to re-lay the figure out."""
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    engine = figure.get_layout_engine()
    if not getattr(figure, "_ferroshap_layout", False) or not isinstance(
        engine, ConstrainedLayoutEngine
    ):
        return
    if not any(hasattr(ax, "_colorbar") for ax in figure.axes):
        return
    engine.execute(figure)
    figure.set_layout_engine(None)
