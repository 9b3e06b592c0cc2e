"""The shared front of the model-agnostic explainers of shap's new API (Permutation, Exact):
model and masker handling, output checks, blocks of rows through the engine, and the
``Explanation`` that ``explainer(X)`` returns. Each explainer only says which ``GameJob``
estimates its values.
"""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np

from ferroshap import _core
from ferroshap._data import to_matrix
from ferroshap.explainers._background import Background
from ferroshap.explainers._engine import call_model, evaluate, progress
from ferroshap.explainers._masker_game import is_protocol_masker, setup_protocol
from ferroshap.explainers._native import choose_native, native_for_rows
from ferroshap.explainers._saving import SaveLoad
from ferroshap.explainers.kernel import _batch_size, _link_name, _model_function
from ferroshap.explanation import Explanation
from ferroshap.maskers import Independent

# Coalitions planned at once (over the rows of a block): bounds the per-coalition sums and
# masks the engine holds, whatever the estimator.
_BLOCK_COALITIONS = 1 << 22
_MAX_BLOCK_ROWS = 64
# Values per model call: batches that stay in the core's cache (its 2 MiB L2 here) run the
# model about 2x faster per row than 4 MiB ones, and since short driver calls no longer
# hand off to the thread pool, smaller batches cost little more per row.
_BATCH_VALUES = 1 << 16


def _framed(f: Any, columns: list[str]) -> Any:
    """``f`` called with pandas frames of ``columns`` (models fitted on frames want them)."""
    import pandas as pd

    return lambda rows: f(pd.DataFrame(rows, columns=columns, copy=False))


def _is_identity(link: Any) -> bool:
    return link == "identity" or getattr(link, "__name__", None) == "identity"


class PicklesModelCall:
    """Pickles an explainer without its wrapped model function ``_f`` (a closure) and rebuilds
    it from ``model`` and ``masker`` when unpickled."""

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_f"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._f = model_call(self.model, self.masker)


class MaskedModelExplainer(SaveLoad, PicklesModelCall):
    """Base of the explainers that evaluate a model on masked rows (see subclasses)."""

    _name = "SHAP"
    #: True when the masker is explained through its own ``__call__`` (see ``_masker_game``).
    _protocol = False

    def __init__(
        self,
        model: Any,
        masker: Any,
        link: Any = "identity",
        feature_names: list[str] | None = None,
        seed: int | None = None,
        linearize_link: bool = True,
        output_names: list[str] | None = None,
        native: bool | str = "auto",
        **kwargs: Any,
    ) -> None:
        if native not in ("auto", True, False):
            raise ValueError(f"native must be 'auto', True or False, got {native!r}")
        if kwargs:
            raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        link = _link_name(link)
        if seed is not None and (
            not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0
        ):
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        if masker is None:
            raise TypeError(
                f"{type(self).__name__} needs a masker or background data, e.g. "
                f"{type(self).__name__}(model, X_background)"
            )
        self.model = model
        self.link = link
        self.linearize_link = bool(linearize_link)
        self.output_names = output_names
        self.seed = None if seed is None else int(seed) % (1 << 64)
        self.native, self._native, self.native_model = native, None, None
        if is_protocol_masker(masker):
            setup_protocol(self, model, masker, link, feature_names, output_names)
            return
        read_masker(self, masker, feature_names)
        n_background = len(self.data)
        self._f = model_call(model, self.masker)
        null = call_model(self._f, self.data, "background data", self.link, None)
        self._single = null.ndim == 1
        self._n_outputs = 1 if self._single else null.shape[1]
        self._background_outputs = null.reshape(n_background, -1)
        if link == "identity":
            self.fnull = self.weights @ self._background_outputs
        else:
            self.fnull = np.array(
                _core.linked_expected_value(
                    self._background_outputs, self.weights, link, self.linearize_link
                )
            )
        if link != "identity" and native is True:
            raise ValueError(
                "native=True evaluates the trees' outputs as they are; with link="
                f"{link!r} the model is called on masked rows (use native='auto' or False)"
            )
        self._native = (
            choose_native(model, native, self.data, self._background_outputs)
            if link == "identity"
            else None
        )
        #: The converted tree ensemble evaluated in Rust instead of calling the model, or None.
        self.native_model = None if self._native is None else self._native.ensemble
        self.expected_value: float | np.ndarray = (
            float(self.fnull[0]) if self._single else self.fnull.copy()
        )

    def _link_args(self) -> dict[str, Any]:
        """The engine job's keyword arguments for this explainer's link."""
        if self.link == "identity":
            return {}
        return {
            "link": self.link,
            "linearize_link": self.linearize_link,
            "background_outputs": self._background_outputs,
        }

    def _call(self, rows: np.ndarray, what: str, finite: bool = True) -> np.ndarray:
        shape = (self._n_outputs, self._single)
        out = call_model(self._f, rows, what, self.link, shape, finite)
        return out.reshape(len(rows), -1)

    def _job(
        self, block: np.ndarray, background: np.ndarray, start: int, seed: int, max_evals: Any
    ) -> _core.GameJob:  # pragma: no cover (abstract)
        raise NotImplementedError

    def _coalitions_per_row(self, max_evals: Any) -> int:  # pragma: no cover (abstract)
        raise NotImplementedError

    def _run_seed(self) -> int:
        return self.seed if self.seed is not None else secrets.randbits(64)

    def _matrix(self, X: Any):
        try:
            return to_matrix(X, n_features=self.n_features, feature_names=self.feature_names)
        except ValueError as e:
            raise ValueError(
                f"X does not match the background data ({self.n_features} columns): {e}"
            ) from None

    def _explain(self, X: Any, max_evals: Any, silent: bool, batch_size: Any):
        """Values and standard errors ``(n_rows, n_features, n_outputs)`` of each row of X."""
        matrix = self._matrix(X)
        x = np.ascontiguousarray(matrix.values, dtype=np.float64)
        n_rows = len(x)
        batch = _batch_size(
            None if batch_size == "auto" else batch_size,
            len(self.data),
            self.n_features,
            _BATCH_VALUES,
        )
        seed = self._run_seed()
        per_row = max(1, self._coalitions_per_row(max_evals))
        block_rows = int(max(1, min(_MAX_BLOCK_ROWS, _BLOCK_COALITIONS // per_row)))
        values = np.zeros((n_rows, self.n_features, self._n_outputs))
        errors = np.zeros_like(values)
        buffer = None
        at_x: list[np.ndarray] = []  # the model at x, if checking the trees asked for it

        def own(rows: np.ndarray) -> np.ndarray:
            at_x.append(self._call(rows, "explained rows"))
            return at_x[-1]

        native = native_for_rows(self._native, self.model, self.native, x, own)
        # The trees read missing values as the model does: rows marked for them (both the
        # explained and the background rows, so every masked row is).
        background = self.data if native is None else native.rows(self.data)
        starts = range(0, n_rows, block_rows)
        for start in progress(starts, n_rows, block_rows, self._name, silent):
            block = x[start : start + block_rows]
            rows = block if native is None else native.rows(block)
            job = self._job(rows, background, start, seed, max_evals)
            buffer = evaluate(
                job,
                lambda rows: self._call(rows, "masked data", finite=False),
                self.n_features,
                batch,
                buffer,
                native,
            )
            if at_x:
                fx = at_x[0][start : start + len(block)]
            else:
                fx = self._call(block, "explained rows")
            block_values, block_errors, _, _ = job.finish(fx)
            values[start : start + len(block)] = block_values
            errors[start : start + len(block)] = block_errors
        return values, errors, matrix

    def _explanation(self, values, errors, matrix, with_bounds: bool) -> Explanation:
        n = values.shape[0]
        if self._single:
            values, errors = values[:, :, 0], errors[:, :, 0]
            base = np.full(n, float(self.fnull[0]))
        else:
            base = np.tile(self.fnull, (n, 1))
        names = self.feature_names or matrix.feature_names
        if names is None:
            names = [f"Feature {i}" for i in range(self.n_features)]
        data = np.asarray(matrix.values)
        if matrix.was_1d:
            values, errors, base, data = values[0], errors[0], base[0], data[0]
        bounds = with_bounds and bool(np.any(errors > 0))
        return Explanation(
            values,
            base_values=base,
            data=data,
            feature_names=list(names),
            output_names=self.output_names,
            lower_bounds=values - 1.96 * errors if bounds else None,
            upper_bounds=values + 1.96 * errors if bounds else None,
        )

    def _shapes(self, values: np.ndarray, matrix) -> np.ndarray:
        if self._single:
            values = values[:, :, 0]
        return values[0] if matrix.was_1d else values


def read_masker(explainer: Any, masker: Any, feature_names: Any) -> None:
    """Sets ``masker`` (an ``Independent``), ``data``, ``n_features``, ``feature_names`` and
    the normalised background ``weights`` on ``explainer`` from what the user passed as the
    masker (data, an ``Independent`` masker, or a weighted ``Background``)."""
    if type(masker).__name__ == "Impute":
        raise NotImplementedError(
            f"{type(explainer).__name__} cannot use an Impute masker (shap implements it for "
            "LinearExplainer only); pass the background data or maskers.Independent(data)"
        )
    weights = None
    if isinstance(masker, Background):
        masker, weights = Independent(masker.data, max_samples=len(masker)), masker.weights
    elif not isinstance(masker, Independent):
        masker = Independent(masker)
    explainer.masker = masker
    explainer.data = masker.data
    n_background, explainer.n_features = explainer.data.shape
    names = feature_names if feature_names is not None else masker.feature_names
    if names is not None and len(names) != explainer.n_features:
        raise ValueError(
            f"{len(names)} feature names for {explainer.n_features} features in the background data"
        )
    explainer.feature_names = list(names) if names is not None else None
    w = np.full(n_background, 1.0) if weights is None else np.asarray(weights, dtype=float)
    explainer.weights = w / w.sum()


def model_call(model: Any, masker: Any) -> Any:
    """``model`` as a function of float64 rows; a model fitted on a pandas frame (the masker's
    data was one) is called with frames carrying the masker's column names."""
    f = _model_function(model)
    if getattr(masker, "output_dataframe", False):
        f = _framed(f, masker.feature_names)
    return f
