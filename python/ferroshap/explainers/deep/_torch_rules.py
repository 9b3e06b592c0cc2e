"""DeepLIFT rules for PyTorch, applied at the level of torch functions.

The model runs twice under a :class:`Pairing` mode (a ``TorchFunctionMode``): first on the
reference rows (recording the input of every nonlinear call), then on the explained rows
(replaying those records, in call order). Every nonlinear call of the second pass pairs its
input with the reference input recorded at the same position of the first pass, and its
backward is replaced by the DeepLIFT multiplier. Because the rules intercept functions, not
modules, ``F.relu``, ``torch.relu``, ``x.relu_()``, a module instance reused three times and
an in-place ReLU followed by ``out += identity`` all pair correctly; because the two passes
are separate, the pairing needs no assumption about where the batch axis is.

Rules (``Delta`` is value minus reference, all exact in exact arithmetic, so the
attributions of each (row, reference) pair sum to ``f(x) - f(r)``):

- elementwise nonlinearities (ReLU family, GELU, SiLU, sigmoid, tanh, softplus, exp, log,
  sqrt, rsqrt, powers, clamp, ...): the rescale rule ``Delta y / Delta x``, with the gradient
  where ``|Delta x| <= 1e-6`` (shap's threshold);
- products of two varying tensors (``*``, ``@``, ``bmm``, ``einsum``, attention's ``QK^T`` and
  ``AV``): the Shapley split of a bilinear map, ``Delta(ab) = Delta a * mean(b) + mean(a) *
  Delta b`` with ``mean`` the average of value and reference;
- division by a varying tensor: the Shapley split of ``a / b`` (2-input, exact);
- softmax / log-softmax: decomposed into a shift shared by value and reference, ``exp``
  (rescale), a sum (linear) and a division (Shapley split) -- exact, and the attributions
  of the coupled outputs stay consistent;
- layer norm / RMS norm: centring (linear), square (rescale), mean (linear), ``rsqrt``
  (rescale) and the product of the centred input with it (bilinear split);
- max pooling: the difference of the pooled maxima, given to the value's argmax (if the
  value's max is the larger) or the reference's, divided by the input difference there
  (the cross-max rule; shap's, except that shap zeroes divisors below 1e-7 where this
  divides them and uses the gradient at exactly 0);
- ``scaled_dot_product_attention`` and ``nn.MultiheadAttention`` (its functional form):
  decomposed into the projections, matmul, softmax and matmul above.

Every other function is taken as linear (its gradient is its multiplier). Functions known to
be nonlinear without a rule (recurrent layers, fused multi-head attention, max/min
reductions, ...) and any unknown function whose output depends on the input keep their
gradient; the explainer warns once, naming them, and the additivity check tells how much
the fallback cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from ferroshap.explainers.deep._torch_multipliers import (
    MaxPoolRule,
    bilinear,
    divide,
    normalize,
    rescale,
    softmax,
    varying,
)

# ---------------------------------------------------------------------------------------------
# The table: function name -> rule. A rule gets the pairing mode, the function and its
# arguments, and returns the function's result.

_UNARY = {
    # activations
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_",
    "celu", "celu_", "gelu", "silu", "mish", "hardswish", "hardsigmoid", "hardtanh",
    "hardtanh_", "softplus", "sigmoid", "sigmoid_", "tanh", "tanh_", "logsigmoid", "softsign",
    "tanhshrink", "threshold", "threshold_", "rrelu", "prelu",
    # elementwise maths with constant parameters
    "exp", "exp_", "exp2", "expm1", "log", "log_", "log1p", "log2", "log10", "sqrt", "sqrt_",
    "rsqrt", "rsqrt_", "square", "reciprocal", "erf", "erfc", "sin", "cos", "abs", "abs_",
    "atan", "clamp", "clamp_", "clip", "clip_", "clamp_min", "clamp_max", "sign", "pow", "pow_",
    "__pow__", "__ipow__", "__rpow__", "float_power",
}  # fmt: skip

_PRODUCTS = {
    "mul", "mul_", "__mul__", "__rmul__", "__imul__", "multiply", "matmul", "__matmul__",
    "__rmatmul__", "mm", "bmm", "mv", "dot", "inner", "outer", "einsum", "baddbmm", "addmm",
}  # fmt: skip
_DIVISIONS = {
    "div", "div_", "__truediv__", "__rtruediv__", "__rdiv__", "__itruediv__", "true_divide",
    "divide",
}  # fmt: skip

# Functions that are nonlinear and have no rule: their gradient is used (with a warning).
KNOWN_FALLBACKS = {
    "lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell",
    "rnn_relu_cell", "_native_multi_head_attention",
    "max", "min", "amax", "amin", "maximum", "minimum", "fmax", "fmin", "logsumexp", "norm",
    "var", "std", "var_mean", "std_mean", "prod", "cumprod", "sort", "topk", "median",
    "atan2", "group_norm", "instance_norm", "glu",
}  # fmt: skip

# Structural, linear or non-numeric functions: no rule needed, no warning.
LINEAR = {
    "__get__", "__getitem__", "__setitem__", "add", "add_", "__add__", "__radd__", "__iadd__",
    "sub", "sub_", "__sub__", "__rsub__", "__isub__", "neg", "__neg__", "negative", "linear",
    "bilinear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "view", "view_as", "reshape", "reshape_as", "flatten", "unflatten",
    "permute", "transpose", "transpose_", "t", "contiguous", "squeeze", "unsqueeze", "expand",
    "expand_as", "repeat", "repeat_interleave", "tile", "cat", "concat", "concatenate", "stack",
    "hstack", "vstack", "split", "chunk", "unbind", "narrow", "select", "index_select",
    "gather", "take_along_dim", "sum", "mean", "nansum", "cumsum", "avg_pool1d", "avg_pool2d",
    "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "batch_norm", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
    "feature_alpha_dropout", "pad", "embedding", "clone", "detach", "to", "float", "double",
    "half", "bfloat16", "type", "type_as", "roll", "flip", "fliplr", "flipud", "movedim",
    "moveaxis", "swapaxes", "swapdims", "diagonal", "tril", "triu",
    "interpolate", "upsample", "pixel_shuffle", "pixel_unshuffle", "unfold", "fold", "trace",
    "diff", "copy_", "zero_", "fill_", "index_add", "scatter_add", "cpu", "cuda", "identity",
    "as_strided", "new_zeros", "new_ones", "zeros_like", "ones_like", "channel_shuffle",
    "__iter__", "__len__", "_has_compatible_shallow_copy_type", "unsafe_split",
    "unsafe_chunk", "split_with_sizes", "tensor_split", "ravel", "mT", "T", "index_put",
}  # fmt: skip


def _products(mode: Pairing, func: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    if name == "einsum":
        operands = list(args[1] if len(args) == 2 and isinstance(args[1], list) else args[1:])
        n_varying = sum(varying(o) for o in operands)
        if n_varying > 1 and len(operands) > 2:  # a product of three or more activations
            return _fallback(mode, func, name, args, kwargs)
        if n_varying < 2:
            return _linear(mode, func, name, args, kwargs)
        eq = args[0]
        a, b = operands
        ar, br = mode.ref(a), mode.ref(b)
        if mode.recording:
            return func(*args, **kwargs)
        return bilinear(lambda p, q: func(eq, p, q), a, ar, b, br)[0]
    # addmm/baddbmm(bias, a, b): bias is linear, the product may be of two activations.
    offset = 1 if name in ("addmm", "baddbmm") else 0
    a, b = args[offset], args[offset + 1]
    if not (varying(a) and varying(b)):
        return _linear(mode, func, name, args, kwargs)
    ar, br = mode.ref(a), mode.ref(b)
    if mode.recording:
        return func(*args, **kwargs)
    if offset:
        beta, alpha = kwargs.get("beta", 1), kwargs.get("alpha", 1)
        product = torch.bmm if name == "baddbmm" else torch.mm
        y = bilinear(product, a, ar, b, br)[0]
        return beta * args[0] + alpha * y
    base = _out_of_place(name)
    y = bilinear(lambda p, q: base(p, q), a, ar, b, br)[0]
    return _inplace_result(name, args[0], y)


def _out_of_place(name: str) -> Callable:
    if name in ("matmul", "__matmul__", "mm", "bmm", "mv", "dot", "inner", "outer"):
        return getattr(torch, name.strip("_"))
    if name == "__rmatmul__":
        return lambda p, q: torch.matmul(q, p)
    return torch.mul


def _inplace_result(name: str, target: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if name.endswith("_") and not name.endswith("__") or name.startswith("__i"):
        return target.copy_(y)
    return y


def _divisions(mode: Pairing, func: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    if kwargs.get("rounding_mode") is not None:
        return _fallback(mode, func, name, args, kwargs)
    a, b = (args[1], args[0]) if name in ("__rtruediv__", "__rdiv__") else (args[0], args[1])
    if not varying(b):
        return _linear(mode, func, name, args, kwargs)
    if not isinstance(a, torch.Tensor):
        a = torch.as_tensor(a, dtype=b.dtype, device=b.device)
    ar = mode.ref(a) if varying(a) else a
    br = mode.ref(b)
    if mode.recording:
        return func(*args, **kwargs)
    return _inplace_result(name, args[0], divide(a, ar, b, br)[0])


def _unary(mode: Pairing, func: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    x = args[0]
    exponent = args[1] if len(args) > 1 else kwargs.get("exponent")
    if name == "__rpow__" or (name in ("pow", "float_power") and varying(exponent)):
        # base ** x (or x ** y with y varying): not a function of one activation.
        return _fallback(mode, func, name, args, kwargs)
    if name == "prelu" and varying(args[1] if len(args) > 1 else kwargs.get("weight")):
        return _fallback(mode, func, name, args, kwargs)
    if not varying(x):
        return func(*args, **kwargs)
    xr = mode.ref(x)
    if mode.recording:
        return func(*args, **kwargs)
    inplace = bool(kwargs.get("inplace")) or (name.endswith("_") and not name.endswith("__"))
    inplace = inplace or name == "__ipow__"
    rest = args[1:]

    def f(t: torch.Tensor) -> torch.Tensor:
        return func(t.clone() if inplace else t, *rest, **kwargs)

    y = rescale(f, x, xr)[0]
    return x.copy_(y) if inplace else y


def _softmax(mode: Pairing, func: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    x = args[0]
    if not varying(x):
        return func(*args, **kwargs)
    dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
    if dim is None:  # torch's legacy implicit dimension
        dim = 0 if x.dim() in (0, 1, 3) else 1
    xr = mode.ref(x)
    if mode.recording:
        return func(*args, **kwargs)
    dtype = kwargs.get("dtype")
    if dtype is not None:
        x, xr = x.to(dtype), xr.to(dtype)
    return softmax(x, xr, dim, log=name == "log_softmax")[0]


def _layer_norm(mode: Pairing, func: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    params = dict(zip(("input", "normalized_shape", "weight", "bias", "eps"), args, strict=False))
    params.update(kwargs)
    x = params["input"]
    if not varying(x):
        return func(*args, **kwargs)
    xr = mode.ref(x)
    if mode.recording:
        return func(*args, **kwargs)
    shape = params["normalized_shape"]
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    dims = tuple(range(-len(shape), 0))
    eps = params.get("eps")
    if eps is None:
        eps = torch.finfo(x.dtype).eps if name == "rms_norm" else 1e-5
    y = normalize(x, xr, dims, eps, center=name == "layer_norm")[0]
    if params.get("weight") is not None:
        y = y * params["weight"]
    if params.get("bias") is not None:
        y = y + params["bias"]
    return y


def _max_pool(mode: Pairing, func: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    x = args[0]
    if not varying(x):
        return func(*args, **kwargs)
    xr = mode.ref(x)
    if mode.recording:
        return func(*args, **kwargs)
    adaptive = name.startswith("adaptive")
    dims = int(name.split("pool")[1][0])
    kw = {k: v for k, v in kwargs.items() if k != "return_indices"}
    positional = args[: 2 if adaptive else 6]
    wanted_indices = kwargs.get("return_indices") or (
        len(args) > (2 if adaptive else 6) and bool(args[2 if adaptive else 6])
    )
    if name.endswith("_with_indices"):
        wanted_indices = True
    base = getattr(F, f"{'adaptive_' if adaptive else ''}max_pool{dims}d")
    unbatched = x.dim() == dims + 1
    if unbatched:
        x, xr = x.unsqueeze(0), xr.unsqueeze(0)

    def pool(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return base(t, *positional[1:], **kw, return_indices=True)

    y = MaxPoolRule.apply(x, xr, pool)
    if unbatched:
        y = y.squeeze(0)
    if wanted_indices:
        return y, pool(x.detach())[1].squeeze(0) if unbatched else pool(x.detach())[1]
    return y


def _attention(mode: Pairing, func: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale")
    p = dict(zip(names, args, strict=False))
    p.update(kwargs)
    q, k, v = p["query"], p["key"], p["value"]
    if p.get("enable_gqa") or not any(varying(t) for t in (q, k, v)):
        return _fallback(mode, func, name, args, kwargs)
    scale = p.get("scale") or 1.0 / math.sqrt(q.shape[-1])
    refs = {id(t): mode.ref(t) for t in (q, k, v) if varying(t)}
    if mode.recording:
        return func(*args, **kwargs)

    def pair(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return t, refs.get(id(t), t)

    (q, qr), (k, kr), (v, vr) = pair(q), pair(k), pair(v)
    kt, ktr = k.transpose(-2, -1), kr.transpose(-2, -1)
    if id(p["query"]) in refs and id(p["key"]) in refs:
        s, sr = bilinear(torch.matmul, q, qr, kt, ktr)
    else:
        s, sr = q @ kt, qr @ ktr
    s, sr = s * scale, sr * scale
    mask = p.get("attn_mask")
    if p.get("is_causal"):
        n, m = s.shape[-2], s.shape[-1]
        mask = torch.ones(n, m, dtype=torch.bool, device=s.device).tril()
    if mask is not None:
        if mask.dtype == torch.bool:
            s = s.masked_fill(~mask, float("-inf"))
            sr = sr.masked_fill(~mask, float("-inf"))
        else:
            s, sr = s + mask, sr + mask
    a, ar = softmax(s, sr, -1)
    if id(p["value"]) in refs:
        return bilinear(torch.matmul, a, ar, v, vr)[0]
    return a @ v


def _select(mode: Pairing, func: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    """``where(condition, a, b)`` / ``masked_fill(x, mask, v)``: linear in the selected
    values while the condition is the same for value and reference (a mask or a causal
    pattern); a condition that depends on the input (``where(x > 0, x, 0.1 * x)``) is a
    piecewise function without a rule here: its gradient is used, with the warning."""
    if name == "where" and len(args) + len(kwargs) < 3:
        return func(*args, **kwargs)
    condition = args[1] if name.startswith("masked_fill") else args[0]
    values = args[:1] if name.startswith("masked_fill") else args[1:3]
    if not isinstance(condition, torch.Tensor) or not any(varying(v) for v in values):
        return func(*args, **kwargs)
    reference = mode.ref(condition)
    if not mode.recording and not torch.equal(condition, reference):
        mode.fallbacks.add(f"{name} (its condition depends on the input)")
    return func(*args, **kwargs)


_MHA_ARGS = (
    "query", "key", "value", "embed_dim_to_check", "num_heads", "in_proj_weight",
    "in_proj_bias", "bias_k", "bias_v", "add_zero_attn", "dropout_p", "out_proj_weight",
    "out_proj_bias", "training", "key_padding_mask", "need_weights", "attn_mask",
    "use_separate_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "static_k",
    "static_v", "average_attn_weights", "is_causal",
)  # fmt: skip


def _multi_head_attention(mode: Pairing, func: Callable, name: str, args: tuple, kwargs: dict):
    """``nn.MultiheadAttention``'s functional form: projections (linear), the scaled
    query-key product and the product with the values (bilinear), softmax (rule), masks
    (constant). Extra key/value biases, zero attention and static keys fall back."""
    p = dict(zip(_MHA_ARGS, args, strict=False))
    p.update(kwargs)
    q, k, v = p["query"], p["key"], p["value"]
    special = any(p.get(n) is not None for n in ("bias_k", "bias_v", "static_k", "static_v"))
    if special or p.get("add_zero_attn") or not any(varying(t) for t in (q, k, v)):
        return _fallback(mode, func, name, args, kwargs)
    distinct = {id(t): t for t in (q, k, v) if varying(t)}
    refs = {key: mode.ref(t) for key, t in distinct.items()}
    if mode.recording:
        return func(*args, **kwargs)
    batched = q.dim() == 3
    heads = p["num_heads"]

    def pair(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = refs.get(id(t), t)
        return (t, r) if batched else (t.unsqueeze(1), r.unsqueeze(1))

    if p.get("use_separate_proj_weight"):
        weights = (p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"])
    else:
        weights = p["in_proj_weight"].chunk(3)
    biases = p["in_proj_bias"].chunk(3) if p.get("in_proj_bias") is not None else (None,) * 3
    (q, qr), (k, kr), (v, vr) = pair(q), pair(k), pair(v)
    length, batch, embed = q.shape
    head_dim = embed // heads

    def project(t: torch.Tensor, i: int) -> torch.Tensor:
        # (L, N, E) -> (N * heads, L, head_dim), as torch lays the heads out.
        h = F.linear(t, weights[i], biases[i])
        return h.reshape(h.shape[0], batch * heads, head_dim).transpose(0, 1)

    scale = 1.0 / math.sqrt(head_dim)
    qh, qhr = project(q, 0) * scale, project(qr, 0) * scale
    kh, khr = project(k, 1).transpose(-2, -1), project(kr, 1).transpose(-2, -1)
    vh, vhr = project(v, 2), project(vr, 2)
    s, sr = bilinear(torch.bmm, qh, qhr, kh, khr)
    mask = _attention_mask(p, batch, heads, length, k.shape[0], s.dtype, s.device)
    if mask is not None:
        s, sr = s + mask, sr + mask
    a, ar = softmax(s, sr, -1)
    out = bilinear(torch.bmm, a, ar, vh, vhr)[0]
    out = out.transpose(0, 1).reshape(length, batch, embed)
    out = F.linear(out, p["out_proj_weight"], p["out_proj_bias"])
    if not batched:
        out = out.squeeze(1)
    weights_out = None
    if p.get("need_weights", True):
        weights_out = a.view(batch, heads, length, -1)
        if p.get("average_attn_weights", True):
            weights_out = weights_out.mean(1)
        if not batched:
            weights_out = weights_out.squeeze(0)
    return out, weights_out


def _attention_mask(
    p: dict, batch: int, heads: int, length: int, source: int, dtype: Any, device: Any
) -> torch.Tensor | None:
    """The additive mask ``(N * heads, L, S)`` from ``attn_mask`` and ``key_padding_mask``
    (``True`` in a boolean mask means "do not attend", as in torch)."""
    mask = None
    for given, shape in ((p.get("attn_mask"), None), (p.get("key_padding_mask"), "padding")):
        if given is None:
            continue
        if given.dtype == torch.bool:
            given = torch.zeros(given.shape, dtype=dtype, device=device).masked_fill(
                given, float("-inf")
            )
        if shape == "padding":  # (N, S) -> (N * heads, 1, S)
            given = given.view(batch, 1, 1, source).expand(-1, heads, -1, -1)
            given = given.reshape(batch * heads, 1, source)
        elif given.dim() == 2:
            given = given.unsqueeze(0)
        mask = given if mask is None else mask + given
    return mask


def _linear(mode: Pairing, func: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    return func(*args, **kwargs)


def _fallback(mode: Pairing, func: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    out = func(*args, **kwargs)
    if _any_varying(out):
        mode.fallbacks.add(name)
    return out


def _any_varying(out: Any) -> bool:
    if isinstance(out, (tuple, list)):
        return any(_any_varying(o) for o in out)
    return varying(out)


_RULES: dict[str, Callable] = {name: _unary for name in _UNARY}
_RULES.update({name: _products for name in _PRODUCTS})
_RULES.update({name: _divisions for name in _DIVISIONS})
_RULES.update({"softmax": _softmax, "log_softmax": _softmax, "_softmax": _softmax})
_RULES.update({"layer_norm": _layer_norm, "rms_norm": _layer_norm})
_RULES.update({"scaled_dot_product_attention": _attention})
_RULES.update({"multi_head_attention_forward": _multi_head_attention})
_RULES.update({"where": _select, "masked_fill": _select, "masked_fill_": _select})
for _d in (1, 2, 3):
    for _prefix in ("", "adaptive_"):
        _RULES[f"{_prefix}max_pool{_d}d"] = _max_pool
        _RULES[f"{_prefix}max_pool{_d}d_with_indices"] = _max_pool
for _name in KNOWN_FALLBACKS:
    _RULES[_name] = _fallback


class Pairing(TorchFunctionMode):
    """Records (``recording=True``) or replays the reference inputs of nonlinear calls.

    ``refs`` is the list filled by the recording pass; the replaying pass must make the same
    nonlinear calls in the same order on tensors of the same shapes (true of any model whose
    control flow does not depend on its input values), else ``RuntimeError``.
    ``fallbacks`` collects the names of functions whose gradient was used without a rule.
    """

    def __init__(self, recording: bool, refs: list[torch.Tensor] | None = None) -> None:
        super().__init__()
        self.recording = recording
        self.refs: list[torch.Tensor] = [] if refs is None else refs
        self.position = 0
        self.fallbacks: set[str] = set()

    def ref(self, t: torch.Tensor) -> torch.Tensor:
        """The reference paired with ``t`` (recording: a copy of ``t`` itself, which later
        in-place operations cannot change)."""
        if self.recording:
            r = t.detach().clone()
            self.refs.append(r)
            return r
        if self.position >= len(self.refs):
            raise RuntimeError(
                "the model made more nonlinear calls on the explained rows than on the "
                "background; DeepExplainer needs the same sequence of operations for both "
                "(control flow that depends on input values is not supported)"
            )
        r = self.refs[self.position]
        self.position += 1
        if r.shape != t.shape:
            raise RuntimeError(
                f"the model's operations differ between the explained rows and the "
                f"background (a tensor of shape {tuple(t.shape)} met one of shape "
                f"{tuple(r.shape)}); DeepExplainer needs the same operations for both"
            )
        return r

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        rule = _RULES.get(name)
        if rule is not None:
            return rule(self, func, name, args, kwargs)
        out = func(*args, **kwargs)
        if name not in LINEAR and _any_varying(out):
            self.fallbacks.add(name)
        return out
