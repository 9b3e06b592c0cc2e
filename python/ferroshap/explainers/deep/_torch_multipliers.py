"""DeepLIFT's multipliers for (value, reference) pairs of PyTorch tensors.

Each function takes the explained tensor ``x`` (on the autograd tape) and its reference
``xr`` (detached, same shape) and returns the pair of results; the result's backward is the
rule's multiplier instead of the gradient. :mod:`._torch_rules` applies them to the model's
function calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

# Below this input difference the rescale multiplier is replaced by the gradient (shap's
# threshold); the error this makes is O(f'' * 1e-12) per unit, far below float32's epsilon.
EPS = 1e-6


def varying(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and t.requires_grad and t.is_floating_point()


class _Rescale(torch.autograd.Function):
    """``y = f(x)`` whose backward multiplies by ``(f(x) - f(r)) / (x - r)``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, xr: torch.Tensor, f: Callable) -> torch.Tensor:
        y = f(x)
        dx = x - xr
        # x == xr also catches equal infinities (masked attention scores), whose difference
        # is NaN.
        near = (dx.abs() <= EPS) | (x == xr)
        m = (y - f(xr)) / torch.where(near, torch.ones_like(dx), dx)
        if bool(near.any()):
            with torch.enable_grad():
                xd = x.detach().requires_grad_()
                (d,) = torch.autograd.grad(f(xd).sum(), xd)
            m = torch.where(near, d, m)
        ctx.save_for_backward(m)
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple:
        (m,) = ctx.saved_tensors
        return g * m, None, None


class _ValueOf(torch.autograd.Function):
    """The exact value ``compute()`` with the gradient of ``surrogate`` (a linear map whose
    multipliers are the rule's)."""

    @staticmethod
    def forward(ctx: Any, surrogate: torch.Tensor, compute: Callable) -> torch.Tensor:
        return compute()

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple:
        return g, None


def rescale(f: Callable, x: torch.Tensor, xr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An elementwise ``f`` on a (value, reference) pair."""
    return _Rescale.apply(x, xr, f), f(xr)


def bilinear(
    f: Callable, a: torch.Tensor, ar: torch.Tensor, b: torch.Tensor, br: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``f(a, b)`` for ``f`` linear in each argument, both varying."""
    abar = (a.detach() + ar) / 2
    bbar = (b.detach() + br) / 2
    surrogate = f(a, bbar) + f(abar, b)
    ad, bd = a.detach(), b.detach()
    return _ValueOf.apply(surrogate, lambda: f(ad, bd)), f(ar, br)


def divide(
    a: torch.Tensor, ar: torch.Tensor, b: torch.Tensor, br: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``a / b`` with ``b`` varying (``a`` may be constant: then ``ar is a``)."""
    bd = b.detach()
    inv_mean = (1 / bd + 1 / br) / 2
    db = -(a.detach() + ar) / 2 / (bd * br)
    surrogate = a * inv_mean + b * db
    ad = a.detach()
    return _ValueOf.apply(surrogate, lambda: ad / bd), ar / br


def softmax(x: torch.Tensor, xr: torch.Tensor, dim: int, log: bool = False) -> tuple:
    # One shift for value and reference, so the shift cancels from every difference.
    shift = torch.maximum(x.detach().amax(dim, keepdim=True), xr.amax(dim, keepdim=True))
    u, ur = x - shift, xr - shift
    e, er = rescale(torch.exp, u, ur)
    s, sr = e.sum(dim, keepdim=True), er.sum(dim, keepdim=True)
    if log:
        ls, lsr = rescale(torch.log, s, sr)
        return u - ls, ur - lsr
    return divide(e, er, s, sr)


def normalize(
    x: torch.Tensor, xr: torch.Tensor, dims: tuple[int, ...], eps: float, center: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x - mean) / sqrt(var + eps)`` (layer norm), or ``x / sqrt(mean(x^2) + eps)``."""
    if center:
        x = x - x.mean(dims, keepdim=True)
        xr = xr - xr.mean(dims, keepdim=True)
    sq, sqr = rescale(torch.square, x, xr)
    v, vr = sq.mean(dims, keepdim=True) + eps, sqr.mean(dims, keepdim=True) + eps
    rs, rsr = rescale(torch.rsqrt, v, vr)
    return bilinear(torch.mul, x, xr, rs, rsr)


class MaxPoolRule(torch.autograd.Function):
    """Cross-max rule: ``Delta y`` goes to the argmax of the value when the value's maximum
    is the larger, else to the argmax of the reference, divided by the input difference
    there. The divisor is never smaller than what it divides (at the value's argmax ``i``,
    ``x_i - r_i >= max(x) - max(r) >= 0``; symmetrically at the reference's), also in
    floating point (subtraction is monotonic), so no threshold is needed: the weight is in
    [0, 1], exactly 1 where value and reference share the argmax, and the max's gradient
    (1 at the value's argmax) where the divisor is exactly 0."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, xr: torch.Tensor, pool: Callable) -> torch.Tensor:
        y, idx = pool(x)
        yr, idxr = pool(xr)
        dx = (x - xr).flatten(2)
        idx, idxr = idx.flatten(2), idxr.flatten(2)
        position = torch.where((y >= yr).flatten(2), idx, idxr)
        divisor = dx.gather(2, position)
        zero = divisor == 0
        ratio = (y - yr).flatten(2) / torch.where(zero, 1.0, divisor)
        weight = torch.where(zero, (position == idx).to(x.dtype), ratio)
        ctx.save_for_backward(position, weight)
        ctx.input_shape = x.shape
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple:
        position, weight = ctx.saved_tensors
        shape = ctx.input_shape
        grad = torch.zeros((shape[0], shape[1], shape[2:].numel()), dtype=g.dtype, device=g.device)
        grad.scatter_add_(2, position, g.flatten(2) * weight)
        return grad.view(shape), None, None
