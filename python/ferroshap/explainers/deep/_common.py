"""Framework-free parts of the Deep and Gradient explainers: output ranking, shap's return
shapes, the additivity report and the Explanation."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ferroshap.explanation import Explanation

_RANK_ORDERS = ("max", "min", "max_abs")


class AdditivityWarning(UserWarning):
    """Deep SHAP values do not add up to the model output minus the expected value."""


class DeepLiftFallbackWarning(UserWarning):
    """Some operations of the model had no DeepLIFT rule; their gradient was used."""


def split_inputs(X: Any, multi_input: bool, what: str, reference: list | None) -> list:
    """The model's inputs in ``X``: a list of them for a multi-input model, else ``[X]``;
    as many as the background's (``reference``) when there is one."""
    if multi_input:
        if not isinstance(X, (list, tuple)):
            raise TypeError(f"the model takes several inputs: {what} must be a list of them")
        items = list(X)
    else:
        if isinstance(X, (list, tuple)):
            raise TypeError(f"the model takes one input: {what} must be one array or tensor")
        items = [X]
    if reference is not None and len(items) != len(reference):
        raise ValueError(f"{what} has {len(items)} inputs, the background {len(reference)}")
    return items


def check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be a positive int, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}")
    return int(batch_size)


def output_ranks(
    outputs: np.ndarray, ranked_outputs: int | None, output_rank_order: Any
) -> np.ndarray | None:
    """Which outputs to explain per row, ``(n_rows, k)``, or ``None`` for all of them.

    ``output_rank_order`` is ``"max"``, ``"min"``, ``"max_abs"`` (descending ``|output|``:
    shap's TensorFlow explainers sort it ascending, picking the smallest), or an integer
    array ``(n_rows, k)`` of output indices ("custom").
    """
    n_outputs = outputs.shape[1]
    if ranked_outputs is None:
        if isinstance(output_rank_order, str) and output_rank_order in _RANK_ORDERS:
            return None
        order = np.asarray(output_rank_order)
        return _custom_ranks(order, outputs)
    if isinstance(ranked_outputs, bool) or not isinstance(ranked_outputs, (int, np.integer)):
        raise TypeError(f"ranked_outputs must be a positive int or None, got {ranked_outputs!r}")
    if not 1 <= ranked_outputs <= n_outputs:
        raise ValueError(f"ranked_outputs must be in 1..{n_outputs} (the model's outputs)")
    if isinstance(output_rank_order, str):
        if output_rank_order == "max":
            key = -outputs
        elif output_rank_order == "min":
            key = outputs
        elif output_rank_order == "max_abs":
            key = -np.abs(outputs)
        else:
            raise ValueError(
                f"output_rank_order must be 'max', 'min', 'max_abs' or an array of output "
                f"indices, got {output_rank_order!r}"
            )
        return np.argsort(key, axis=1, kind="stable")[:, :ranked_outputs]
    return _custom_ranks(np.asarray(output_rank_order), outputs)[:, :ranked_outputs]


def _custom_ranks(order: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    n_rows, n_outputs = outputs.shape
    if order.ndim != 2 or order.shape[0] != n_rows or order.dtype.kind not in "iu":
        raise ValueError(
            f"output_rank_order as an array must hold int output indices of shape "
            f"(n_rows={n_rows}, k), got shape {order.shape} and dtype {order.dtype}"
        )
    if order.size and (order.min() < 0 or order.max() >= n_outputs):
        raise ValueError(f"output_rank_order indices must be in 0..{n_outputs - 1}")
    return order.astype(np.int64)


def shap_layout(phis: list[np.ndarray], multi_input: bool) -> Any:
    """shap 0.51's return value: one array ``(n_rows, *input_shape, n_outputs)`` (a trailing
    output axis even for one output), or a list of them for a model with several inputs."""
    return phis if multi_input else phis[0]


@dataclass
class Additivity:
    """Per row and explained output: ``sum(values) - (f(x) - E[f(x)])``."""

    errors: np.ndarray  # (n_rows, n_explained_outputs)
    tolerance: float

    @property
    def max_error(self) -> float:
        return float(np.abs(self.errors).max()) if self.errors.size else 0.0


def additivity(
    phis: list[np.ndarray], outputs: np.ndarray, expected: np.ndarray, ranks: np.ndarray | None
) -> Additivity:
    """Compare the row sums of the values with ``f(x) - E[f]`` and warn about the worst row.

    The tolerance is relative: ``1e-3 * max(1, max |f(x)|)``. Deep SHAP is exact in exact
    arithmetic wherever every nonlinear operation has a rule, so float32 rounding (about 1e-6
    of the output scale per layer) stays far below it, while a gradient fallback on a
    saturating or coupled operation typically misses by a visible fraction of the output.
    """
    n = outputs.shape[0]
    total = sum(
        p.reshape(n, int(np.prod(p.shape[1:-1])), p.shape[-1]).sum(1, dtype=np.float64)
        for p in phis
    )
    if ranks is None:
        target = outputs - expected[np.newaxis, :]
    else:
        target = np.take_along_axis(outputs, ranks, 1) - expected[ranks]
    errors = total - target
    tol = 1e-3 * max(1.0, float(np.abs(outputs).max()) if outputs.size else 1.0)
    report = Additivity(errors, tol)
    if report.max_error > tol:
        row, col = np.unravel_index(int(np.abs(errors).argmax()), errors.shape)
        output = int(col if ranks is None else ranks[row, col])
        warnings.warn(
            f"SHAP values do not add up to the model output: the largest error is "
            f"{report.max_error:.3g} (row {row}, output {output}; tolerance {tol:.3g}). "
            f"An operation without an exact DeepLIFT rule (see any earlier warning naming "
            f"it) or a model that is not deterministic causes this; the per-row errors are "
            f"in Explanation.additivity_errors",
            AdditivityWarning,
            stacklevel=3,
        )
    return report


def warn_fallbacks(names: set[str], framework: str) -> None:
    if names:
        warnings.warn(
            f"no DeepLIFT rule for {framework} operation(s) {', '.join(sorted(names))}: their "
            f"plain gradient was used (a gradient-times-difference approximation for that "
            f"part of the model); additivity may not hold exactly",
            DeepLiftFallbackWarning,
            stacklevel=3,
        )


def axis_names(shape: tuple[int, ...], layout: str | None) -> tuple[str, ...]:
    """Names for the feature axes of one input of shape ``shape`` (without the row axis).

    ``layout`` is the framework's image layout: ``"channels_first"`` (PyTorch) or
    ``"channels_last"`` (Keras); ``None`` for inputs that are not images.
    """
    nd = len(shape)
    if nd == 1:
        return ("features",)
    if layout == "channels_first":
        spatial = {2: ("width",), 3: ("height", "width"), 4: ("depth", "height", "width")}
        if nd in spatial:
            return ("channels", *spatial[nd])
    if layout == "channels_last":
        spatial = {2: ("width",), 3: ("height", "width"), 4: ("depth", "height", "width")}
        if nd in spatial:
            return (*spatial[nd], "channels")
    if nd == 2:
        return ("tokens", "features")
    return tuple(f"axis {i + 1}" for i in range(nd))


def build_explanation(
    phis: list[np.ndarray],
    base_values: np.ndarray,
    data: list[np.ndarray],
    ranks: np.ndarray | None,
    layout: str | None,
    input_axis_names: Any = None,
    output_names: list[str] | None = None,
    bounds: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
    error_std: list[np.ndarray] | None = None,
    report: Additivity | None = None,
) -> Explanation | list[Explanation]:
    """One Explanation per model input; values keep a trailing output axis only for models
    with several (explained) outputs, like shap's other explainers."""
    single_output = phis[0].shape[-1] == 1
    explanations = []

    def pick(array: np.ndarray | None) -> np.ndarray | None:
        return array[..., 0] if single_output and array is not None else array

    for i, (phi, x) in enumerate(zip(phis, data, strict=True)):
        values, base = pick(phi), pick(base_values)
        std = pick(error_std[i]) if error_std is not None else None
        lower = pick(bounds[0][i]) if bounds is not None else None
        upper = pick(bounds[1][i]) if bounds is not None else None
        names = None if single_output or ranks is not None else output_names
        given = input_axis_names
        if given is not None and len(phis) > 1:
            given = given[i]
        if given is None:
            given = axis_names(x.shape[1:], layout)
        elif len(given) != x.ndim - 1:
            raise ValueError(
                f"axis_names {tuple(given)} do not match input {i}'s {x.ndim - 1} axes after "
                f"the row axis (shape {x.shape[1:]})"
            )
        exp = Explanation(
            values, base_values=base, data=x, output_names=names,
            lower_bounds=lower, upper_bounds=upper, error_std=std,
            axis_names=("rows", *given, *(() if single_output else ("outputs",))),
        )  # fmt: skip
        exp.output_indexes = ranks
        if report is not None:
            exp.additivity_errors = report.errors
        explanations.append(exp)
    return explanations if len(explanations) > 1 else explanations[0]
