"""DeepLIFT rules for Keras 3 (TensorFlow backend), applied layer by layer.

The model's graph is walked layer by layer (a Sequential's layers in order; a functional
model's nodes through Keras's own graph runner) on :class:`Pair` values: the explained rows
``x``, recorded by the gradient tape, and their paired reference rows ``r``, computed beside
them but never recorded, so the backward passes cover the explained rows only. A layer's
activation (``Dense(..., activation="relu")``) is split off and given a rule; linear layers
keep their gradient.
The rules are those of :mod:`._torch_rules`, written with ``tf.custom_gradient``: rescale
for elementwise activations, the shared-shift decomposition for softmax, the bilinear
Shapley split for ``Multiply`` and attention's products, layer norm decomposed, the
cross-max rule for ``MaxPooling2D``. Layers with no rule (LSTM, GRU, ...) keep their gradient
and are named in one warning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

EPS = 1e-6

# Layers whose output is linear in their input (in inference), or that only move values.
LINEAR_LAYERS = {
    "InputLayer", "Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose",
    "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D",
    "SeparableConv1D", "SeparableConv2D", "Flatten", "Reshape", "Permute", "RepeatVector",
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout",
    "GaussianDropout", "GaussianNoise", "ActivityRegularization", "Add", "Subtract", "Average",
    "Concatenate", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "BatchNormalization", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D",
    "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D", "Rescaling",
    "Normalization", "Identity", "Embedding", "Masking",
}  # fmt: skip
# Keras ops (functional-API calls such as keras.ops.add) that are linear.
LINEAR_OPS = {
    "Add", "Subtract", "Negative", "Reshape", "Transpose", "Concatenate", "Mean", "Sum",
    "ExpandDims", "Squeeze", "GetItem", "Flatten", "Stack", "Tile", "Repeat", "Pad", "Cast",
    "MoveAxis", "SwapAxes", "Split", "Take", "Cumsum",
}  # fmt: skip
_ACTIVATIONS = {
    "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "glu_free", "silu", "swish",
    "mish", "sigmoid", "hard_sigmoid", "hard_silu", "hard_swish", "tanh", "hard_tanh",
    "softplus", "softsign", "exponential", "exp", "log", "sqrt", "rsqrt", "square", "abs",
    "log_sigmoid", "tanh_shrink", "soft_shrink", "hard_shrink", "squareplus", "sparse_plus",
    "erf", "threshold",
}  # fmt: skip
_ELEMENTWISE_LAYERS = {"ReLU", "LeakyReLU", "ELU", "PReLU", "ThresholdedReLU"}
_ELEMENTWISE_OPS = {
    "Relu", "Relu6", "LeakyRelu", "Elu", "Selu", "Celu", "Gelu", "Silu", "Mish", "Sigmoid",
    "HardSigmoid", "HardSilu", "Tanh", "Softplus", "Softsign", "Exp", "Log", "Log1p", "Sqrt",
    "Rsqrt", "Square", "Abs", "Erf", "Power", "Clip", "LogSigmoid", "Expm1",
}  # fmt: skip


class Pair:
    """A tensor of explained rows ``x`` (recorded by the tape) and its paired reference rows
    ``r`` (same shape, not recorded: no gradient is ever taken through them). Not a tuple,
    so Keras's graph runner passes it between layers as one value."""

    __slots__ = ("r", "x")

    def __init__(self, x: tf.Tensor, r: tf.Tensor) -> None:
        self.x, self.r = x, r


def side(obj: Any, name: str) -> Any:
    """``obj`` with every Pair replaced by its ``x`` or ``r`` tensor."""
    if isinstance(obj, Pair):
        return getattr(obj, name)
    if isinstance(obj, (list, tuple)):
        return type(obj)(side(o, name) for o in obj)
    if isinstance(obj, dict):
        return {k: side(v, name) for k, v in obj.items()}
    return obj


def lift(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """A function without a rule (linear, or a fallback) applied to each side."""
    x = fn(*side(args, "x"), **side(kwargs, "x"))
    r = fn(*side(args, "r"), **side(kwargs, "r"))
    if isinstance(x, (list, tuple)):
        return type(x)(Pair(a, b) for a, b in zip(x, r, strict=True))
    return Pair(x, r)


def rescale(f: Callable, p: Pair) -> Pair:
    """Elementwise ``f`` with the multiplier ``Delta f / Delta x`` (the gradient where
    ``|Delta x| <= 1e-6``)."""
    r = p.r
    fr = f(r)

    @tf.custom_gradient
    def inner(x: tf.Tensor) -> Any:
        y = f(x)
        dx = x - r
        near = (tf.abs(dx) <= EPS) | tf.equal(x, r)  # equal infinities: masked scores
        m = (y - fr) / tf.where(near, tf.ones_like(dx), dx)
        if bool(tf.reduce_any(near)):
            with tf.GradientTape() as tape:
                tape.watch(x)
                fx = f(x)
            m = tf.where(near, tape.gradient(fx, x), m)

        def grad(g: tf.Tensor) -> tf.Tensor:
            return g * m

        return y, grad

    return Pair(inner(p.x), fr)


def _surrogate(value_fn: Callable, surrogate_fn: Callable, *xs: tf.Tensor) -> tf.Tensor:
    """``value_fn(*xs)`` whose gradient is that of the (linear) ``surrogate_fn(*xs)``."""

    @tf.custom_gradient
    def inner(*xs: tf.Tensor) -> Any:
        def grad(g: tf.Tensor) -> Any:
            with tf.GradientTape() as tape:
                tape.watch(xs)
                s = surrogate_fn(*xs)
            return tape.gradient(s, xs, output_gradients=g)

        return value_fn(*xs), grad

    return inner(*xs)


def bilinear(f: Callable, a: Pair, b: Pair) -> Pair:
    """``f(a, b)`` for ``f`` linear in each argument: ``Delta a * mean(b) + mean(a) * Delta b``."""
    abar = tf.stop_gradient((a.x + a.r) / 2)
    bbar = tf.stop_gradient((b.x + b.r) / 2)
    y = _surrogate(f, lambda p, q: f(p, bbar) + f(abar, q), a.x, b.x)
    return Pair(y, f(a.r, b.r))


def divide(a: Pair, b: Pair) -> Pair:
    """``a / b`` with the Shapley split of the two inputs (exact)."""
    bx, br = tf.stop_gradient(b.x), b.r
    inv_mean = (1 / bx + 1 / br) / 2
    db = -(tf.stop_gradient(a.x) + a.r) / 2 / (bx * br)
    y = _surrogate(tf.math.divide, lambda p, q: p * inv_mean + q * db, a.x, b.x)
    return Pair(y, a.r / b.r)


def softmax(p: Pair, axis: Any = -1, log: bool = False) -> Pair:
    # One shift for value and reference, so that it cancels from every difference.
    shift = tf.stop_gradient(
        tf.maximum(
            tf.reduce_max(p.x, axis=axis, keepdims=True),
            tf.reduce_max(p.r, axis=axis, keepdims=True),
        )
    )
    u = Pair(p.x - shift, p.r - shift)
    e = rescale(tf.exp, u)
    s = lift(lambda t: tf.reduce_sum(t, axis=axis, keepdims=True), e)
    if log:
        ls = rescale(tf.math.log, s)
        return Pair(u.x - ls.x, u.r - ls.r)
    return divide(e, s)


def layer_norm(layer: Any, p: Pair) -> Pair:
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    rms = getattr(layer, "rms_scaling", False)
    c = p if rms else lift(lambda t: t - tf.reduce_mean(t, axis=axis, keepdims=True), p)
    sq = rescale(tf.square, c)
    v = lift(lambda t: tf.reduce_mean(t, axis=axis, keepdims=True) + layer.epsilon, sq)
    y = bilinear(tf.multiply, c, rescale(tf.math.rsqrt, v))
    ndim = len(p.x.shape)
    shape = [1] * ndim
    for a in axis:
        shape[a % ndim] = p.x.shape[a % ndim]
    if getattr(layer, "scale", False) and getattr(layer, "gamma", None) is not None:
        gamma = tf.reshape(tf.convert_to_tensor(layer.gamma), shape)
        y = Pair(y.x * gamma, y.r * gamma)
    if getattr(layer, "center", False) and getattr(layer, "beta", None) is not None and not rms:
        beta = tf.reshape(tf.convert_to_tensor(layer.beta), shape)
        y = Pair(y.x + beta, y.r + beta)
    return y


def max_pool_2d(layer: Any, p: Pair) -> Pair:
    """The cross-max rule for channels-last 2-D max pooling, with the weights of
    ``_torch_rules._MaxPool`` (no threshold)."""
    ksize, strides = list(layer.pool_size), list(layer.strides)
    padding = layer.padding.upper()
    r = p.r

    def pool(t: tf.Tensor) -> Any:
        return tf.nn.max_pool_with_argmax(t, ksize, strides, padding, include_batch_in_index=True)

    yr, ir = pool(r)

    @tf.custom_gradient
    def inner(x: tf.Tensor) -> Any:
        y, ix = pool(x)
        position = tf.reshape(tf.where(y >= yr, ix, ir), [-1, 1])
        divisor = tf.gather_nd(tf.reshape(x - r, [-1]), position)
        zero = tf.equal(divisor, 0)
        ratio = tf.reshape(y - yr, [-1]) / tf.where(zero, tf.ones_like(divisor), divisor)
        same = tf.cast(tf.equal(position[:, 0], tf.reshape(ix, [-1])), x.dtype)
        weight = tf.where(zero, same, ratio)
        size = tf.shape(tf.reshape(x, [-1]), out_type=tf.int64)

        def grad(g: tf.Tensor) -> tf.Tensor:
            flat = tf.scatter_nd(position, tf.reshape(g, [-1]) * weight, size)
            return tf.reshape(flat, tf.shape(x))

        return y, grad

    return Pair(inner(p.x), yr)


def attention(layer: Any, args: tuple, kwargs: dict) -> Pair:
    """Keras ``MultiHeadAttention``: its dense projections (linear), the scaled
    query-key product (bilinear), softmax (rule) and the product with the values
    (bilinear); no masks, no returned scores."""
    query = kwargs.get("query", args[0] if args else None)
    value = kwargs.get("value", args[1] if len(args) > 1 else None)
    key = kwargs.get("key", args[2] if len(args) > 2 else value)
    scale = 1.0 / float(layer._key_dim) ** 0.5
    q = lift(lambda t: layer._query_dense(t) * scale, query)
    k = lift(layer._key_dense, key)
    v = lift(layer._value_dense, value)
    scores = bilinear(lambda a, b: tf.einsum(layer._dot_product_equation, a, b), k, q)
    n = len(layer._attention_axes) if layer._attention_axes is not None else 1
    rank = len(scores.x.shape)
    probs = softmax(scores, axis=list(range(rank - n, rank)))
    out = bilinear(lambda a, b: tf.einsum(layer._combine_equation, a, b), probs, v)
    return lift(layer._output_dense, out)


def activation_name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def apply_activation(fn: Any, p: Pair, fallbacks: set[str]) -> Pair:
    name = activation_name(fn)
    if name == "linear" or fn is None:
        return p
    if name in ("softmax", "log_softmax"):
        return softmax(p, -1, log=name == "log_softmax")
    if name in _ACTIVATIONS:
        return rescale(fn, p)
    fallbacks.add(f"activation {name}")
    return lift(fn, p)


class LayerRules:
    """Calls one Keras layer or op on (value, reference) Pairs with its DeepLIFT rule."""

    def __init__(self) -> None:
        self.fallbacks: set[str] = set()

    def __call__(self, op: Any, args: tuple, kwargs: dict) -> Any:
        kind = type(op).__name__
        kwargs = {k: v for k, v in kwargs.items() if k != "training"}
        if isinstance(op, keras.Model) and _walkable(op):
            return walk(op, list(args) if len(args) > 1 else args[0], self)
        if isinstance(op, keras.layers.Layer):
            return self._layer(op, kind, args, kwargs)
        if kind in LINEAR_OPS:
            return lift(op, *args, **kwargs)
        if kind in _ELEMENTWISE_OPS:
            return rescale(lambda t: op(t, *args[1:], **kwargs), args[0])
        if kind in ("Softmax", "LogSoftmax"):
            axis = kwargs.get("axis", getattr(op, "axis", -1))
            return softmax(args[0], axis, log=kind == "LogSoftmax")
        if kind in ("Multiply", "Matmul", "Einsum") and len(args) == 2:
            return bilinear(lambda a, b: op(a, b, **kwargs), args[0], args[1])
        if kind in ("Divide", "TrueDivide"):
            return divide(args[0], args[1])
        self.fallbacks.add(kind)
        return lift(op, *args, **kwargs)

    def _layer(self, layer: Any, kind: str, args: tuple, kwargs: dict) -> Any:
        def call(*a: Any, **k: Any) -> Any:
            return _call(layer, a, k)

        if kind in LINEAR_LAYERS:
            activation = getattr(layer, "activation", None)
            if activation is None or activation_name(activation) == "linear":
                return lift(call, *args, **kwargs)
            layer.activation = keras.activations.linear
            try:
                z = lift(call, *args, **kwargs)
            finally:
                layer.activation = activation
            return apply_activation(activation, z, self.fallbacks)
        if kind == "Activation":
            return apply_activation(layer.activation, args[0], self.fallbacks)
        if kind in _ELEMENTWISE_LAYERS:
            return rescale(layer, args[0])
        if kind == "Softmax":
            return softmax(args[0], getattr(layer, "axis", -1))
        if kind == "LayerNormalization":
            return layer_norm(layer, args[0])
        if kind == "MaxPooling2D" and layer.data_format == "channels_last":
            return max_pool_2d(layer, args[0])
        if kind == "Multiply" and len(args[0]) == 2:
            return bilinear(tf.multiply, args[0][0], args[0][1])
        if kind == "MultiHeadAttention" and _plain_attention(kwargs):
            return attention(layer, args, kwargs)
        self.fallbacks.add(kind)
        return lift(call, *args, **kwargs)


def _plain_attention(kwargs: dict) -> bool:
    unsupported = ("attention_mask", "return_attention_scores", "use_causal_mask")
    return not any(kwargs.get(k) for k in unsupported)


def _call(layer: Any, args: tuple, kwargs: dict) -> Any:
    if "training" in getattr(layer, "_call_context_args", {"training"}):
        try:
            return layer(*args, training=False, **kwargs)
        except TypeError:
            pass
    return layer(*args, **kwargs)


def _walkable(model: Any) -> bool:
    return isinstance(model, keras.Sequential) or hasattr(model, "_run_through_graph")


def walk(model: Any, inputs: Any, op_fn: Callable[[Any, tuple, dict], Any]) -> Any:
    """Run ``model`` on ``inputs`` calling ``op_fn(op, args, kwargs)`` for each layer/op."""
    if isinstance(model, keras.Sequential):
        z = inputs
        for layer in model.layers:
            z = op_fn(layer, (z,), {})
        return z
    out = model._run_through_graph(inputs, operation_fn=lambda op: lambda *a, **k: op_fn(op, a, k))
    return out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out
