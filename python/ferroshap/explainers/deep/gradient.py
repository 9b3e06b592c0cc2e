"""GradientExplainer: expected gradients (SHAP values from integrated gradients averaged over
background rows and a random interpolation point)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import numpy as np

from ferroshap.explainers.deep._common import (
    build_explanation,
    check_batch_size,
    output_ranks,
    shap_layout,
)
from ferroshap.explainers.deep._dispatch import backend
from ferroshap.explanation import Explanation

# Bounds of the Explanation are the mean +- this many standard errors (a 95% normal interval).
_Z95 = 1.959963984540054


def draws(n_rows: int, nsamples: int, n_background: int, seed: int) -> tuple:
    """Background row and interpolation point of every sample, ``(n_rows, nsamples)`` each,
    drawn in shap's order from numpy's legacy generator seeded with ``seed`` (a background
    index, then a uniform, for each sample of each row), so that shap and ferroshap given the
    same ``rseed`` evaluate the same points."""
    rs = np.random.RandomState(seed)
    rind = np.empty((n_rows, nsamples), dtype=np.int64)
    alpha = np.empty((n_rows, nsamples))
    for j in range(n_rows):
        for k in range(nsamples):
            rind[j, k] = rs.choice(n_background)
            alpha[j, k] = rs.uniform()
    return rind, alpha


class GradientExplainer:
    """Expected gradients of a PyTorch or Keras 3 / TensorFlow model.

    For each row ``x`` the value of feature ``i`` is the mean over ``nsamples`` draws of
    ``grad_i f(r + a (x~ - r)) * (x~_i - r_i)``, with ``r`` a random background row, ``a``
    uniform on [0, 1] and ``x~ = x`` plus Gaussian noise of scale ``local_smoothing``. The
    values add up to ``f(x) - E[f(background)]`` in expectation (exactly for linear models).
    A drop-in for ``shap.GradientExplainer``, with these differences:

    - ``expected_value`` is set (the mean output over the background) and explanations carry
      base values, axis names and 95% bounds from the standard errors.
    - The draws are shap's (same ``rseed``, same points, so the same values when
      ``local_smoothing=0``), but all rows and samples are evaluated together in batches of
      ``batch_size`` points.
    - ``return_variances=True`` returns the variance of each value's estimate (sample
      variance / ``nsamples``); shap divides by ``sqrt(nsamples)`` instead.
    - With ``(model, layer)`` the interpolation runs between the layer's values for ``x``
      and for the background row (expected gradients of the rest of the network); shap
      interpolates the input and multiplies by the layer's value at the interpolated point.

    Parameters
    ----------
    model
        A ``torch.nn.Module`` or Keras 3 model returning ``(n,)`` or ``(n, n_outputs)``, or
        ``(model, layer)`` to explain the input of ``layer`` (the output of an embedding).
    data
        Background rows ``(n_background, *input_shape)`` (a list for several inputs).
    batch_size
        Interpolated points per forward/backward pass; bounds memory.
    local_smoothing
        Standard deviation of the Gaussian noise added to ``x`` (SmoothGrad).
    axis_names
        As in :class:`DeepExplainer`.

    Examples
    --------
    >>> import torch, ferroshap
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    >>> explainer = ferroshap.GradientExplainer(model.eval(), torch.randn(50, 4))
    >>> sv = explainer(torch.randn(5, 4), nsamples=100, rseed=0)
    >>> sv.values.shape, sv.lower_bounds.shape
    ((5, 4), (5, 4))
    """

    def __init__(
        self,
        model: Any,
        data: Any,
        session: Any = None,
        batch_size: int = 1024,
        local_smoothing: float = 0,
        axis_names: Any = None,
    ) -> None:
        if session is not None:
            raise ValueError("session is a TensorFlow 1 argument; ferroshap does not need it")
        self.batch_size = check_batch_size(batch_size)
        if not np.isfinite(local_smoothing) or local_smoothing < 0:
            raise ValueError(f"local_smoothing must be >= 0, got {local_smoothing}")
        self.local_smoothing = float(local_smoothing)
        self._model = backend(model, data)
        self.expected_value = self._model.expected_value
        self.multi_input = self._model.multi_input
        self.axis_names = axis_names

    def shap_values(
        self,
        X: Any,
        nsamples: int = 200,
        ranked_outputs: int | None = None,
        output_rank_order: Any = "max",
        rseed: int | None = None,
        return_variances: bool = False,
    ) -> Any:
        """Expected-gradient values in shap's layout.

        Parameters
        ----------
        X
            Rows to explain, shaped like the background (a list for several inputs).
        nsamples
            Draws (background row, interpolation point) per row.
        ranked_outputs, output_rank_order
            As in :meth:`DeepExplainer.shap_values`.
        rseed
            Seed of the draws (numpy's legacy generator, as shap); ``None``: a random one.
        return_variances
            Also return the variance of each value's estimate.

        Returns
        -------
        numpy.ndarray or list or tuple
            ``(n_rows, *input_shape, n_outputs)`` (a list for several inputs); then the
            variances in the same layout if asked for, then the ``(n_rows, k)`` output
            indexes with ``ranked_outputs``.
        """
        means, variances, ranks, _, _ = self._explain(
            X, nsamples, ranked_outputs, output_rank_order, rseed
        )
        result: tuple = (shap_layout(means, self.multi_input),)
        if return_variances:
            result += (shap_layout([v / nsamples for v in variances], self.multi_input),)
        if ranks is not None:
            result += (ranks,)
        return result if len(result) > 1 else result[0]

    def __call__(
        self, X: Any, nsamples: int = 200, rseed: int | None = None
    ) -> Explanation | list[Explanation]:
        """The explanation of ``X`` with base values (the expected output), data, axis
        names, ``error_std`` (the standard error of each value) and ``lower_bounds``/
        ``upper_bounds`` at +-1.96 standard errors."""
        start = time.perf_counter()
        means, variances, ranks, data, _ = self._explain(X, nsamples, None, "max", rseed)
        se = [np.sqrt(v / nsamples) for v in variances]
        bounds = (
            [m - _Z95 * s for m, s in zip(means, se, strict=True)],
            [m + _Z95 * s for m, s in zip(means, se, strict=True)],
        )
        base = np.repeat(self._model.expected_value[None, :], means[0].shape[0], 0)
        explanation = build_explanation(
            means,
            base,
            data,
            ranks,
            self._model.layout,
            self.axis_names,
            bounds=bounds,
            error_std=se,
        )
        for e in explanation if isinstance(explanation, list) else [explanation]:
            e.compute_time = time.perf_counter() - start
        return explanation

    def _explain(self, X: Any, nsamples: Any, ranked: Any, order: Any, rseed: Any) -> tuple:
        if isinstance(nsamples, bool) or not isinstance(nsamples, (int, np.integer)):
            raise TypeError(f"nsamples must be a positive int, got {nsamples!r}")
        if nsamples < 1:
            raise ValueError(f"nsamples must be a positive int, got {nsamples}")
        seed = secrets.randbelow(1_000_000) if rseed is None else int(rseed)
        m = self._model
        with m.prepared():
            inputs = m.inputs(X)
            n = m.numpy(inputs)[0].shape[0]
            outputs = m.outputs(inputs)
            ranks = output_ranks(outputs, ranked, order)
            rind_alpha = draws(n, int(nsamples), m.n_background, seed)
            means, variances = m.gradients(
                inputs, ranks, rind_alpha, self.local_smoothing, seed, self.batch_size
            )
            data = m.numpy(m.explained(inputs))
        return means, variances, ranks, data, outputs
