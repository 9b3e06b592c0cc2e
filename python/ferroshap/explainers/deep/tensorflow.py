"""Keras 3 / TensorFlow back end of DeepExplainer and GradientExplainer.

Models run eagerly under ``tf.GradientTape``; no TensorFlow internals (gradient registry,
sessions, learning-phase flags) are touched. Deep SHAP walks the model's layers with the
rules of :mod:`._keras_rules` on (row, background row) pairs, up to ``batch_size`` a pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ferroshap.explainers.deep import _keras_rules as rules
from ferroshap.explainers.deep._common import split_inputs, warn_fallbacks


class KerasModel:
    """A Keras 3 model (optionally cut at a layer) with its background."""

    layout = "channels_last"

    def __init__(self, model: Any, data: Any) -> None:
        layer = None
        if isinstance(model, tuple):
            if len(model) != 2:
                raise ValueError("model must be a Keras model or a pair (model, layer)")
            model, layer = model
            if not isinstance(layer, keras.layers.Layer):
                raise TypeError(f"the layer of (model, layer) must be a Keras layer, got {layer!r}")
        if keras.backend.backend() != "tensorflow":
            raise ValueError(
                f"Keras runs on the {keras.backend.backend()!r} backend; ferroshap's Keras "
                f"explainers need the TensorFlow backend (KERAS_BACKEND=tensorflow)"
            )
        self.model = model
        self.layer = layer
        self.layer_output = type(layer).__name__ == "Embedding"
        if layer is not None and not rules._walkable(model):
            raise TypeError("(model, layer) needs a Sequential or functional Keras model")
        self.multi_input = isinstance(data, (list, tuple))
        self.dtype = tf.as_dtype(getattr(model, "compute_dtype", None) or "float32")
        self.data = self.inputs(data, "background")
        if int(self.data[0].shape[0]) == 0:
            raise ValueError("the background data has no rows")
        self.n_background = int(self.data[0].shape[0])
        self.bg_explained = self.explained(self.data)
        self.bg_outputs = self.outputs(self.data)
        self.n_outputs = self.bg_outputs.shape[1]
        self.expected_value = self.bg_outputs.mean(0)

    # -- inputs ----------------------------------------------------------------------------

    def inputs(self, X: Any, what: str = "X") -> list[tf.Tensor]:
        reference = getattr(self, "data", None)
        items = split_inputs(X, self.multi_input, what, reference)
        tensors = []
        for i, item in enumerate(items):
            name = what if len(items) == 1 else f"{what}[{i}]"
            array = np.asarray(item.numpy() if isinstance(item, tf.Tensor) else item)
            array = np.asarray(getattr(array, "values", array))
            if array.dtype.kind not in "fiub":
                raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
            if array.ndim == 0:
                raise ValueError(f"{name} must have a row axis, got a scalar")
            if array.dtype.kind == "f":
                array = array.astype(self.dtype.as_numpy_dtype, copy=False)
            elif self.layer is None:
                raise TypeError(
                    f"{name} has dtype {array.dtype}: integer inputs (token ids) have no "
                    f"gradient. Explain the embedding's output: pass (model, embedding_layer)"
                )
            if reference is not None and tuple(array.shape[1:]) != tuple(reference[i].shape[1:]):
                raise ValueError(
                    f"{name} has rows of shape {tuple(array.shape[1:])} but the background's "
                    f"are {tuple(reference[i].shape[1:])}"
                )
            tensors.append(tf.convert_to_tensor(array))
        if len({int(t.shape[0]) for t in tensors}) > 1:
            raise ValueError(f"the inputs of {what} have different numbers of rows")
        return tensors

    @staticmethod
    def numpy(tensors: list[tf.Tensor]) -> list[np.ndarray]:
        return [np.asarray(t) for t in tensors]

    @contextlib.contextmanager
    def prepared(self) -> Iterator[None]:
        # Keras layers run in inference mode unless told otherwise; nothing to switch.
        yield

    # -- running the model -----------------------------------------------------------------

    def _model_input(self, inputs: list[tf.Tensor]) -> Any:
        return inputs if self.multi_input else inputs[0]

    def run(
        self, inputs: list[tf.Tensor], explained: list[tf.Tensor] | None, op_fn: Callable | None
    ) -> tf.Tensor:
        """The model's output ``(n, n_outputs)``; ``op_fn`` runs each layer (None: plain);
        the layer's input (or output) is replaced by ``explained`` when both are set."""
        if explained is None:
            out = self.model(self._model_input(inputs), training=False)
        elif self.layer is None and op_fn is None:
            out = self.model(self._model_input(explained), training=False)
        elif self.layer is None and not rules._walkable(self.model):
            assert op_fn is not None
            op_fn.fallbacks.add(
                f"{type(self.model).__name__} (a subclassed model: no layers to walk)"
            )
            out = rules.lift(
                lambda *a: self.model(list(a) if self.multi_input else a[0], training=False),
                *explained,
            )
        else:
            base = op_fn or _plain
            target = self.layer

            def substituted(op: Any, args: tuple, kwargs: dict) -> Any:
                if op is target:
                    if self.layer_output:
                        return explained[0]
                    return base(op, tuple(explained), kwargs)
                return base(op, args, kwargs)

            model_in = inputs if self.layer is not None else explained
            out = rules.walk(self.model, self._model_input(model_in), substituted)
        if isinstance(out, (list, tuple)):
            raise TypeError("the model must have one output; wrap it to return the one to explain")
        if isinstance(out, rules.Pair):
            return rules.Pair(_as_matrix(out.x), _as_matrix(out.r))
        return _as_matrix(out)

    def explained(self, inputs: list[tf.Tensor], batch_size: int = 4096) -> list[tf.Tensor]:
        if self.layer is None:
            return inputs
        parts = []
        for start in range(0, int(inputs[0].shape[0]), batch_size):
            captured: list[Any] = []

            def grab(op: Any, args: tuple, kwargs: dict, captured: list = captured) -> Any:
                out = _plain(op, args, kwargs)
                if op is self.layer:
                    captured.append([out] if self.layer_output else list(args))
                return out

            rules.walk(
                self.model, self._model_input([t[start : start + batch_size] for t in inputs]), grab
            )
            if len(captured) != 1:
                raise ValueError(f"the layer ran {len(captured)} times; it must run once")
            parts.append([tf.convert_to_tensor(t) for t in captured[0]])
        return [tf.concat([p[i] for p in parts], 0) for i in range(len(parts[0]))]

    def outputs(self, inputs: list[tf.Tensor], batch_size: int = 4096) -> np.ndarray:
        chunks = []
        for start in range(0, int(inputs[0].shape[0]), batch_size):
            batch = [t[start : start + batch_size] for t in inputs]
            chunks.append(np.asarray(self.run(batch, None, None), dtype=np.float64))
        if not chunks:  # no rows to explain
            return np.zeros((0, self.n_outputs))
        return np.concatenate(chunks)

    # -- Deep SHAP -------------------------------------------------------------------------

    def deep(self, X: list[tf.Tensor], ranks: np.ndarray | None, batch_size: int) -> list:
        xe = self.explained(X)
        n, n_bg = int(X[0].shape[0]), self.n_background
        n_cols = self.n_outputs if ranks is None else ranks.shape[1]
        phis = [np.zeros((n, *t.shape[1:], n_cols)) for t in xe]
        chunk = min(n_bg, batch_size)
        layer_rules = rules.LayerRules()
        for c0 in range(0, n_bg, chunk):
            c = min(c0 + chunk, n_bg) - c0
            per_block = max(1, batch_size // c)
            for r0 in range(0, n, per_block):
                r1 = min(r0 + per_block, n)
                b = r1 - r0

                z_in = [_pairs(x[r0:r1], g[c0 : c0 + c]) for x, g in zip(X, self.data, strict=True)]
                z_ex = [
                    _pairs(x[r0:r1], g[c0 : c0 + c])
                    for x, g in zip(xe, self.bg_explained, strict=True)
                ]
                xs = [p.x for p in z_ex]
                # Only the explained rows are recorded: the references need no gradient.
                with tf.GradientTape(persistent=n_cols > 1, watch_accessed_variables=False) as tape:
                    tape.watch(xs)
                    out = self.run(z_in, z_ex, layer_rules).x
                    targets = self._targets(out, ranks, r0, r1, c, n_cols)
                diffs = [p.x - p.r for p in z_ex]
                for j, target in enumerate(targets):
                    grads = tape.gradient(target, xs)
                    for k, (g, d) in enumerate(zip(grads, diffs, strict=True)):
                        if g is None:
                            continue
                        contrib = tf.reduce_sum(tf.reshape(g * d, [b, c, *d.shape[1:]]), 1)
                        phis[k][r0:r1, ..., j] += np.asarray(contrib, dtype=np.float64)
                del tape
        warn_fallbacks(layer_rules.fallbacks, "Keras")
        return [p / n_bg for p in phis]

    @staticmethod
    def _targets(
        out: tf.Tensor, ranks: np.ndarray | None, r0: int, r1: int, c: int, n_cols: int
    ) -> list[tf.Tensor]:
        if ranks is None:
            return [tf.reduce_sum(out[:, j]) for j in range(n_cols)]
        sel = np.repeat(ranks[r0:r1], c, axis=0)
        return [
            tf.reduce_sum(tf.gather(out, sel[:, j], axis=1, batch_dims=1)) for j in range(n_cols)
        ]

    # -- expected gradients ----------------------------------------------------------------

    def gradients(
        self,
        X: list[tf.Tensor],
        ranks: np.ndarray | None,
        draws: tuple[np.ndarray, np.ndarray],
        local_smoothing: float,
        seed: int,
        batch_size: int,
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        xe = self.explained(X)
        rind, alpha = draws
        n, nsamples = rind.shape
        n_cols = self.n_outputs if ranks is None else ranks.shape[1]
        sums = [np.zeros((n, *t.shape[1:], n_cols)) for t in xe]
        squares = [np.zeros_like(s) for s in sums]
        noise = np.random.default_rng(seed)
        row_of = np.repeat(np.arange(n), nsamples)
        flat_rind, flat_alpha = rind.reshape(-1), alpha.reshape(-1)
        for p0 in range(0, n * nsamples, batch_size):
            p1 = min(p0 + batch_size, n * nsamples)
            rows = row_of[p0:p1]
            points, deltas = [], []
            for t, bg in zip(xe, self.bg_explained, strict=True):
                x = tf.gather(t, rows)
                if local_smoothing > 0:
                    x = x + tf.constant(
                        local_smoothing * noise.standard_normal(x.shape), dtype=x.dtype
                    )
                r = tf.gather(bg, flat_rind[p0:p1])
                a = tf.reshape(
                    tf.constant(flat_alpha[p0:p1], dtype=x.dtype), [-1] + [1] * (len(x.shape) - 1)
                )
                points.append(a * x + (1 - a) * r)
                deltas.append(x - r)
            x_in = [tf.gather(t, rows) for t in X]
            with tf.GradientTape(persistent=n_cols > 1) as tape:
                tape.watch(points)
                out = self.run(x_in, points, None)
                targets = self._targets(
                    out, None if ranks is None else ranks[rows], 0, p1 - p0, 1, n_cols
                )
            for j, target in enumerate(targets):
                grads = tape.gradient(target, points)
                for k, (g, d) in enumerate(zip(grads, deltas, strict=True)):
                    if g is None:
                        continue
                    samples = np.asarray(g * d, dtype=np.float64)
                    _add_rows(sums[k][..., j], rows, samples)
                    _add_rows(squares[k][..., j], rows, samples**2)
            del tape
        means = [s / nsamples for s in sums]
        ddof = 1 if nsamples > 1 else 0
        variances = [
            np.maximum(q - nsamples * m**2, 0) / (nsamples - ddof)
            for q, m in zip(squares, means, strict=True)
        ]
        return means, variances


def _pairs(rows: tf.Tensor, background: tf.Tensor) -> rules.Pair:
    """Every (row, background row) pair, rows major: each row repeated, the background tiled."""
    c, b = int(background.shape[0]), int(rows.shape[0])
    xs = tf.repeat(rows, c, axis=0)
    rs = tf.tile(background, [b] + [1] * (len(background.shape) - 1))
    return rules.Pair(xs, rs)


def _as_matrix(out: tf.Tensor) -> tf.Tensor:
    if len(out.shape) == 1:
        out = out[:, None]
    if len(out.shape) != 2:
        raise ValueError(f"the model's output must be (n,) or (n, n_outputs), got {out.shape}")
    return out


def _add_rows(target: np.ndarray, rows: np.ndarray, samples: np.ndarray) -> None:
    # Rows arrive in contiguous runs (row-major draws): sum each run at once.
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    target[rows[starts]] += np.add.reduceat(samples, starts, axis=0)


def _plain(op: Any, args: tuple, kwargs: dict) -> Any:
    if isinstance(op, keras.layers.Layer):
        return rules._call(op, args, {k: v for k, v in kwargs.items() if k != "training"})
    return op(*args, **kwargs)
