"""The image plot: SHAP values of image pixels over the images, one column per output."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from ferroshap.explanation import Explanation
from ferroshap.plots._common import NEGATIVE, POSITIVE, TEXT, finish, pyplot, to_explanation

__all__ = ["image", "image_plot"]

_CHANNEL_SIZES = (1, 3, 4)


@cache
def _overlay_colormap() -> Any:
    """Blue (lowers) through transparent (zero) to vermillion (raises): the image shows through
    where the values are small. Colour-blind safe, like every ferroshap plot."""
    from matplotlib.colors import LinearSegmentedColormap, to_rgb

    neg, pos = to_rgb(NEGATIVE), to_rgb(POSITIVE)
    return LinearSegmentedColormap.from_list(
        "ferroshap_blue_clear_vermillion", [(*neg, 1.0), (1.0, 1.0, 1.0, 0.0), (*pos, 1.0)]
    )


def image(
    shap_values: Any,
    pixel_values: Any = None,
    labels: Any = None,
    true_labels: Sequence[Any] | None = None,
    width: float | None = None,
    aspect: float | None = None,
    hspace: float | None = None,
    labelpad: float | None = None,
    cmap: Any = None,
    vmax: float | None = None,
    show: bool = True,
    channels_first: bool | None = None,
    ax: Any = None,
) -> np.ndarray:
    """SHAP values of image inputs drawn over the images: a row per image, a column per output.

    The first column shows the image (when ``pixel_values`` or the Explanation's ``data`` gives
    it); each further column shows one output's SHAP values summed over the colour channels, over
    a faint grey copy of the image: vermillion pixels raise that output, blue ones lower it. One
    symmetric colour scale (the 99.9th percentile of ``|SHAP|``) serves every panel, with a
    colour bar below.

    Parameters
    ----------
    shap_values
        An :class:`~ferroshap.Explanation` (or ``shap.Explanation``) of images; a numpy array
        ``(n_images, height, width, channels)`` or ``(n_images, height, width)``; or shap's
        legacy list with one such array per output.
    pixel_values
        The images, laid out like the values without the output axis (default: the
        Explanation's ``data``). Values outside [0, 1] (0..255, standardised) are rescaled to
        [0, 1] per image for display.
    labels
        Output names: one per output (column titles), or an array ``(n_images, n_outputs)``
        (a title per panel). Default: the Explanation's ``output_names``.
    true_labels
        One label per image, shown above its image column.
    width
        Figure width in inches (default: 2.4 per column, at most 16).
    aspect, hspace
        Panel height / width ratio override, and the vertical space between rows (a fraction of
        a panel's height; default 0.25).
    labelpad
        Space between a panel and its title, in points.
    cmap
        The overlay colormap (default: blue - transparent - vermillion).
    vmax
        The ``|SHAP|`` at full colour (default: the 99.9th percentile of ``|SHAP|``).
    show
        Call ``plt.show()``; with ``False`` the figure stays open for ``savefig``.
    channels_first
        Layout of arrays without axis names: ``True`` for ``(n, channels, height, width)``
        (PyTorch), ``False`` for ``(n, height, width, channels)`` (shap's and Keras' layout).
        Default: an Explanation's ``axis_names`` decide where it has a ``"channels"`` axis,
        otherwise channels-last; an array that is plainly channels-first (last axis not 1, 3 or
        4 while the second is) gets an error asking for ``channels_first=True``.
    ax
        Axes to draw into: ``n_images * n_columns`` of them in any array shape (row-major).

    Returns
    -------
    numpy.ndarray of matplotlib Axes
        ``(n_images, n_columns)``.

    Examples
    --------
    >>> axes = ferroshap.plots.image(values, pixel_values=images, show=False)  # doctest: +SKIP
    >>> axes.shape  # 3 images, the image column and 10 class columns  # doctest: +SKIP
    (3, 11)
    """
    plt = pyplot()
    values, pixels, names = _read(shap_values, pixel_values, channels_first)
    n_images, height, width_px, _, n_outputs = values.shape
    panel_titles = _panel_titles(labels if labels is not None else names, n_images, n_outputs)
    if true_labels is not None and len(true_labels) != n_images:
        raise ValueError(f"true_labels has {len(true_labels)} entries for {n_images} images")
    summed = values.sum(axis=3)  # (n, h, w, k): one map per output
    if vmax is None:
        vmax = float(np.nanpercentile(np.abs(summed), 99.9)) if summed.size else 1.0
    vmax = vmax if vmax > 0 else 1.0
    columns = n_outputs + (pixels is not None)
    ratio = aspect if aspect is not None else height / width_px
    axes = _axes(ax, plt, n_images, columns, width, ratio, hspace)
    cmap = cmap if cmap is not None else _overlay_colormap()
    shown = None
    for i in range(n_images):
        column = 0
        grey = None
        if pixels is not None:
            picture = pixels[i]
            grey = picture.mean(axis=-1)
            target = axes[i, 0]
            if picture.shape[-1] == 1:
                target.imshow(picture[..., 0], cmap="gray", vmin=0, vmax=1)
            else:
                target.imshow(picture[..., :3] if picture.shape[-1] == 4 else picture)
            if true_labels is not None:
                target.set_title(str(true_labels[i]), fontsize=10, color=TEXT, pad=labelpad)
            column = 1
        for k in range(n_outputs):
            target = axes[i, column + k]
            if grey is not None:
                target.imshow(grey, cmap="gray", alpha=0.35, vmin=0, vmax=1)
            shown = target.imshow(summed[i, ..., k], cmap=cmap, vmin=-vmax, vmax=vmax)
            title = panel_titles[i][k]
            if title:
                target.set_title(title, fontsize=10, color=TEXT, pad=labelpad)
    for target in axes.ravel():
        target.set_xticks([])
        target.set_yticks([])
        for spine in target.spines.values():
            spine.set_visible(False)
    if shown is not None:
        bar = axes[0, 0].figure.colorbar(
            shown,
            ax=list(axes.ravel()),
            orientation="horizontal",
            fraction=0.04,
            aspect=40,
            pad=0.04,
            shrink=0.6,
        )
        bar.set_label("SHAP value", color=TEXT)
        bar.outline.set_visible(False)
    finish(axes[0, 0], show)
    return axes


def image_plot(
    shap_values: Any,
    pixel_values: Any = None,
    labels: Any = None,
    true_labels: Sequence[Any] | None = None,
    width: float | None = None,
    aspect: float | None = None,
    hspace: float | None = None,
    labelpad: float | None = None,
    cmap: Any = None,
    vmax: float | None = None,
    show: bool = True,
    channels_first: bool | None = None,
    ax: Any = None,
) -> np.ndarray:
    """shap's legacy name for :func:`image` (same arguments).

    Examples
    --------
    >>> ferroshap.image_plot([values_class0, values_class1], images)  # doctest: +SKIP
    """
    return image(
        shap_values,
        pixel_values,
        labels,
        true_labels,
        width,
        aspect,
        hspace,
        labelpad,
        cmap,
        vmax,
        show,
        channels_first,
        ax,
    )


def _axes(ax, plt, n_images: int, columns: int, width, ratio: float, hspace) -> np.ndarray:
    if ax is not None:
        axes = np.asarray(ax, dtype=object).ravel()
        if axes.size != n_images * columns:
            raise ValueError(
                f"ax must hold {n_images * columns} Axes ({n_images} images x {columns} "
                f"columns), got {axes.size}"
            )
        return axes.reshape(n_images, columns)
    fig_width = width if width is not None else min(2.4 * columns, 16.0)
    panel = fig_width / columns
    space = 0.25 if hspace is None else hspace
    fig_height = n_images * panel * ratio * (1 + space) + 0.9
    fig, axes = plt.subplots(
        n_images,
        columns,
        figsize=(fig_width, fig_height),
        squeeze=False,
        gridspec_kw={"hspace": space, "wspace": 0.05},
    )
    fig.subplots_adjust(left=0.02, right=0.98, top=1 - 0.45 / fig_height, bottom=0.75 / fig_height)
    return axes


def _panel_titles(labels: Any, n_images: int, n_outputs: int) -> list[list[str]]:
    if labels is None:
        return [[""] * n_outputs for _ in range(n_images)]
    array = np.asarray(labels, dtype=object)
    if array.ndim == 1 and array.shape[0] == n_outputs:
        # Column titles: on the first row only, as the columns are the outputs.
        return [[str(x) for x in array]] + [[""] * n_outputs for _ in range(n_images - 1)]
    if array.shape == (n_images, n_outputs):
        return [[str(x) for x in row] for row in array]
    raise ValueError(
        f"labels must be {n_outputs} output names or an array ({n_images}, {n_outputs}), "
        f"got shape {array.shape}"
    )


def _read(shap_values, pixel_values, channels_first) -> tuple[np.ndarray, Any, Any]:
    """Values as ``(n, h, w, c, k)``, pixels as ``(n, h, w, c)`` in [0, 1] (or None), names."""
    names = None
    axis_names = None
    if type(shap_values).__name__ == "Explanation" and not isinstance(shap_values, Explanation):
        # A shap.Explanation: no axis names; shap's layout (n, h, w, c[, outputs]) applies.
        values = np.asarray(shap_values.values, dtype=np.float64)
        data = getattr(shap_values, "data", None)
        data = None if data is None else np.asarray(data)
        if data is not None and values.ndim == data.ndim + 1:
            names = getattr(shap_values, "output_names", None)
        else:
            values = values[..., np.newaxis]
        if pixel_values is None:
            pixel_values = data
    elif isinstance(shap_values, Explanation):
        sv = to_explanation(shap_values, "image")
        values = np.asarray(sv.values, dtype=np.float64)
        axis_names = list(sv.axis_names)
        if "outputs" in axis_names:
            at = axis_names.index("outputs")
            values = np.moveaxis(values, at, -1)
            axis_names.append(axis_names.pop(at))
            names = sv.output_names
        else:
            values = values[..., np.newaxis]
            axis_names.append("outputs")
        if "rows" not in axis_names:  # one image
            values, axis_names = values[np.newaxis], ["rows", *axis_names]
            data = None if sv.data is None else np.asarray(sv.data)[np.newaxis]
        else:
            data = None if sv.data is None else np.asarray(sv.data)
        if pixel_values is None:
            pixel_values = data
        # Names like ("rows", "features") carry no layout; only "channels" does.
        if "channels" in axis_names:
            if channels_first is not None:
                expected = axis_names.index("channels") == 1
                if channels_first != expected:
                    raise ValueError(
                        f"channels_first={channels_first} contradicts the explanation's axis "
                        f"names {tuple(sv.axis_names)}"
                    )
            channels_first = axis_names.index("channels") == 1
    elif isinstance(shap_values, (list, tuple)):
        if not shap_values:
            raise ValueError("image needs SHAP values; got an empty list")
        arrays = [np.asarray(v, dtype=np.float64) for v in shap_values]
        if len({a.shape for a in arrays}) != 1:
            raise ValueError(
                f"the per-output arrays differ in shape: {sorted({a.shape for a in arrays})}"
            )
        values = np.stack(arrays, axis=-1)
    else:
        values = np.asarray(shap_values, dtype=np.float64)[..., np.newaxis]
    values = _channels_last(values, channels_first, has_outputs=True)
    pixels = None
    if pixel_values is not None:
        pixels = _channels_last(np.asarray(pixel_values, dtype=np.float64), channels_first, False)
        if pixels.shape[:3] != values.shape[:3]:
            raise ValueError(
                f"pixel_values are {pixels.shape[1:3]} images x {pixels.shape[0]}, the SHAP "
                f"values {values.shape[1:3]} x {values.shape[0]}: they must match"
            )
        pixels = _to_unit(pixels)
    return values, pixels, names


def _channels_last(array: np.ndarray, channels_first: bool | None, has_outputs: bool) -> Any:
    """``array`` as ``(n, h, w, c[, k])``: a channel axis added for grey images."""
    core = array.ndim - has_outputs
    what = "SHAP values" if has_outputs else "pixel_values"
    if core == 3:  # (n, h, w): grey images
        return np.expand_dims(array, 3)
    if core != 4:
        shape = array.shape[:core]
        raise ValueError(
            f"image needs {what} of images, (n_images, height, width[, channels]); got {shape}"
        )
    if channels_first is None:
        last, second = array.shape[3], array.shape[1]
        if last not in _CHANNEL_SIZES and second in _CHANNEL_SIZES:
            raise ValueError(
                f"{what} of shape {array.shape[:4]} look channels-first (n, channels, height, "
                "width); pass channels_first=True (or channels_first=False if they are not)"
            )
        return array
    return np.moveaxis(array, 1, 3) if channels_first else array


def _to_unit(pixels: np.ndarray) -> np.ndarray:
    """Images in [0, 1] for display: anything outside is min-max scaled per image."""
    if pixels.size == 0 or (np.nanmin(pixels) >= 0 and np.nanmax(pixels) <= 1):
        return pixels
    low = np.nanmin(pixels, axis=(1, 2, 3), keepdims=True)
    high = np.nanmax(pixels, axis=(1, 2, 3), keepdims=True)
    return (pixels - low) / np.where(high > low, high - low, 1.0)
