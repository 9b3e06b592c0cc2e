"""Typed surface of the compiled module ``ferroshap._core`` (hand-written)."""

from collections.abc import Sequence
from os import PathLike
from typing import Any, Literal, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "__version__",
    "FerroshapError",
    "ModelFormatError",
    "InvalidModelError",
    "UnsupportedModelError",
    "LinearTreeEnsemble",
    "TreeEnsemble",
    "Interventional",
    "GameJob",
    "kernel_shap_tree_ensemble",
    "linked_expected_value",
    "_kept_pools",
    "_thread_limits",
]

# The strings the compiled module parses into the core's enums (anything else: ValueError).
_ModelFormat = Literal["xgboost_json", "xgboost_ubjson", "lightgbm_text", "native"]
_SplitRules = Literal["xgboost", "lightgbm", "sklearn_tree", "sklearn_hist"]
_Link = Literal["identity", "logistic", "softmax", "exp"]
# The core's one output type (margins -> what is predicted or explained); the interventional
# output values take the nonlinear ones (not "margin" or "logistic_pair").
_Output = Literal[
    "margin",
    "logistic",
    "logistic_pair",
    "softmax",
    "exp",
    "squared_error",
    "logistic_loss",
    "softmax_loss",
    "probability_loss",
]
_PairMethod = Literal["auto", "shap_rescale"]
# Kernel's link is a model link; "logit" names the logistic one as shap does.
_KernelLink = Literal["identity", "logit", "logistic"]
_Criterion = Literal["aic", "bic", "auto"]
_Sampling = Literal["stratified", "shap"]
_PairEvaluation = Literal["auto", "table", "scan"]

__version__: str

class FerroshapError(Exception):
    """Base class of ferroshap's own errors."""

class ModelFormatError(FerroshapError, ValueError):
    """A model file or buffer could not be parsed (truncated, corrupt, wrong format)."""

class InvalidModelError(FerroshapError, ValueError):
    """A model parsed but describes an impossible ensemble (bad child index, cycle, ...)."""

class UnsupportedModelError(FerroshapError, NotImplementedError):
    """A valid model that uses a feature ferroshap does not support yet."""

def _kept_pools() -> int:
    """Idle thread pools this process keeps (at most 2)."""

def _thread_limits() -> tuple[int, int]:
    """The most threads ``n_jobs`` may ask for, and the default thread count."""

@final  # PyO3 classes cannot be subclassed
class LinearTreeEnsemble:
    """A LightGBM model whose trees may have linear leaves (``linear_tree=True``): predictions
    and exact interventional SHAP values include the leaves' linear models. Pickles as the
    model text."""

    @staticmethod
    def from_lightgbm_text(text: bytes, kept: list[int] | None = None) -> LinearTreeEnsemble:
        """Parse a LightGBM text model (keeping the trees at ``kept``, if given)."""
    @staticmethod
    def from_lightgbm_dump(dump: bytes, kept: list[int] | None = None) -> LinearTreeEnsemble:
        """Parse ``json.dumps(booster.dump_model())`` (keeping the trees at ``kept``)."""
    def select_trees(self, indices: list[int]) -> LinearTreeEnsemble: ...
    @property
    def is_linear(self) -> bool: ...
    @property
    def n_features(self) -> int: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def n_trees(self) -> int: ...
    @property
    def leaf_width(self) -> int: ...
    @property
    def max_depth(self) -> int: ...
    @property
    def objective(self) -> str: ...
    @property
    def link(self) -> _Link: ...
    @property
    def rules(self) -> _SplitRules: ...
    @property
    def base_offset(self) -> npt.NDArray[np.float64]: ...
    @property
    def feature_names(self) -> list[str] | None: ...
    @property
    def categorical_features(self) -> list[bool]: ...
    def predict_margin(
        self, X: npt.NDArray[np.float32] | npt.NDArray[np.float64], n_threads: int | None = None
    ) -> npt.NDArray[np.float64]:
        """Margin prediction ``(n_rows, n_outputs)``, linear leaves included."""
    def interventional_shap_values(
        self,
        X: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        background: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        weights: None = None,
        n_threads: int | None = None,
    ) -> npt.NDArray[np.float64]:
        """Exact interventional SHAP values ``(n_rows, n_features, n_outputs)``."""
    def interventional_expected_value(
        self,
        background: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        weights: None = None,
        n_threads: int | None = None,
    ) -> npt.NDArray[np.float64]:
        """The mean margin over ``background``."""
    def expected_value(self) -> None:
        """Raises ``ValueError``: path-dependent values are not defined for linear leaves."""
    def shap_values(self, *args: Any, **kwargs: Any) -> None:
        """Raises ``ValueError``: path-dependent values are not defined for linear leaves."""

@final  # PyO3 classes cannot be subclassed
class TreeEnsemble:
    """A tree ensemble in ferroshap's core representation.

    Build one with :meth:`from_bytes`, :meth:`from_file` or :meth:`from_arrays`.
    """

    @staticmethod
    def from_bytes(data: bytes, format: _ModelFormat | None = None) -> TreeEnsemble:
        """Parse a model held in memory.

        ``format`` is ``"xgboost_json"``, ``"xgboost_ubjson"``, ``"lightgbm_text"`` or
        ``"native"`` (ferroshap's own form, from :meth:`to_bytes`);
        ``None`` recognises the format from the content.
        """
    def to_bytes(self) -> bytes:
        """The model in ferroshap's compact binary form; pickling uses it."""
    def __reduce__(self) -> tuple[Any, tuple[bytes]]: ...
    @staticmethod
    def from_file(path: str | PathLike[str]) -> TreeEnsemble:
        """Read a model file: ``.json`` / ``.ubj`` (XGBoost) or LightGBM text."""
    @staticmethod
    def from_xgboost_dump(
        dump: bytes,
        *,
        config: bytes | None = None,
        objective: str | None = None,
        base_score: list[float] | None = None,
        num_feature: int | None = None,
        num_class: int | None = None,
        num_parallel_tree: int | None = None,
        feature_names: list[str] | None = None,
    ) -> TreeEnsemble:
        """Parse an XGBoost JSON dump (a JSON array of ``get_dump(dump_format="json",
        with_stats=True)`` trees); settings from ``config`` (``save_config()``) or the
        arguments, which take precedence."""
    @staticmethod
    def from_lightgbm_dump(dump: bytes) -> TreeEnsemble:
        """Parse ``json.dumps(booster.dump_model())``."""
    @staticmethod
    def from_arrays(
        trees: Sequence[dict[str, Any]],
        *,
        n_features: int,
        n_outputs: int,
        leaf_width: int,
        base_offset: Sequence[float],
        rules: _SplitRules,
        link: _Link = "identity",
        objective: str = "",
        feature_names: Sequence[str] | None = None,
        categorical_features: Sequence[bool] | None = None,
    ) -> TreeEnsemble:
        """Build an ensemble from per-tree node arrays.

        Each tree is a dict with keys ``left``, ``right`` (int64, negative at leaves),
        ``feature`` (int64), ``threshold`` (float64; left iff ``x <= threshold`` after the
        rules' input precision), ``default_left`` (bool: where NaN goes), ``cover``
        (float64), ``value`` (float64, ``n_nodes * leaf_width``, row-major), ``output`` (int,
        first output the tree adds to) and optionally ``zero_is_missing`` (bool),
        ``categories`` (list of ``None`` or a list of ints per node) and
        ``categories_go_left`` (bool).

        ``rules`` is ``"xgboost"``, ``"lightgbm"``, ``"sklearn_tree"`` or ``"sklearn_hist"``.
        ``link`` is ``"identity"``, ``"logistic"``, ``"softmax"`` or ``"exp"``.
        """
    @staticmethod
    def from_flat_arrays(
        n_nodes: npt.NDArray[np.int64],
        outputs: npt.NDArray[np.int64],
        left: npt.NDArray[np.int64],
        right: npt.NDArray[np.int64],
        feature: npt.NDArray[np.int64],
        threshold: npt.NDArray[np.float64],
        default_left: npt.NDArray[np.bool_],
        cover: npt.NDArray[np.float64],
        value: npt.NDArray[np.float64],
        *,
        n_features: int,
        n_outputs: int,
        leaf_width: int,
        base_offset: Sequence[float],
        rules: _SplitRules,
        link: _Link = "identity",
        objective: str = "",
        feature_names: Sequence[str] | None = None,
    ) -> TreeEnsemble:
        """:meth:`from_arrays` for trees of numeric splits given as one run of node arrays,
        tree after tree: tree ``t`` has ``n_nodes[t]`` nodes (child indices within the tree)
        and adds to output ``outputs[t]``; ``value`` holds ``leaf_width`` values per node."""
    @property
    def n_features(self) -> int: ...
    @property
    def size_bytes(self) -> int:
        """Bytes held by the trees' arrays."""
    def path_dependent_table_bytes(self) -> int:
        """Bytes held by path-dependent Tree SHAP's per-model tables (computed on first use)."""
    def single_row_table_bytes(self) -> int:
        """Bytes held by the layout that explaining up to 8 rows walks (computed on first use)."""
    @property
    def n_outputs(self) -> int: ...
    @property
    def n_trees(self) -> int: ...
    @property
    def leaf_width(self) -> int: ...
    @property
    def max_depth(self) -> int: ...
    @property
    def objective(self) -> str: ...
    @property
    def link(self) -> _Link: ...
    @property
    def rules(self) -> _SplitRules: ...
    @property
    def base_offset(self) -> npt.NDArray[np.float64]: ...
    @property
    def feature_names(self) -> list[str] | None: ...
    @property
    def categorical_features(self) -> list[bool]:
        """Whether each feature is categorical, up to the last categorical feature at least
        (empty when none is): features beyond the list are numeric."""
    def select_trees(self, indices: Sequence[int]) -> TreeEnsemble:
        """A copy keeping only the trees at ``indices`` (in the given order)."""
    def with_covers_from_data(
        self, data: npt.NDArray[np.float32] | npt.NDArray[np.float64], n_threads: int | None = None
    ) -> TreeEnsemble:
        """A copy whose node covers count the rows of ``data`` reaching each node."""
    def predict_margin(
        self, X: npt.NDArray[np.float32] | npt.NDArray[np.float64], n_threads: int | None = None
    ) -> npt.NDArray[np.float64]:
        """Raw margin prediction, shape ``(n_rows, n_outputs)``; X is 2-D float32/float64."""
    def predict(
        self,
        X: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        output: _Output | None = None,
        *,
        scale: float = 1.0,
        n_threads: int | None = None,
    ) -> npt.NDArray[np.float64]:
        """The margins through ``output`` (default: the model's inverse link ``link``), after
        multiplying them by ``scale``: shape ``(n_rows, n_outputs)``, ``(n_rows, 2)`` for
        ``"logistic_pair"``. Losses need labels and raise ValueError.

        >>> proba = ensemble.predict(X, "logistic_pair")  # binary predict_proba  # doctest: +SKIP
        """
    def shap_values(
        self, X: npt.NDArray[np.float32] | npt.NDArray[np.float64], n_threads: int | None = None
    ) -> npt.NDArray[np.float64]:
        """Exact path-dependent SHAP values, shape ``(n_rows, n_features, n_outputs)``."""
    def saabas_values(
        self, X: npt.NDArray[np.float32] | npt.NDArray[np.float64], n_threads: int | None = None
    ) -> npt.NDArray[np.float64]:
        """Saabas values (shap's ``approximate=True``), shape ``(n_rows, n_features,
        n_outputs)``, measured from :meth:`expected_value`."""
    def expected_value(self) -> npt.NDArray[np.float64]:
        """Base value per output (margin space), shape ``(n_outputs,)``."""
    def shap_interaction_values(
        self,
        X: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        features: Sequence[int] | None = None,
        max_bytes: int | None = None,
        n_threads: int | None = None,
    ) -> npt.NDArray[np.float64]:
        """Exact path-dependent SHAP interaction values, shape ``(n_rows, F, F, n_outputs)``.

        ``features``: indices of the features whose interactions to return (F of them;
        default all). ``max_bytes``: raise ``MemoryError`` instead of allocating a larger
        output (default: no limit).
        """
    def interventional_shap_interaction_values(
        self,
        X: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        background: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64] | None = None,
        features: Sequence[int] | None = None,
        max_bytes: int | None = None,
        n_threads: int | None = None,
    ) -> npt.NDArray[np.float64]:
        """Exact interventional SHAP interaction values, shape ``(n_rows, F, F, n_outputs)``
        (the Shapley interaction index of the game of :meth:`interventional_shap_values`,
        halved off the diagonal)."""
    def interventional_shap_values(
        self,
        X: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        background: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64] | None = None,
        n_threads: int | None = None,
    ) -> npt.NDArray[np.float64]:
        """Exact interventional SHAP values, shape ``(n_rows, n_features, n_outputs)``.

        The value of a coalition S is the (weighted) mean margin over every background row r
        of the hybrid row taking S from X and the other features from r. Every background row
        is used; ``weights`` (one non-negative float per background row) weight the mean.
        """
    def interventional_expected_value(
        self,
        background: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64] | None = None,
        n_threads: int | None = None,
    ) -> npt.NDArray[np.float64]:
        """Base value of interventional SHAP: the (weighted) mean margin over ``background``,
        shape ``(n_outputs,)``."""
    def interventional_output_values(
        self,
        X: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        background: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        output: _Output,
        *,
        scale: float = 1.0,
        labels: npt.NDArray[np.float64] | None = None,
        weights: npt.NDArray[np.float64] | None = None,
        # The compiled module takes these three defaults from the core's constants, which its
        # signature does not show: 12, 5e-4 and 100_000.
        max_pair_features: int = ...,
        method: _PairMethod = "auto",
        tolerance: float = ...,
        seed: int = 0,
        max_samples: int = ...,
        n_threads: int | None = None,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], int]:
        """Interventional SHAP values of ``g(scale * margin)``: ``(values (N, M, K),
        base_values (N, K), standard_errors (N, M, K), n_estimated_pairs)``, K = 1 for losses.

        ``output`` is one of ``"logistic"``, ``"softmax"``, ``"exp"``, ``"squared_error"``,
        ``"logistic_loss"``, ``"softmax_loss"`` (labels: class indices),
        ``"probability_loss"`` (margins are probabilities; labels: class indices). Losses need
        one label per row of ``X``. A pair of rows whose paths differ on more than
        ``max_pair_features`` features (at most 24) is estimated (``method="auto"``: antithetic
        permutation sampling, standard error at most ``tolerance`` per value after averaging
        over the background, seeded by ``seed``); ``method="shap_rescale"`` gives shap's
        rescaled margin values for every pair.
        """
    def interventional_output_expected_value(
        self,
        background: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        output: _Output,
        *,
        scale: float = 1.0,
        labels: npt.NDArray[np.float64] | None = None,
        weights: npt.NDArray[np.float64] | None = None,
        n_threads: int | None = None,
    ) -> npt.NDArray[np.float64]:
        """Base values of ``interventional_output_values``: ``(n_labels, K)`` for losses (the
        mean loss over the background at each label), ``(1, K)`` otherwise."""

@final  # PyO3 classes cannot be subclassed
class Interventional:
    """An interventional explainer prepared for one model and one background.

    The background is read as the model reads inputs and the base values are computed once;
    from the first one-row call on, each tree's background is kept aggregated into the tables
    that explain one row (up to 256 MiB; beyond that, each call aggregates it again), so
    explaining rows one by one costs a walk of the trees, not a pass over the background.
    Results equal ``TreeEnsemble.interventional_shap_values`` with the same background.

    >>> explainer = Interventional(ensemble, background)  # doctest: +SKIP
    >>> explainer.shap_values(X[:1]).shape  # (1, n_features, n_outputs)  # doctest: +SKIP
    """

    def __new__(
        cls,
        ensemble: TreeEnsemble,
        background: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64] | None = None,
        n_threads: int | None = None,
    ) -> Interventional: ...
    def shap_values(
        self,
        X: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        n_threads: int | None = None,
    ) -> npt.NDArray[np.float64]:
        """Exact interventional SHAP values, shape ``(n_rows, n_features, n_outputs)``."""
    def expected_value(self) -> npt.NDArray[np.float64]:
        """The (weighted) mean margin over the background, shape ``(n_outputs,)``."""
    def table_bytes(self) -> int:
        """Bytes held by the prepared background and the kept one-row tables."""
    @property
    def n_background(self) -> int: ...

@final  # PyO3 classes cannot be subclassed
class GameJob:
    """A model-agnostic estimator at work on a block of explained rows (used by
    ``KernelExplainer``, ``PermutationExplainer``, ``ExactExplainer``,
    ``PartitionExplainer`` and ``CoalitionExplainer``).

    Plans rounds of coalitions, builds their masked rows for the model in batches, takes the
    model's outputs back in order, and reduces them to values.
    """

    @staticmethod
    def kernel(
        X: npt.NDArray[np.float64],
        background: npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64],
        fnull: npt.NDArray[np.float64],
        *,
        link: _KernelLink = "identity",
        nsamples: int | None = None,
        seed: int = 0,
        row_offset: int = 0,
        num_features: int | None = None,
        lasso_alpha: float | None = None,
        criterion: _Criterion | None = None,
        sampling: _Sampling = "stratified",
        n_threads: int | None = None,
        standard_errors: bool = True,
    ) -> GameJob: ...
    @staticmethod
    def permutation(
        X: npt.NDArray[np.float64],
        background: npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64],
        fnull: npt.NDArray[np.float64],
        *,
        max_evals: int,
        seed: int = 0,
        row_offset: int = 0,
        n_threads: int | None = None,
        link: _KernelLink = "identity",
        linearize_link: bool = True,
        background_outputs: npt.NDArray[np.float64] | None = None,
    ) -> GameJob: ...
    @staticmethod
    def exact(
        X: npt.NDArray[np.float64],
        background: npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64],
        fnull: npt.NDArray[np.float64],
        *,
        max_evals: int | None = None,
        row_offset: int = 0,
        n_threads: int | None = None,
        clustering: npt.NDArray[np.float64] | None = None,
        link: _KernelLink = "identity",
        linearize_link: bool = True,
        background_outputs: npt.NDArray[np.float64] | None = None,
    ) -> GameJob: ...
    @staticmethod
    def partition(
        X: npt.NDArray[np.float64],
        background: npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64],
        fnull: npt.NDArray[np.float64],
        clustering: list[npt.NDArray[np.float64]],
        *,
        max_evals: int = 500,
        batch_size: int = 10,
        own_background: bool = False,
        fixed_context: int | None = None,
        n_threads: int | None = None,
        link: _KernelLink = "identity",
        linearize_link: bool = True,
        background_outputs: npt.NDArray[np.float64] | None = None,
    ) -> GameJob: ...
    @staticmethod
    def winter(
        X: npt.NDArray[np.float64],
        background: npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64],
        fnull: npt.NDArray[np.float64],
        groups: list[list[int]],
        *,
        n_threads: int | None = None,
        link: _KernelLink = "identity",
        linearize_link: bool = True,
        background_outputs: npt.NDArray[np.float64] | None = None,
    ) -> GameJob: ...
    @staticmethod
    def winter_size(n_features: int, groups: list[list[int]]) -> tuple[int, int]: ...
    @staticmethod
    def sampling(
        X: npt.NDArray[np.float64],
        background: npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64],
        fnull: npt.NDArray[np.float64],
        *,
        nsamples: int | None = None,
        min_samples_per_feature: int = 100,
        seed: int = 0,
        row_offset: int = 0,
        n_threads: int | None = None,
    ) -> GameJob: ...
    @property
    def n_evaluations(self) -> int: ...
    @property
    def round(self) -> int: ...
    @property
    def n_varying(self) -> list[int]: ...
    def masked_rows(
        self, start: int, stop: int, n_threads: int | None = None
    ) -> npt.NDArray[np.float64]: ...
    def fill_masked_rows(
        self, start: int, out: npt.NDArray[np.float64], n_threads: int | None = None
    ) -> None: ...
    def masks(
        self, start: int, stop: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]: ...
    def base_values(self) -> npt.NDArray[np.float64]: ...
    @property
    def n_coalitions(self) -> list[int]: ...
    def add_outputs(self, start: int, outputs: npt.NDArray[np.float64]) -> None: ...
    def evaluate_tree(
        self,
        model: TreeEnsemble,
        output: _Output = "margin",
        evaluation: _PairEvaluation = "auto",
        n_threads: int | None = None,
    ) -> bool: ...
    def next_round(self, n_threads: int | None = None) -> bool: ...
    def finish(
        self, fx: npt.NDArray[np.float64], n_threads: int | None = None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], list[float], list[int]]: ...

def linked_expected_value(
    background_outputs: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    link: _KernelLink,
    linearize_link: bool = True,
) -> list[float]: ...
def kernel_shap_tree_ensemble(
    model: TreeEnsemble,
    X: npt.NDArray[np.float64],
    background: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    *,
    output: _Output = "margin",
    link: _KernelLink = "identity",
    nsamples: int | None = None,
    seed: int = 0,
    num_features: int | None = None,
    lasso_alpha: float | None = None,
    criterion: _Criterion | None = None,
    sampling: _Sampling = "stratified",
    evaluation: _PairEvaluation = "auto",
    n_threads: int | None = None,
    row_offset: int = 0,
    standard_errors: bool = True,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], list[float], list[int]]:
    """Kernel SHAP of a tree ensemble's (transformed) output with the whole loop in Rust."""
