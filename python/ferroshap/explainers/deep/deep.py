"""DeepExplainer: Deep SHAP (DeepLIFT's rescale rule averaged over a background)."""

from __future__ import annotations

import time
from typing import Any

from ferroshap.explainers.deep._common import (
    additivity,
    build_explanation,
    check_batch_size,
    output_ranks,
    shap_layout,
)
from ferroshap.explainers.deep._dispatch import backend
from ferroshap.explanation import Explanation


class DeepExplainer:
    """Deep SHAP values of a PyTorch or Keras 3 / TensorFlow model.

    For every explained row ``x`` and background row ``r`` DeepLIFT's rescale rule gives
    attributions that add up to ``f(x) - f(r)``; their mean over the background rows are the
    Deep SHAP values, which add up to ``f(x) - E[f(background)]``. A drop-in for
    ``shap.DeepExplainer`` (same arguments, same return shapes, same values on the networks
    shap handles), with these differences:

    - The rules apply to operations, not modules (PyTorch: every torch function call, so
      ``F.relu``, tensor methods, reused modules, in-place activations and residual additions
      work; Keras: every layer and its activation). Softmax, layer norm, products of two
      activations, attention (``nn.MultiheadAttention``, ``scaled_dot_product_attention``,
      Keras ``MultiHeadAttention``, or written out) and max pooling have exact rules; see
      :mod:`ferroshap.explainers.deep._torch_rules` and ``_keras_rules``.
    - An operation without a rule (LSTM, GRU, max/min reductions, a ``where`` whose
      condition depends on the input, ...) keeps its gradient; one
      ``DeepLiftFallbackWarning`` names it.
    - Softmax values differ from shap's: shap's PyTorch rule treats softmax as elementwise
      (not additive); its TensorFlow rule is additive but shifts value and reference by
      their own maxima. ferroshap shifts both by one shared maximum, which cancels from
      every difference (the DeepLIFT decomposition of ``exp(x) / sum(exp(x))`` itself).
    - Additivity is checked per row and reported with an ``AdditivityWarning`` naming the
      largest error (never an assertion); the errors are kept on the Explanation.
    - Rows and background rows are evaluated together in batches of up to ``batch_size``
      (row, background row) pairs, not one row at a time.
    - A model in training mode is explained in eval mode (with a warning) and restored.

    Parameters
    ----------
    model
        A ``torch.nn.Module`` or a Keras 3 model (TensorFlow backend), returning ``(n,)`` or
        ``(n, n_outputs)``. A pair ``(model, layer)`` explains the input of ``layer`` (for a
        PyTorch ``nn.Embedding``, or a Keras ``Embedding``, its output: the input of the rest
        of the network) instead of the model's input.
    data
        Background rows: an array or tensor ``(n_background, *input_shape)``, or a list of
        them for a model with several inputs. Tensors must be on the model's device with the
        model's dtype; numpy arrays are converted. The values' error falls like
        ``1/sqrt(n_background)``: 100 rows are usually enough.
    batch_size
        (row, background row) pairs per forward/backward pass; bounds memory.
    axis_names
        Names of each input's axes after the row axis, e.g. ``("tokens", "features")`` (a
        list of tuples for several inputs), kept in ``Explanation.axis_names``. By default
        from the framework's layout: ``("channels", "height", "width")`` for a 3-D PyTorch
        input, ``("height", "width", "channels")`` for Keras, ``("features",)`` for 1-D.

    Examples
    --------
    >>> import torch, ferroshap
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> explainer = ferroshap.DeepExplainer(model.eval(), torch.randn(50, 4))
    >>> sv = explainer(torch.randn(5, 4))
    >>> sv.values.shape, sv.base_values.shape
    ((5, 4, 3), (5, 3))
    """

    def __init__(
        self,
        model: Any,
        data: Any,
        session: Any = None,
        learning_phase_flags: Any = None,
        batch_size: int = 4096,
        axis_names: Any = None,
    ) -> None:
        if session is not None or learning_phase_flags is not None:
            raise ValueError(
                "session and learning_phase_flags are TensorFlow 1 graph-mode arguments; "
                "ferroshap explains Keras 3 / TF2 models eagerly and needs neither"
            )
        self.batch_size = check_batch_size(batch_size)
        self._model = backend(model, data)
        self.expected_value = self._model.expected_value
        self.multi_input = self._model.multi_input
        self.axis_names = axis_names

    def shap_values(
        self,
        X: Any,
        ranked_outputs: int | None = None,
        output_rank_order: Any = "max",
        check_additivity: bool = True,
    ) -> Any:
        """Deep SHAP values in shap's layout.

        Parameters
        ----------
        X
            Rows to explain, shaped like the background (a list for several inputs).
        ranked_outputs
            Explain only the top ``k`` outputs of each row (ordered by ``output_rank_order``)
            and return ``(values, indexes)``.
        output_rank_order
            ``"max"``, ``"min"``, ``"max_abs"``, or an int array ``(n_rows, k)`` of outputs.
        check_additivity
            Compare each row's sum with ``f(x) - expected_value`` and warn about the worst.

        Returns
        -------
        numpy.ndarray or list
            ``(n_rows, *input_shape, n_outputs)`` (a trailing axis even for one output, as
            shap 0.51 returns), a list of those for several inputs; with ``ranked_outputs``
            the pair ``(values, indexes)`` with ``indexes`` ``(n_rows, k)``.
        """
        phis, ranks, _, _ = self._explain(X, ranked_outputs, output_rank_order, check_additivity)
        values = shap_layout(phis, self.multi_input)
        return (values, ranks) if ranks is not None else values

    def __call__(self, X: Any, batch_size: int | None = None) -> Explanation | list[Explanation]:
        """The explanation of ``X``: values, base values (the expected output), data and
        axis names (``explanation.axis_names``, e.g. rows, channels, height, width,
        outputs); one Explanation per input for a model with several inputs. The values drop
        the output axis for a single-output model. ``explanation.additivity_errors`` holds
        ``sum(values) - (f(x) - base_values)`` per row and output."""
        if batch_size is not None:
            self.batch_size = check_batch_size(batch_size)
        start = time.perf_counter()
        phis, ranks, data, report = self._explain(X, None, "max", True)
        base = self._model.expected_value
        explanation = build_explanation(
            phis, base[None, :].repeat(phis[0].shape[0], 0), data, ranks,
            self._model.layout, self.axis_names, report=report,
        )  # fmt: skip
        for e in explanation if isinstance(explanation, list) else [explanation]:
            e.compute_time = time.perf_counter() - start
        return explanation

    def _explain(self, X: Any, ranked_outputs: Any, order: Any, check: bool) -> tuple:
        m = self._model
        with m.prepared():
            inputs = m.inputs(X)
            outputs = m.outputs(inputs)
            ranks = output_ranks(outputs, ranked_outputs, order)
            phis = m.deep(inputs, ranks, self.batch_size)
            data = m.numpy(m.explained(inputs))
        report = additivity(phis, outputs, m.expected_value, ranks) if check else None
        return phis, ranks, data, report
