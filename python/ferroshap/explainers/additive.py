"""AdditiveExplainer: SHAP values of models without interactions (GAMs), as
``shap.AdditiveExplainer``: one model evaluation per feature and row."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ferroshap._data import to_matrix
from ferroshap.explainers._agnostic import (
    PicklesModelCall,
    _is_identity,
    model_call,
    read_masker,
)
from ferroshap.explainers._engine import call_model
from ferroshap.explainers._saving import SaveLoad
from ferroshap.explanation import Explanation

__all__ = ["AdditiveExplainer"]

# Model input rows per call when explaining (rows x features x features values at most).
_BATCH_VALUES = 1 << 22


class AdditiveExplainer(SaveLoad, PicklesModelCall):
    """SHAP values of an additive model ``f(x) = g_0 + g_1(x_1) + ... + g_M(x_M)``.

    As ``shap.AdditiveExplainer``: for such a model feature ``j``'s value is
    ``g_j(x_j) - E[g_j(X_j)]``, read from the model at the reference row of zeros: row ``x``
    costs one model evaluation per feature (``x_j`` at feature ``j``, zeros elsewhere), and
    the background means of the ``g_j`` cost one evaluation per feature and background row,
    once. The values equal the interventional Shapley values only for additive models: the
    explainer also evaluates ``f(x)`` and warns (``RuntimeWarning``) when the values do not
    add up to ``f(x) - expected_value``, the sign that the model has interactions (use
    :class:`ExactExplainer` or :class:`PermutationExplainer` then). shap gives no warning.

    Parameters
    ----------
    model
        A function from a 2-D float array ``(n, n_features)`` to outputs ``(n,)`` or
        ``(n, n_outputs)``, or an object with ``predict_proba`` (used when present) or
        ``predict``.
    masker
        Background rows (numpy, pandas, polars; at most 100 are kept, as shap's
        ``Independent`` masker does) or a :class:`ferroshap.maskers.Independent`.
    link
        Only the identity link.
    feature_names
        Names of the features; by default the background frame's columns.

    Attributes
    ----------
    expected_value : float or numpy.ndarray
        The model's mean output over the background (``(n_outputs,)`` for several outputs).

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> f = lambda X: X[:, 0] ** 2 + np.sin(X[:, 1])
    >>> explainer = ferroshap.AdditiveExplainer(f, np.zeros((1, 2)))
    >>> explainer(np.array([[2.0, 0.0]])).values
    array([[4., 0.]])
    """

    def __init__(
        self,
        model: Any,
        masker: Any,
        link: Any = "identity",
        feature_names: list[str] | None = None,
        linearize_link: bool = True,
        output_names: list[str] | None = None,
    ) -> None:
        if link is not None and not _is_identity(link):
            raise NotImplementedError(
                "AdditiveExplainer supports only the identity link; explain the model's "
                "margin or probabilities directly"
            )
        if masker is None:
            raise TypeError("AdditiveExplainer needs background data: AdditiveExplainer(f, X)")
        self.model = model
        self.link = "identity"
        self.linearize_link = linearize_link
        self.output_names = output_names
        read_masker(self, masker, feature_names)
        n_background = len(self.data)
        self._f = model_call(model, self.masker)
        # Row 0: the zero reference; then block j: the background's column j alone.
        m = self.n_features
        rows = np.zeros((1 + m * n_background, m))
        blocks = rows[1:].reshape(m, n_background, m)
        blocks[np.arange(m), :, np.arange(m)] = self.data.T
        out = call_model(self._f, rows, "background data", "identity", None)
        self._single = out.ndim == 1
        out = out.reshape(len(rows), -1)
        self._n_outputs = out.shape[1]
        self._zero = out[0]
        #: E[g_j(X_j)] - g_j(0) per feature ``(M, n_outputs)``.
        self._offsets = np.einsum("b,jbk->jk", self.weights, out[1:].reshape(m, n_background, -1))
        self._offsets -= self._zero
        ev = self._offsets.sum(axis=0) + self._zero
        self.expected_value: float | np.ndarray = float(ev[0]) if self._single else ev

    def _explain(self, X: Any):
        try:
            matrix = to_matrix(X, n_features=self.n_features, feature_names=self.feature_names)
        except ValueError as e:
            raise ValueError(
                f"X does not match the background data ({self.n_features} columns): {e}"
            ) from None
        x = np.asarray(matrix.values, dtype=np.float64)
        n, m = x.shape
        values = np.empty((n, m, self._n_outputs))
        gap = 0.0
        scale = float(np.abs(self._zero).max())
        step = max(1, _BATCH_VALUES // (m * (m + 1)))
        for start in range(0, n, step):
            block = x[start : start + step]
            # Per row: its M one-feature rows, then the row itself (for the additivity check).
            rows = np.zeros((len(block), m + 1, m))
            rows[:, np.arange(m), np.arange(m)] = block
            rows[:, m] = block
            out = call_model(
                self._f,
                rows.reshape(-1, m),
                "explained rows",
                "identity",
                (self._n_outputs, self._single),
            ).reshape(len(block), m + 1, -1)
            phi = out[:, :m] - self._zero - self._offsets
            values[start : start + len(block)] = phi
            residual = out[:, m] - self._zero - self._offsets.sum(axis=0) - phi.sum(axis=1)
            gap = max(gap, float(np.abs(residual).max()))
            scale = max(scale, float(np.abs(out).max()))
        # Rounding of M + 2 sums of outputs of this size; a real interaction is far larger.
        if gap > 1e-9 * max(1.0, scale) * (m + 2):
            warnings.warn(
                f"the model is not additive: the values miss f(x) - expected_value by up to "
                f"{gap:.3g}, so they are not its SHAP values; use ExactExplainer or "
                "PermutationExplainer for models with interactions",
                RuntimeWarning,
                stacklevel=3,
            )
        return values, matrix

    def shap_values(self, X: Any, silent: bool = False) -> np.ndarray:
        """SHAP values of the rows of ``X``: ``(n_rows, n_features)`` for one output,
        ``(n_rows, n_features, n_outputs)`` for several; without the first axis for a 1-D
        row."""
        values, matrix = self._explain(X)
        if self._single:
            values = values[:, :, 0]
        return values[0] if matrix.was_1d else values

    def __call__(self, X: Any, silent: bool = False, **kwargs: Any) -> Explanation:
        """Explains the rows of ``X`` (``max_evals``, ``batch_size`` and the other budget
        arguments of shap's call are accepted and unused: the cost is fixed).

        Returns
        -------
        Explanation
            ``values`` ``(n_rows, n_features)`` or ``(n_rows, n_features, n_outputs)``,
            ``base_values`` the expected value per row; one 1-D row drops the first axis.
        """
        for unused in ("max_evals", "batch_size", "main_effects", "error_bounds", "outputs"):
            kwargs.pop(unused, None)
        if kwargs:
            raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        values, matrix = self._explain(X)
        n = values.shape[0]
        ev = np.asarray(self.expected_value, dtype=np.float64)
        if self._single:
            values = values[:, :, 0]
            base = np.full(n, float(ev))
        else:
            base = np.tile(ev, (n, 1))
        data = np.asarray(matrix.values)
        names = self.feature_names or matrix.feature_names
        if names is None:
            names = [f"Feature {i}" for i in range(self.n_features)]
        if matrix.was_1d:
            values, base, data = values[0], base[0], data[0]
        return Explanation(
            values,
            base_values=base,
            data=data,
            feature_names=list(names),
            output_names=self.output_names,
        )
