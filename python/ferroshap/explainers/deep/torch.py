"""PyTorch back end of DeepExplainer and GradientExplainer.

Rows and background rows are explained together in large batches: for Deep SHAP every
(row, background row) pair is one row of a batch of up to ``batch_size`` pairs; for expected
gradients every (row, sample) pair. The background's forward pass with recorded references
(see :mod:`._torch_rules`) is shared by every batch of the same shape, so each batch costs one
forward pass and one backward pass per explained output: the floor for gradient-based
attribution.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from ferroshap.explainers.deep import _torch_rules as rules
from ferroshap.explainers.deep._common import split_inputs, warn_fallbacks


class TorchModel:
    """A PyTorch model (optionally cut at a layer) with its background.

    ``explained`` tensors are the model inputs, or the layer's inputs (its output for an
    ``nn.Embedding``, whose inputs are token ids) when a layer is given.
    """

    layout = "channels_first"

    def __init__(self, model: Any, data: Any) -> None:
        layer = None
        if isinstance(model, tuple):
            if len(model) != 2:
                raise ValueError("model must be an nn.Module or a pair (model, layer)")
            model, layer = model
            if not isinstance(layer, nn.Module):
                raise TypeError(f"the layer of (model, layer) must be an nn.Module, got {layer!r}")
        if not isinstance(model, nn.Module):
            raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.layer = layer
        self.layer_output = isinstance(layer, nn.Embedding)
        self.device = _device_of(model)
        self.multi_input = isinstance(data, (list, tuple))
        self.data = self.inputs(data, "background")
        if self.data[0].shape[0] == 0:
            raise ValueError("the background data has no rows")
        with self.prepared():
            try:
                self.bg_explained = self.explained(self.data)
                self.bg_outputs = self.outputs(self.data)
            except (TypeError, ValueError, RuntimeError, IndexError) as error:
                shapes = [tuple(t.shape) for t in self.data]
                raise ValueError(
                    f"could not run the model on the background (inputs of shapes {shapes}): "
                    f"{error}"
                ) from error
        self.n_outputs = self.bg_outputs.shape[1]
        self.n_background = self.data[0].shape[0]
        self.expected_value = self.bg_outputs.mean(0)

    # -- inputs ----------------------------------------------------------------------------

    def inputs(self, X: Any, what: str = "X") -> list[torch.Tensor]:
        """``X`` as a list of tensors on the model's device, checked against the background."""
        reference = getattr(self, "data", None)
        items = split_inputs(X, self.multi_input, what, reference)
        tensors = []
        for i, item in enumerate(items):
            name = what if len(items) == 1 else f"{what}[{i}]"
            like = reference[i] if reference is not None else None
            tensors.append(self._tensor(item, name, like))
        n = {t.shape[0] for t in tensors}
        if len(n) > 1:
            raise ValueError(f"the inputs of {what} have different numbers of rows: {sorted(n)}")
        return tensors

    def _tensor(self, item: Any, name: str, like: torch.Tensor | None) -> torch.Tensor:
        if isinstance(item, torch.Tensor):
            if item.device != self.device:
                raise ValueError(
                    f"{name} is on {item.device} but the model is on {self.device}; move it "
                    f"with .to({str(self.device)!r})"
                )
            t = item.detach()
        else:
            array = np.asarray(getattr(item, "values", item))
            if array.dtype.kind == "f":
                array = array.astype(_numpy_dtype(self.model, like), copy=False)
            elif array.dtype.kind not in "iub":
                raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
            t = torch.as_tensor(array, device=self.device)
        if t.dim() == 0:
            raise ValueError(f"{name} must have a row axis, got a scalar")
        if like is not None:
            if t.shape[1:] != like.shape[1:]:
                raise ValueError(
                    f"{name} has rows of shape {tuple(t.shape[1:])} but the background's are "
                    f"{tuple(like.shape[1:])}"
                )
            if t.dtype != like.dtype:
                raise TypeError(f"{name} has dtype {t.dtype} but the background has {like.dtype}")
        elif self.layer is None and not t.is_floating_point():
            raise TypeError(
                f"{name} has dtype {t.dtype}: integer inputs (token ids) have no gradient. "
                f"Explain the embedding's output instead: pass (model, model.<embedding layer>)"
            )
        else:
            param = _floating_param(self.model)
            if param is not None and t.is_floating_point() and t.dtype != param.dtype:
                raise TypeError(
                    f"{name} has dtype {t.dtype} but the model's parameters are {param.dtype}; "
                    f"convert it with .to({param.dtype})"
                )
        return t

    @staticmethod
    def numpy(tensors: list[torch.Tensor]) -> list[np.ndarray]:
        return [t.detach().cpu().numpy() for t in tensors]

    # -- running the model -----------------------------------------------------------------

    @contextlib.contextmanager
    def prepared(self) -> Iterator[None]:
        """Eval mode and frozen parameters for the duration (both restored after), so that
        ``requires_grad`` marks exactly the tensors that depend on the explained input."""
        modules = [m for m in self.model.modules() if m.training]
        if modules:
            warnings.warn(
                "the model is in training mode (dropout and batch norm would make the "
                "explanation random or batch-dependent); it is explained in eval mode and "
                "put back in training mode afterwards",
                UserWarning,
                stacklevel=4,
            )
        params = [p for p in self.model.parameters() if p.requires_grad]
        try:
            for m in modules:
                m.train(False)
            for p in params:
                p.requires_grad_(False)
            yield
        finally:
            for p in params:
                p.requires_grad_(True)
            for m in modules:
                m.train(True)

    def run(self, inputs: list[torch.Tensor], explained: list[torch.Tensor] | None) -> torch.Tensor:
        """The model's output ``(n, n_outputs)`` on ``inputs``, with the layer's input (or
        output) replaced by ``explained`` when a layer is set (and ``explained`` given)."""
        # Clones: the model may modify its input in place (an in-place ReLU first), which
        # would change the caller's data and the background, and which autograd refuses on
        # the leaf tensors the gradients are taken for.
        inputs = [t.clone() for t in inputs]
        if explained is None:
            out = self.model(*inputs)
        else:
            explained = [t.clone() for t in explained]
            if self.layer is None:
                out = self.model(*explained)
            else:
                with self._substitute(explained):
                    out = self.model(*inputs)
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"the model must return one tensor, got {type(out).__name__}; wrap it to "
                f"return the output to explain"
            )
        if out.dim() == 1:
            out = out.unsqueeze(1)
        if out.dim() != 2:
            raise ValueError(
                f"the model's output must be (n,) or (n, n_outputs), got {tuple(out.shape)}"
            )
        return out

    @contextlib.contextmanager
    def _substitute(self, values: list[torch.Tensor]) -> Iterator[None]:
        if self.layer_output:

            def hook(module: nn.Module, args: Any, output: Any) -> Any:
                return values[0]

            handle = self.layer.register_forward_hook(hook)
        else:

            def pre_hook(module: nn.Module, args: tuple) -> Any:
                return tuple(values)

            handle = self.layer.register_forward_pre_hook(pre_hook)
        try:
            yield
        finally:
            handle.remove()

    def explained(self, inputs: list[torch.Tensor], batch_size: int = 4096) -> list[torch.Tensor]:
        """The tensors attributions are given for: the inputs, or the layer's values."""
        if self.layer is None:
            return inputs
        parts: list[list[torch.Tensor]] = []
        for start in range(0, inputs[0].shape[0], batch_size):
            captured: list[Any] = []

            def grab(
                module: nn.Module, args: tuple, output: Any = None, captured: list = captured
            ) -> None:
                captured.append(output if self.layer_output else args)

            handle = (
                self.layer.register_forward_hook(grab)
                if self.layer_output
                else self.layer.register_forward_pre_hook(grab)
            )
            try:
                with torch.no_grad():
                    self.model(*[t[start : start + batch_size] for t in inputs])
            finally:
                handle.remove()
            if len(captured) != 1:
                raise ValueError(
                    f"the layer ran {len(captured)} times in one forward pass; explaining a "
                    f"layer needs one that runs once"
                )
            value = captured[0]
            tensors = [value] if isinstance(value, torch.Tensor) else list(value)
            if not all(isinstance(t, torch.Tensor) and t.is_floating_point() for t in tensors):
                raise TypeError("the layer's inputs must be floating-point tensors")
            parts.append([t.detach() for t in tensors])
        return [torch.cat([p[i] for p in parts]) for i in range(len(parts[0]))]

    def outputs(self, inputs: list[torch.Tensor], batch_size: int = 4096) -> np.ndarray:
        """Model outputs ``(n, n_outputs)`` as float64."""
        chunks = []
        with torch.no_grad():
            for start in range(0, inputs[0].shape[0], batch_size):
                batch = [t[start : start + batch_size] for t in inputs]
                chunks.append(self.run(batch, None).double().cpu().numpy())
        if not chunks:  # no rows to explain
            return np.zeros((0, self.n_outputs))
        return np.concatenate(chunks)

    # -- Deep SHAP -------------------------------------------------------------------------

    def deep(self, X: list[torch.Tensor], ranks: np.ndarray | None, batch_size: int) -> list:
        """Deep SHAP values, one array ``(n, *shape, n_explained)`` per explained tensor."""
        xe = self.explained(X)
        bg, bge = self.data, self.bg_explained
        n, n_bg = X[0].shape[0], bg[0].shape[0]
        n_cols = self.n_outputs if ranks is None else ranks.shape[1]
        phis = [np.zeros((n, *t.shape[1:], n_cols)) for t in xe]
        chunk = min(n_bg, batch_size)
        fallbacks: set[str] = set()
        for c0 in range(0, n_bg, chunk):
            c1 = min(c0 + chunk, n_bg)
            c = c1 - c0
            per_block = max(1, batch_size // c)
            cache: dict[int, list[torch.Tensor]] = {}
            for r0 in range(0, n, per_block):
                r1 = min(r0 + per_block, n)
                b = r1 - r0
                ref_in = [t[c0:c1].repeat(b, *([1] * (t.dim() - 1))) for t in bg]
                ref_ex = [t[c0:c1].repeat(b, *([1] * (t.dim() - 1))) for t in bge]
                if b not in cache:
                    cache.clear()  # one entry per block shape: memory stays bounded
                    cache[b] = self._record(ref_in, ref_ex)
                sums = [
                    torch.zeros((b, *t.shape[1:], n_cols), dtype=t.dtype, device=t.device)
                    for t in xe
                ]
                x_in = [t[r0:r1].repeat_interleave(c, 0) for t in X]
                x_ex = [t[r0:r1].repeat_interleave(c, 0).requires_grad_() for t in xe]
                mode = rules.Pairing(recording=False, refs=cache[b])
                with torch.enable_grad(), mode:
                    out = self.run(x_in, x_ex)
                if mode.position != len(mode.refs):
                    raise RuntimeError(
                        "the model made fewer nonlinear calls on the explained rows than on the "
                        "background; DeepExplainer needs the same operations for both"
                    )
                fallbacks |= mode.fallbacks
                sel = None if ranks is None else torch.as_tensor(ranks[r0:r1], device=out.device)
                diffs = [xk.detach() - rk for xk, rk in zip(x_ex, ref_ex, strict=True)]
                for j in range(n_cols):
                    target = (
                        out[:, j]
                        if sel is None
                        else out.gather(1, sel.repeat_interleave(c, 0)[:, j : j + 1])
                    )
                    grads = torch.autograd.grad(
                        target.sum(), x_ex, retain_graph=j < n_cols - 1, allow_unused=True
                    )
                    for k, (g, d) in enumerate(zip(grads, diffs, strict=True)):
                        if g is not None:
                            sums[k][..., j] += (g * d).view(b, c, *d.shape[1:]).sum(1)
                for k, s in enumerate(sums):
                    phis[k][r0:r1] += s.double().cpu().numpy()
                    s.zero_()
        warn_fallbacks(fallbacks, "torch")
        return [p / n_bg for p in phis]

    def _record(self, ref_in: list[torch.Tensor], ref_ex: list[torch.Tensor]) -> list:
        mode = rules.Pairing(recording=True)
        ref_ex = [t.clone().requires_grad_() for t in ref_ex]
        with torch.enable_grad(), mode:
            self.run(ref_in, ref_ex)
        return mode.refs

    # -- expected gradients ----------------------------------------------------------------

    def gradients(
        self,
        X: list[torch.Tensor],
        ranks: np.ndarray | None,
        draws: tuple[np.ndarray, np.ndarray],
        local_smoothing: float,
        seed: int,
        batch_size: int,
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Means and sample variances of ``grad * (x~ - r)`` over the draws, per row."""
        xe = self.explained(X)
        bge = self.bg_explained
        rind, alpha = draws
        n, nsamples = rind.shape
        n_cols = self.n_outputs if ranks is None else ranks.shape[1]
        acc_dtype = torch.float32 if self.device.type == "mps" else torch.float64
        sums = [
            torch.zeros((n, *t.shape[1:], n_cols), dtype=acc_dtype, device=self.device) for t in xe
        ]
        squares = [torch.zeros_like(s) for s in sums]
        generator = torch.Generator(device=self.device).manual_seed(seed)
        row_of = torch.arange(n, device=self.device).repeat_interleave(nsamples)
        flat_rind = torch.as_tensor(rind.reshape(-1), device=self.device)
        flat_alpha = alpha.reshape(-1)
        for p0 in range(0, n * nsamples, batch_size):
            p1 = min(p0 + batch_size, n * nsamples)
            rows, refs = row_of[p0:p1], flat_rind[p0:p1]
            points, deltas = [], []
            for t, b in zip(xe, bge, strict=True):
                x = t[rows]
                if local_smoothing > 0:
                    x = x + local_smoothing * torch.randn(
                        x.shape, generator=generator, device=self.device, dtype=x.dtype
                    )
                r = b[refs]
                a = torch.as_tensor(flat_alpha[p0:p1], device=self.device, dtype=x.dtype)
                a = a.view(-1, *([1] * (x.dim() - 1)))
                points.append((a * x + (1 - a) * r).requires_grad_())
                deltas.append(x - r)
            x_in = [t[rows] for t in X]
            with torch.enable_grad():
                out = self.run(x_in, points)
            sel = None if ranks is None else torch.as_tensor(ranks, device=out.device)[rows]
            for j in range(n_cols):
                target = out[:, j] if sel is None else out.gather(1, sel[:, j : j + 1])
                grads = torch.autograd.grad(
                    target.sum(), points, retain_graph=j < n_cols - 1, allow_unused=True
                )
                for k, (g, d) in enumerate(zip(grads, deltas, strict=True)):
                    if g is None:
                        continue
                    samples = (g * d).to(acc_dtype)
                    sums[k][..., j].index_add_(0, rows, samples)
                    squares[k][..., j].index_add_(0, rows, samples * samples)
        means = [(s / nsamples).cpu().numpy().astype(np.float64) for s in sums]
        ddof = 1 if nsamples > 1 else 0
        variances = [
            np.maximum(q.cpu().numpy() - nsamples * m**2, 0) / (nsamples - ddof)
            for q, m in zip(squares, means, strict=True)
        ]
        return means, variances


def _device_of(model: nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _floating_param(model: nn.Module) -> torch.Tensor | None:
    for p in model.parameters():
        if p.is_floating_point():
            return p
    return None


def _numpy_dtype(model: nn.Module, like: torch.Tensor | None) -> Any:
    if like is not None and like.is_floating_point():
        return torch.empty(0, dtype=like.dtype).numpy().dtype
    param = _floating_param(model)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    return torch.empty(0, dtype=dtype).numpy().dtype
