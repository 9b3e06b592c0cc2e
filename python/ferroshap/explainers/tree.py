"""TreeExplainer: exact SHAP values for tree ensembles, computed by ferroshap's Rust core."""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ferroshap import _core
from ferroshap._data import mark_missing, to_matrix
from ferroshap.explainers import _additivity
from ferroshap.explainers._linear_trees import check_linear_trees, check_no_linear_interactions
from ferroshap.explainers._outputs import OutputSpec, encode_labels, resolve_output
from ferroshap.explainers._saving import SaveLoad
from ferroshap.explainers._tree import TreeModelView
from ferroshap.explainers._tree_inputs import (
    background_data,
    check_shap_only_arguments,
    dense,
    is_blocked,
    joined,
    row_blocks,
    warn_no_background,
)
from ferroshap.explainers._tree_limit import limit_rounds, limited
from ferroshap.explanation import Explanation, interaction_explanation
from ferroshap.models import TreeModel, load_tree_model, load_tree_model_file

_PERTURBATIONS = ("auto", "tree_path_dependent", "interventional")
_BACKGROUND = "the background data (data=)"


class TreeExplainer(SaveLoad):
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
        ``ferroshap._core.TreeEnsemble``. LightGBM ``linear_tree`` models (linear leaves) are
        explained exactly with background data (``data=``); without it, path-dependent values
        are not defined for them and a ``ValueError`` says so. Model dumps: see
        :meth:`from_dump`.
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
        What is explained:

        - ``"raw"``: the margin (log-odds for binary classifiers, the sum of tree outputs for
          regressors, class probabilities for scikit-learn forest classifiers);
        - ``"probability"``: the predicted probability (logistic of the margin for binary
          models, softmax for multi-class, the margin itself for scikit-learn forests;
          LightGBM random forests divide by the number of iterations first, as LightGBM
          does);
        - ``"log_loss"``: the loss of the prediction against the labels passed as
          ``shap_values(X, y)``: cross-entropy for classifiers, squared error for
          regressors. ``expected_value`` is then a function of a label, as in shap;
        - a method name: ``"predict_proba"`` (binary models give two columns
          ``(1 - p, p)`` with values ``(-phi, phi)``, as shap does), ``"predict"``
          (regressors and boosters: the response, e.g. ``exp`` of the margin for
          log-link objectives), ``"decision_function"`` (the margin).

        Outputs that are not a constant multiple of the margin need ``data``: their values
        are the **exact** Shapley values of v(S) = mean over background rows r of
        g(f(x_S, r_rest)) (shap rescales margin attributions instead, which is off by
        percents). They are computed per pair of explained and background row, with a table
        over the features on which the pair's paths through the trees differ: 2^n entries for
        n such features. A pair with more than ``max_pair_features`` of them is *estimated*
        instead: antithetic permutation sampling of the same game, with shap's rescaling as a
        control variate, drawn until every value's standard error (after the mean over the
        background) is at most ``estimate_tolerance``. Estimated values still add up exactly
        to the output minus the base value. The explainer's ``n_estimated_pairs`` says how
        many pairs the last call estimated; the Explanation carries the standard errors as
        ``error_std`` and ``values -/+ 1.96 * error_std`` as ``lower_bounds`` /
        ``upper_bounds`` (all zero-width where every pair was exact).
    feature_perturbation
        ``"auto"`` (interventional with data, path-dependent without),
        ``"interventional"`` (needs ``data``) or ``"tree_path_dependent"``.
    n_jobs
        Threads to use; ``None`` or ``-1`` use every core.
    max_pair_features
        Most features a pair of explained and background rows may differ on for its exact
        table, for ``model_output`` other than the margin (default 12, at most 24; each step
        doubles time and memory per pair, and above ~14 an estimate is far cheaper than the
        table). Pairs above it are estimated.
    model_output_method
        How transformed outputs are computed: ``"auto"`` (default; exact pairs where
        affordable, estimated above ``max_pair_features``) or ``"shap_rescale"``: shap's
        approximation for every pair, each background row's margin SHAP values times
        ``(g(f(x)) - g(f(r))) / (f(x) - f(r))`` (1 where the margins are equal, as in shap).
        It reproduces shap's numbers; they add up to the output but are not the Shapley
        values of the transformed game.
    estimate_tolerance
        Target standard error of estimated values, in the output's units (default 5e-4 of a
        probability: about 95% of estimated values are within 1e-3 of the exact ones).
    seed
        Seed of the estimator's random draws; results do not depend on ``n_jobs``.
    missing
        A value to read as missing besides NaN, as XGBoost's ``missing=`` does: every entry
        of ``X`` and ``data`` equal to it (compared in float32, as XGBoost compares) follows
        the trees' missing-value branch. Default: the model's own, for XGBoost scikit-learn
        models (``XGBClassifier(missing=...)``, which their ``predict`` applies); model
        files and raw ``xgboost.Booster`` objects do not record it, so pass the value given
        to ``DMatrix(missing=...)`` here. ``float("nan")``: only NaN is missing.

    Examples
    --------
    >>> import ferroshap, xgboost
    >>> model = xgboost.XGBRegressor(n_estimators=10).fit(X, y)   # doctest: +SKIP
    >>> explainer = ferroshap.TreeExplainer(model)                  # doctest: +SKIP
    >>> values = explainer.shap_values(X)                           # (n_rows, n_features)
    >>> interventional = ferroshap.TreeExplainer(model, data=X[:1000])  # doctest: +SKIP
    >>> interventional.expected_value  # mean margin over the 1,000 rows  # doctest: +SKIP
    >>> clf = xgboost.XGBClassifier().fit(X, labels)                # doctest: +SKIP
    >>> proba = ferroshap.TreeExplainer(clf, data=X[:100], model_output="probability")
    >>> proba.shap_values(X[:10]).sum(1) + proba.expected_value    # clf.predict_proba(X[:10])[:, 1]
    >>> loss = ferroshap.TreeExplainer(clf, data=X[:100], model_output="log_loss")
    >>> loss.shap_values(X[:10], y=labels[:10])                     # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any,
        data: Any = None,
        model_output: str = "raw",
        feature_perturbation: str = "auto",
        n_jobs: int | None = None,
        feature_names: list[str] | None = None,
        max_pair_features: int = 12,
        missing: float | None = None,
        model_output_method: str = "auto",
        estimate_tolerance: float = 5e-4,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        check_shap_only_arguments(kwargs)
        if kwargs:
            raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        if missing is not None and (
            not isinstance(missing, (int, float, np.integer, np.floating))
            or isinstance(missing, bool)
        ):
            raise TypeError(f"missing must be a number or None, got {missing!r}")
        if feature_perturbation not in _PERTURBATIONS:
            raise ValueError(
                f"feature_perturbation must be one of {_PERTURBATIONS}, "
                f"got {feature_perturbation!r}"
            )
        data = background_data(data)
        if feature_perturbation == "interventional" and data is None:
            warn_no_background()
            feature_perturbation = "tree_path_dependent"
        interventional = feature_perturbation == "interventional" or (
            feature_perturbation == "auto" and data is not None
        )
        self.model_output = model_output
        self.feature_perturbation = "interventional" if interventional else "tree_path_dependent"
        self.n_jobs = _threads(n_jobs)
        if isinstance(model, TreeModel):
            self._model = model
        else:
            self._model = _wrap_ensemble(model) or load_tree_model(model)
        # shap's dict format does not say how many features X has: X's width tells.
        self._dict_model = model if isinstance(model, dict) and "n_features" not in model else None
        if missing is not None:
            value = None if np.isnan(missing) else float(missing)
            self._model = dataclasses.replace(self._model, missing=value)
        #: The value read as missing besides NaN (the model's ``missing``), or None.
        self.missing = self._model.missing
        live = (
            None
            if isinstance(model, (TreeModel, _core.TreeEnsemble, _core.LinearTreeEnsemble))
            else model
        )
        self._live_model = live
        self._output: OutputSpec = resolve_output(model_output, self._model, live)
        if self._output.transform is not None and not interventional:
            raise ValueError(
                f"model_output={model_output!r} is only defined with background data: its value "
                "for a set of features is the mean output over background rows, which "
                "path-dependent Tree SHAP does not have. Pass data=<background rows> "
                "(interventional), or explain model_output='raw'"
            )
        if (
            not isinstance(max_pair_features, (int, np.integer))
            or isinstance(max_pair_features, bool)
            or not 1 <= max_pair_features <= 24
        ):
            raise ValueError(
                f"max_pair_features must be an int between 1 and 24, got {max_pair_features!r}"
            )
        self.max_pair_features = int(max_pair_features)
        check_linear_trees(self._model.ensemble, interventional, self._output.transform is not None)
        data = dense(data, self._model.source)
        if model_output_method not in ("auto", "shap_rescale"):
            raise ValueError(
                f"model_output_method must be 'auto' or 'shap_rescale', got {model_output_method!r}"
            )
        if not (isinstance(estimate_tolerance, (int, float)) and 0 < estimate_tolerance < np.inf):
            raise ValueError(f"estimate_tolerance must be a number > 0, got {estimate_tolerance!r}")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        self.model_output_method = model_output_method
        self.estimate_tolerance = float(estimate_tolerance)
        self.seed = int(seed)
        #: How many (row, background row) pairs the last call estimated instead of computing
        #: exactly (transformed outputs only).
        self.n_estimated_pairs = 0
        self._std_errors: np.ndarray | None = None
        self.data = data
        self._background: np.ndarray | None = None
        # The model's interventional explainer, prepared once for the background and reused
        # by every call (not pickled: rebuilt on first use).
        self._interventional: tuple[_core.TreeEnsemble, _core.Interventional] | None = None
        if interventional:
            # Every row, in the model's encoding (categories mapped like X), no subsampling.
            self._background = self._matrix(data, _BACKGROUND).values
        elif data is not None:
            # shap's tree_path_dependent with data: node covers are counted from the data.
            background = self._matrix(data, _BACKGROUND)
            ensemble = self._model.ensemble.with_covers_from_data(
                background.values, n_threads=self.n_jobs
            )
            self._model = dataclasses.replace(self._model, ensemble=ensemble)
        self._original_model = model
        names = feature_names if feature_names is not None else self._model.feature_names
        self.feature_names = list(names) if names is not None else None
        # Every round, for calls with tree_limit=; by default the rounds predict() uses.
        self._all_rounds = self._model
        self._set_model(limit_rounds(self._model, None))

    def _set_model(self, model: TreeModel) -> None:
        """Explain ``model`` (the whole model or its first rounds): its base values."""
        if model.output_scale != self._model.output_scale:
            # Fewer rounds of a LightGBM random forest: predict averages over them.
            self._output = resolve_output(self.model_output, model, self._live_model)
        self._model = model
        if self._background is not None and isinstance(model.ensemble, _core.TreeEnsemble):
            base = self._prepared_interventional(model.ensemble).expected_value()
        elif self._background is not None:  # linear trees: no prepared explainer (yet)
            base = model.ensemble.interventional_expected_value(
                self._background, n_threads=self.n_jobs
            )
        else:
            base = model.ensemble.expected_value()
        self._base = base
        self._output_single = self._model.single_output
        self.expected_value: Any
        spec = self._output
        if spec.transform is None:
            self._output_base = base * spec.scale
        elif spec.loss:
            self._output_base = None
            self._output_single = True
        else:
            self._output_base = self._model.ensemble.interventional_output_expected_value(
                self._background, spec.transform, scale=spec.scale, n_threads=self.n_jobs
            )[0]
        if spec.loss:
            self.expected_value = self._loss_expected_value
        elif spec.doubled:
            p = float(self._output_base[0])
            self.expected_value = np.array([1.0 - p, p])
            self._output_single = False
        elif self._output_single:
            # shap's types (issue 17): a (1,) array without background data, as shap's
            # path-dependent explainers give; a numpy float (a Python float) with data.
            base = np.float64(self._output_base[0])
            self.expected_value = np.array([base]) if self.data is None else base
        else:
            self.expected_value = self._output_base.copy()

    def _loss_expected_value(self, y: Any) -> float | np.ndarray:
        """Mean loss over the background if every row had label ``y`` (a label, or an array
        of labels giving an array), the base value of ``log_loss`` explanations."""
        labels = np.asarray(y)
        encoded = encode_labels(labels.reshape(-1), labels.size, self._output, self._live_model)
        base = self._model.ensemble.interventional_output_expected_value(
            self._background,
            self._output.transform,
            scale=self._output.scale,
            labels=encoded,
            n_threads=self.n_jobs,
        )[:, 0]
        return float(base[0]) if labels.ndim == 0 else base

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], config: Any = None, **kwargs: Any
    ) -> TreeExplainer:
        """Explain a saved model: XGBoost ``.json`` / ``.ubj`` or a LightGBM text model, or a
        model dump (XGBoost's JSON dump with ``config`` its booster's ``save_config()`` text
        or file; LightGBM's ``dump_model()`` as JSON). Other keywords go to the constructor."""
        return cls(load_tree_model_file(os.fspath(path), config), **kwargs)

    @classmethod
    def from_dump(cls, dump: Any, config: Any = None, **kwargs: Any) -> TreeExplainer:
        """Explain a model dump: XGBoost's ``get_dump(dump_format="json", with_stats=True)``
        with ``config=booster.save_config()`` (or ``objective=`` and ``base_score=``, see
        :func:`ferroshap.models.load_xgboost_dump`), or LightGBM's ``dump_model()``. The
        values are those of the saved model. Other keywords go to the constructor.

        >>> TreeExplainer.from_dump(b.get_dump(dump_format="json", with_stats=True),
        ...                         config=b.save_config())              # doctest: +SKIP
        """
        from ferroshap.models._dumps import load_dump_with_settings

        model, kwargs = load_dump_with_settings(dump, config, kwargs)
        return cls(model, **kwargs)

    @property
    def model(self) -> TreeModelView:
        """shap's view of the model: ``predict`` gives the raw output (margins) of the trees
        explained, ``original_model`` the model passed in (see
        :class:`~ferroshap.explainers._tree.TreeModelView`)."""
        return TreeModelView(self)

    @property
    def ensemble(self) -> _core.TreeEnsemble | _core.LinearTreeEnsemble:
        """The model in ferroshap's core representation."""
        return self._model.ensemble

    def _matrix(self, X: Any, what: str = "X"):
        if getattr(self, "_dict_model", None) is not None:
            self._widen_dict_model(X)
        if self._model.encode_input is not None:
            X = self._model.encode_input(X)
        matrix = to_matrix(
            X,
            n_features=self._model.ensemble.n_features,
            feature_names=self._model.feature_names,
            category_maps=self._model.category_maps,
            categorical=self._model.ensemble.categorical_features,
            frame_categories=self._model.frame_categories,
            what=what,
        )
        values = mark_missing(matrix.values, self._model.missing)
        return matrix if values is matrix.values else dataclasses.replace(matrix, values=values)

    def _widen_dict_model(self, X: Any) -> None:
        """Give a dict model (whose trees need not split on the last features) the width of
        ``X``, the first time an ``X`` wider than its split features arrives."""
        shape = np.shape(X) if hasattr(X, "shape") else np.shape(np.asarray(X, dtype=object))
        width = shape[-1] if len(shape) in (1, 2) else None
        if width is not None and width > self._model.ensemble.n_features:
            from ferroshap.models._dict import load_dict_model

            ensemble = load_dict_model({**self._dict_model, "n_features": width}).ensemble
            self._model = dataclasses.replace(self._model, ensemble=ensemble)
            self._all_rounds = self._model

    def _values(self, matrix, check_additivity: bool) -> np.ndarray:
        values = self._exact(self._model.ensemble, matrix.values, interactions=False)
        if check_additivity and len(values):
            self._check_additivity(matrix.values, values, interactions=False)
        return values

    def _exact(
        self,
        ensemble: _core.TreeEnsemble,
        x: np.ndarray,
        interactions: bool,
        features: list[int] | None = None,
        max_bytes: int | None = None,
    ) -> np.ndarray:
        """Margin SHAP values ``(N, M, K)`` or interaction values ``(N, F, F, K)`` of
        ``ensemble`` (the model, or some of its trees) with this explainer's value function."""
        if interactions:
            if self._background is not None:
                return ensemble.interventional_shap_interaction_values(
                    x,
                    self._background,
                    features=features,
                    max_bytes=max_bytes,
                    n_threads=self.n_jobs,
                )
            return ensemble.shap_interaction_values(
                x, features=features, max_bytes=max_bytes, n_threads=self.n_jobs
            )
        if self._background is not None:
            if ensemble is self._model.ensemble and isinstance(ensemble, _core.TreeEnsemble):
                prepared = self._prepared_interventional(ensemble)
                return prepared.shap_values(x, n_threads=self.n_jobs)
            return ensemble.interventional_shap_values(x, self._background, n_threads=self.n_jobs)
        return ensemble.shap_values(x, n_threads=self.n_jobs)

    def _prepared_interventional(self, ensemble: _core.TreeEnsemble) -> _core.Interventional:
        """The interventional explainer of ``ensemble`` (this explainer's model) and the
        background, built on first use and kept while the model stays the same."""
        assert self._background is not None
        kept = getattr(self, "_interventional", None)  # absent in explainers pickled before
        if kept is None or kept[0] is not ensemble:
            prepared = _core.Interventional(ensemble, self._background, n_threads=self.n_jobs)
            kept = (ensemble, prepared)
            self._interventional = kept
        return kept[1]

    def _explain(
        self, matrix, y: Any, check_additivity: bool, approximate: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Values ``(N, M, K)`` and base values ``(N, K)`` of the requested model output
        (Saabas values when ``approximate``)."""
        spec = self._output
        n = matrix.values.shape[0]
        if approximate:
            self._check_approximate()
        if y is not None and not spec.loss:
            raise ValueError(
                f"labels (y) are only used by model_output='log_loss', not by "
                f"model_output={self.model_output!r}"
            )
        if spec.transform is None:
            if approximate:
                values = self._model.ensemble.saabas_values(matrix.values, n_threads=self.n_jobs)
            else:
                values = self._values(matrix, check_additivity)
            if spec.scale != 1.0:
                values = values * spec.scale
            base = np.tile(self._output_base, (n, 1))
        else:
            labels = None
            if spec.loss:
                if y is None:
                    raise ValueError(
                        "model_output='log_loss' explains the loss against the labels: pass "
                        "them as shap_values(X, y=labels), one per row"
                    )
                labels = encode_labels(y, n, spec, self._live_model)
            values, base, errors, estimated = self._model.ensemble.interventional_output_values(
                matrix.values,
                self._background,
                spec.transform,
                scale=spec.scale,
                labels=labels,
                max_pair_features=self.max_pair_features,
                method=self.model_output_method,
                tolerance=self.estimate_tolerance,
                seed=self.seed,
                n_threads=self.n_jobs,
            )
            self.n_estimated_pairs = int(estimated)
            self._std_errors = errors
        if spec.doubled:
            values = np.concatenate([-values, values], axis=2)
            base = np.concatenate([1.0 - base, base], axis=1)
            if self._std_errors is not None:
                self._std_errors = np.concatenate([self._std_errors] * 2, axis=2)
        return values, base

    @property
    def _output_names(self) -> list[str] | None:
        if self._output.doubled:
            classes = getattr(self._live_model, "classes_", None)
            return [str(c) for c in classes] if classes is not None else None
        return None if self._output.loss else self._model.output_names

    def _check_additivity(self, x: np.ndarray, values: np.ndarray, interactions: bool) -> None:
        """Values ``(N, M, K)`` or interactions ``(N, M, M, K)`` of rows ``x`` against the
        margin, to the rounding error their sums can carry (see ``_additivity``)."""
        ensemble = self._model.ensemble
        axes = (1, 2) if interactions else 1

        def tree_magnitudes(suspect: np.ndarray) -> np.ndarray:
            rows = x[suspect]
            offset = ensemble.base_offset
            total = np.tile(np.abs(offset), (len(rows), 1))
            for t in range(ensemble.n_trees):
                tree = ensemble.select_trees([t])
                if self._background is not None:
                    base = tree.interventional_expected_value(self._background)
                else:
                    base = tree.expected_value()
                output = tree.predict_margin(rows, n_threads=self.n_jobs) - offset
                total += np.abs(base - offset) + np.abs(output)
                total += np.abs(self._exact(tree, rows, interactions)).sum(axis=axes)
            return total

        width = values.shape[1] ** 2 if interactions else values.shape[1]
        _additivity.check_additivity(
            values.sum(axis=axes),
            np.abs(values).sum(axis=axes),
            self._base,
            ensemble.predict_margin(x, n_threads=self.n_jobs),
            ensemble.n_trees + width + ensemble.max_depth + 1,
            tree_magnitudes,
        )

    def __getstate__(self) -> dict[str, Any]:
        # Pickles to the core ensemble's compact bytes (TreeEnsemble pickles as them), not the
        # user's model object: workers (multiprocessing, Spark, Dask) need only the trees.
        # What the explainer still reads from the live model is its class labels.
        state = self.__dict__.copy()
        state["_original_model"] = None
        state["_interventional"] = None
        state["_live_model"] = _ClassLabels(getattr(self._live_model, "classes_", None))
        return state

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
        one row and drops the first axis. For ``model_output="log_loss"``, ``y`` holds the
        label of each row (class labels, or 0/1 for binary models; the target for
        regressors) and the values are always ``(n_rows, n_features)``.

        ``check_additivity`` checks that each row's margin values plus the base value give
        the model's margin, to the rounding error the sums can carry (which grows with the
        magnitude of the values and trees, so models whose effects cancel pass); a larger
        difference raises ``FerroshapError``. For outputs other than the margin it is not
        needed: the values add up to the output minus the base value by construction
        (efficiency of the exact Shapley values).

        ``tree_limit``: explain only the first ``tree_limit`` boosting rounds (a round adds
        one tree per output, times XGBoost's ``num_parallel_tree``), as shap and the
        libraries' ``iteration_range`` / ``num_iteration`` do; the values then add up to that
        part of the model, from its own base value (``__call__`` returns it as
        ``base_values``; ``expected_value`` stays the default model's). ``None`` (default)
        follows the model's ``predict``: an early-stopped XGBoost scikit-learn model or
        LightGBM model stops at its best iteration, a raw ``xgboost.Booster`` uses every
        tree. ``-1``: every tree. More rounds than the model has raise ``ValueError``.

        ``approximate=True``: Saabas values instead (shap's and XGBoost's
        ``approx_contribs``): each split on a row's path credits its feature with the change
        of the tree's expected value. Cheap, and they add up to the margin, but they are not
        Shapley values. Path-dependent margin explanations only (no ``data``).
        """
        explainer = self._limited(tree_limit)
        if explainer is not self:
            values = explainer.shap_values(X, y, None, approximate, check_additivity)
            self.n_estimated_pairs = explainer.n_estimated_pairs
            return values
        if is_blocked(X):
            return self._in_blocks(
                X,
                y,
                lambda b, yb: self.shap_values(
                    b, yb, approximate=approximate, check_additivity=check_additivity
                ),
            )
        matrix = self._matrix(X)
        values, _ = self._explain(matrix, y, check_additivity, approximate)
        if self._output_single:
            values = values[:, :, 0]
        return values[0] if matrix.was_1d else values

    def __call__(
        self,
        X: Any,
        y: Any = None,
        interactions: bool = False,
        check_additivity: bool = True,
        approximate: bool = False,
        tree_limit: int | None = None,
    ) -> Explanation:
        """Explain ``X`` and return an :class:`~ferroshap.Explanation`.

        With ``interactions=True`` its values are the SHAP interaction values (see
        :meth:`shap_interaction_values`), shape ``(n_rows, n_features, n_features[,
        n_outputs])``, as in shap. ``y``: the labels, for ``model_output="log_loss"``; the
        base values are then per row (the mean loss over the background at the row's label).
        ``check_additivity=False`` skips the check that the values add up to the margin
        (for values and interaction values alike). ``approximate`` and ``tree_limit``: as
        for :meth:`shap_values` (the base values are those of the rounds explained).
        """
        explainer = self._limited(tree_limit)
        if explainer is not self:
            result = explainer(X, y, interactions, check_additivity, approximate)
            self.n_estimated_pairs = explainer.n_estimated_pairs
            return result
        if approximate and interactions:
            raise ValueError("approximate=True (Saabas values) has no interaction values")
        if is_blocked(X):
            parts = self._in_blocks(
                X,
                y,
                lambda b, yb: self(b, yb, interactions, check_additivity, approximate),
                join=False,
            )
            return joined(parts)
        matrix = self._matrix(X)
        self._std_errors = None
        if interactions:
            self._check_raw_interactions()
            if y is not None:
                raise ValueError("labels (y) are only used by model_output='log_loss'")
            values = self._interactions(matrix, None, None, check_additivity)
            base = np.tile(self._base, (values.shape[0], 1))
        else:
            values, base = self._explain(matrix, y, check_additivity, approximate)
        errors = self._std_errors
        if self._output_single:
            values = values[..., 0]
            base = base[:, 0]
            errors = None if errors is None else errors[..., 0]
        # The data's own column names where it has them (LightGBM stores "a b" as "a_b").
        names = matrix.feature_names or self.feature_names
        if names is None:
            names = [f"Feature {i}" for i in range(values.shape[1])]
        data = np.asarray(matrix.values)
        if matrix.was_1d:
            values, base, data = values[0], base[0], data[0]
            errors = None if errors is None else errors[0]
        if interactions:
            return interaction_explanation(
                values,
                base,
                data,
                list(names),
                self._output_names,
                rows=not matrix.was_1d,
                outputs=not self._model.single_output,
            )
        bounds = {}
        if errors is not None:
            # A 95% normal interval; zero-width where every pair was exact.
            bounds = dict(
                error_std=errors,
                lower_bounds=values - 1.96 * errors,
                upper_bounds=values + 1.96 * errors,
            )
        return Explanation(
            values,
            base_values=base,
            data=data,
            feature_names=list(names),
            output_names=self._output_names,
            **bounds,
        )

    def shap_interaction_values(
        self,
        X: Any,
        y: Any = None,
        tree_limit: int | None = None,
        *,
        features: Sequence[int | str] | None = None,
        max_memory: int | None = None,
        check_additivity: bool = True,
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
        y
            Accepted for shap compatibility; only ``None`` is supported.
        tree_limit
            Explain the first ``tree_limit`` boosting rounds only, as in :meth:`shap_values`.
        features
            Indices or names of the features of interest. Only their ``F x F`` block is
            computed and returned, which needs ``n_rows * F * F`` values instead of
            ``n_rows * M * M``. The diagonal stays each feature's main effect in the full
            model, so the rows sum to the SHAP values only when every feature is requested.
        max_memory
            Largest output, in bytes, to allocate. Default: half the physical memory. A
            larger request raises ``MemoryError`` saying how large it would be; explain
            fewer rows at a time or pass ``features=``.
        check_additivity
            Check that each row's matrix sums to the margin minus ``expected_value`` up to
            the rounding error of the sums (raising ``FerroshapError`` otherwise); ``False``
            skips the check. Not done when ``features`` is given.

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
        self._check_raw_interactions()
        if y is not None:
            raise ValueError("labels (y) are only used by model_output='log_loss'")
        explainer = self._limited(tree_limit)
        if explainer is not self:
            return explainer.shap_interaction_values(
                X, features=features, max_memory=max_memory, check_additivity=check_additivity
            )
        if is_blocked(X):
            return self._in_blocks(
                X,
                None,
                lambda b, _: self.shap_interaction_values(
                    b, features=features, max_memory=max_memory, check_additivity=check_additivity
                ),
            )
        matrix = self._matrix(X)
        values = self._interactions(matrix, features, max_memory, check_additivity)
        if self._model.single_output:
            values = values[..., 0]
        return values[0] if matrix.was_1d else values

    def _in_blocks(self, X: Any, y: Any, explain: Any, join: bool = True) -> Any:
        """``explain(dense rows, their labels)`` over blocks of rows of a sparse matrix or
        DMatrix ``X`` (one dense block at a time), joined along the rows."""
        labels = None if y is None else np.asarray(y)
        parts = []
        for start, block in row_blocks(X, self._model.source):
            part_y = None if labels is None else labels[start : start + len(block)]
            parts.append(explain(block, part_y))
        return np.concatenate(parts) if join else parts

    def _limited(self, tree_limit: Any) -> TreeExplainer:
        """This explainer, or a copy explaining the first ``tree_limit`` rounds."""
        return limited(self, getattr(self, "_all_rounds", self._model), tree_limit)

    def _check_approximate(self) -> None:
        if self._background is not None or self._output.transform is not None:
            raise ValueError(
                "approximate=True (Saabas values) weights each split by the model's node "
                "covers, so it explains the margin path-dependently: use an explainer without "
                "data= and with model_output='raw'"
            )

    def _check_raw_interactions(self) -> None:
        check_no_linear_interactions(self._model.ensemble)
        if self._output.transform is not None or self._output.scale != 1.0:
            raise NotImplementedError(
                f"SHAP interaction values are available for the margin only "
                f"(model_output='raw'), not for model_output={self.model_output!r}"
            )

    def _interactions(
        self,
        matrix,
        features: Sequence[int | str] | None,
        max_memory: int | None,
        check_additivity: bool,
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
        try:
            values = self._exact(
                self._model.ensemble,
                matrix.values,
                interactions=True,
                features=indices,
                max_bytes=int(max_memory),
            )
        except MemoryError as e:
            raise MemoryError(f"{e}, or raise max_memory= (bytes)") from None
        if check_additivity and indices is None and len(values):
            self._check_additivity(matrix.values, values, interactions=True)
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
    n = int(n_jobs)
    # A few threads more than cores can be deliberate (tests of thread-count independence);
    # thousands only spend seconds starting threads that then compete for the same cores.
    cores = _usable_cores()
    if n > max(_MAX_OVERSUBSCRIPTION * cores, 64):
        warnings.warn(
            f"n_jobs={n} is far more than the {cores} cores this process may use; "
            f"using {cores} threads",
            RuntimeWarning,
            stacklevel=3,
        )
        return cores
    return n


#: How many times the usable cores ``n_jobs`` may ask for before it is capped.
_MAX_OVERSUBSCRIPTION = 4


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _wrap_ensemble(model: Any) -> TreeModel | None:
    if not isinstance(model, (_core.TreeEnsemble, _core.LinearTreeEnsemble)):
        return None
    return TreeModel(
        ensemble=model,
        source="ferroshap",
        feature_names=model.feature_names,
        category_maps=None,
        output_names=None,
        single_output=model.n_outputs == 1,
    )


class _ClassLabels:
    """What a pickled TreeExplainer keeps of the live model: its ``classes_``, if any."""

    def __init__(self, classes: Any) -> None:
        if classes is not None:
            self.classes_ = classes
