"""Style options of ferroshap's plots, under shap's experimental ``shap.plots._style`` names.

The waterfall plot reads them when it draws: bar colours (``primary_color_positive`` /
``primary_color_negative``), the value labels inside bars (``text_color``), the lines at the
expected value and the prediction (``vlines_color``) and the feature labels
(``tick_labels_color``). ``secondary_color_*`` and ``hlines_color`` are kept for shap's code
(ferroshap's waterfall draws no secondary bars or horizontal guide lines).

Examples
--------
>>> from ferroshap.plots import _style
>>> with _style.style_context(text_color="black"):
...     _style.get_style().text_color
'black'
>>> _style.get_style().text_color
'white'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypedDict, Union

import numpy as np

__all__ = [
    "StyleConfig",
    "StyleOptions",
    "get_style",
    "load_default_style",
    "set_style",
    "style_context",
]

#: A matplotlib colour: a name or hex string, an RGB(A) tuple, or an array of those numbers.
ColorType = Union[str, tuple, np.ndarray]  # noqa: UP007 (get_type_hints reads it at run time)


@dataclasses.dataclass(frozen=True)
class StyleConfig:
    """Every style option of the plots (see the module's documentation)."""

    primary_color_positive: ColorType
    primary_color_negative: ColorType
    secondary_color_positive: ColorType
    secondary_color_negative: ColorType
    hlines_color: ColorType
    vlines_color: ColorType
    text_color: ColorType
    tick_labels_color: ColorType

    def asdict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class StyleOptions(TypedDict, total=False):
    """Some of :class:`StyleConfig`'s options, for :func:`set_style` / :func:`style_context`."""

    primary_color_positive: ColorType
    primary_color_negative: ColorType
    secondary_color_positive: ColorType
    secondary_color_negative: ColorType
    hlines_color: ColorType
    vlines_color: ColorType
    text_color: ColorType
    tick_labels_color: ColorType


def _lighter(hex_color: str) -> tuple[float, float, float]:
    """Halfway to white, as shap's light colours are (no matplotlib needed)."""
    rgb = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    return (float((rgb[0] + 1) / 2), float((rgb[1] + 1) / 2), float((rgb[2] + 1) / 2))


# ferroshap's palette (plots._common: Okabe-Ito vermillion and blue), shap's other defaults.
_DEFAULTS = StyleConfig(
    primary_color_positive="#D55E00",
    primary_color_negative="#0072B2",
    secondary_color_positive=_lighter("#D55E00"),
    secondary_color_negative=_lighter("#0072B2"),
    hlines_color="#cccccc",
    vlines_color="#999999",
    text_color="white",
    tick_labels_color="black",
)
_current = _DEFAULTS


def load_default_style() -> StyleConfig:
    """The default options."""
    return _DEFAULTS


def get_style() -> StyleConfig:
    """The options in force."""
    return _current


def _replaced(style: StyleConfig, options: dict[str, Any]) -> StyleConfig:
    names = {f.name for f in dataclasses.fields(StyleConfig)}
    unknown = sorted(set(options) - names)
    if unknown:
        from ferroshap.utils._exceptions import InvalidStyleOptionError

        raise InvalidStyleOptionError(
            f"Invalid style config option: {', '.join(unknown)} (valid: {', '.join(sorted(names))})"
        )
    return dataclasses.replace(style, **options)


def set_style(style: StyleConfig | None = None, /, **options: Any) -> None:
    """Sets options for the plots drawn from now on: a whole :class:`StyleConfig`, and/or
    single options by name (which win). An unknown option raises ``InvalidStyleOptionError``
    (a ``ValueError``)."""
    global _current
    base = {} if style is None else style.asdict()
    _current = _replaced(_current, {**base, **options})


@contextmanager
def style_context(**options: Any) -> Iterator[None]:
    """Sets options for the plots drawn inside the ``with`` block, then restores the previous
    ones (also when the block raises)."""
    previous = get_style()
    set_style(**options)
    try:
        yield
    finally:
        set_style(previous)
