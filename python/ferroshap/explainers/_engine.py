"""The one driver loop of the model-agnostic estimators.

A ``_core.GameJob`` (Kernel, Permutation or Exact SHAP on a block of explained rows) plans
rounds of coalitions in Rust; this loop fills one reusable buffer with each batch of masked
rows (written in Rust with the GIL released), calls the model on it, hands the outputs back
in order, and asks the job for another round until it has none. Every estimator shares it, so
batching, output checks and the progress bar are written once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ferroshap import _core

__all__ = ["call_model", "evaluate", "progress"]

# A progress bar appears only once a run has taken this long (shap waits too), so short
# calls print nothing.
_PROGRESS_DELAY_S = 5.0


def evaluate(
    job: _core.GameJob,
    call: Callable[[np.ndarray], np.ndarray],
    n_features: int,
    batch: int,
    buffer: np.ndarray | None = None,
    native: Any = None,
    build: Callable[[_core.GameJob, int, int], Any] | None = None,
) -> np.ndarray | None:
    """Evaluates every round of ``job``: masked rows in batches of at most ``batch`` rows,
    through ``call`` (rows -> outputs ``(rows, n_outputs)``, already checked), or, given a
    ``native`` model (``_native.NativeModel``), from its trees in Rust where the round allows.
    Given ``build(job, start, stop)``, the model's input for masked rows ``start..stop`` is
    what it returns (masked strings from ``job.masks``, inpainted images) rather than the
    rows the job writes. Returns the buffer so the caller can reuse it for the next block."""
    while True:
        if native is not None and job.evaluate_tree(native.ensemble, native.output):
            total = 0
        else:
            total = job.n_evaluations
        if build is None and total and (buffer is None or len(buffer) < min(batch, total)):
            buffer = np.empty((min(batch, total), n_features))
        done = 0
        while done < total:
            stop = min(done + batch, total)
            if build is None:
                rows = buffer[: stop - done]
                job.fill_masked_rows(done, rows)
            else:
                rows = build(job, done, stop)
            out = call(rows)
            try:
                job.add_outputs(done, out)
            except ValueError:
                # The job refuses NaN and inf too; name where they are (for calls that left
                # that check to the job), else the job's own error stands.
                _check_outputs(np.asarray(out).reshape(len(out), -1), "masked data", "identity")
                raise
            done = stop
        if not job.next_round():
            return buffer


class _Progress:
    """A tqdm bar over explained rows that appears after a delay; nothing without tqdm."""

    def __init__(self, total: int, desc: str, silent: bool) -> None:
        self._bar = None
        self._pending = 0
        self._start = time.monotonic()
        self._total, self._desc = total, desc
        self._enabled = not silent
        if self._enabled:
            try:
                import tqdm.auto  # noqa: F401
            except ImportError:
                self._enabled = False

    def update(self, n: int) -> None:
        if not self._enabled:
            return
        self._pending += n
        if self._bar is None and time.monotonic() - self._start >= _PROGRESS_DELAY_S:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self._total, desc=self._desc, unit="row")
        if self._bar is not None:
            self._bar.update(self._pending)
            self._pending = 0

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def progress(
    starts: Iterable[int], n_rows: int, block_rows: int, desc: str, silent: bool
) -> Iterator[int]:
    """Yields the block ``starts`` and advances a progress bar over the ``n_rows`` explained
    rows as each block finishes (shown for runs longer than a few seconds when ``tqdm`` is
    installed and ``silent`` is false)."""
    bar = _Progress(n_rows, desc, silent)
    try:
        for start in starts:
            yield start
            bar.update(min(block_rows, n_rows - start))
    finally:
        bar.close()


def call_model(
    f: Callable[[np.ndarray], Any],
    rows: np.ndarray,
    what: str,
    link: str,
    shape: tuple[int, bool] | None,
    finite: bool = True,
) -> np.ndarray:
    """``f(rows)`` as float64, checked: one output row per input row, finite (unless
    ``finite`` is false: outputs that ``evaluate`` hands to a job, which checks them itself),
    probabilities under the logit link, and (given ``shape = (n_outputs, single)``, from the
    background) the same number of outputs as on the background."""
    out = f(rows)
    if hasattr(out, "to_numpy"):
        out = out.to_numpy()
    try:
        out = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"the model's output on the {what} is not numeric: {e}") from None
    if out.ndim == 0 or out.ndim > 2 or out.shape[0] != len(rows):
        raise ValueError(
            f"the model returned an array of shape {out.shape} for {len(rows)} rows of "
            f"{what}; expected ({len(rows)},) or ({len(rows)}, n_outputs)"
        )
    if shape is not None:
        n_outputs, single = shape
        k = 1 if out.ndim == 1 else out.shape[1]
        if k != n_outputs or (out.ndim == 1) != single:
            raise ValueError(
                f"the model returned shape {out.shape} for {len(rows)} rows of {what}, "
                f"but {'one output' if single else f'{n_outputs} outputs'} "
                "per row on the background data"
            )
    if finite or link == "logit":
        _check_outputs(out.reshape(len(rows), -1), what, link)
    return out


def _check_outputs(out: np.ndarray, what: str, link: str) -> None:
    """Refuse outputs ``(n, k)`` that SHAP values cannot be computed from: NaN or infinite
    ones (every value would be NaN), and, with the logit link, ones that are not
    probabilities (their logit is undefined)."""
    finite = np.isfinite(out)
    if not finite.all():
        bad = ~finite
        kind = "NaN" if np.isnan(out).any() else "inf"
        if kind == "NaN" and np.isinf(out).any():
            kind = "NaN and inf"
        raise ValueError(
            f"the model returned {kind} on the {what}: {_where(bad)}; SHAP values need finite "
            "outputs (every value would be NaN)"
        )
    if link == "logit":
        outside = (out < 0.0) | (out > 1.0)
        if outside.any():
            raise ValueError(
                f"link='logit' needs probabilities in [0, 1], but the model returned values "
                f"from {out.min():.6g} to {out.max():.6g} on the {what}: {_where(outside)}; "
                "explain a probability output (predict_proba), or use link='identity'"
            )


def _where(bad: np.ndarray) -> str:
    """'3 of 100 rows (first: row 7), in outputs 0, 2' for a mask ``(n, k)``."""
    rows = np.flatnonzero(bad.any(axis=1))
    text = f"{len(rows)} of {len(bad)} rows (first: row {rows[0]})"
    if bad.shape[1] > 1:
        outputs = np.flatnonzero(bad.any(axis=0))
        text += f", in output{'s' if len(outputs) > 1 else ''} " + ", ".join(map(str, outputs))
    return text
