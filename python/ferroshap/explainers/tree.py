"""TreeExplainer: exact SHAP values for tree ensembles, computed by ferroshap's Rust core."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ferroshap import _core
from ferroshap._data import to_matrix
from ferroshap.explanation import Explanation, interaction_explanation
from ferroshap.models import TreeModel, load_tree_model, load_tree_model_file

_PERTURBATIONS = ("auto", "tree_path_dependent", "interventional")
_MODEL_OUTPUTS = ("raw", "probability", "log_loss", "predict", "predict_proba")


class TreeExplainer:
    """Exact SHAP values for XGBoost, LightGBM and scikit-learn tree ensembles.

    A drop-in for ``shap.TreeExplainer``: same constructor, same ``shap_values`` shapes,
    same ``expected_value``; computed in f64 by a parallel Rust implementation of exact
    path-dependent or interventional Tree SHAP that routes every row exactly as the source
    library does (categorical splits and missing values included).

    Parameters
    ----------
    model
        A trained model: ``xgboost.Booster`` / ``XGBModel``, ``lightgbm.Booster`` /
        ``LGBMModel``, a scikit-learn tree, forest or (hist) gradient-boosting model, or a
        ``ferroshap._core.TreeEnsemble``.
    data
        Background data (numpy, pandas, polars or pyarrow; categorical columns are read like
        ``X``). With interventional Tree SHAP (``"auto"`` chooses it when data is given, as
        shap >= 0.47 does) the value of a coalition S is the mean model output over the
        background rows with the features in S taken from the explained row, and
        ``expected_value`` is the mean margin over the background. **Every background row is
        used**: unlike shap, which silently keeps a random 100 rows, nothing is subsampled.
        The cost grows as rows + background rows (not their product), so a large background
        is affordable; summarise it yourself if you want fewer rows. With
        ``feature_perturbation="tree_path_dependent"`` the node covers are counted from the
        data instead (as shap does).
    model_output
        ``"raw"`` explains the margin (log-odds for binary classifiers, the sum of tree
        outputs for regressors, class probabilities for scikit-learn forest classifiers).
        Other outputs are not available yet.
    feature_perturbation
        ``"auto"`` (interventional with data, path-dependent without),
        ``"interventional"`` (needs ``data``) or ``"tree_path_dependent"``.
    n_jobs
        Threads to use; ``None`` or ``-1`` use every core.

    Examples
    --------
    >>> import ferroshap, xgboost
    >>> model = xgboost.XGBRegressor(n_estimators=10).fit(X, y)   # doctest: +SKIP
    >>> explainer = ferroshap.TreeExplainer(model)                  # doctest: +SKIP
    >>> values = explainer.shap_values(X)                           # (n_rows, n_features)
    >>> interventional = ferroshap.TreeExplainer(model, data=X[:1000])  # doctest: +SKIP
    >>> interventional.expected_value  # mean margin over the 1,000 rows  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any,
        data: Any = None,
        model_output: str = "raw",
        feature_perturbation: str = "auto",
        n_jobs: int | None = None,
        feature_names: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        if feature_perturbation not in _PERTURBATIONS:
            raise ValueError(
                f"feature_perturbation must be one of {_PERTURBATIONS}, "
                f"got {feature_perturbation!r}"
            )
        interventional = feature_perturbation == "interventional" or (
            feature_perturbation == "auto" and data is not None
        )
        if interventional and data is None:
            raise ValueError(
                "feature_perturbation='interventional' needs background data: pass "
                "data=<background rows> (every row is used), or use "
                "feature_perturbation='tree_path_dependent' to explain without data"
            )
        if not isinstance(model_output, str) or model_output != "raw":
            raise NotImplementedError(
                f"model_output={model_output!r} is not available in ferroshap yet; "
                "only model_output='raw' (the margin) is supported, for both "
                "interventional and path-dependent Tree SHAP"
            )
        self.model_output = model_output
        self.feature_perturbation = "interventional" if interventional else "tree_path_dependent"
        self.n_jobs = _threads(n_jobs)
        if isinstance(model, TreeModel):
            self._model = model
        else:
            self._model = _wrap_ensemble(model) or load_tree_model(model)
        self.data = data
        self._background: np.ndarray | None = None
        if interventional:
            # Every row, in the model's encoding (categories mapped like X), no subsampling.
            self._background = self._matrix(data).values
            base = self._model.ensemble.interventional_expected_value(
                self._background, n_threads=self.n_jobs
            )
        else:
            if data is not None:
                # shap's tree_path_dependent with data: node covers are counted from the data.
                background = self._matrix(data)
                ensemble = self._model.ensemble.with_covers_from_data(
                    background.values, n_threads=self.n_jobs
                )
                self._model = dataclasses.replace(self._model, ensemble=ensemble)
            base = self._model.ensemble.expected_value()
        self.model = model
        names = feature_names if feature_names is not None else self._model.feature_names
        self.feature_names = list(names) if names is not None else None
        self._base = base
        self.expected_value: float | np.ndarray = (
            float(base[0]) if self._model.single_output else base.copy()
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs: Any) -> TreeExplainer:
        """Explain a saved model: XGBoost ``.json`` / ``.ubj`` or a LightGBM text model."""
        return cls(load_tree_model_file(os.fspath(path)), **kwargs)

    @property
    def ensemble(self) -> _core.TreeEnsemble:
        """The model in ferroshap's core representation."""
        return self._model.ensemble

    def _matrix(self, X: Any):
        return to_matrix(
            X,
            n_features=self._model.ensemble.n_features,
            feature_names=self._model.feature_names,
            category_maps=self._model.category_maps,
            categorical=self._model.ensemble.categorical_features,
        )

    def _values(self, matrix, check_additivity: bool) -> np.ndarray:
        ensemble = self._model.ensemble
        if self._background is not None:
            values = ensemble.interventional_shap_values(
                matrix.values, self._background, n_threads=self.n_jobs
            )
        else:
            values = ensemble.shap_values(matrix.values, n_threads=self.n_jobs)
        if check_additivity and len(values):
            self._check_additivity(matrix, values.sum(axis=1))
        return values

    def _check_additivity(self, matrix, totals: np.ndarray) -> None:
        margin = self._model.ensemble.predict_margin(matrix.values, n_threads=self.n_jobs)
        total = totals + self._base
        scale = max(1.0, float(np.max(np.abs(margin))))
        err = float(np.max(np.abs(total - margin)))
        # Both sides are exact f64 sums over the same trees: anything beyond rounding
        # (1e-9 of the output scale) is a bug, not noise.
        if err > 1e-9 * scale:
            raise _core.FerroshapError(
                f"additivity check failed: SHAP values + base value differ from the model "
                f"output by {err:.3g}; please report this with the model"
            )

    def shap_values(
        self,
        X: Any,
        y: Any = None,
        tree_limit: int | None = None,
        approximate: bool = False,
        check_additivity: bool = True,
    ) -> np.ndarray:
        """SHAP values of each row of ``X``.

        Returns an array of shape ``(n_rows, n_features)`` for single-output models and
        ``(n_rows, n_features, n_outputs)`` otherwise (shap >= 0.45 shapes); a 1-D ``X`` is
        one row and drops the first axis.
        """
        _check_unsupported(y, tree_limit, approximate)
        matrix = self._matrix(X)
        values = self._values(matrix, check_additivity)
        if self._model.single_output:
            values = values[:, :, 0]
        return values[0] if matrix.was_1d else values

    def __call__(
        self, X: Any, y: Any = None, interactions: bool = False, check_additivity: bool = True
    ) -> Explanation:
        """Explain ``X`` and return an :class:`~ferroshap.Explanation`.

        With ``interactions=True`` its values are the SHAP interaction values (see
        :meth:`shap_interaction_values`), shape ``(n_rows, n_features, n_features[,
        n_outputs])``, as in shap.
        """
        _check_unsupported(y, None, False)
        matrix = self._matrix(X)
        if interactions:
            values = self._interactions(matrix, None, None)
        else:
            values = self._values(matrix, check_additivity)
        n = values.shape[0]
        if self._model.single_output:
            values = values[..., 0]
            base = np.full(n, self._base[0])
        else:
            base = np.tile(self._base, (n, 1))
        # The data's own column names where it has them (LightGBM stores "a b" as "a_b").
        names = matrix.feature_names or self.feature_names
        if names is None:
            names = [f"Feature {i}" for i in range(values.shape[1])]
        data = np.asarray(matrix.values)
        if matrix.was_1d:
            values, base, data = values[0], base[0], data[0]
        if interactions:
            return interaction_explanation(
                values,
                base,
                data,
                list(names),
                self._model.output_names,
                rows=not matrix.was_1d,
                outputs=not self._model.single_output,
            )
        return Explanation(
            values,
            base_values=base,
            data=data,
            feature_names=list(names),
            output_names=self._model.output_names,
        )

    def shap_interaction_values(
        self,
        X: Any,
        y: Any = None,
        tree_limit: int | None = None,
        *,
        features: Sequence[int | str] | None = None,
        max_memory: int | None = None,
    ) -> np.ndarray:
        """SHAP interaction values of each row of ``X``, exact, for both value functions.

        For features i != j, ``values[r, i, j]`` is half the Shapley interaction index of i
        and j (the matrix is symmetric, the pair's interaction split equally between (i, j)
        and (j, i)); the diagonal ``values[r, i, i]`` is the main effect, what is left of i's
        SHAP value. Each row of a matrix sums to the SHAP value, and the whole matrix to the
        model output minus ``expected_value``. Unlike shap, interventional explainers
        (``data=`` given) return the exact interaction values of the interventional game
        rather than zeros.

        Parameters
        ----------
        X
            Rows to explain (numpy, pandas, polars or pyarrow), as for :meth:`shap_values`.
        y, tree_limit
            Accepted for shap compatibility; only ``None`` is supported.
        features
            Indices or names of the features of interest. Only their ``F x F`` block is
            computed and returned, which needs ``n_rows * F * F`` values instead of
            ``n_rows * M * M``. The diagonal stays each feature's main effect in the full
            model, so the rows sum to the SHAP values only when every feature is requested.
        max_memory
            Largest output, in bytes, to allocate. Default: half the physical memory. A
            larger request raises ``MemoryError`` saying how large it would be; explain
            fewer rows at a time or pass ``features=``.

        Returns
        -------
        numpy.ndarray
            ``(n_rows, F, F)`` for single-output models and ``(n_rows, F, F, n_outputs)``
            otherwise (F = n_features unless ``features`` is given); a 1-D ``X`` drops the
            first axis.

        Examples
        --------
        >>> explainer = ferroshap.TreeExplainer(model)                # doctest: +SKIP
        >>> inter = explainer.shap_interaction_values(X)              # (n, M, M)  # doctest: +SKIP
        >>> pair = explainer.shap_interaction_values(X, features=["age", "bmi"])  # doctest: +SKIP
        """
        _check_unsupported(y, tree_limit, False)
        matrix = self._matrix(X)
        values = self._interactions(matrix, features, max_memory)
        if self._model.single_output:
            values = values[..., 0]
        return values[0] if matrix.was_1d else values

    def _interactions(
        self, matrix, features: Sequence[int | str] | None, max_memory: int | None
    ) -> np.ndarray:
        indices = self._feature_indices(matrix, features)
        if max_memory is None:
            max_memory = _default_memory_limit()
        elif (
            not isinstance(max_memory, (int, np.integer))
            or isinstance(max_memory, bool)
            or max_memory < 0
        ):
            raise ValueError(f"max_memory must be a number of bytes (int >= 0), got {max_memory!r}")
        ensemble = self._model.ensemble
        try:
            if self._background is not None:
                values = ensemble.interventional_shap_interaction_values(
                    matrix.values,
                    self._background,
                    features=indices,
                    max_bytes=int(max_memory),
                    n_threads=self.n_jobs,
                )
            else:
                values = ensemble.shap_interaction_values(
                    matrix.values,
                    features=indices,
                    max_bytes=int(max_memory),
                    n_threads=self.n_jobs,
                )
        except MemoryError as e:
            raise MemoryError(f"{e}, or raise max_memory= (bytes)") from None
        if indices is None and len(values):
            self._check_additivity(matrix, values.sum(axis=(1, 2)))
        return values

    def _feature_indices(self, matrix, features: Sequence[int | str] | None) -> list[int] | None:
        if features is None:
            return None
        if isinstance(features, (str, bytes)) or not hasattr(features, "__iter__"):
            raise TypeError(
                f"features must be a list of feature indices or names, got {features!r}"
            )
        m = self._model.ensemble.n_features
        names = matrix.feature_names or self.feature_names
        indices = []
        for f in features:
            if isinstance(f, str):
                if names is None or f not in names:
                    known = f"; the features are {list(names)}" if names is not None else ""
                    raise ValueError(f"unknown feature name {f!r}{known}")
                indices.append(list(names).index(f))
            elif isinstance(f, (int, np.integer)) and not isinstance(f, bool):
                if not 0 <= f < m:
                    raise ValueError(
                        f"feature index {f} is out of range: the model has {m} features"
                    )
                indices.append(int(f))
            else:
                raise TypeError(f"features must be feature indices or names, got {f!r}")
        if not indices:
            raise ValueError("features is empty: request at least one feature")
        if len(set(indices)) != len(indices):
            raise ValueError(f"features {list(features)!r} name a feature more than once")
        return indices


def _check_unsupported(y: Any, tree_limit: int | None, approximate: bool) -> None:
    if y is not None:
        raise NotImplementedError(
            "labels (y) are only used by model_output='log_loss', "
            "which is not available in ferroshap yet"
        )
    if tree_limit is not None:
        raise NotImplementedError("tree_limit is not supported; every tree is explained")
    if approximate:
        raise NotImplementedError("approximate=True (Saabas values) is not supported")


def _default_memory_limit() -> int:
    """Half the physical memory (8 GiB where the platform does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (AttributeError, ValueError, OSError):
        return 8 << 30


def _threads(n_jobs: int | None) -> int | None:
    if n_jobs is None or n_jobs == -1:
        return None
    if not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, bool) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive int, -1 or None, got {n_jobs!r}")
    return int(n_jobs)


def _wrap_ensemble(model: Any) -> TreeModel | None:
    if not isinstance(model, _core.TreeEnsemble):
        return None
    return TreeModel(
        ensemble=model,
        source="ferroshap",
        feature_names=model.feature_names,
        category_maps=None,
        output_names=None,
        single_output=model.n_outputs == 1,
    )
