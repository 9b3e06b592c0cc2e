"""TreeExplainer: exact SHAP values for tree ensembles, computed by ferroshap's Rust core."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from ferroshap import _core
from ferroshap._data import to_matrix
from ferroshap.explanation import Explanation
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
            margin = ensemble.predict_margin(matrix.values, n_threads=self.n_jobs)
            total = values.sum(axis=1) + self._base
            scale = max(1.0, float(np.max(np.abs(margin))))
            err = float(np.max(np.abs(total - margin)))
            # Both sides are exact f64 sums over the same trees: anything beyond rounding
            # (1e-9 of the output scale) is a bug, not noise.
            if err > 1e-9 * scale:
                raise _core.FerroshapError(
                    f"additivity check failed: SHAP values + base value differ from the model "
                    f"output by {err:.3g}; please report this with the model"
                )
        return values

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
        """Explain ``X`` and return an :class:`~ferroshap.Explanation`."""
        if interactions:
            self.shap_interaction_values(X)
        _check_unsupported(y, None, False)
        matrix = self._matrix(X)
        values = self._values(matrix, check_additivity)
        n = values.shape[0]
        if self._model.single_output:
            values = values[:, :, 0]
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
        return Explanation(
            values,
            base_values=base,
            data=data,
            feature_names=list(names),
            output_names=self._model.output_names,
        )

    def shap_interaction_values(self, X: Any, y: Any = None, tree_limit: int | None = None):
        """SHAP interaction values (not available yet)."""
        raise NotImplementedError("SHAP interaction values are not available in ferroshap yet")


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
