"""DeepLIFT rules for Keras 3 (TensorFlow backend), applied layer by layer.

The model's graph is walked layer by layer (a Sequential's layers in order; a functional
model's nodes through Keras's own graph runner) on a batch ``[x; r]`` that stacks the
explained rows over their paired reference rows. Keras layers are row-wise, so every layer
sees the pair halves at the same positions. A layer's activation (``Dense(...,
activation="relu")``) is split off and given a rule; linear layers keep their gradient.
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


def halves(z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    n = tf.shape(z)[0] // 2
    return z[:n], z[n:]


def _twice(t: tf.Tensor) -> tf.Tensor:
    return tf.concat([t, t], 0)


def rescale(f: Callable, z: tf.Tensor) -> tf.Tensor:
    """Elementwise ``f`` with the multiplier ``Delta f / Delta x`` (the gradient where
    ``|Delta x| <= 1e-6``)."""

    @tf.custom_gradient
    def inner(z: tf.Tensor) -> Any:
        y = f(z)
        x, r = halves(z)
        yx, yr = halves(y)
        dx = x - r
        near = tf.abs(dx) <= EPS
        m = (yx - yr) / tf.where(near, tf.ones_like(dx), dx)
        if bool(tf.reduce_any(near)):
            with tf.GradientTape() as tape:
                tape.watch(x)
                fx = f(x)
            m = tf.where(near, tape.gradient(fx, x), m)
        m = _twice(m)

        def grad(g: tf.Tensor) -> tf.Tensor:
            return g * m

        return y, grad

    return inner(z)


def _surrogate(value_fn: Callable, surrogate_fn: Callable, *zs: tf.Tensor) -> tf.Tensor:
    """``value_fn(*zs)`` whose gradient is that of the (linear) ``surrogate_fn(*zs)``."""

    @tf.custom_gradient
    def inner(*zs: tf.Tensor) -> Any:
        def grad(g: tf.Tensor) -> Any:
            with tf.GradientTape() as tape:
                tape.watch(zs)
                s = surrogate_fn(*zs)
            return tape.gradient(s, zs, output_gradients=g)

        return value_fn(*zs), grad

    return inner(*zs)


def bilinear(f: Callable, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """``f(a, b)`` for ``f`` linear in each argument: ``Delta a * mean(b) + mean(a) * Delta b``."""
    ax, ar = halves(a)
    bx, br = halves(b)
    abar, bbar = _twice((ax + ar) / 2), _twice((bx + br) / 2)
    return _surrogate(f, lambda p, q: f(p, bbar) + f(abar, q), a, b)


def divide(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """``a / b`` with the Shapley split of the two inputs (exact)."""
    ax, ar = halves(a)
    bx, br = halves(b)
    inv_mean = _twice((1 / bx + 1 / br) / 2)
    db = _twice(-(ax + ar) / 2 / (bx * br))
    return _surrogate(tf.math.divide, lambda p, q: p * inv_mean + q * db, a, b)


def softmax(z: tf.Tensor, axis: Any = -1, log: bool = False) -> tf.Tensor:
    x, r = halves(z)
    shift = tf.maximum(
        tf.reduce_max(x, axis=axis, keepdims=True), tf.reduce_max(r, axis=axis, keepdims=True)
    )
    u = z - tf.stop_gradient(_twice(shift))
    e = rescale(tf.exp, u)
    s = tf.reduce_sum(e, axis=axis, keepdims=True)
    if log:
        return u - rescale(tf.math.log, s)
    return divide(e, s)


def layer_norm(layer: Any, z: tf.Tensor) -> tf.Tensor:
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    rms = getattr(layer, "rms_scaling", False)
    c = z if rms else z - tf.reduce_mean(z, axis=axis, keepdims=True)
    sq = rescale(tf.square, c)
    v = tf.reduce_mean(sq, axis=axis, keepdims=True) + layer.epsilon
    y = bilinear(tf.multiply, c, rescale(tf.math.rsqrt, v))
    ndim = len(z.shape)
    shape = [1] * ndim
    for a in axis:
        shape[a % ndim] = z.shape[a % ndim]
    if getattr(layer, "scale", False) and getattr(layer, "gamma", None) is not None:
        y = y * tf.reshape(tf.convert_to_tensor(layer.gamma), shape)
    if getattr(layer, "center", False) and getattr(layer, "beta", None) is not None and not rms:
        y = y + tf.reshape(tf.convert_to_tensor(layer.beta), shape)
    return y


def max_pool_2d(layer: Any, z: tf.Tensor) -> tf.Tensor:
    """The cross-max rule for channels-last 2-D max pooling."""
    ksize, strides = list(layer.pool_size), list(layer.strides)
    padding = layer.padding.upper()

    def pool(t: tf.Tensor) -> Any:
        return tf.nn.max_pool_with_argmax(t, ksize, strides, padding, include_batch_in_index=True)

    @tf.custom_gradient
    def inner(z: tf.Tensor) -> Any:
        # The weights of the cross-max rule, as in _torch_rules._MaxPool (no threshold).
        x, r = halves(z)
        y, ix = pool(x)
        yr, ir = pool(r)
        position = tf.reshape(tf.where(y >= yr, ix, ir), [-1, 1])
        divisor = tf.gather_nd(tf.reshape(x - r, [-1]), position)
        zero = tf.equal(divisor, 0)
        ratio = tf.reshape(y - yr, [-1]) / tf.where(zero, tf.ones_like(divisor), divisor)
        same = tf.cast(tf.equal(position[:, 0], tf.reshape(ix, [-1])), x.dtype)
        weight = tf.where(zero, same, ratio)
        size = tf.shape(tf.reshape(x, [-1]), out_type=tf.int64)

        def grad(g: tf.Tensor) -> tf.Tensor:
            gx, _ = halves(g)
            gin = tf.reshape(
                tf.scatter_nd(position, tf.reshape(gx, [-1]) * weight, size), tf.shape(x)
            )
            return tf.concat([gin, tf.zeros_like(gin)], 0)

        return tf.concat([y, yr], 0), grad

    return inner(z)


def attention(layer: Any, args: tuple, kwargs: dict) -> tf.Tensor:
    """Keras ``MultiHeadAttention``: its dense projections (linear), the scaled
    query-key product (bilinear), softmax (rule) and the product with the values
    (bilinear); no masks, no returned scores."""
    query = kwargs.get("query", args[0] if args else None)
    value = kwargs.get("value", args[1] if len(args) > 1 else None)
    key = kwargs.get("key", args[2] if len(args) > 2 else value)
    q = layer._query_dense(query) * (1.0 / float(layer._key_dim) ** 0.5)
    k = layer._key_dense(key)
    v = layer._value_dense(value)
    scores = bilinear(lambda a, b: tf.einsum(layer._dot_product_equation, a, b), k, q)
    axes = layer._attention_axes
    probs = softmax(scores, axis=[a - len(scores.shape) for a in _norm_axes(scores, axes)])
    out = bilinear(lambda a, b: tf.einsum(layer._combine_equation, a, b), probs, v)
    return layer._output_dense(out)


def _norm_axes(scores: tf.Tensor, attention_axes: Any) -> list[int]:
    # Keras normalises over the last len(attention_axes) axes of the scores.
    n = len(attention_axes) if attention_axes is not None else 1
    rank = len(scores.shape)
    return list(range(rank - n, rank))


def activation_name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def apply_activation(fn: Any, z: tf.Tensor, fallbacks: set[str]) -> tf.Tensor:
    name = activation_name(fn)
    if name == "linear" or fn is None:
        return z
    if name in ("softmax", "log_softmax"):
        return softmax(z, -1, log=name == "log_softmax")
    if name in _ACTIVATIONS:
        return rescale(fn, z)
    fallbacks.add(f"activation {name}")
    return fn(z)


class LayerRules:
    """Calls one Keras layer or op on a stacked ``[x; r]`` batch with its DeepLIFT rule."""

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
            return op(*args, **kwargs)
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
        return op(*args, **kwargs)

    def _layer(self, layer: Any, kind: str, args: tuple, kwargs: dict) -> Any:
        if kind in LINEAR_LAYERS:
            activation = getattr(layer, "activation", None)
            if activation is None or activation_name(activation) == "linear":
                return _call(layer, args, kwargs)
            layer.activation = keras.activations.linear
            try:
                z = _call(layer, args, kwargs)
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
        return _call(layer, args, kwargs)


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
