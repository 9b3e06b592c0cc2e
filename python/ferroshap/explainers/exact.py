"""ExactExplainer: Shapley values from every coalition, on the Rust engine."""

from __future__ import annotations

from typing import Any

import numpy as np

from ferroshap import _core
from ferroshap._hierarchy import owen_coalitions
from ferroshap.explainers._agnostic import MaskedModelExplainer
from ferroshap.explainers._exact_interactions import exact_interactions, main_effect_values
from ferroshap.explainers._masker_game import explain_with_masker
from ferroshap.explanation import Explanation

__all__ = ["ExactExplainer"]

#: The most features that differ from the background Exact accepts, whatever ``max_evals``.
MAX_FEATURES = 24


class ExactExplainer(MaskedModelExplainer):
    """Exact Shapley values by evaluating all ``2**M`` coalitions, as ``shap.ExactExplainer``.

    ``M`` counts the features of a row that differ from the background (the others get 0).
    The coalitions are visited in Gray-code order and combined with the Shapley weights
    ``|S|! (M - |S| - 1)! / M!``; the values equal shap's up to rounding. A row needing more
    than ``max_evals`` coalitions (shap's default 100,000 allows ``M <= 16``), or with more
    than 24 differing features, raises ValueError.

    With a masker that has a clustering (:class:`ferroshap.maskers.Partition`), the values
    are the exact Owen values over that hierarchy, as shap computes them: every cluster in
    both contexts of every enclosing cluster (about ``⅔ M²`` coalitions for a balanced
    hierarchy, ``2^M`` for a chain). shap requires ``max_evals >= M²``; here a row is
    refused when ``M² > max_evals`` or when its hierarchy needs more than ``max_evals``
    coalitions (shap would evaluate all ``2^M`` of a long chain).

    Parameters
    ----------
    model
        A function from a 2-D float array ``(n, n_features)`` to outputs ``(n,)`` or
        ``(n, n_outputs)``, or an object with ``predict_proba`` (used when present) or
        ``predict``.
    masker
        Background rows (at most 100 are kept, as shap's ``Independent`` masker does) or a
        :class:`ferroshap.maskers.Independent`.
    link
        ``"identity"`` or ``"logit"`` (or shap's ``shap.links`` objects): the scale on which
        the values add up, as shap's masked model applies it (see ``linearize_link``).
    linearize_link
        With a link other than the identity: average the link of each background row's
        output with shap's linearizing weights (the default, as shap), so that the expected
        value is the link of the mean output; ``False``: the link of the mean output over
        the background rows.
    feature_names
        Names of the features; by default the data frame's columns.

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> f = lambda X: 2.0 * X[:, 0] + X[:, 1] * X[:, 2]
    >>> explainer = ferroshap.ExactExplainer(f, np.zeros((1, 3)))
    >>> explainer(np.array([[1.0, 2.0, 3.0]]), silent=True).values
    array([[2., 3., 3.]])
    """

    _name = "Exact SHAP"

    @staticmethod
    def _limit(max_evals: Any) -> int | None:
        if max_evals is None or (isinstance(max_evals, str) and max_evals == "auto"):
            return None
        if isinstance(max_evals, (int, np.integer)) and not isinstance(max_evals, bool):
            if max_evals < 1:
                raise ValueError(f"max_evals must be positive, got {max_evals}")
            return int(max_evals)
        raise ValueError(f"max_evals must be 'auto', None or a positive int, got {max_evals!r}")

    @property
    def _clustering(self) -> np.ndarray | None:
        return getattr(self.masker, "clustering", None)

    def _coalitions_per_row(self, max_evals: Any) -> int:
        limit = self._limit(max_evals)
        if self._clustering is not None:
            full = owen_coalitions(self._clustering)
        else:
            full = 2 ** min(self.n_features, MAX_FEATURES)
        return full if limit is None else min(limit, full)

    def _job(
        self, block: np.ndarray, background: np.ndarray, start: int, seed: int, max_evals: Any
    ) -> _core.GameJob:
        return _core.GameJob.exact(
            block,
            background,
            self.weights,
            self.fnull,
            max_evals=self._limit(max_evals),
            row_offset=start,
            clustering=self._clustering,
            **self._link_args(),
        )

    def __call__(
        self,
        *args: Any,
        max_evals: int | str = 100000,
        main_effects: bool = False,
        error_bounds: bool = False,
        batch_size: int | str = "auto",
        interactions: int = 1,
        silent: bool = False,
    ) -> Explanation:
        """Explains the rows of ``X``.

        Parameters
        ----------
        X
            Rows ``(n_rows, n_features)`` or one row ``(n_features,)``.
        max_evals
            The most coalitions per row (``2**M`` are needed); ``"auto"`` or ``None``: no
            limit up to 24 differing features.
        batch_size
            Rows of model input per model call (``"auto"``: about 4 MiB of float64).
        silent
            Hide the progress bar (shown for long runs when ``tqdm`` is installed).

        Returns
        -------
        Explanation
            ``values`` ``(n_rows, n_features)`` for single-output models, ``(n_rows,
            n_features, n_outputs)`` otherwise; ``base_values`` the mean output over the
            background.
        """
        if main_effects and (self._protocol or self.link != "identity"):
            raise NotImplementedError(
                "main_effects=True is supported for one tabular input and the identity link"
            )
        # ``True`` equals 1 in Python, so test it by identity: interactions=True asks for
        # pairwise interaction values, which must not silently come back as plain values.
        if interactions is True or (not isinstance(interactions, bool) and interactions == 2):
            if self._protocol or len(args) != 1:
                raise NotImplementedError(
                    "interactions=True is supported for one tabular input so far"
                )

            return exact_interactions(self, args[0], max_evals)
        if not isinstance(interactions, bool) and interactions != 1:
            raise NotImplementedError(
                "Exact interaction values of order above 2 are not supported (as in shap)"
            )
        if self._protocol:
            limit = self._limit(max_evals)
            return explain_with_masker(
                self,
                args,
                lambda X, bg, w, fnull, i, row: _core.GameJob.exact(
                    X, bg, w, fnull, max_evals=limit
                ),
                silent,
            )
        if len(args) != 1:
            raise TypeError("ExactExplainer explains one data argument X")
        values, errors, matrix = self._explain(args[0], max_evals, silent, batch_size)
        explanation = self._explanation(values, errors, matrix, False)
        if main_effects:
            explanation.main_effects = self._shapes(main_effect_values(self, matrix), matrix)
        return explanation
