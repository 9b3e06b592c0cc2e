"""Which framework a model belongs to, decided without importing either framework."""

from __future__ import annotations

import sys
from typing import Any


def framework_of(model: Any) -> str:
    """``"torch"`` or ``"tensorflow"``; ``TypeError`` for anything else.

    A framework that has not been imported cannot have built the model, so only frameworks
    already in ``sys.modules`` are checked: ``import ferroshap`` and this check never import
    torch or tensorflow themselves.
    """
    target = model[0] if isinstance(model, tuple) and model else model
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(target, torch.nn.Module):
        return "torch"
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(target, keras.Model):
        return "tensorflow"
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(target, tf.Module):
        return "tensorflow"
    raise TypeError(
        f"expected a torch.nn.Module or a Keras 3 / TensorFlow model (optionally as a pair "
        f"(model, layer)), got {type(target).__name__}"
    )


def backend(model: Any, data: Any) -> Any:
    """The framework's model wrapper (imported here, on first use)."""
    if framework_of(model) == "torch":
        from ferroshap.explainers.deep.torch import TorchModel

        return TorchModel(model, data)
    from ferroshap.explainers.deep.tensorflow import KerasModel

    return KerasModel(model, data)
