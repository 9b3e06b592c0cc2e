"""``maskers.Image``: pixels outside a coalition blurred, inpainted or set to a fill value,
over shap's hierarchy of axis-aligned image halves."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ferroshap._hierarchy import image_linkage
from ferroshap.maskers._masker import Masker

__all__ = ["Image"]

_BLUR = re.compile(r"^blur\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
_INPAINT = {"inpaint_telea": "INPAINT_TELEA", "inpaint_ns": "INPAINT_NS"}


def box_blur(image: np.ndarray, kx: int, ky: int) -> np.ndarray:
    """The mean over a ``ky`` (rows) by ``kx`` (columns) window around each pixel of ``image``
    ``(height, width, channels)``, each channel apart, the border reflected without repeating
    the edge pixel: OpenCV's ``cv2.blur(image, (kx, ky))``, whose window for an even size
    reaches one pixel further before the pixel than after it."""
    out = np.asarray(image, dtype=np.float64)
    for axis, k in ((1, kx), (0, ky)):
        if k == 1:
            continue
        before = k // 2
        pad = [(0, 0)] * out.ndim
        pad[axis] = (before, k - 1 - before)
        padded = np.pad(out, pad, mode="reflect")
        sums = np.cumsum(padded, axis=axis)
        zero = np.zeros_like(np.take(sums, [0], axis=axis))
        sums = np.concatenate([zero, sums], axis=axis)
        n = out.shape[axis]
        upper = np.take(sums, np.arange(k, k + n), axis=axis)
        lower = np.take(sums, np.arange(0, n), axis=axis)
        out = (upper - lower) / k
    return out


class Image(Masker):
    """Masks regions of an image, as ``shap.maskers.Image``.

    Parameters
    ----------
    mask_value
        What masked pixels become: ``"blur(kx, ky)"`` (the image blurred with a ``kx`` wide,
        ``ky`` high box filter, computed here in numpy as OpenCV's ``cv2.blur``),
        ``"inpaint_telea"`` or ``"inpaint_ns"`` (OpenCV's inpainting of the masked region,
        which needs ``opencv-python``), a number, or an array of the image's shape.
    shape
        The image's shape ``(height, width, channels)`` (a 2-D shape means one channel);
        required unless ``mask_value`` is an array.

    Attributes
    ----------
    clustering : numpy.ndarray
        shap's hierarchy of the pixels, a linkage matrix ``(M - 1, 4)``: the image split in
        halves along its longer side, down to single pixels (and channels).
    shape : tuple
        ``(1, M)`` with ``M = height * width * channels``, as shap's.

    Examples
    --------
    >>> import ferroshap
    >>> masker = ferroshap.maskers.Image("blur(4,4)", (8, 8, 1))
    >>> masker.shape, masker.clustering.shape
    ((1, 64), (63, 4))
    """

    #: Coalitions expanded per round of the Partition explainer (shap's default).
    default_batch_size = 10
    image_data = True

    def __init__(self, mask_value: Any, shape: tuple[int, ...] | None = None) -> None:
        if shape is None:
            if isinstance(mask_value, str) or np.ndim(mask_value) == 0:
                raise TypeError(
                    "the image shape is needed unless mask_value is an array: "
                    "Image(mask_value, shape=(height, width, channels))"
                )
            shape = np.shape(mask_value)
        shape = tuple(int(v) for v in shape)
        if len(shape) == 2:
            shape = (*shape, 1)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(
                f"shape must be (height, width, channels) of positive sizes, got {shape}"
            )
        self.input_shape = shape
        self.shape = (1, int(np.prod(shape)))
        self.mask_value = mask_value
        self.blur_kernel: tuple[int, int] | None = None
        self.inpaint_method: str | None = None
        self.fill: np.ndarray | None = None
        if isinstance(mask_value, str):
            blur = _BLUR.match(mask_value.replace(" ", ""))
            if blur:
                self.blur_kernel = (int(blur.group(1)), int(blur.group(2)))
                if min(self.blur_kernel) < 1:
                    raise ValueError(f"blur kernel sizes must be positive, got {mask_value!r}")
            elif mask_value in _INPAINT:
                self.inpaint_method = _INPAINT[mask_value]
                _cv2()
            else:
                raise ValueError(
                    "mask_value must be 'blur(kx,ky)', 'inpaint_telea', 'inpaint_ns', a number "
                    f"or an array, got {mask_value!r}"
                )
        else:
            fill = np.asarray(mask_value, dtype=np.float64)
            if fill.ndim != 0 and fill.size != self.shape[1]:
                raise ValueError(
                    f"a mask_value array must have the image's {self.shape[1]} values "
                    f"({shape}), got shape {fill.shape}"
                )
            self.fill = np.broadcast_to(fill.ravel() if fill.ndim else fill, (self.shape[1],))
        self.clustering = image_linkage(shape)

    @property
    def masks_whole_rows(self) -> bool:
        """Whether a masked image is the image on the coalition and a fixed per-image
        background elsewhere (blur, fill); inpainting depends on the whole mask."""
        return self.inpaint_method is None

    def backgrounds(self, images: np.ndarray) -> np.ndarray:
        """The masked-out value of every pixel of each flattened image ``(n, M)``."""
        if self.fill is not None:
            return np.tile(self.fill, (len(images), 1))
        kx, ky = self.blur_kernel  # type: ignore[misc]
        return np.stack([box_blur(img.reshape(self.input_shape), kx, ky).ravel() for img in images])

    def inpaint(self, image: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Masked copies ``(n, M)`` of one flattened image, the masked-out region of each
        (``~masks[i]``) filled by OpenCV's inpainting, as shap does."""
        cv2 = _cv2()
        shaped = image.reshape(self.input_shape)
        out = np.empty((len(masks), image.size))
        for i, keep in enumerate(np.asarray(masks, dtype=bool)):
            hole = (~keep).reshape(self.input_shape).astype(np.uint8).max(axis=2)
            if hole.all():
                out[i] = np.broadcast_to(shaped.mean(axis=(0, 1)), self.input_shape).ravel()
                continue
            filled = cv2.inpaint(
                shaped.astype(np.uint8), hole, 3, getattr(cv2, self.inpaint_method)
            )
            out[i] = filled.astype(np.float64).ravel()
        return out

    def __call__(self, mask: Any, x: Any) -> tuple[np.ndarray]:
        """shap's masker protocol: one image ``x`` (in any shape holding the image's values)
        with the pixels outside ``mask`` masked, as ``(array of shape (1, *x.shape),)``."""
        image = np.asarray(x, dtype=np.float64)
        m = self.shape[1]
        if image.size != m:
            raise ValueError(f"x has {image.size} values, but the masker's images have {m}")
        keep = np.asarray(self._standardize_mask(mask, x), dtype=bool).reshape(-1)
        if keep.shape != (m,):
            raise ValueError(f"mask must hold {m} booleans (one per value), got {keep.shape}")
        flat = image.reshape(1, m)
        if self.masks_whole_rows:
            out = np.where(keep, flat[0], self.backgrounds(flat)[0])
        else:
            out = self.inpaint(flat[0], keep[None, :])[0]
        return (out.reshape(1, *image.shape),)

    def mask_shapes(self, x: Any) -> list[tuple[int, ...]]:
        """``[x.shape]``: one mask entry per value of the image, as shap's."""
        return [tuple(np.shape(x))]

    def __repr__(self) -> str:
        return f"Image({self.mask_value!r}, shape={self.input_shape})"


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise ImportError(
            "inpainting masked image regions needs OpenCV: pip install opencv-python-headless "
            "(or mask with 'blur(kx,ky)' or a fill value, which need nothing)"
        ) from None
    return cv2
