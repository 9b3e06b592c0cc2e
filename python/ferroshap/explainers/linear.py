"""LinearExplainer: exact SHAP values of linear models, as ``shap.LinearExplainer``.

Interventional values are ``coef * (x - mean)``. Correlation-dependent values use the
transform of :mod:`ferroshap.explainers._linear_transform`, estimated once from the
background's covariance and then applied to any row.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ferroshap._core import InvalidModelError
from ferroshap._data import to_matrix
from ferroshap.explainers._background import Background
from ferroshap.explainers._linear_transform import CorrelationTransform
from ferroshap.explainers._saving import SaveLoad
from ferroshap.explanation import Explanation

__all__ = ["LinearExplainer", "parse_linear_model"]

_PERTURBATIONS = ("interventional", "correlation_dependent")


def parse_linear_model(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(coef, intercept)`` of ``model`` as float64 arrays: coef ``(n_features,)`` and a 0-d
    intercept for one output, ``(n_outputs, n_features)`` and ``(n_outputs,)`` otherwise.

    ``model`` is a ``(coef, intercept)`` pair or a fitted object with ``coef_`` and
    ``intercept_`` (scikit-learn's linear models). A ``(1, n_features)`` coef (binary
    ``LogisticRegression``) is one output, as shap reads it. Anything else raises
    :class:`ferroshap.InvalidModelError`.
    """
    if isinstance(model, tuple) and len(model) == 2:
        coef, intercept = model
    elif hasattr(model, "coef_") and hasattr(model, "intercept_"):
        coef, intercept = model.coef_, model.intercept_
    else:
        raise InvalidModelError(
            f"LinearExplainer needs a linear model: a (coef, intercept) pair or a fitted model "
            f"with coef_ and intercept_ (scikit-learn's linear models), not "
            f"{type(model).__module__}.{type(model).__qualname__}"
        )
    if hasattr(coef, "toarray"):  # scipy.sparse coef_ (after model.sparsify())
        coef = coef.toarray()
    try:
        coef = np.array(coef, dtype=np.float64)
        intercept = np.array(intercept, dtype=np.float64)
    except (TypeError, ValueError) as e:
        message = f"the linear model's coef and intercept are not numeric: {e}"
        raise InvalidModelError(message) from None
    if coef.ndim == 2 and coef.shape[0] == 1:
        coef = coef[0]
        intercept = intercept.reshape(-1)[0] if intercept.size == 1 else intercept
    if coef.ndim not in (1, 2) or coef.shape[-1] == 0:
        raise InvalidModelError(
            f"coef must have shape (n_features,) or (n_outputs, n_features), got {coef.shape}"
        )
    n_outputs = 1 if coef.ndim == 1 else coef.shape[0]
    if intercept.size == 1 and coef.ndim == 1:
        intercept = intercept.reshape(())
    elif intercept.size == 1:
        intercept = np.full(n_outputs, float(intercept.reshape(-1)[0]))
    elif intercept.shape != (n_outputs,):
        raise InvalidModelError(
            f"intercept of shape {intercept.shape} does not match coef of shape {coef.shape}"
        )
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise InvalidModelError("the linear model's coef or intercept holds NaN or inf")
    return coef, intercept


def _background(masker: Any, correlation: bool):
    """``(mean, cov or None, feature names)`` of the background ``masker``."""
    if isinstance(masker, dict) and "mean" in masker:
        masker = (masker["mean"], masker.get("cov"))
    elif isinstance(getattr(masker, "mean", None), np.ndarray):  # shap's masker of a (mean, cov)
        masker = (masker.mean, getattr(masker, "cov", None))
    if isinstance(masker, tuple) and len(masker) == 2:
        mean = np.asarray(getattr(masker[0], "values", masker[0]), dtype=np.float64)
        cov = masker[1]
        if cov is not None:
            cov = np.atleast_2d(np.asarray(getattr(cov, "values", cov), dtype=np.float64))
        names = list(map(str, masker[0].index)) if hasattr(masker[0], "iloc") else None
        if mean.ndim != 1:
            raise ValueError(f"the background mean must be 1-D, got shape {mean.shape}")
        if correlation and (cov is None or cov.shape != (len(mean), len(mean))):
            raise ValueError(
                f"correlation_dependent needs a ({len(mean)}, {len(mean)}) covariance with the "
                f"mean, got {None if cov is None else cov.shape}"
            )
        return mean, cov, names
    if isinstance(masker, Background):  # ferroshap.kmeans: weighted rows
        matrix = to_matrix(masker.data, what="the background data")
        rows = np.asarray(matrix.values, dtype=np.float64)
        w = np.asarray(masker.weights, dtype=np.float64) / np.sum(masker.weights)
        cov = np.atleast_2d(np.cov(rows, rowvar=False, aweights=w)) if correlation else None
        return w @ rows, cov, matrix.feature_names
    # maskers.Independent / Partition: their rows (a sparse matrix's .data is its nonzeros).
    data = masker if hasattr(masker, "tocsr") else getattr(masker, "data", masker)
    if data is None:
        raise TypeError("LinearExplainer needs background data: LinearExplainer(model, X)")
    if hasattr(data, "tocsr"):  # scipy.sparse: only the mean is needed (no densifying)
        if correlation:
            raise NotImplementedError(
                "feature_perturbation='correlation_dependent' is not supported for sparse "
                "data (as shap); use a dense background or 'interventional'"
            )
        if data.shape[0] == 0:
            raise ValueError("the background data has no rows")
        return np.asarray(data.mean(axis=0), dtype=np.float64).reshape(-1), None, None
    matrix = to_matrix(data, what="the background data")
    if matrix.was_1d:
        raise ValueError("the background data must be 2-D: (n_background, n_features)")
    values = np.asarray(matrix.values, dtype=np.float64)
    if len(values) == 0:
        raise ValueError("the background data has no rows")
    if not np.isfinite(values).all():
        raise ValueError("the background data holds NaN or inf; a linear model cannot read it")
    cov = None
    if correlation:
        if len(values) < 2:
            raise ValueError("correlation_dependent needs at least 2 background rows")
        cov = np.atleast_2d(np.cov(values, rowvar=False))
        if len(values) <= values.shape[1]:
            warnings.warn(
                f"singular covariance: the background's covariance is singular ({len(values)} "
                f"rows for {values.shape[1]} features): correlation_dependent values then rest "
                "on the 1e-6 ridge added to it; use more background rows than features",
                UserWarning,
                stacklevel=3,
            )
    names = getattr(masker, "feature_names", None)  # a masker's (shap's: a pandas Index)
    if names is None:
        names = matrix.feature_names
    return values.mean(axis=0), cov, (list(names) if names is not None else None)


class LinearExplainer(SaveLoad):
    """Exact SHAP values of a linear model ``f(x) = coef @ x + intercept``.

    As ``shap.LinearExplainer``. Two kinds of values:

    - ``"interventional"`` (the default): features are masked independently with the
      background, so feature ``j`` gets ``coef[j] * (x[j] - mean[j])``.
    - ``"correlation_dependent"``: masked features are imputed from the observed ones by the
      background's linear regression (a Gaussian with its mean and covariance). The values are
      ``T @ (x - mean)`` for a transform ``T`` estimated once from ``nsamples`` random feature
      orders, as shap does. Seeded (``seed=``) from its own generator: with
      ``np.random.seed(s)`` before shap's constructor and ``seed=s`` here, the orders are the
      same as shap's, and so are the values (to rounding). Features whose background variance
      is below 1e-8 get 0; perfectly correlated features share their group's value equally;
      a 1e-6 ridge is added to a near-singular covariance (all as shap).

    Values are in the model's margin (log-odds for logistic regression), and add up to
    ``f(x) - expected_value`` (up to the features dropped or grouped above).

    Parameters
    ----------
    model
        A fitted scikit-learn linear model (``LinearRegression``, ``Ridge``, ``Lasso``,
        ``ElasticNet``, ``LogisticRegression`` binary or multinomial, ``SGDClassifier``,
        ``LinearSVC``, ...; anything with ``coef_`` and ``intercept_``) or a
        ``(coef, intercept)`` pair.
    masker
        The background: rows (numpy, pandas, polars or scipy.sparse; every row is used, only
        their mean and covariance matter), a :class:`ferroshap.maskers.Independent` (its kept
        rows), or ``(mean, cov)`` / ``{"mean": ..., "cov": ...}``.
    link
        ``"identity"`` or ``"logit"`` (or shap's link functions of those names): the values
        are in the model's margin either way, as shap's (for a logistic regression the margin
        is the logit of the probability). Other links raise ValueError.
    nsamples
        Random feature orders for the correlation-dependent transform (shap's meaning;
        unused for interventional values).
    feature_perturbation
        ``None`` / ``"interventional"`` or ``"correlation_dependent"``.
    feature_names
        Names of the features; by default the background frame's columns.
    seed
        Seed of the correlation-dependent transform; ``None`` draws fresh randomness.

    Attributes
    ----------
    coef, intercept : numpy.ndarray
        As parsed from the model: ``(M,)`` and 0-d, or ``(K, M)`` and ``(K,)``.
    mean : numpy.ndarray
        The background mean ``(M,)``. ``cov`` is its covariance (correlation-dependent only).
    expected_value : float or numpy.ndarray
        ``coef @ mean + intercept``: a float, or ``(K,)``.

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> X = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> explainer = ferroshap.LinearExplainer((np.array([1.0, -2.0]), 0.5), X)
    >>> explainer.expected_value
    -2.5
    >>> explainer.shap_values(np.array([[3.0, 0.0]]))
    array([[2., 4.]])
    """

    def __init__(
        self,
        model: Any,
        masker: Any = None,
        link: Any = "identity",
        nsamples: int = 1000,
        feature_perturbation: str | None = None,
        feature_names: list[str] | None = None,
        seed: int | None = None,
        data: Any = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("linearize_link", None)  # no link to linearize
        output_names = kwargs.pop("output_names", None)
        if "feature_dependence" in kwargs:
            raise ValueError("feature_dependence was renamed feature_perturbation (as in shap)")
        if kwargs:
            raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        if masker is None:
            masker = data
        link_name = link if isinstance(link, str) or link is None else getattr(link, "__name__", "")
        if link_name not in (None, "identity", "logit"):
            raise ValueError(
                "LinearExplainer explains the model's margin (the log-odds of a logistic "
                f"regression), as shap does; link must be 'identity' or 'logit', got {link!r}"
            )
        if feature_perturbation is None:
            feature_perturbation = (
                "correlation_dependent" if type(masker).__name__ == "Impute" else "interventional"
            )
        if feature_perturbation not in _PERTURBATIONS:
            from ferroshap.utils._exceptions import InvalidFeaturePerturbationError

            raise InvalidFeaturePerturbationError(
                "feature_perturbation must be one of 'interventional' or 'correlation_dependent', "
                f"got {feature_perturbation!r}"
            )
        if (
            not isinstance(nsamples, (int, np.integer))
            or isinstance(nsamples, bool)
            or (nsamples < 1)
        ):
            raise ValueError(f"nsamples must be a positive int, got {nsamples!r}")
        if seed is not None and (
            not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0
        ):
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        self.model = model
        self.masker = masker
        self.link = link_name or "identity"
        self.feature_perturbation = feature_perturbation
        self.nsamples = int(nsamples)
        self.seed = seed
        self.output_names = output_names
        self.coef, self.intercept = parse_linear_model(model)
        correlation = feature_perturbation == "correlation_dependent"
        self.mean, self.cov, names = _background(masker, correlation)
        self.M = self.n_features = self.coef.shape[-1]
        if len(self.mean) != self.n_features:
            raise ValueError(
                f"the model has {self.n_features} coefficients per output but the background "
                f"data has {len(self.mean)} features"
            )
        if feature_names is not None:
            names = list(feature_names)
            if len(names) != self.n_features:
                raise ValueError(
                    f"{len(names)} feature names for a model with {self.n_features} features"
                )
        self.feature_names = names
        ev = self.coef @ self.mean + self.intercept
        self.expected_value: float | np.ndarray = float(ev) if np.ndim(ev) == 0 else ev
        self._transform = None
        if correlation:
            self._transform = CorrelationTransform(
                self.coef, self.mean, self.cov, self.nsamples, seed
            )

    def _rows(self, X: Any):
        """``(dense rows (n, M), the frame's column names or None, was one 1-D row)``."""
        if hasattr(X, "tocsr"):
            if X.ndim != 2 or X.shape[1] != self.n_features:
                raise ValueError(f"X has shape {X.shape}; the model has {self.n_features} features")
            x, names, was_1d = np.asarray(X.toarray(), dtype=np.float64), None, False
        else:
            try:
                matrix = to_matrix(X, n_features=self.n_features, feature_names=self.feature_names)
            except ValueError as e:
                message = f"X does not match the model ({self.n_features} features): {e}"
                raise ValueError(message) from None
            x = np.asarray(matrix.values, dtype=np.float64)
            names, was_1d = matrix.feature_names, matrix.was_1d
        finite = np.isfinite(x)
        if not finite.all():
            row, column = np.argwhere(~finite)[0]
            raise ValueError(
                f"X holds NaN or inf (first: row {row}, feature {column}); a linear model's "
                "SHAP values would be NaN"
            )
        return x, names, was_1d

    def _values(self, x: np.ndarray) -> np.ndarray:
        """Values ``(n, M)`` or ``(n, M, K)`` of the dense rows ``x``."""
        if self._transform is not None:
            return self._transform.values(x)
        centred = x - self.mean
        if self.coef.ndim == 1:
            return centred * self.coef
        return centred[:, :, None] * self.coef.T[None, :, :]

    def shap_values(self, X: Any, **kwargs: Any) -> np.ndarray:
        """SHAP values of the rows of ``X``.

        Parameters
        ----------
        X
            Rows ``(n_rows, n_features)`` (numpy, pandas, polars or scipy.sparse) or one row
            ``(n_features,)`` (a 1-D array or a pandas Series).

        Returns
        -------
        numpy.ndarray
            ``(n_rows, n_features)`` for one output, ``(n_rows, n_features, n_outputs)`` for
            several (shap >= 0.45 shapes); without the first axis for one 1-D row.
        """
        kwargs.pop("silent", None)
        if kwargs:
            raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        x, _, was_1d = self._rows(X)
        values = self._values(x)
        return values[0] if was_1d else values

    def __call__(self, X: Any, silent: bool = False, **kwargs: Any) -> Explanation:
        """Explains the rows of ``X`` (as :meth:`shap_values`).

        Returns
        -------
        Explanation
            ``values`` ``(n_rows, n_features)`` or ``(n_rows, n_features, n_outputs)``;
            ``base_values`` the expected value per row (``(n_rows,)`` or ``(n_rows,
            n_outputs)``); ``data`` the rows. One 1-D row drops the first axis of each
            (``base_values`` a scalar or ``(n_outputs,)``).
        """
        kwargs.pop("max_evals", None)  # shap's generic call arguments: no budget here
        kwargs.pop("batch_size", None)
        if kwargs:
            raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        x, frame_names, was_1d = self._rows(X)
        values = self._values(x)
        n = len(x)
        ev = np.asarray(self.expected_value, dtype=np.float64)
        base = np.full(n, float(ev)) if ev.ndim == 0 else np.tile(ev, (n, 1))
        names = self.feature_names or frame_names
        if names is None:
            names = [f"Feature {i}" for i in range(self.n_features)]
        data = x
        if was_1d:
            values, base, data = values[0], base[0], data[0]
        return Explanation(
            values,
            base_values=base,
            data=data,
            feature_names=list(names),
            output_names=self.output_names,
        )
