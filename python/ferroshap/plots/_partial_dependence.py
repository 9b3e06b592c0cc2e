"""The partial dependence plot: the model's average output as one feature is varied."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap.explanation import Explanation
from ferroshap.plots._common import (
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    TEXT,
    finish,
    new_axes,
    to_explanation,
)
from ferroshap.plots._features import feature_index

__all__ = ["partial_dependence"]


def partial_dependence(
    ind: int | str,
    model: Any,
    data: Any,
    xmin: float | str = "percentile(0)",
    xmax: float | str = "percentile(100)",
    npoints: int | None = None,
    feature_names: list[str] | None = None,
    hist: bool = True,
    model_expected_value: bool | float = False,
    feature_expected_value: bool = False,
    shap_values: Any = None,
    ylabel: str | None = None,
    ice: bool = True,
    ace_opacity: float = 1.0,
    pd_opacity: float = 1.0,
    pd_linewidth: float = 2.0,
    ace_linewidth: float | str = "auto",
    ax: Any = None,
    show: bool = True,
) -> Any:
    """Partial dependence of the model on one feature, with ICE lines and SHAP values.

    The feature is set to each of ``npoints`` values in turn in every row of ``data``; the model
    is called on the modified data (same type: a pandas or polars DataFrame stays one, so
    pipelines that select columns by name work), and the mean output is the partial dependence
    line. ICE lines show each row's own curve. For an additive model the SHAP value of a row is
    the distance from the average output to the partial dependence line at that row's value:
    ``shap_values`` draws that distance for each given row.

    Parameters
    ----------
    ind
        The feature: a column index or name.
    model
        A function from data (like ``data``) to one output per row, e.g. ``model.predict``.
    data
        The background rows: a numpy array, a pandas / polars DataFrame, or an Explanation
        (then its ``data`` and, unless given, its values as ``shap_values``).
    xmin, xmax
        The range of the feature to vary: numbers, or ``"percentile(q)"`` of the data.
    npoints
        How many values to try (default 100; fewer when the feature has fewer distinct values
        in the range, which are then used as they are).
    feature_names
        Names of the columns when ``data`` has none.
    hist
        Draw the feature's distribution under the lines.
    model_expected_value
        ``True``: draw the model's mean output E[f(x)] (computed); a number: draw that.
    feature_expected_value
        Draw the feature's mean E[x].
    shap_values
        An Explanation of one or several rows: for each, a stem from E[f(x)] (its base value) to
        E[f(x)] + its SHAP value for the feature, at the row's feature value.
    ylabel
        The y-axis label.
    ice
        Draw one line per row (individual conditional expectation).
    ace_opacity, pd_opacity, pd_linewidth, ace_linewidth
        Opacity and widths of the ICE lines and the partial dependence line (``"auto"``: thinner
        ICE lines for more rows).
    ax
        The Axes to draw into.
    show
        Call ``plt.show()``; with ``False`` the figure stays open for ``savefig``.

    Returns
    -------
    matplotlib Axes
        The Axes with the lines (the histogram sits on a twin of it).

    Examples
    --------
    >>> ax = ferroshap.plots.partial_dependence(
    ...     "bmi", model.predict, X, model_expected_value=True, feature_expected_value=True,
    ...     shap_values=explanation[20:21], show=False,
    ... )  # doctest: +SKIP
    """
    if isinstance(ind, tuple):
        raise NotImplementedError(
            "partial_dependence draws one feature; for two features call it once per feature "
            "(ferroshap has no 3-D surface plot)"
        )
    if isinstance(data, Explanation) or type(data).__name__ == "Explanation":
        sv = to_explanation(data, "partial_dependence")
        if shap_values is None:
            shap_values = sv
        names = feature_names or sv.feature_names
        frame = _Frame(np.asarray(sv.data), names)
    else:
        frame = _Frame.read(data, feature_names)
    j = frame.index(ind)
    x = frame.column(j)
    low, high = _bound(xmin, x, "xmin"), _bound(xmax, x, "xmax")
    if not high >= low:
        raise ValueError(f"xmax ({high}) is below xmin ({low})")
    grid = _grid(x, low, high, npoints)
    curves = np.empty((grid.size, frame.n_rows))
    for g, value in enumerate(grid):
        curves[g] = _outputs(model, frame.with_column(j, value), frame.n_rows)
    pd_line = curves.mean(axis=1)

    ax = new_axes(ax, (7.0, 4.5))
    name = frame.names[j]
    if hist:
        twin = ax.twinx()
        twin.hist(x[np.isfinite(x)], bins=40, range=(low, high), color=NEUTRAL, alpha=0.25)
        twin.set_ylim(0, twin.get_ylim()[1] * 4)  # keep the bars in the bottom quarter
        twin.set_yticks([])
        for side in twin.spines.values():
            side.set_visible(False)
        ax.set_zorder(twin.get_zorder() + 1)
        ax.patch.set_visible(False)
    if ice:
        width = min(1.0, 50 / max(frame.n_rows, 1)) if ace_linewidth == "auto" else ace_linewidth
        ax.plot(grid, curves, color="#9FC4E0", linewidth=width, alpha=ace_opacity, zorder=1)
    ax.plot(grid, pd_line, color=NEGATIVE, linewidth=pd_linewidth, alpha=pd_opacity, zorder=3)
    if feature_expected_value:
        mean_x = float(np.nanmean(x))
        ax.axvline(mean_x, color="#999999", linestyle="--", linewidth=1, zorder=0)
        ax.annotate(
            f"E[{name}]",
            (mean_x, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=10,
            color=TEXT,
        )
    expected = None
    if model_expected_value is True:
        expected = float(_outputs(model, frame.original, frame.n_rows).mean())
    elif model_expected_value is not False:
        expected = float(model_expected_value)
    elif shap_values is not None:
        expected = _base_value(shap_values)
    if expected is not None:
        ax.axhline(expected, color="#999999", linestyle="--", linewidth=1, zorder=0)
        ax.annotate(
            "E[f(x)]",
            (1.0, expected),
            xycoords=("axes fraction", "data"),
            xytext=(3, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=10,
            color=TEXT,
        )
    if shap_values is not None:
        _stems(ax, shap_values, j, name)
    ax.set_xlim(low, high)
    ax.set_xlabel(name, fontsize=12, color=TEXT)
    if ylabel is None:
        ylabel = f"f(x) | {name}" if ice else f"E[f(x) | {name}]"
    ax.set_ylabel(ylabel, fontsize=12, color=TEXT)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return finish(ax, show)


class _Frame:
    """The background data with its type kept, so the model sees what it was trained on."""

    def __init__(self, array: np.ndarray, names: Any, original: Any = None, kind: str = "numpy"):
        if array.ndim != 2:
            raise ValueError(f"data must be 2-D (n_rows, n_features), got shape {array.shape}")
        self.array = array
        self.n_rows = array.shape[0]
        n = array.shape[1]
        self.names = [str(x) for x in names] if names is not None else None
        if self.names is None or len(self.names) != n:
            self.names = [f"Feature {i}" for i in range(n)]
        self.original = array if original is None else original
        self.kind = kind

    @classmethod
    def read(cls, data: Any, feature_names: Any) -> _Frame:
        module = type(data).__module__.split(".")[0]
        if module == "pandas" and hasattr(data, "columns"):
            return cls(data.to_numpy(), feature_names or list(data.columns), data, "pandas")
        if module == "polars" and hasattr(data, "columns"):
            return cls(data.to_numpy(), feature_names or list(data.columns), data, "polars")
        return cls(np.asarray(data), feature_names)

    def index(self, ind: Any) -> int:
        return feature_index(ind, self.names)

    def column(self, j: int) -> np.ndarray:
        try:
            return np.asarray(self.array[:, j], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"feature {self.names[j]!r} is not numeric; partial_dependence varies numbers"
            ) from None

    def with_column(self, j: int, value: float) -> Any:
        if self.kind == "pandas":
            copy = self.original.copy()
            copy.iloc[:, j] = value
            return copy
        if self.kind == "polars":
            import polars as pl

            column = self.original.columns[j]
            return self.original.with_columns(
                pl.lit(value).cast(self.original[column].dtype).alias(column)
            )
        copy = np.array(self.array, dtype=np.float64 if self.array.dtype.kind in "iub" else None)
        copy[:, j] = value
        return copy


def _outputs(model: Any, data: Any, n_rows: int) -> np.ndarray:
    out = np.asarray(model(data), dtype=np.float64)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape != (n_rows,):
        raise ValueError(
            f"model must return one output per row, shape ({n_rows},); got {out.shape} (for a "
            "classifier pass e.g. lambda X: model.predict_proba(X)[:, 1])"
        )
    return out


def _bound(bound: float | str, x: np.ndarray, what: str) -> float:
    if isinstance(bound, str):
        text = bound.strip()
        if not (text.startswith("percentile(") and text.endswith(")")):
            raise ValueError(f"{what} must be a number or 'percentile(q)', got {bound!r}")
        q = float(text[len("percentile(") : -1])
        if not 0 <= q <= 100:
            raise ValueError(f"{what}: percentile must be in [0, 100], got {q}")
        return float(np.nanpercentile(x, q))
    return float(bound)


def _grid(x: np.ndarray, low: float, high: float, npoints: int | None) -> np.ndarray:
    if npoints is not None:
        if npoints < 2:
            raise ValueError(f"npoints must be at least 2, got {npoints}")
        return np.linspace(low, high, npoints)
    distinct = np.unique(x[(x >= low) & (x <= high)])
    return distinct if distinct.size <= 100 else np.linspace(low, high, 100)


def _base_value(shap_values: Any) -> float:
    sv = to_explanation(shap_values, "partial_dependence")
    if sv.base_values is None:
        raise ValueError("shap_values has no base_values to start the SHAP stems from")
    return float(np.mean(sv.base_values))


def _stems(ax: Any, shap_values: Any, j: int, name: str) -> None:
    sv = to_explanation(shap_values, "partial_dependence")
    if "outputs" in sv.axis_names:
        raise ValueError(
            "shap_values has several outputs; pick the one the model returns, "
            "e.g. shap_values[..., 1]"
        )
    values = np.atleast_2d(np.asarray(sv.values, dtype=np.float64))
    if sv.data is None:
        raise ValueError("shap_values needs data (the rows' feature values) to place the stems")
    data = np.atleast_2d(np.asarray(sv.data, dtype=np.float64))
    base = np.broadcast_to(np.asarray(sv.base_values, dtype=np.float64), (values.shape[0],))
    top = base + values[:, j]
    colours = [POSITIVE if v > 0 else NEGATIVE for v in values[:, j]]
    ax.vlines(data[:, j], base, top, colors=colours, linewidth=2, zorder=4)
    ax.scatter(data[:, j], top, color="#222222", s=16, zorder=5, label=f"SHAP value of {name}")
