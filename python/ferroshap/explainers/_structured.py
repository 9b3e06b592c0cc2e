"""Partition SHAP on text and images: blocks of texts or images through the engine, each with
its own hierarchy (texts) or its own masked-out copy (images), and the Explanations shap's
text and image explainers return."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap import _core
from ferroshap.explainers._engine import call_model, evaluate, progress
from ferroshap.explainers.kernel import _batch_size, _model_function
from ferroshap.explanation import Explanation

__all__ = ["explain_images", "explain_texts"]

# Texts or images explained together: one model call per round covers all of them.
_BLOCK_ROWS = 64
# Bytes of queued clusters a block may hold: each of a row's up to 2 * max_evals queued
# clusters keeps its context as a mask of M bits (large images: tens of kB each).
_BLOCK_QUEUE_BYTES = 256 << 20


def _block_rows(max_evals: int, m: int) -> int:
    per_row = 2 * max_evals * (m // 8 + 64)
    return int(max(1, min(_BLOCK_ROWS, _BLOCK_QUEUE_BYTES // per_row)))


class _Model:
    """The explainer's model with its outputs checked, learning their shape on first call."""

    def __init__(self, model: Any) -> None:
        self._f = _model_function(model)
        self.shape: tuple[int, bool] | None = None

    def __call__(self, rows: Any, what: str) -> np.ndarray:
        out = call_model(self._f, rows, what, "identity", self.shape)
        if self.shape is None:
            self.shape = (1 if out.ndim == 1 else out.shape[1], out.ndim == 1)
        return out.reshape(len(rows), -1)


def _run(
    model: _Model,
    job: _core.GameJob,
    n_features: int,
    batch: int,
    reshape: Any = None,
    build: Any = None,
) -> None:
    def call(rows: Any) -> np.ndarray:
        return model(rows if reshape is None else rows.reshape(reshape(len(rows))), "masked data")

    evaluate(job, call, n_features, batch, None, None, build)


def _runs(job: _core.GameJob, lo: int, hi: int):
    """``(explained row, its coalition masks)`` for masked rows ``lo..hi``, which come row
    after row."""
    rows, masks = job.masks(lo, hi)
    cuts = np.flatnonzero(np.diff(rows)) + 1
    for run, run_masks in zip(np.split(rows, cuts), np.split(masks, cuts), strict=True):
        yield int(run[0]), run_masks


def _object_array(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def explain_texts(explainer: Any, X: Any, max_evals: int, silent: bool):
    """Partition SHAP values of a string or a list of strings (``explainer.masker`` is a
    :class:`ferroshap.maskers.Text`)."""
    masker = explainer.masker
    single = isinstance(X, str)
    texts = [X] if single else list(np.asarray(X, dtype=object).ravel())
    if not texts:
        raise ValueError("no texts to explain")
    segments, clusterings = [], []
    for i, s in enumerate(texts):
        if not isinstance(s, str):
            raise TypeError(f"text {i} is a {type(s).__name__}, not a string")
        tokens = masker.tokens(s)
        if not tokens:
            raise ValueError(
                f"the tokenizer returned no tokens for text {i} ({s!r}); there is nothing to "
                "explain"
            )
        segments.append(tokens)
        clusterings.append(masker.clustering(s))
    model = _Model(explainer.model)
    values, bases = [], []
    starts = range(0, len(texts), _BLOCK_ROWS)
    for start in progress(starts, len(texts), _BLOCK_ROWS, explainer._name, silent):
        block = range(start, min(start + _BLOCK_ROWS, len(texts)))
        fx = model(np.array([texts[i] for i in block]), "explained texts")
        k = fx.shape[1]
        width = max(len(segments[i]) for i in block)
        job = _core.GameJob.partition(
            np.zeros((len(block), width)),
            np.zeros((1, width)),
            np.ones(1),
            np.zeros(k),
            [clusterings[i] for i in block],
            max_evals=max_evals,
            batch_size=explainer._per_round,
            fixed_context=explainer._fixed_context,
        )

        def build(job: _core.GameJob, lo: int, hi: int, start: int = start) -> np.ndarray:
            out: list[str] = []
            for r, masks in _runs(job, lo, hi):
                out.extend(masker.mask_segments(segments[start + r], masks))
            return np.array(out)

        _run(model, job, width, 1 << 16, build=build)
        block_values, _, _, _ = job.finish(fx)
        block_bases = job.base_values()
        for r, i in enumerate(block):
            values.append(block_values[r, : len(segments[i])])
            bases.append(block_bases[r])
    one_output = model.shape is not None and model.shape[1]
    values = [v[:, 0] if one_output else v for v in values]
    base = np.array([b[0] if one_output else b for b in bases])
    data = [np.array(s, dtype=object) for s in segments]
    names = [[t.strip() for t in s] for s in segments]
    if single:
        return Explanation(
            values[0],
            base_values=base[0],
            data=data[0],
            feature_names=names[0],
            output_names=explainer.output_names,
            clustering=clusterings[0],
        )
    return Explanation(
        _object_array(values),
        # One base value per text, or per text and output (kept as an object array: the
        # explanation's only axis is the texts').
        base_values=base if one_output else _object_array(list(base)),
        data=_object_array(data),
        output_names=explainer.output_names,
        axis_names=("rows",),
    )


def explain_images(explainer: Any, X: Any, max_evals: int, silent: bool):
    """Partition SHAP values of images (``explainer.masker`` is a
    :class:`ferroshap.maskers.Image`): ``X`` is ``(n, *shape)``, flattened ``(n, M)``, or one
    image."""
    masker = explainer.masker
    images = np.asarray(X)
    if images.dtype == object or not np.issubdtype(images.dtype, np.number):
        raise TypeError(f"images must be numeric arrays, got dtype {images.dtype}")
    m = masker.shape[1]
    shape = masker.input_shape
    single = images.size == m and images.ndim in (1, len(shape), len(shape) - 1)
    if single:
        images = images[None]
    if images.ndim < 2 or int(np.prod(images.shape[1:])) != m:
        raise ValueError(
            f"the images have shape {np.shape(X)}, but the masker is for images of shape "
            f"{shape} ({m} values each): pass (n, {', '.join(map(str, shape))}) or (n, {m})"
        )
    in_shape = images.shape[1:]
    flat = np.ascontiguousarray(images.reshape(len(images), m), dtype=np.float64)
    model = _Model(explainer.model)
    batch = _batch_size(None, 1, m)
    values = np.zeros((len(flat), m, 1))
    bases: list[np.ndarray] = []
    rows_per_block = _block_rows(max_evals, m)
    starts = range(0, len(flat), rows_per_block)
    for start in progress(starts, len(flat), rows_per_block, explainer._name, silent):
        block = flat[start : start + rows_per_block]
        fx = model(block.reshape(len(block), *in_shape), "explained images")
        k = fx.shape[1]
        if values.shape[2] != k:
            values = np.zeros((len(flat), m, k))
        background = masker.backgrounds(block) if masker.masks_whole_rows else block
        job = _core.GameJob.partition(
            block,
            np.ascontiguousarray(background, dtype=np.float64),
            np.full(len(block), 1.0 / len(block)),
            np.zeros(k),
            [masker.clustering],
            max_evals=max_evals,
            batch_size=explainer._per_round,
            fixed_context=explainer._fixed_context,
            own_background=True,
        )
        build = None
        if not masker.masks_whole_rows:

            def build(job: _core.GameJob, lo: int, hi: int, block=block) -> np.ndarray:
                parts = [masker.inpaint(block[r], masks) for r, masks in _runs(job, lo, hi)]
                return np.concatenate(parts)

        _run(model, job, m, batch, lambda n: (n, *in_shape), build)
        block_values, _, _, _ = job.finish(fx)
        values[start : start + len(block)] = block_values
        bases.extend(job.base_values())
    one_output = model.shape is not None and model.shape[1]
    out_shape = (len(flat), *in_shape) + (() if one_output else (values.shape[2],))
    values = values[:, :, 0] if one_output else values
    base = np.array([b[0] if one_output else b for b in bases])
    spatial = ("height", "width", "channels")[: len(in_shape)] if len(in_shape) > 1 else ()
    axes = ("rows", *(spatial or ("features",)), *(() if one_output else ("outputs",)))
    if single:
        return Explanation(
            values.reshape(out_shape)[0],
            base_values=base[0],
            data=images[0],
            output_names=explainer.output_names,
            axis_names=axes[1:],
        )
    return Explanation(
        values.reshape(out_shape),
        base_values=base,
        data=images,
        output_names=explainer.output_names,
        axis_names=axes,
    )
