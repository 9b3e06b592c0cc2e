"""PartitionExplainer: Owen values over a hierarchy of features (shap's Partition SHAP), on
the Rust engine, for tabular data (``maskers.Partition``), text (``maskers.Text``) and images
(``maskers.Image``)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ferroshap import _core
from ferroshap._text_masker import tokenizer_as_masker
from ferroshap.explainers._agnostic import MaskedModelExplainer, _is_identity
from ferroshap.explainers._background import Background
from ferroshap.explainers._masker_game import (
    explain_with_masker,
    is_protocol_masker,
    setup_protocol,
)
from ferroshap.explainers._output_selection import output_index
from ferroshap.explainers._structured import explain_images, explain_texts
from ferroshap.explainers.kernel import _model_function
from ferroshap.explanation import Explanation
from ferroshap.maskers import Image, Independent, Partition, Text

__all__ = ["PartitionExplainer"]

#: The smallest budget that explains anything: the empty and full coalitions and one split.
MIN_EVALS = 4
_CALL_ARGS = ("max_evals", "fixed_context", "batch_size", "silent")


def _budget(max_evals: Any) -> int:
    if isinstance(max_evals, str) and max_evals == "auto":
        return 500
    if not isinstance(max_evals, (int, np.integer)) or isinstance(max_evals, bool):
        raise ValueError(f"max_evals must be 'auto' or an int, got {max_evals!r}")
    if max_evals < MIN_EVALS:
        raise ValueError(
            f"max_evals={max_evals} is too low for the Partition explainer: it needs at least "
            f"{MIN_EVALS} (the empty and full coalitions and one split of the hierarchy)"
        )
    return int(max_evals)


class PartitionExplainer(MaskedModelExplainer):
    """Owen values over a hierarchy of the features, as ``shap.PartitionExplainer``.

    The hierarchy (the masker's ``clustering``) is explained from the top: a cluster's two
    halves are evaluated alone and together in the context of the clusters around them, and
    the clusters whose output changes most (``max |Δf| · weight``) are split first until
    ``max_evals`` model evaluations per row are spent; what is left on a cluster is shared by
    its features in proportion to their number. Given enough evaluations (about ``⅔ M²``
    for a balanced hierarchy) every cluster is split and the values are the exact Owen
    values, which give a group of correlated features the credit the group would have as a
    whole. The order of evaluation is shap's, so the values at any budget are shap's, except
    where two clusters have exactly equal priority (shap breaks such ties at random; here the
    one queued first goes first).

    Parameters
    ----------
    model
        A function, or an object with ``predict_proba`` (used when present) or ``predict``:
        of a 2-D float array for tabular data, of an array of strings for text, of an array of
        images ``(n, *image shape)`` (in the shape ``X`` is given in) for images.
    masker
        :class:`ferroshap.maskers.Partition` (background rows and a clustering of the
        features; raw background data is clustered by correlation), :class:`~ferroshap.maskers.Text`
        or :class:`~ferroshap.maskers.Image`.
    link
        ``"identity"`` or ``"logit"`` (or shap's ``shap.links`` objects) for tabular data:
        the scale on which the values add up, as shap's masked model applies it (see
        ``linearize_link``); text and image maskers take the identity link only so far.
    linearize_link
        With a link other than the identity: average the link of each background row's
        output with shap's linearizing weights (the default, as shap), so that the expected
        value is the link of the mean output; ``False``: the link of the mean output over
        the background rows.
    feature_names, output_names
        Names for the explanation (tabular data).
    **call_args
        Defaults for the call (``max_evals``, ``batch_size``, ``silent``), as shap allows.

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> f = lambda X: X[:, 0] * X[:, 1] + X[:, 2]
    >>> clustering = np.array([[0, 1, 0.5, 2], [3, 2, 1.0, 3]])  # ((0, 1), 2)
    >>> masker = ferroshap.maskers.Partition(np.zeros((1, 3)), clustering=clustering)
    >>> explainer = ferroshap.PartitionExplainer(f, masker)
    >>> explainer(np.array([[1.0, 2.0, 3.0]]), silent=True).values
    array([[1., 1., 3.]])
    """

    _name = "Partition SHAP"

    def __init__(
        self,
        model: Any,
        masker: Any,
        *,
        output_names: list[str] | None = None,
        link: Any = "identity",
        linearize_link: bool = True,
        feature_names: list[str] | None = None,
        **call_args: Any,
    ) -> None:
        unknown = sorted(set(call_args) - set(_CALL_ARGS))
        if unknown:
            raise TypeError(f"unexpected keyword arguments: {', '.join(unknown)}")
        self._call_defaults = call_args
        masker = tokenizer_as_masker(masker)
        if is_protocol_masker(masker):
            setup_protocol(self, model, masker, link, feature_names, output_names)
            return
        if isinstance(masker, (Text, Image)):
            if not _is_identity(link):
                raise NotImplementedError("PartitionExplainer supports only the identity link")
            self.model, self.masker = model, masker
            # The base class drops and rebuilds _f when pickled.
            self._f = _model_function(model)
            self.link, self.linearize_link = "identity", linearize_link
            self.output_names = output_names
            self.feature_names = feature_names
            self.expected_value = None
            return
        weights = None
        if isinstance(masker, Background):
            weights = masker.weights
            masker = Partition(masker.data, max_samples=len(masker))
        elif not isinstance(masker, Independent):
            clustering = getattr(masker, "clustering", None)
            if clustering is not None and hasattr(masker, "data"):
                # A masker of shap's with a clustering: its background and hierarchy.
                data = masker.data
                masker = Partition(data, max_samples=len(data), clustering=clustering)
            else:
                masker = Partition(masker)
        elif getattr(masker, "clustering", None) is None:
            raise ValueError(
                "the Partition explainer needs a masker with a clustering of the features: "
                "pass ferroshap.maskers.Partition(data) (or the background data itself)"
            )
        super().__init__(
            model,
            masker,
            link=link,
            feature_names=feature_names,
            linearize_link=linearize_link,
            output_names=output_names,
        )
        if weights is not None:
            w = np.asarray(weights, dtype=float)
            self.weights = w / w.sum()

    def _coalitions_per_row(self, max_evals: Any) -> int:
        return _budget(max_evals)

    def _protocol_job(self, max_evals: Any) -> Any:
        """The GameJob of one row explained through a protocol masker, over the masker's
        clustering of that row."""
        budget = _budget(max_evals)

        def job(X, background, weights, fnull, index, row) -> _core.GameJob:
            clustering = getattr(self.masker, "clustering", None)
            if callable(clustering):
                clustering = clustering(*row)
            if clustering is None:
                raise ValueError(
                    f"PartitionExplainer needs a hierarchy of the features, but the "
                    f"{type(self.masker).__name__} masker has no clustering (every masker of a "
                    "Composite needs one); use PermutationExplainer or ExactExplainer"
                )
            return _core.GameJob.partition(
                X,
                background,
                weights,
                fnull,
                [np.asarray(clustering, dtype=np.float64)],
                max_evals=budget,
                batch_size=self._per_round,
                fixed_context=self._fixed_context,
            )

        return job

    def _for_outputs(self, outputs: Any) -> PartitionExplainer:
        """This explainer restricted to the model outputs ``outputs`` (indices), as shap's
        ``outputs=``: the model is explained as if it returned only those, so they alone
        decide which clusters are split first."""
        index = output_index(outputs, self._n_outputs, self._single)
        view = copy.copy(self)
        f = self._f
        view._f = lambda rows: np.asarray(f(rows))[:, index]
        view._n_outputs = len(index)
        view.fnull = self.fnull[index]
        view._background_outputs = self._background_outputs[:, index]
        view.expected_value = view.fnull.copy()
        view._native = None
        if self.output_names is not None:
            view.output_names = [self.output_names[i] for i in index]
        return view

    def _job(
        self, block: np.ndarray, background: np.ndarray, start: int, seed: int, max_evals: Any
    ) -> _core.GameJob:
        return _core.GameJob.partition(
            block,
            background,
            self.weights,
            self.fnull,
            [self.masker.clustering],
            max_evals=_budget(max_evals),
            batch_size=self._per_round,
            fixed_context=self._fixed_context,
            **self._link_args(),
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Explanation:
        """Explains ``X``: tabular rows, a string or list of strings, or images.

        Parameters
        ----------
        X
            Rows ``(n_rows, n_features)`` or one row; with a Text masker a string or a list of
            strings; with an Image masker images ``(n, *shape)`` or flattened ``(n, M)``.
        max_evals
            Model evaluations (coalitions) per row, the empty and full ones included (shap's
            default 500; at least 4).
        batch_size
            Coalitions expanded per round, shap's ``batch_size``, which sets the order of
            evaluation and so the values at budgets too small to split every cluster
            (``"auto"``: the masker's default, 10, or 5 for text). Every row's round goes to
            the model in one call, whatever this is.
        fixed_context
            ``None`` (shap's default): each cluster's halves are explained with their sibling
            both absent and present (Owen values). ``0`` or ``1``: only absent, or only
            present, at about half the evaluations per level; each cluster keeps the
            interaction of its halves, shared by its features (as shap).
        outputs
            Tabular data: the index of a model output, or a list of them, to explain alone
            (as shap: the model is explained as if it returned only those outputs, which then
            alone decide the order in which clusters are split). ``values`` then have one
            output per index.
        main_effects
            Accepted for shap's signature; like shap's PartitionExplainer, computes none.
        silent
            Hide the progress bar (shown for long runs when ``tqdm`` is installed).

        Returns
        -------
        Explanation
            Tabular: ``values`` ``(n_rows, n_features[, n_outputs])`` and ``base_values`` the
            mean output over the background. Text: for one string, ``values`` ``(n_tokens[,
            n_outputs])`` and ``data`` its tokens; for a list, object arrays of those, one per
            text (texts have different numbers of tokens), ``base_values`` the output on the
            fully masked text. Images: ``values`` ``(n, *shape[, n_outputs])``, ``base_values``
            the output on the fully masked image.
        """
        options = {**self._call_defaults, **kwargs}
        unknown = sorted(set(options) - {*_CALL_ARGS, "main_effects", "error_bounds", "outputs"})
        if unknown:
            raise TypeError(f"unexpected keyword arguments: {', '.join(unknown)}")
        if len(args) != 1 and not self._protocol:
            raise TypeError("PartitionExplainer explains one data argument X")
        fixed_context = options.get("fixed_context")
        if isinstance(fixed_context, str) and fixed_context == "auto":
            fixed_context = None  # shap's explain_row default, which means None
        if fixed_context not in (None, 0, 1) or isinstance(fixed_context, bool):
            raise ValueError(f"fixed_context must be 0, 1 or None, got {fixed_context!r}")
        self._fixed_context = fixed_context
        # shap's PartitionExplainer takes main_effects and computes none; so does this one.
        outputs = options.get("outputs")
        if outputs is not None:
            if isinstance(self.masker, (Text, Image)) or self._protocol:
                raise NotImplementedError(
                    "outputs= is supported for tabular data so far; index the Explanation"
                )
            return self._for_outputs(outputs)(*args, **{**kwargs, "outputs": None})
        max_evals = options.get("max_evals", 500)
        silent = bool(options.get("silent", False))
        per_round = options.get("batch_size", "auto")
        if isinstance(per_round, str) and per_round == "auto":
            per_round = getattr(self.masker, "default_batch_size", 10)
        if not isinstance(per_round, (int, np.integer)) or per_round < 1:
            raise ValueError(f"batch_size must be 'auto' or a positive int, got {per_round!r}")
        self._per_round = int(per_round)
        if self._protocol:
            return explain_with_masker(self, args, self._protocol_job(max_evals), silent)
        if isinstance(self.masker, Text):
            return explain_texts(self, args[0], _budget(max_evals), silent)
        if isinstance(self.masker, Image):
            return explain_images(self, args[0], _budget(max_evals), silent)
        _budget(max_evals)
        values, errors, matrix = self._explain(args[0], max_evals, silent, "auto")
        explanation = self._explanation(values, errors, matrix, False)
        explanation.clustering = self.masker.clustering
        return explanation
