"""SamplingExplainer: shap's IME estimator with variance-based allocation, on the Rust engine."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap import _core
from ferroshap.explainers._agnostic import MaskedModelExplainer
from ferroshap.explainers._background import Background
from ferroshap.explainers.kernel import _budget, _link_name
from ferroshap.explanation import Explanation
from ferroshap.maskers import Independent

__all__ = ["SamplingExplainer"]


class SamplingExplainer(MaskedModelExplainer):
    """SHAP values by IME sampling (Štrumbelj & Kononenko), as ``shap.SamplingExplainer``.

    A sample for feature ``j`` draws a random order of the features and one background row,
    and evaluates the model twice: with the explained row's values on the features before
    ``j`` and on ``j`` itself (the background row's elsewhere), and without ``j``. The first
    round gives each of the ``M`` features that differ from the background an even share of
    ``min(nsamples, 100 M)`` samples, the second spends the rest in proportion to the
    variances measured in the first, as shap does. Each sample costs 2 model rows (not one
    per background row), so the background may be large.

    Differences from shap: a seed (``seed=``; random streams per explained row, independent
    of the thread count; NumPy's global state is never touched); the values add up exactly to
    ``f(x) - E[f(X)]`` (shap's correction leaves about 1e-6 of the gap); the standard error of
    each value is the standard deviation of its samples over the square root of their count
    (shap divides the variance by the square root); background weights
    (``ferroshap.kmeans``) are honoured when drawing background rows.

    Parameters
    ----------
    model
        A function from a 2-D float array ``(n, n_features)`` to outputs ``(n,)`` or
        ``(n, n_outputs)``, or an object with ``predict_proba`` (used when present) or
        ``predict``.
    data
        Background rows (every row is used) or a :class:`ferroshap.maskers.Independent`.
    seed
        Seed of the sampling; ``None`` draws fresh randomness on every call.

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> f = lambda X: 2.0 * X[:, 0] + X[:, 1]
    >>> explainer = ferroshap.SamplingExplainer(f, np.zeros((1, 2)), seed=0)
    >>> explainer.shap_values(np.array([[1.0, 3.0]]), silent=True)
    array([[2., 3.]])
    """

    _name = "Sampling SHAP"

    def __init__(
        self,
        model: Any,
        data: Any,
        link: Any = "identity",
        feature_names: list[str] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        if _link_name(link) != "identity":
            # shap's SamplingExplainer refuses other links too: its estimator averages
            # differences of single outputs, which a nonlinear link does not commute with.
            raise ValueError(
                f"SamplingExplainer supports only the identity link (as shap), not {link!r}; "
                "use PermutationExplainer or KernelExplainer for link='logit'"
            )
        if not isinstance(data, (Independent, Background)) and hasattr(data, "__len__"):
            data = Independent(data, max_samples=max(1, len(data)))
        super().__init__(model, data, link=link, feature_names=feature_names, seed=seed, **kwargs)
        self._min_samples_per_feature = 100

    def _coalitions_per_row(self, nsamples: Any) -> int:
        n = _budget(nsamples)
        return 2 * (n if n is not None else 1000 * self.n_features)

    def _job(
        self, block: np.ndarray, background: np.ndarray, start: int, seed: int, nsamples: Any
    ) -> _core.GameJob:
        return _core.GameJob.sampling(
            block,
            background,
            self.weights,
            self.fnull,
            nsamples=_budget(nsamples),
            min_samples_per_feature=self._min_samples_per_feature,
            seed=seed,
            row_offset=start,
        )

    def __call__(
        self, X: Any, y: Any = None, nsamples: int = 2000, silent: bool = False
    ) -> Explanation:
        """Explains the rows of ``X`` with ``nsamples`` samples per row (2 model rows each).

        Returns
        -------
        Explanation
            ``values`` ``(n_rows, n_features)`` or ``(n_rows, n_features, n_outputs)``, with
            approximate 95% intervals (``lower_bounds``/``upper_bounds``).
        """
        values, errors, matrix = self._explain(X, nsamples, silent, "auto")
        return self._explanation(values, errors, matrix, True)

    def shap_values(
        self,
        X: Any,
        nsamples: int | str = "auto",
        min_samples_per_feature: int = 100,
        silent: bool = False,
        **kwargs: Any,
    ) -> np.ndarray:
        """shap's legacy interface: ``nsamples="auto"`` is ``1000 * M`` samples per row.

        Returns
        -------
        numpy.ndarray
            ``(n_rows, n_features)`` or ``(n_rows, n_features, n_outputs)``; without the
            first axis for one row.
        """
        if kwargs:
            raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        if (
            not isinstance(min_samples_per_feature, (int, np.integer))
            or isinstance(min_samples_per_feature, bool)
            or min_samples_per_feature < 1
        ):
            raise ValueError(
                f"min_samples_per_feature must be a positive int, got {min_samples_per_feature!r}"
            )
        self._min_samples_per_feature = int(min_samples_per_feature)
        try:
            values, _, matrix = self._explain(X, nsamples, silent, "auto")
        finally:
            self._min_samples_per_feature = 100
        return self._shapes(values, matrix)
