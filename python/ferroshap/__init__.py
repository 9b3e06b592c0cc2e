"""ferroshap: exact, fast SHAP values with a Rust core and a shap-compatible API."""

from ferroshap._core import (
    FerroshapError,
    InvalidModelError,
    ModelFormatError,
    UnsupportedModelError,
    __version__,
)

__all__ = [
    "FerroshapError",
    "InvalidModelError",
    "ModelFormatError",
    "UnsupportedModelError",
    "__version__",
]
