"""``ferroshap.Explainer``: shap's entry point, choosing the algorithm from the model and
the masker as ``shap.Explainer`` does."""

from __future__ import annotations

from typing import Any

from ferroshap import _core
from ferroshap._hierarchy import owen_coalitions
from ferroshap._text_masker import tokenizer_as_masker
from ferroshap.explainers._background import Background
from ferroshap.explainers._masker_game import is_protocol_masker
from ferroshap.explainers._saving import load_explainer
from ferroshap.explainers.additive import AdditiveExplainer
from ferroshap.explainers.exact import ExactExplainer
from ferroshap.explainers.linear import LinearExplainer, parse_linear_model
from ferroshap.explainers.partition import PartitionExplainer
from ferroshap.explainers.permutation import PermutationExplainer
from ferroshap.explainers.tree import TreeExplainer
from ferroshap.maskers import Image, Independent, Partition, Text

__all__ = ["Explainer"]

# shap's rule for an Independent masker: exact up to this many features, else permutation.
_EXACT_MAX_FEATURES = 10
# shap's rule for a Partition masker: exact Owen values up to this many features.
_EXACT_OWEN_MAX_FEATURES = 32
# ExactExplainer's default max_evals: hierarchies needing more go to Partition.
_EXACT_DEFAULT_EVALS = 100000
_ALGORITHMS = ("auto", "tree", "exact", "permutation", "partition", "linear", "additive")


def _is_linear_model(model: Any, masker: Any) -> bool:
    """shap's rule: a (coef, intercept) pair or a model with coef_ and intercept_, with
    tabular background data (not a text or image masker)."""
    if masker is None or type(masker).__name__ in ("Text", "Image"):
        return False
    if getattr(masker, "text_data", False) or getattr(masker, "image_data", False):
        return False
    try:
        parse_linear_model(model)
    except Exception:  # noqa: BLE001 (any failure to parse means: not a linear model)
        return False
    return True


def _is_tree_model(model: Any) -> bool:
    if isinstance(model, _core.TreeEnsemble):
        return True
    if getattr(model, "__self__", None) is not None or not hasattr(model, "predict"):
        return False  # a bound method or a plain function: explained as a black box
    from ferroshap.models import load_tree_model

    try:
        load_tree_model(model)
    except Exception:  # noqa: BLE001 (any failure to convert means: not a tree model)
        return False
    return True


class _ExplainerType(type):
    """Makes every ferroshap explainer count as an ``Explainer``, as every shap explainer
    subclasses ``shap.Explainer``: ``isinstance(ferroshap.TreeExplainer(m), ferroshap.Explainer)``
    holds, so code that checks for an explainer keeps working."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return type.__instancecheck__(cls, obj) or isinstance(obj, _explainer_classes())

    def __subclasscheck__(cls, sub: type) -> bool:
        return type.__subclasscheck__(cls, sub) or (
            isinstance(sub, type) and issubclass(sub, _explainer_classes())
        )


def _explainer_classes() -> tuple[type, ...]:
    import ferroshap.explainers as explainers

    return tuple(
        getattr(explainers, name)
        for name in explainers.__all__
        if name.endswith("Explainer") and name != "Explainer"
    )


class Explainer(metaclass=_ExplainerType):
    """Chooses and builds the explainer for ``model``, as ``shap.Explainer`` does.

    ``Explainer(model, masker)`` returns an instance of the chosen class
    (:class:`TreeExplainer`, :class:`ExactExplainer`, :class:`PermutationExplainer` or
    :class:`PartitionExplainer`),
    which is then called on the rows to explain: ``explainer(X)`` gives an
    :class:`~ferroshap.Explanation`.

    With ``algorithm="auto"``: linear models (a ``(coef, intercept)`` pair, or a fitted model
    with ``coef_`` and ``intercept_``) with background data go to ``LinearExplainer``, first,
    as in shap; tree models ferroshap converts (XGBoost, LightGBM,
    scikit-learn trees and ensembles, ``ferroshap._core.TreeEnsemble``) go to
    ``TreeExplainer`` (interventional, over the masker's background rows; path-dependent
    without a masker); any other model or function goes to ``ExactExplainer`` with at most 10
    features and ``PermutationExplainer`` beyond, as shap decides for an ``Independent``
    masker. With a :class:`~ferroshap.maskers.Text` or :class:`~ferroshap.maskers.Image`
    masker: ``PartitionExplainer``. With a :class:`~ferroshap.maskers.Partition` masker:
    exact Owen values (``ExactExplainer``) up to 32 features, as shap, when the hierarchy's
    exact values fit ExactExplainer's default 100,000 evaluations; else
    ``PartitionExplainer`` (shap picks Permutation above 32 features, which here would
    ignore the hierarchy). ``algorithm="additive"`` builds an :class:`AdditiveExplainer` (never
    chosen automatically: whether a model has interactions cannot be read from it).

    Parameters
    ----------
    model
        A tree model, a function of a 2-D array, or an object with ``predict_proba`` /
        ``predict``.
    masker
        Background rows (numpy, pandas or polars; at most 100 are kept, as shap's
        ``Independent`` masker does), or a :class:`ferroshap.maskers.Independent`.
    link
        ``"identity"`` or ``"logit"`` (or shap's link objects) for Exact, Permutation and
        Partition on tabular data (see ``linearize_link`` there); ``"identity"`` for the
        others.
    algorithm
        ``"auto"``, ``"tree"``, ``"exact"``, ``"permutation"``, ``"partition"``,
        ``"linear"`` or ``"additive"``.
    feature_names, seed, output_names
        Passed to the chosen explainer (``seed`` to Permutation, and to Linear's
        correlation-dependent transform).

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> f = lambda X: X[:, 0] + 2 * X[:, 1]
    >>> explainer = ferroshap.Explainer(f, np.zeros((1, 2)))
    >>> type(explainer).__name__
    'ExactExplainer'
    >>> explainer(np.array([[1.0, 1.0]]), silent=True).values
    array([[1., 2.]])
    """

    _loads_any_explainer = True

    @classmethod
    def load(
        cls,
        in_file: Any,
        model_loader: Any = None,
        masker_loader: Any = None,
        instantiate: bool = True,
    ) -> Any:
        """Read an explainer of any class written by its ``save`` (a binary file or a path),
        as ``shap.Explainer.load``; ``model_loader`` / ``masker_loader`` as for
        :meth:`ExactExplainer.load`. Only load files you trust: they are unpickled.

        Examples
        --------
        >>> import functools, io, numpy as np, ferroshap
        >>> row_sums = functools.partial(np.sum, axis=1)
        >>> buffer = io.BytesIO()
        >>> ferroshap.ExactExplainer(row_sums, np.zeros((1, 2))).save(buffer)
        >>> _ = buffer.seek(0)
        >>> type(ferroshap.Explainer.load(buffer)).__name__
        'ExactExplainer'
        """
        return load_explainer(cls, in_file, model_loader, masker_loader, instantiate)

    def __new__(
        cls,
        model: Any,
        masker: Any = None,
        link: Any = "identity",
        algorithm: str = "auto",
        output_names: list[str] | None = None,
        feature_names: list[str] | None = None,
        linearize_link: bool = True,
        seed: int | None = None,
        **kwargs: Any,
    ) -> Any:
        masker = tokenizer_as_masker(masker)
        if algorithm not in _ALGORITHMS:
            raise ValueError(
                f"algorithm must be one of {', '.join(map(repr, _ALGORITHMS))}, got "
                f"{algorithm!r} (deep is not available through Explainer: use DeepExplainer)"
            )
        if algorithm == "auto":
            if isinstance(masker, (Text, Image)):
                algorithm = "partition"
            elif is_protocol_masker(masker):
                # shap's rule for other maskers: Partition for text and images with a
                # hierarchy, else Permutation.
                text_or_image = getattr(masker, "text_data", False) or getattr(
                    masker, "image_data", False
                )
                has_tree = getattr(masker, "clustering", None) is not None
                algorithm = "partition" if text_or_image and has_tree else "permutation"
            elif _is_linear_model(model, masker):
                algorithm = "linear"
            elif _is_tree_model(model):
                algorithm = "tree"
            else:
                if masker is None:
                    raise ValueError(  # ValueError and wording as shap's
                        "masker cannot be None: a model that is not a tree model needs a masker "
                        "or background data, Explainer(model, X_background)"
                    )
                if not callable(model) and not hasattr(model, "predict"):
                    raise TypeError(
                        f"the model is not callable and has no predict method: {model!r}"
                    )
                masker = _as_masker(masker)
                n_features = masker.shape[1]
                if isinstance(masker, Partition):
                    algorithm = _owen_algorithm(masker)
                else:
                    algorithm = "exact" if n_features <= _EXACT_MAX_FEATURES else "permutation"
        if algorithm == "linear":
            return LinearExplainer(
                model,
                masker,
                link=link,
                feature_names=feature_names,
                seed=seed,
                output_names=output_names,
                **kwargs,
            )
        if algorithm == "tree":
            data = masker
            if isinstance(masker, Independent):
                data = masker.data
            elif masker is not None and not isinstance(masker, Background):
                data = Independent(masker).data
            if feature_names is None and isinstance(masker, Independent):
                feature_names = masker.feature_names
            return TreeExplainer(model, data, feature_names=feature_names, **kwargs)
        common = dict(
            link=link,
            feature_names=feature_names,
            linearize_link=linearize_link,
            output_names=output_names,
        )
        if algorithm == "additive":
            return AdditiveExplainer(model, masker, **common, **kwargs)
        if algorithm == "exact":
            return ExactExplainer(model, masker, **common, **kwargs)
        if algorithm == "partition":
            return PartitionExplainer(model, masker, **common, **kwargs)
        return PermutationExplainer(model, masker, seed=seed, **common, **kwargs)


def _owen_algorithm(masker: Partition) -> str:
    """shap's choice for a Partition masker is exact Owen values up to 32 features, else
    Permutation; here hierarchies whose exact values would take more than ExactExplainer's
    default budget (long chains) and those over more than 32 features go to Partition, which
    keeps the hierarchy (ferroshap's Permutation ignores it)."""
    if masker.shape[1] > _EXACT_OWEN_MAX_FEATURES:
        return "partition"
    if owen_coalitions(masker.clustering) > _EXACT_DEFAULT_EVALS:
        return "partition"
    return "exact"


def _as_masker(masker: Any) -> Independent:
    if isinstance(masker, Independent):
        return masker
    if isinstance(masker, Background):
        return Independent(masker.data, max_samples=len(masker))
    return Independent(masker)
