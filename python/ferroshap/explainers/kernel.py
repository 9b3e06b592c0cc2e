"""KernelExplainer: model-agnostic Kernel SHAP with shap's estimator, computed in Rust.

The Rust core plans each row's coalitions, writes the masked rows (the explained row's values
on a coalition, a background row's elsewhere) into large batches and solves the regressions,
all with the GIL released; Python only calls the model, once per batch.
"""

from __future__ import annotations

import re
import secrets
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ferroshap import _core
from ferroshap.explainers._background import Background, kmeans, sample
from ferroshap.explainers._engine import call_model, evaluate, progress
from ferroshap.explainers._kernel_inputs import KernelInputs, indexed_values
from ferroshap.explainers._native import choose_native, native_for_rows
from ferroshap.explainers._saving import SaveLoad
from ferroshap.explainers.tree import _default_memory_limit
from ferroshap.explanation import Explanation

__all__ = ["Background", "KernelExplainer", "kmeans", "sample"]

_LINKS = ("identity", "logit")
_NUM_FEATURES = re.compile(r"num_features\((\d+)\)")
# Rows of model input per call by default: 4 MiB of float64 (43,690 rows at 12 features),
# large enough to amortise per-call overhead, small enough to stay in cache for the model.
_BATCH_VALUES = 1 << 19
# Explained rows planned together (the progress bar advances per block).
_BLOCK_ROWS = 64


class KernelExplainer(SaveLoad):
    """Kernel SHAP values for any model, with shap's estimator, a seed and better sampling.

    A drop-in for ``shap.KernelExplainer``: the same coalition design where coalitions are
    enumerated (sizes from the outside in while the budget allows), the rest sampled in
    complementary pairs, the same efficiency-constrained weighted least squares, the same
    links and shapes. When every coalition is enumerated (``nsamples="auto"`` with up to 11
    varying features, or a budget of at least ``2**M - 2``) the values are the exact Shapley
    values of the background-averaged model and equal shap's with ``l1_reg=False``.

    Differences from shap, all deliberate:

    - ``seed``: sampled designs draw from a random stream per explained row keyed by
      ``(seed, row)``, so results are reproducible and independent of the thread count.
      NumPy's global random state is never touched.
    - ``l1_reg`` defaults to ``False`` (no feature selection). shap's default
      ``"num_features(10)"`` zeroes all but 10 features even when every coalition was
      enumerated, and leaves a bias floor in sampled mode; the plain regression is exact in
      the first case and consistent in the second. Every shap ``l1_reg`` option is
      available when asked for.
    - A singular or ill-conditioned regression (condition number above 1e12) is solved by
      minimum-norm least squares and reported with a warning, where shap can silently
      return values of 1e14.
    - The coalitions that are not enumerated are sampled stratified by size, without
      replacement (``sampling="stratified"``, see :meth:`shap_values`): about 1.7x lower
      error than shap's scheme per model call. ``sampling="shap"`` gives shap's scheme.
    - Tree models and their prediction methods are evaluated from their trees in Rust
      (``native``), after checking that the trees reproduce the model's outputs.
    - Unknown keyword arguments raise ``TypeError`` instead of being ignored; ``nsamples``
      and ``l1_reg`` given to the constructor are the defaults of every call (shap ignores
      them there).
    - A model fitted on a DataFrame (one with ``feature_names_in_``, e.g. a scikit-learn
      pipeline) receives DataFrames with its column names, and a DataFrame ``X`` is matched
      to the background's columns by name (see ``docs/compatibility.md``).

    Parameters
    ----------
    model
        A function from a 2-D float array ``(n, n_features)`` to outputs ``(n,)`` or
        ``(n, n_outputs)``; or an object with ``predict_proba`` (used when present) or
        ``predict``; or a ``ferroshap._core.TreeEnsemble`` (its margin is explained and the
        whole loop, model evaluations included, runs in Rust in parallel; see ``native`` for
        tree models of other libraries).
    data
        Background rows, ``(n_background, n_features)``: numpy (numbers, or objects and
        strings), pandas, polars, pyarrow, a scipy sparse matrix (the model then receives
        CSR matrices) or :func:`kmeans` weighted rows. Missing features are filled from these
        rows; keep them few (shap suggests at most 100), as the model is evaluated on every
        background row for every coalition. Non-numeric columns are masked by equality
        (shap's ``not_equal``) and reach the model as their original values.
    link
        ``"identity"`` or ``"logit"`` (values on the log-odds scale of the model's
        probabilities; the logit is taken of the mean probability over background rows).
        With ``"logit"`` an output outside [0, 1] raises ``ValueError``, as does a NaN or
        infinite output with either link (saying how many rows and which outputs).
    feature_names
        Names of the features; by default the data frame's columns.
    seed, random_state
        Seed of the coalition sampling (two names for it); ``None`` draws fresh randomness
        on every call.
    native
        ``"auto"`` (default): when ``model`` is a tree model ferroshap converts exactly
        (XGBoost, LightGBM, scikit-learn trees, forests, gradient boosting and histogram
        gradient boosting), or its bound ``predict``, ``predict_proba`` or
        ``decision_function``, the masked rows are evaluated in Rust from the converted
        ensemble (the same output: margin, probabilities through the sigmoid or softmax, or
        ``exp`` for log-link regressors) instead of by calling the model: much faster, and
        the same values up to rounding. It is used only after checking that the converted
        ensemble reproduces the model's own output on the background rows and on the rows
        being explained to within ``1e-6`` of the output scale; otherwise the model is called,
        silently. ``False`` always calls the model; ``True`` requires the native path and
        raises ``ValueError`` when it cannot be used. ``native_model`` tells which was chosen
        at construction (the converted ensemble, or ``None``).
    nsamples, l1_reg
        Defaults of :meth:`shap_values` and ``__call__`` (see there).
    keep_index, keep_index_ordered
        shap's options for models that read a DataFrame's index: with ``keep_index=True``
        (``data`` a DataFrame) the model receives DataFrames with the background's columns,
        each masked row indexed by its background row's index and each explained row by its
        own; ``keep_index_ordered=True`` also sorts the rows by index before the call (and
        puts the outputs back in order). ``shap_values`` of a DataFrame then returns a
        DataFrame indexed like it (issue 17; shap returns arrays).

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> f = lambda X: X[:, 0] * 2.0 + X[:, 1] * X[:, 2]
    >>> background = np.zeros((1, 3))
    >>> explainer = ferroshap.KernelExplainer(f, background)
    >>> explainer.shap_values(np.array([[1.0, 2.0, 3.0]]), silent=True)
    array([[2., 3., 3.]])
    """

    def __init__(
        self,
        model: Any,
        data: Any,
        link: str = "identity",
        feature_names: list[str] | None = None,
        seed: int | None = None,
        native: bool | str = "auto",
        *,
        nsamples: int | str = "auto",
        l1_reg: Any = False,
        random_state: int | None = None,
        keep_index: bool = False,
        keep_index_ordered: bool = False,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        link = _link_name(link)
        seed = _seed(seed, random_state)
        if native not in ("auto", True, False):
            raise ValueError(f"native must be 'auto', True or False, got {native!r}")
        # Validated now, used as the defaults of shap_values and __call__.
        _budget(nsamples)
        _selection(l1_reg)
        self.nsamples = nsamples
        self.l1_reg = l1_reg
        self.model = model
        self.native = native
        self.link = link
        self.seed = None if seed is None else int(seed) % (1 << 64)
        self.keep_index = bool(keep_index)
        self.keep_index_ordered = bool(keep_index_ordered)
        self._f = _model_function(model)
        weights = None
        if isinstance(data, Background):
            data, weights = data.data, data.weights
        self._inputs = KernelInputs(data, model, self.keep_index, self.keep_index_ordered)
        self.data = self._inputs.background
        n_background, self.n_features = self.data.shape
        if n_background == 0:
            raise ValueError("the background data has no rows")
        names = feature_names if feature_names is not None else self._inputs.columns
        if names is not None and len(names) != self.n_features:
            raise ValueError(
                f"{len(names)} feature names for {self.n_features} features in the background data"
            )
        self.feature_names = list(names) if names is not None else None
        #: shap's name for the feature names (what ``__call__`` labels array rows with).
        self.data_feature_names = self.feature_names
        if weights is None:
            self.weights = np.full(n_background, 1.0 / n_background)
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != (n_background,) or not np.all(np.isfinite(w)) or np.any(w < 0):
                raise ValueError("background weights must be one non-negative float per row")
            self.weights = w / w.sum()
        null = self._call(self.data, "background data", index=self._inputs.index)
        self._single = null.ndim == 1
        outputs = null.reshape(n_background, -1)
        self._n_outputs = outputs.shape[1]
        self.fnull = self.weights @ outputs
        if self._inputs.codes and not isinstance(model, _core.TreeEnsemble):
            # Non-numeric columns are coded for masking: the trees never saw those codes.
            if native is True:
                raise ValueError(
                    "native=True, but the native path cannot be used: the data has "
                    "non-numeric columns"
                )
            self._native = None
        else:
            self._native = choose_native(model, native, self.data, outputs)
        #: The converted tree ensemble evaluated in Rust instead of calling the model, or None.
        self.native_model = None if self._native is None else self._native.ensemble
        ev = _link(self.fnull, link)
        self.expected_value: float | np.ndarray = float(ev[0]) if self._single else ev

    def _call(self, rows: np.ndarray, what: str, offset: int = 0, index: Any = None) -> np.ndarray:
        """The model's outputs on engine rows ``rows``, checked: masked data starting at
        evaluation ``offset`` (for the background index of keep_index), or rows with
        ``index``."""
        if self._inputs.keep_index and index is None:
            index = self._inputs.background_index(offset, len(rows))
        shape = (self._n_outputs, self._single) if hasattr(self, "_n_outputs") else None
        return call_model(
            lambda r: self._inputs.call(self._f, r, index), rows, what, self.link, shape
        )

    def __getstate__(self) -> dict[str, Any]:
        # The model is pickled as the user gave it (it must be picklable, as for shap); the
        # function built from it may be a closure, so it is rebuilt on unpickling. A native
        # tree ensemble pickles as its compact bytes.
        state = self.__dict__.copy()
        del state["_f"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._f = _model_function(self.model)

    def shap_values(
        self,
        X: Any,
        nsamples: int | str | None = None,
        l1_reg: Any = None,
        silent: bool = False,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Kernel SHAP values of each row of ``X``.

        Parameters
        ----------
        X
            Rows to explain, ``(n_rows, n_features)`` or one row ``(n_features,)``; numpy,
            pandas or polars, with the background's columns.
        nsamples
            Coalitions per row: ``"auto"`` is ``2 * M + 2048`` (``M`` the features that differ
            from the background in that row), clipped to all ``2**M - 2``.
        l1_reg
            Feature selection: ``False`` or ``0`` (the default; none).
            ``"num_features(k)"`` keeps the first ``k`` features to enter the least angle
            regression path of shap's augmented problem (as shap does with scikit-learn's
            ``lars_path``) and solves over those. ``"auto"`` follows shap (no selection when
            at least 20% of the coalitions are evaluated, else ``"aic"``). A positive float
            keeps the features with nonzero coefficients in scikit-learn's ``Lasso(alpha)``
            fit of that problem; ``"aic"`` / ``"bic"`` those of ``LassoLarsIC`` after
            standardising the columns. All run in Rust, following scikit-learn's algorithms
            (scikit-learn is not needed).
        silent
            Hide the progress bar (shown over blocks of rows when ``tqdm`` is installed).
        sampling (keyword argument)
            How the coalitions beyond the completely enumerated sizes are chosen.
            ``"stratified"`` (default): each remaining coalition size gets a fixed share of
            the budget (in proportion to the square root of its kernel weight), spent on
            distinct complementary pairs drawn without replacement; lower error per model call
            than shap's scheme at every budget measured (benches/RESULTS.md). ``"shap"``:
            shap's scheme (sizes drawn at random with the kernel's probabilities, with
            replacement, duplicates merged), for comparison. Designs that enumerate every
            coalition are the same either way.
        tol, max_nsamples (keyword arguments)
            Optional stopping rule (Covert & Lee 2021): rows whose largest standard error
            exceeds ``tol`` times the range of their values are explained again with twice
            the coalitions, until the rule holds, every coalition is enumerated, or the budget
            would pass ``max_nsamples`` (default 65,536). ``tol=0.01`` is their choice.
        batch_size
            Rows of model input per model call (default ``2**19 // n_features``, about
            4 MiB); memory use is about ``batch_size * n_features * 8`` bytes.

        Returns
        -------
        numpy.ndarray or pandas object
            ``(n_rows, n_features)`` for single-output models, ``(n_rows, n_features,
            n_outputs)`` otherwise (shap >= 0.45 shapes); without the first axis for one row.
            With ``keep_index=True`` and a pandas ``X``, pandas output indexed like ``X``
            (see :func:`~ferroshap.explainers._kernel_inputs.indexed_values`).
        """
        values = self._array_values(X, nsamples, l1_reg, silent, batch_size, kwargs)
        return indexed_values(values, X) if self.keep_index else values

    def _array_values(self, X, nsamples, l1_reg, silent, batch_size, kwargs) -> np.ndarray:
        kwargs.pop("gc_collect", None)  # shap's memory option: nothing to collect here
        # Standard errors are read only by the stopping rule here: skip their cost (about
        # that of the regression itself on wide rows) otherwise.
        want_errors = kwargs.get("tol") is not None
        values, _, rows = self._explain(
            X, nsamples, l1_reg, silent, batch_size, kwargs, want_errors=want_errors
        )
        if self._single:
            values = values[:, :, 0]
        return values[0] if rows.was_1d else values

    def explain(self, x: Any, **kwargs: Any) -> np.ndarray:
        """shap's one-row call: the values of the row ``x`` (``(n_features,)`` or ``(1,
        n_features)``), shape ``(n_features,)`` or ``(n_features, n_outputs)``. Keyword
        arguments as for :meth:`shap_values`."""
        silent = kwargs.pop("silent", True)
        values = self._array_values(
            x,
            kwargs.pop("nsamples", None),
            kwargs.pop("l1_reg", None),
            silent,
            kwargs.pop("batch_size", None),
            kwargs,
        )
        if np.ndim(values) == (1 if self._single else 2):
            return values
        if len(values) != 1:
            raise ValueError(f"explain takes one row, got {len(values)}; use shap_values")
        return values[0]

    @staticmethod
    def not_equal(i: Any, j: Any) -> int:
        """shap's test of whether a feature value differs from a background value: 1 or 0.
        Numbers compare with ``numpy.isclose`` (NaN equals NaN); anything else with ``==``.

        Examples
        --------
        >>> KernelExplainer.not_equal(1.0, 1.0 + 1e-12), KernelExplainer.not_equal("a", "b")
        (0, 1)
        """
        numbers = (int, float, np.number)
        if isinstance(i, numbers) and isinstance(j, numbers):
            return 0 if np.isclose(i, j, equal_nan=True) else 1
        return 0 if i == j else 1

    def __call__(
        self,
        X: Any,
        l1_reg: Any = None,
        silent: bool = False,
        nsamples: int | str | None = None,
        batch_size: int | None = None,
        tol: float | None = None,
        max_nsamples: int = 1 << 16,
        sampling: str = "stratified",
    ) -> Explanation:
        """Explain ``X`` and return an :class:`~ferroshap.Explanation`.

        When coalitions were sampled, ``lower_bounds`` / ``upper_bounds`` hold approximate
        95% intervals, ``values ± 1.96 × standard error``: the standard error of each value
        is a sandwich estimate over the sampled coalition pairs (Covert & Lee 2021); it is 0
        for values from an exhaustive design, and conditional on the selected features when
        ``l1_reg`` selects.
        """
        values, errors, rows = self._explain(
            X,
            nsamples,
            l1_reg,
            silent,
            batch_size,
            {"tol": tol, "max_nsamples": max_nsamples, "sampling": sampling},
        )
        n = values.shape[0]
        if self._single:
            values, errors = values[:, :, 0], errors[:, :, 0]
            base = np.full(n, float(self.expected_value))
        else:
            base = np.tile(np.asarray(self.expected_value), (n, 1))
        # As shap: a frame's own columns, else the explainer's names.
        names = rows.names or self.feature_names
        if names is None:
            names = [f"Feature {i}" for i in range(self.n_features)]
        data = rows.data
        if rows.was_1d:
            values, errors, base = values[0], errors[0], base[0]
        sampled = bool(np.any(errors > 0))
        return Explanation(
            values,
            base_values=base,
            data=data,
            feature_names=list(names),
            lower_bounds=values - 1.96 * errors if sampled else None,
            upper_bounds=values + 1.96 * errors if sampled else None,
        )

    def _explain(self, X, nsamples, l1_reg, silent, batch_size, kwargs, want_errors=True):
        tol = kwargs.pop("tol", None)
        max_nsamples = kwargs.pop("max_nsamples", 1 << 16)
        sampling = kwargs.pop("sampling", "stratified")
        if sampling not in ("stratified", "shap"):
            raise ValueError(f"sampling must be 'stratified' or 'shap', got {sampling!r}")
        if kwargs:
            raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        if tol is not None and not (isinstance(tol, (float, int)) and 0 < tol < 1):
            raise ValueError(f"tol must be a float in (0, 1) or None, got {tol!r}")
        budget = _budget(self.nsamples if nsamples is None else nsamples)
        selection = _selection(self.l1_reg if l1_reg is None else l1_reg)
        batch = _batch_size(batch_size, len(self.data), self.n_features)
        try:
            read = self._inputs.rows(X, self._inputs.columns)
        except ValueError as e:
            # The "model" here is the background data: X must have its columns.
            names = self.feature_names or []
            shown = ", ".join(map(str, names[:5])) + (", ..." if len(names) > 5 else "")
            raise ValueError(
                f"X does not match the background data ({self.n_features} columns"
                + (f": {shown}" if shown else "")
                + f"): {e}"
            ) from None
        self._explained_index = read.index
        x = read.values
        seed = self.seed if self.seed is not None else secrets.randbits(64)
        native = native_for_rows(
            self._native,
            self.model,
            self.native,
            x,
            lambda rows: self._call(
                rows, "explained rows", index=self._row_index(0, len(rows))
            ).reshape(len(rows), -1),
        )
        values, errors, ill = self._estimate(
            x, budget, selection, seed, batch, silent, native, sampling, want_errors
        )
        if tol is not None:
            # Covert & Lee's stopping rule: double the budget of the rows whose largest
            # standard error exceeds tol times the range of their values, until it holds,
            # every coalition is enumerated, or max_nsamples is reached.
            current = budget if budget is not None else 2 * self.n_features + 2048
            for round_ in range(1, 64):
                spread = values.max(axis=1) - values.min(axis=1)
                unsettled = np.any(errors.max(axis=1) > tol * spread, axis=1)
                current *= 2
                if not unsettled.any() or current > max_nsamples:
                    break
                rows = np.flatnonzero(unsettled)
                round_seed = (seed + round_ * 0x9E3779B97F4A7C15) % (1 << 64)
                if read.index is not None:
                    self._explained_index = read.index[rows]
                v, e, i = self._estimate(
                    x[rows], current, selection, round_seed, batch, True, native, sampling, True
                )
                values[rows], errors[rows] = v, e
                ill = sorted(set(ill) - set(rows.tolist()) | {int(rows[j]) for j in i})
        _warn_ill_conditioned(ill)
        self._explained_index = None
        if read.order is not None:
            values, errors = values[:, read.order], errors[:, read.order]
        return values, errors, read

    def _row_index(self, start: int, n: int) -> Any:
        """The index of explained rows ``start .. start + n`` (keep_index), else None."""
        index = getattr(self, "_explained_index", None)
        if not self._inputs.keep_index or index is None:
            return None
        return index[start : start + n]

    def _rows_per_block(self, budget: int | None, selection: Any, n_rows: int) -> int:
        """Rows planned at once, so that their coalition designs and the regressions running
        in parallel fit in half the physical memory; a MemoryError, before anything is
        allocated, when one row alone would not fit."""
        m, k = self.n_features, self._n_outputs
        coalitions = budget if budget is not None else 2 * m + 2048
        if m < 62:
            coalitions = min(coalitions, 2**m)  # a design never exceeds every coalition
        # Per coalition of a planned row: its mask, weight and draw count, and its outputs.
        plan = coalitions * (m + 16 + 8 * k)
        # Per row being solved: the per-unit contributions of the standard errors, centred and
        # solved (three arrays of half the coalitions), the feature-selection problem's two
        # rows per coalition, and the normal equations and their factors.
        solve = coalitions * m * (12 + (16 if selection is not None else 0)) + 24 * m * m
        limit = _default_memory_limit()
        if plan + solve > limit:
            raise MemoryError(
                f"Kernel SHAP with nsamples={coalitions} on {m} features needs about "
                f"{(plan + solve) / 2**30:.1f} GiB per explained row, more than the "
                f"{limit / 2**30:.1f} GiB allowed (half the physical memory); "
                "use a smaller nsamples"
            )
        # As many rows may be solved at once as a block has (not the cores: the blocks, and
        # so the values, must not depend on the machine's thread count).
        solving = min(n_rows, _BLOCK_ROWS)
        room = max(limit - solving * solve, plan)
        return int(max(1, min(_BLOCK_ROWS, room // plan)))

    def _estimate(
        self, x, budget, selection, seed, batch, silent, native, sampling, want_errors=True
    ):
        """Values, standard errors (zeros unless ``want_errors``) and ill-conditioned rows for
        the rows of ``x``."""
        n_rows = x.shape[0]
        block_rows = self._rows_per_block(budget, selection, n_rows)
        if native is not None:
            # The whole loop in Rust: the game is evaluated from the trees themselves, in
            # blocks of rows whose designs fit the memory budget (each row keeps its seed).
            # Masked rows mix x and the background, so marking both marks every one.
            parts = [
                _core.kernel_shap_tree_ensemble(
                    native.ensemble,
                    native.rows(x[start : start + block_rows]),
                    native.rows(self.data),
                    self.weights,
                    output=native.output,
                    link=self.link,
                    nsamples=budget,
                    seed=seed,
                    num_features=_option(selection, "num_features"),
                    lasso_alpha=_option(selection, "alpha"),
                    criterion=_option(selection, "criterion"),
                    sampling=sampling,
                    row_offset=start,
                    standard_errors=want_errors,
                )
                for start in range(0, max(n_rows, 1), block_rows)
            ]
            ill = [
                start + int(i)
                for start, part in zip(range(0, n_rows, block_rows), parts, strict=False)
                for i in part[3]
            ]
            return (
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                ill,
            )
        values = np.zeros((n_rows, self.n_features, self._n_outputs))
        errors = np.zeros_like(values)
        buffer = None
        ill: list[int] = []
        starts = range(0, n_rows, block_rows)
        for start in progress(starts, n_rows, block_rows, "Kernel SHAP", silent):
            block = x[start : start + block_rows]
            job = _core.GameJob.kernel(
                block,
                self.data,
                self.weights,
                self.fnull,
                link=self.link,
                nsamples=budget,
                seed=seed,
                row_offset=start,
                num_features=_option(selection, "num_features"),
                lasso_alpha=_option(selection, "alpha"),
                criterion=_option(selection, "criterion"),
                sampling=sampling,
                standard_errors=want_errors,
            )
            fx = self._call(block, "explained rows", index=self._row_index(start, len(block)))
            fx = fx.reshape(len(block), -1)
            # Kernel SHAP has one round: masked rows arrive in order, from evaluation 0.
            done = [0]

            def masked(rows, done=done):
                out = self._call(rows, "masked data", offset=done[0])
                done[0] += len(rows)
                return out.reshape(len(rows), -1)

            buffer = evaluate(job, masked, self.n_features, batch, buffer)
            block_values, block_errors, _, block_ill = job.finish(fx)
            values[start : start + len(block)] = block_values
            errors[start : start + len(block)] = block_errors
            ill.extend(start + i for i in block_ill)
        return values, errors, ill


def _link_name(link: Any) -> str:
    """shap's links by name, or shap's link objects (``shap.links.logit`` and friends) by
    their function's name."""
    name = link if isinstance(link, str) else getattr(link, "__name__", None)
    if name not in _LINKS:
        raise ValueError(f"link must be 'identity' or 'logit', got {link!r}")
    return name


def _seed(seed: Any, random_state: Any) -> int | None:
    """``seed``, or shap's other name for it, ``random_state``."""
    if random_state is not None:
        if seed is not None and seed != random_state:
            raise ValueError(
                f"seed={seed!r} and random_state={random_state!r} disagree; pass one of them"
            )
        seed = random_state
    if seed is not None and (
        not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0
    ):
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    return seed


def _warn_ill_conditioned(ill: list[int]) -> None:
    if not ill:
        return
    shown = ", ".join(map(str, ill[:10])) + (", ..." if len(ill) > 10 else "")
    warnings.warn(
        f"the Kernel SHAP regression was singular or ill-conditioned for {len(ill)} "
        f"row(s) ({shown}); minimum-norm least-squares values were returned. Increase "
        "nsamples for more reliable values.",
        RuntimeWarning,
        stacklevel=4,
    )


def _model_function(model: Any) -> Callable[[np.ndarray], Any]:
    if isinstance(model, _core.TreeEnsemble):
        if model.n_outputs == 1:
            return lambda X: model.predict_margin(X)[:, 0]
        return model.predict_margin
    for name in ("predict_proba", "predict"):
        method = getattr(model, name, None)
        if callable(method):
            return method
    if callable(model):
        return model
    raise TypeError(
        "model must be a function of a 2-D array, or an object with predict_proba or predict; "
        f"got {type(model).__name__}"
    )


def _link(p: np.ndarray, link: str) -> np.ndarray:
    if link == "identity":
        return np.asarray(p, dtype=np.float64)
    q = np.clip(p, 1e-15, 1 - 1e-15)
    return np.log(q / (1 - q))


def _budget(nsamples: Any) -> int | None:
    if isinstance(nsamples, str) and nsamples == "auto":
        return None
    if isinstance(nsamples, (int, np.integer)) and not isinstance(nsamples, bool):
        if nsamples < 1:
            raise ValueError(f"nsamples must be positive, got {nsamples}")
        return int(nsamples)
    raise ValueError(f"nsamples must be 'auto' or a positive int, got {nsamples!r}")


def _selection(l1_reg: Any) -> tuple[str, Any] | None:
    """Validates ``l1_reg``: None (no selection), ``("num_features", k)``, ``("alpha", a)``
    or ``("criterion", "aic" | "bic" | "auto")``."""
    if l1_reg is False or (
        isinstance(l1_reg, (int, float, np.number)) and not isinstance(l1_reg, bool) and l1_reg == 0
    ):
        return None
    if isinstance(l1_reg, str):
        if l1_reg in ("aic", "bic", "auto"):
            return ("criterion", l1_reg)
        m = _NUM_FEATURES.fullmatch(l1_reg)
        if m and int(m.group(1)) >= 1:
            return ("num_features", int(m.group(1)))
    elif (
        isinstance(l1_reg, (float, np.floating, int, np.integer))
        and not isinstance(l1_reg, bool)
        and np.isfinite(l1_reg)
        and l1_reg > 0
    ):
        return ("alpha", float(l1_reg))
    raise ValueError(
        f"l1_reg={l1_reg!r} is not understood; expected False, 0, 'auto', 'aic', 'bic', "
        "'num_features(k)' with an integer k >= 1, or a positive float alpha"
    )


def _option(selection: tuple[str, Any] | None, kind: str) -> Any:
    if selection is not None and selection[0] == kind:
        return selection[1]
    return None


def _batch_size(
    batch_size: Any, n_background: int, n_features: int, values: int = _BATCH_VALUES
) -> int:
    if batch_size is None:
        return max(n_background, values // max(n_features, 1))
    if (
        not isinstance(batch_size, (int, np.integer))
        or isinstance(batch_size, bool)
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return int(batch_size)
