"""The force plot: ``force`` (shap's arguments), the legacy ``force_plot`` and ``initjs``."""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ferroshap.explanation import Explanation
from ferroshap.plots._common import (
    NEGATIVE,
    POSITIVE,
    feature_labels,
    feature_values,
    select_output,
    to_explanation,
)
from ferroshap.plots._force_layout import layout_row, link_function

__all__ = ["force", "force_plot", "initjs"]

# Above this many rows the stacked view warns (as shap does): the page grows ~1.7 kB per row.
_MANY_ROWS = 3000
# shap's plot_cmap default: the red/blue roles, drawn in ferroshap's colour-blind-safe pair.
_DEFAULT_CMAP = "RdBu"


def initjs() -> None:
    """Do nothing: ferroshap's HTML plots carry their own script.

    shap needs ``shap.initjs()`` in every notebook to load its JavaScript bundle, and without it
    shows "Visualization omitted, Javascript library not loaded!". ferroshap's force and text
    plots are self-contained (inline SVG, CSS and a small inline script, no network), so this
    exists only so that code written for shap runs unchanged. It returns ``None`` and displays
    nothing.

    Examples
    --------
    >>> import ferroshap
    >>> ferroshap.plots.initjs()
    """
    return None


def force(
    base_value: Any,
    shap_values: Any = None,
    features: Any = None,
    feature_names: Sequence[str] | None = None,
    out_names: str | Sequence[str] | None = None,
    link: str = "identity",
    plot_cmap: str | Sequence[str] = _DEFAULT_CMAP,
    matplotlib: bool = False,
    show: bool = True,
    figsize: tuple[float, float] | None = None,
    ordering_keys: Any = None,
    ordering_keys_time_format: str | None = None,
    text_rotation: float = 0,
    contribution_threshold: float = 0.05,
    ax: Any = None,
) -> Any:
    """Force plot: how each feature pushes one prediction from the base value to f(x).

    Red-role (vermillion) features raise the output and push from the left, blue ones lower it
    and push from the right; the largest pushes are labelled ``name = value``, every push has a
    tooltip. Several rows give the stacked view: each row a force plot turned upright, side by
    side, with a menu to order the rows by similarity, output value or original order.

    Parameters
    ----------
    base_value
        An :class:`~ferroshap.Explanation` (or ``shap.Explanation``) of one row ``(n_features,)``
        or several ``(n_rows, n_features)``; or, with ``shap_values``, the base value (a number,
        or one per row).
    shap_values
        Legacy form: the SHAP values, ``(n_features,)`` or ``(n_rows, n_features)``.
    features
        Legacy form: the feature values, same shape (a pandas Series / DataFrame also gives the
        names), or a list of feature names.
    feature_names
        Names of the features (default: the Explanation's, else ``Feature i``).
    out_names
        The output's name shown instead of ``f(x)``.
    link
        ``"identity"`` or ``"logit"``: with ``"logit"`` the values stay in log-odds but the axis
        and the printed outputs are probabilities.
    plot_cmap
        ``"RdBu"`` (default: ferroshap's colour-blind-safe vermillion / blue) or two colours
        ``(raising, lowering)``.
    matplotlib
        ``True``: draw one row with matplotlib (a static picture for reports) instead of HTML.
    show
        With ``matplotlib=True``: call ``plt.show()``. HTML plots are returned, not shown: a
        notebook displays the returned object.
    figsize
        With ``matplotlib=True`` and no ``ax``: the figure size in inches (default: 12 wide).
    ordering_keys, ordering_keys_time_format
        Stacked view: one key per row (e.g. a time); the rows can then be ordered by it and
        the axis shows the keys (datetimes formatted with ``ordering_keys_time_format``).
    text_rotation
        With ``matplotlib=True``: rotation of the feature labels, in degrees.
    contribution_threshold
        Label the features whose ``|SHAP|`` is at least this fraction of the row's total.
    ax
        With ``matplotlib=True``: the Axes to draw into.

    Returns
    -------
    HTMLPlot or matplotlib Axes
        An :class:`~ferroshap.plots._html.HTMLPlot` (shows itself in notebooks, ``.html()``,
        ``.save_html(path)``), or the Axes with ``matplotlib=True``.

    Examples
    --------
    >>> explanation = ferroshap.TreeExplainer(model)(X)  # doctest: +SKIP
    >>> ferroshap.plots.force(explanation[0])  # one row, interactive  # doctest: +SKIP
    >>> ferroshap.plots.force(explanation[:500]).save_html("rows.html")  # doctest: +SKIP
    >>> ax = ferroshap.plots.force(explanation[0], matplotlib=True, show=False)  # doctest: +SKIP
    """
    from ferroshap.plots import _force_html as html

    if not 0 <= contribution_threshold <= 1:
        raise ValueError(f"contribution_threshold must be in [0, 1], got {contribution_threshold}")
    link_function(link)  # checks the name
    colours = _colours(plot_cmap)
    rows = _ForceInputs.read(base_value, shap_values, features, feature_names, out_names)
    if matplotlib:
        if rows.phi.ndim == 2:
            raise ValueError(
                f"force(matplotlib=True) draws one row, got {rows.phi.shape[0]} rows; pick one, "
                "e.g. force(explanation[0], matplotlib=True), or leave matplotlib=False for the "
                "stacked HTML view of many rows"
            )
        from ferroshap.plots._force_static import draw

        layout = layout_row(
            float(rows.base), rows.phi, rows.names, rows.value_texts(), contribution_threshold
        )
        return draw(layout, rows.out_name, link, colours, figsize, text_rotation, ax, show)
    if rows.phi.ndim == 1:
        layout = layout_row(
            float(rows.base), rows.phi, rows.names, rows.value_texts(), contribution_threshold
        )
        return html.single_html(layout, rows.out_name, link, "force plot", colours=colours)
    n = rows.phi.shape[0]
    if n == 0:
        raise ValueError("force needs at least one row; the explanation is empty")
    if n > _MANY_ROWS:
        warnings.warn(
            f"a force plot of {n} rows makes a page of about {n * 1.7 / 1000:.0f} MB that "
            f"browsers draw slowly; consider a sample, e.g. explanation.sample({_MANY_ROWS // 3})",
            UserWarning,
            stacklevel=2,
        )
    keys, key_order = _ordering_keys(ordering_keys, ordering_keys_time_format, n)
    return html.stacked_html(
        np.broadcast_to(rows.base, (n,)).astype(np.float64),
        rows.phi,
        rows.names,
        rows.value_texts(),
        rows.out_name,
        link,
        f"force plot of {n} rows",
        rows.row_names(),
        keys,
        key_order,
        colours=colours,
    )


def force_plot(
    base_value: Any,
    shap_values: Any = None,
    features: Any = None,
    feature_names: Sequence[str] | None = None,
    out_names: str | Sequence[str] | None = None,
    link: str = "identity",
    plot_cmap: str | Sequence[str] = _DEFAULT_CMAP,
    matplotlib: bool = False,
    show: bool = True,
    figsize: tuple[float, float] | None = None,
    ordering_keys: Any = None,
    ordering_keys_time_format: str | None = None,
    text_rotation: float = 0,
    contribution_threshold: float = 0.05,
    ax: Any = None,
) -> Any:
    """shap's legacy name: ``force_plot(base_value, shap_values, features, ...)``.

    The same function as :func:`force`; see there for the parameters.

    Examples
    --------
    >>> ferroshap.force_plot(explainer.expected_value, values[0], X.iloc[0])  # doctest: +SKIP
    """
    return force(
        base_value,
        shap_values,
        features,
        feature_names,
        out_names,
        link,
        plot_cmap,
        matplotlib,
        show,
        figsize,
        ordering_keys,
        ordering_keys_time_format,
        text_rotation,
        contribution_threshold,
        ax,
    )


def _colours(plot_cmap: Any) -> tuple[str, str]:
    if isinstance(plot_cmap, str):
        if plot_cmap == _DEFAULT_CMAP:
            return POSITIVE, NEGATIVE
        raise ValueError(
            f"plot_cmap {plot_cmap!r} is not offered; pass 'RdBu' (the default, colour-blind "
            "safe) or two colours (raising, lowering), e.g. ('#D55E00', '#0072B2')"
        )
    colours = list(plot_cmap)
    if len(colours) != 2:
        raise ValueError(f"plot_cmap must be two colours (raising, lowering), got {plot_cmap!r}")
    return str(colours[0]), str(colours[1])


def _ordering_keys(keys: Any, time_format: str | None, n: int) -> tuple[list[str] | None, Any]:
    if keys is None:
        return None, None
    keys = list(keys)
    if len(keys) != n:
        raise ValueError(f"ordering_keys has {len(keys)} entries for {n} rows")

    def text(key: Any) -> str:
        if time_format is not None and isinstance(key, (datetime.date, np.datetime64)):
            if isinstance(key, np.datetime64):
                key = key.astype("datetime64[us]").item()
            return key.strftime(time_format)
        return str(key)

    try:
        order = np.argsort(np.asarray(keys), kind="stable")
    except TypeError as exc:
        raise ValueError("ordering_keys must be sortable (numbers, dates or strings)") from exc
    return [text(k) for k in keys], order


class _ForceInputs:
    """One or many rows of one output: values, base, feature values and names."""

    def __init__(self, base, phi, data, names, out_name, instance_names=None):
        self.base = base
        self.phi = phi
        self.data = data
        self.names = names
        self.out_name = out_name
        self.instance_names = instance_names

    def value_texts(self) -> Any:
        from ferroshap.plots._force_html import row_value_texts

        n = self.phi.shape[-1]
        if self.phi.ndim == 1:
            return row_value_texts(self.data, n)
        if self.data is None:
            return [[""] * n for _ in range(self.phi.shape[0])]
        return [row_value_texts(row, n) for row in self.data]

    def row_names(self) -> list[str]:
        if self.instance_names is not None and len(self.instance_names) == self.phi.shape[0]:
            return [str(x) for x in self.instance_names]
        return [f"row {i}" for i in range(self.phi.shape[0])]

    @classmethod
    def read(cls, base_value, shap_values, features, feature_names, out_names) -> _ForceInputs:
        out_name = _out_name(out_names)
        if shap_values is None:
            if base_value is None or np.isscalar(base_value) or isinstance(base_value, np.ndarray):
                raise TypeError(
                    "force takes an Explanation, e.g. force(explanation[0]), or the legacy "
                    "force(base_value, shap_values, features)"
                )
            sv = select_output(to_explanation(base_value, "force"), "force")
            return cls._from_explanation(sv, feature_names, out_name)
        if isinstance(shap_values, Explanation) or type(shap_values).__name__ == "Explanation":
            sv = select_output(to_explanation(shap_values, "force"), "force")
            return cls._from_explanation(sv, feature_names, out_name)
        phi = np.asarray(shap_values, dtype=np.float64)
        if phi.ndim == 3:
            raise ValueError(
                f"force draws one output; shap_values has shape {phi.shape} (several outputs?): "
                "pass the values of one output, e.g. shap_values[..., k] with base_value[k]"
            )
        if phi.ndim not in (1, 2):
            raise ValueError(
                f"shap_values must be (n_features,) or (n_rows, n_features), got {phi.shape}"
            )
        base = np.asarray(base_value, dtype=np.float64)
        n_rows = phi.shape[0] if phi.ndim == 2 else 1
        if base.size not in (1, n_rows) or (phi.ndim == 1 and base.size != 1):
            raise ValueError(
                f"base_value has {base.size} entries but shap_values is {phi.shape}: pass one "
                "number (for a model with several outputs, pick its output, e.g. "
                "explainer.expected_value[1] with shap_values[..., 1])"
            )
        base = base.reshape(()) if base.size == 1 else base.reshape(n_rows)
        data, names = _features(features, feature_names, phi)
        return cls(base, phi, data, names, out_name)

    @classmethod
    def _from_explanation(cls, sv: Explanation, feature_names, out_name) -> _ForceInputs:
        if sv.axis_names not in (("features",), ("rows", "features")):
            raise ValueError(
                "force needs an Explanation of one row (n_features,) or several "
                f"(n_rows, n_features); got values of shape {sv.values.shape} with axes "
                f"{sv.axis_names}"
            )
        phi = np.asarray(sv.values, dtype=np.float64)
        if sv.base_values is None:
            raise ValueError("force needs base_values; this Explanation has none")
        base = np.asarray(sv.base_values, dtype=np.float64)
        base = base.reshape(()) if phi.ndim == 1 else np.broadcast_to(base, (phi.shape[0],))
        data = feature_values(sv)
        names = list(feature_names) if feature_names is not None else feature_labels(sv)
        _check_names(names, phi.shape[-1])
        instance_names = getattr(sv, "instance_names", None)
        return cls(base, phi, data, names, out_name, instance_names)


def _out_name(out_names: Any) -> str:
    if out_names is None:
        return "f(x)"
    if isinstance(out_names, str):
        return out_names
    names = list(out_names)
    if len(names) != 1:
        raise ValueError(f"force draws one output; out_names has {len(names)} names")
    return str(names[0])


def _check_names(names: list[str], n: int) -> None:
    if len(names) != n:
        raise ValueError(f"{len(names)} feature names for {n} features")


def _features(features: Any, feature_names: Any, phi: np.ndarray) -> tuple[Any, list[str]]:
    """Feature values (or None) and names for the legacy call."""
    n = phi.shape[-1]
    names = list(feature_names) if feature_names is not None else None
    data = None
    if isinstance(features, list) and all(isinstance(x, str) for x in features) and names is None:
        names, features = features, None  # shap accepts the names in place of the features
    if features is not None:
        columns = getattr(features, "columns", None)
        index = getattr(features, "index", None)
        if columns is not None:  # pandas / polars DataFrame
            names = names or [str(c) for c in columns]
            data = features.to_numpy()
        elif index is not None and hasattr(features, "to_numpy"):  # pandas Series
            names = names or [str(c) for c in index]
            data = features.to_numpy()
        else:
            data = np.asarray(features)
        if data.shape != phi.shape:
            raise ValueError(f"features has shape {data.shape} but shap_values {phi.shape}")
    names = names if names is not None else [f"Feature {j}" for j in range(n)]
    _check_names(names, n)
    return data, [str(x) for x in names]
