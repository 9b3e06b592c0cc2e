"""Shared set-up for the explainer tests.

TensorFlow and triton (which torch loads for its optimizers, torch._dynamo and torchvision)
both register LLVM command-line options; whichever process loads triton after TensorFlow
aborts ("LLVM ERROR: inconsistency in registered CommandLine options"). Loading triton first
lets the PyTorch and Keras deep-explainer tests share one pytest process in any order.
"""

import importlib.util

if importlib.util.find_spec("triton") is not None:
    import triton  # noqa: F401
