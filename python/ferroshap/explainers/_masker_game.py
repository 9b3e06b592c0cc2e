"""Explanations through a masker's own ``__call__`` (shap's masker protocol), for the maskers
ferroshap does not mask natively: :class:`~ferroshap.maskers.Composite`,
:class:`~ferroshap.maskers.Fixed`, :class:`~ferroshap.maskers.FixedComposite`,
:class:`~ferroshap.maskers.OutputComposite`, subclasses of :class:`~ferroshap.maskers.Masker`
and plain masking functions ``f(mask, x)``.

Each explained row (one item of each of the model's inputs) is one game: the estimator's
``GameJob`` plans the coalitions over a stand-in row (``1`` for a feature from the row, ``-b``
for background row ``b``), so every coalition takes ``R`` consecutive masked rows, ``R`` being
how many rows the masker returns per mask; each batch of coalitions goes through
``masker(mask, *row)`` and the model is called once per batch on the inputs joined
(``model(*inputs)``, as shap's masked model calls it) and averaged over the ``R`` rows by the
job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ferroshap import _core
from ferroshap.explainers._engine import call_model, evaluate, progress
from ferroshap.explanation import Explanation
from ferroshap.maskers._composite import arg_count, masker_shape

__all__ = ["explain_with_masker", "is_protocol_masker", "setup_protocol"]

# Masked rows per model call (a multiple of the rows per coalition).
_ROWS_PER_CALL = 4096

#: ``job(X, background, weights, fnull, row_index, row)``: the estimator's GameJob for one
#: explained row (``row``: its item of each model input).
JobFactory = Callable[..., _core.GameJob]


def is_protocol_masker(masker: Any) -> bool:
    """Whether ``masker`` is explained through its own ``__call__``: a masker object ferroshap
    does not mask natively, or a plain masking function (not data, not a tokenizer)."""
    from ferroshap.maskers import Image, Impute, Independent, Masker, Text
    from ferroshap.utils._interactions import safe_isinstance

    if isinstance(masker, (Independent, Impute, Text, Image)):
        return False
    if isinstance(masker, Masker):
        return True
    if isinstance(masker, type) or hasattr(masker, "shape") or hasattr(masker, "iloc"):
        return False
    tokenizers = ("transformers.tokenization_utils_base.PreTrainedTokenizerBase",)
    return callable(masker) and not safe_isinstance(masker, tokenizers)


def setup_protocol(
    explainer: Any,
    model: Any,
    masker: Any,
    link: Any,
    feature_names: Any,
    output_names: Any,
) -> None:
    """Sets the attributes an explainer keeps for a protocol masker (no background is read
    and the model is not called until the explainer is)."""
    from ferroshap.explainers._agnostic import _is_identity
    from ferroshap.explainers.kernel import _model_function

    if not _is_identity(link):
        raise NotImplementedError(
            f"{type(explainer).__name__} with a {type(masker).__name__} masker supports only "
            "the identity link so far"
        )
    explainer.model, explainer.masker = model, masker
    explainer._f = _model_function(model)
    explainer._protocol = True
    explainer.link, explainer.linearize_link = "identity", True
    explainer.feature_names, explainer.output_names = feature_names, output_names
    explainer.expected_value = None
    explainer.data = getattr(masker, "data", None)


def _stack(parts: list[Any]) -> Any:
    """One model input from the masker's outputs for several masks, joined as shap's masked
    model joins them (frames stay frames)."""
    if hasattr(parts[0], "iloc"):
        import pandas as pd

        return pd.concat(parts, ignore_index=True)
    return np.concatenate([np.asarray(p) if not isinstance(p, list) else p for p in parts])


class _RowGame:
    """The model over the masker's outputs for one explained row."""

    def __init__(self, explainer: Any, row: tuple[Any, ...]) -> None:
        self.f, self.masker, self.row = explainer._f, explainer.masker, row
        if hasattr(self.masker, "shape"):
            self.n_features = masker_shape(self.masker, *row)[1]
        elif len(row) == 1:  # a plain masking function: one feature per entry of the row
            self.n_features = int(np.size(row[0]))
        else:
            raise TypeError("a masking function without a shape masks one model input")
        self.rows_per_mask = 0  # learnt from the first call
        self.shape: tuple[int, bool] | None = None

    def inputs(self, masks: np.ndarray) -> tuple[Any, ...]:
        outs = []
        for mask in masks:
            out = self.masker(np.asarray(mask, dtype=bool), *self.row)
            outs.append(out if isinstance(out, tuple) else (out,))
        return tuple(_stack([o[i] for o in outs]) for i in range(len(outs[0])))

    def outputs(self, masks: np.ndarray, what: str = "masked data") -> np.ndarray:
        """``(len(masks) * rows_per_mask, n_outputs)``: the model on the masked inputs."""
        inputs = self.inputs(masks)
        if self.rows_per_mask == 0:
            raw = np.asarray(self.f(*inputs))
            if raw.ndim == 0 or len(raw) % len(masks):
                raise ValueError(
                    f"the model returned shape {raw.shape} for {len(masks)} masked inputs; it "
                    "must return one output (or a row of outputs) per masked row"
                )
            self.rows_per_mask = len(raw) // len(masks)
            n = len(raw)
            out = call_model(lambda _: raw, range(n), what, "identity", None)
            self.shape = (1 if out.ndim == 1 else out.shape[1], out.ndim == 1)
        else:
            n = len(masks) * self.rows_per_mask
            out = call_model(lambda _: self.f(*inputs), range(n), what, "identity", self.shape)
        return out.reshape(n, -1)

    def mean(self, mask: np.ndarray, what: str) -> np.ndarray:
        return self.outputs(mask[None, :], what).mean(axis=0)


def _values(
    explainer: Any, row: tuple[Any, ...], job: JobFactory, index: int
) -> tuple[np.ndarray, np.ndarray, _RowGame]:
    """One row's values ``(M, K)`` and base value ``(K,)``."""
    game = _RowGame(explainer, row)
    m = game.n_features
    fnull = game.mean(np.zeros(m, dtype=bool), "fully masked input")
    fx = game.mean(np.ones(m, dtype=bool), "explained input")
    if m == 0:
        return np.zeros((0, len(fx))), fnull, game
    r = game.rows_per_mask
    stand_in = np.ones((1, m))
    background = -np.arange(1.0, r + 1.0)[:, None] * np.ones((1, m))
    row_job = job(stand_in, background, np.full(r, 1.0 / r), fnull, index, row)

    def build(job: _core.GameJob, lo: int, hi: int) -> np.ndarray:
        return job.masks(lo, hi)[1][::r]  # one mask per coalition, its R rows in a run

    per_call = max(1, _ROWS_PER_CALL // r) * r
    evaluate(row_job, lambda masks: game.outputs(masks), m, per_call, None, None, build)
    values, _, _, _ = row_job.finish(fx[None, :])
    return values[0], fnull, game


def _pack(items: list[Any]) -> Any:
    """Rows of equal shape as one array, else an object array of them (shap's pack_values)."""
    arrays = [np.asarray(v) for v in items]
    if all(a.shape == arrays[0].shape for a in arrays) and arrays[0].dtype != object:
        return np.stack(arrays)
    return _objects(items)


def _axes(values: np.ndarray, ragged: bool, one_output: bool) -> tuple[str, ...] | None:
    """The explanation's axes, named where inference could misread them (ragged rows, or an
    input a Fixed masker passes through, which has no features)."""
    if ragged:
        return ("rows",)  # texts of different lengths: the only axis is the rows'
    if values.ndim == 2 + (not one_output):
        return ("rows", "features") + (() if one_output else ("outputs",))
    return None


def _objects(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for i, v in enumerate(items):
        out[i] = v
    return out


def _rows(args: tuple[Any, ...]) -> tuple[list[tuple[Any, ...]], bool, list[Any]]:
    """The explained rows (one item per input), whether one unbatched string was given, and
    feature names read from frames."""
    single = all(isinstance(a, str) for a in args)
    columns: list[Any] = []
    items = []
    for a in args:
        if hasattr(a, "iloc") and hasattr(a, "columns"):
            columns.append([str(c) for c in a.columns])
            a = a.to_numpy()
        else:
            columns.append(None)
        items.append([a] if single else a)
    lengths = {len(a) for a in items}
    if len(lengths) != 1:
        raise ValueError(f"the model's inputs must have one item per row each, got {lengths}")
    return list(zip(*items, strict=True)), single, columns


def explain_with_masker(
    explainer: Any, args: tuple[Any, ...], job: JobFactory, silent: bool
) -> Explanation | list[Explanation]:
    """shap's explanation of ``model(*args)`` through a protocol masker: one Explanation per
    model input (a list when the model takes several; inputs a ``Fixed`` masker passes
    through get empty values), values ``(n_rows, *input's mask shape[, n_outputs])`` (an
    object array when rows differ, as texts do), base values the output on the fully masked
    input."""
    masker = explainer.masker
    expected = arg_count(masker) if hasattr(masker, "shape") else 1
    if len(args) != expected:
        raise TypeError(
            f"the {type(masker).__name__} masker masks {expected} model input"
            f"{'s' if expected != 1 else ''}; the explainer was called with {len(args)}"
        )
    rows, single, columns = _rows(args)
    if not rows:
        raise ValueError("no rows to explain")
    per_arg: list[list[np.ndarray]] = [[] for _ in args]
    data: list[list[Any]] = [[] for _ in args]
    names: list[list[Any]] = [[] for _ in args]
    bases = []
    game = None
    for i in progress(range(len(rows)), len(rows), 1, explainer._name, silent):
        row = rows[i]
        values, base, game = _values(explainer, row, job, i)
        bases.append(base)
        shapes = masker.mask_shapes(*row) if hasattr(masker, "mask_shapes") else None
        if shapes is None or len(shapes) != len(args):
            shapes = [(values.shape[0],)] + [(0,)] * (len(args) - 1)
        shown = masker.data_transform(*row) if hasattr(masker, "data_transform") else row
        row_names = (
            masker.feature_names(*row) if callable(getattr(masker, "feature_names", None)) else None
        )
        pos = 0
        for j, shape in enumerate(shapes):
            size = int(np.prod(shape))
            per_arg[j].append(values[pos : pos + size].reshape(*shape, values.shape[1]))
            data[j].append(shown[j])
            names[j].append(None if row_names is None else row_names[j])
            pos += size
    one_output = game is not None and game.shape is not None and game.shape[1]
    base_values = np.array(bases)
    if one_output:
        base_values = base_values[:, 0]
    out = []
    for j in range(len(args)):
        values_j = [v[..., 0] if one_output else v for v in per_arg[j]]
        packed = _pack(values_j)
        feature_names = columns[j] or (explainer.feature_names if j == 0 else None)
        if feature_names is None and names[j][0] is not None and packed.dtype != object:
            feature_names = list(names[j][0])
        if single:
            out.append(
                Explanation(
                    values_j[0],
                    base_values=base_values[0],
                    data=data[j][0],
                    feature_names=feature_names,
                    output_names=explainer.output_names,
                )
            )
            continue
        ragged = packed.dtype == object
        out.append(
            Explanation(
                packed,
                # One base value per row, or per row and output (kept as an object array: the
                # explanation's only axis is the rows').
                base_values=_objects(list(base_values))
                if ragged and not one_output
                else base_values,
                # An input without features (a Fixed one) has no data along the features.
                data=_pack(data[j]) if ragged or packed.shape[1] else None,
                feature_names=feature_names,
                output_names=explainer.output_names,
                # Ragged rows (texts of different lengths): the only axis is the rows'.
                axis_names=_axes(packed, ragged, one_output),
            )
        )
    return out[0] if len(out) == 1 else out
