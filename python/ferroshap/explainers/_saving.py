"""``save`` / ``load`` for explainers: shap's method names, ferroshap's own file.

A file is a short header (so that a shap file or any other file is refused with a clear
message instead of an unpickling error) followed by the pickled explainer; explainers pickle
compactly (a tree ensemble as its bytes, a Kernel explainer as its model and background).
"""

from __future__ import annotations

import io
import os
import pickle
from typing import Any

__all__ = ["load_explainer", "save_explainer"]

_MAGIC = b"ferroshap-explainer\n"
_VERSION = 1


def save_explainer(explainer: Any, out_file: Any, model_saver: Any, masker_saver: Any) -> None:
    """Write ``explainer`` to ``out_file`` (a path or a binary file object)."""
    if model_saver != ".save" or masker_saver != ".save":
        raise NotImplementedError(
            "custom model_saver / masker_saver functions are not supported: ferroshap pickles "
            "the model with the explainer; save an unpicklable model yourself and pass it to "
            "the constructor again"
        )
    try:
        payload = pickle.dumps(explainer, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise TypeError(
            f"the explainer cannot be saved because its model cannot be pickled ({e}); pass a "
            "module-level function or a fitted estimator instead of a lambda or closure"
        ) from None
    header = _MAGIC + bytes([_VERSION]) + type(explainer).__name__.encode() + b"\n"
    if isinstance(out_file, (str, os.PathLike)):
        with open(out_file, "wb") as f:
            f.write(header + payload)
    else:
        out_file.write(header + payload)


def load_explainer(
    cls: type, in_file: Any, model_loader: Any, masker_loader: Any, instantiate: bool
) -> Any:
    """Read an explainer of class ``cls`` written by :func:`save_explainer`."""
    if model_loader is not None or masker_loader is not None or not instantiate:
        raise NotImplementedError(
            "model_loader, masker_loader and instantiate=False are not supported: the file "
            "holds the whole pickled explainer"
        )
    if isinstance(in_file, (str, os.PathLike)):
        with open(in_file, "rb") as f:
            data = f.read()
    else:
        data = in_file.read()
    stream = io.BytesIO(data)
    if stream.read(len(_MAGIC)) != _MAGIC:
        raise ValueError(
            "this is not a file written by a ferroshap explainer's save() (files written by "
            "shap's save() cannot be read: build the explainer again from the model)"
        )
    version = stream.read(1)
    if version != bytes([_VERSION]):
        raise ValueError(f"unsupported ferroshap explainer file version {version!r}")
    name = stream.readline().rstrip(b"\n").decode()
    if name != cls.__name__:
        raise ValueError(f"this file holds a {name}, not a {cls.__name__}")
    return pickle.loads(stream.read())


class SaveLoad:
    """shap's ``save`` / ``load`` methods for an explainer class (the file is ferroshap's own:
    see the module's documentation)."""

    def save(self, out_file: Any, model_saver: Any = ".save", masker_saver: Any = ".save") -> None:
        """Write the explainer to a binary file or a path, as shap's ``save`` (ferroshap's
        own format: the explainer pickled whole, model and background included).

        Examples
        --------
        >>> import io, numpy as np, ferroshap
        >>> explainer = ferroshap.LinearExplainer((np.array([1.0, 2.0]), 0.5), np.zeros((3, 2)))
        >>> buffer = io.BytesIO()
        >>> explainer.save(buffer)
        >>> _ = buffer.seek(0)
        >>> type(ferroshap.LinearExplainer.load(buffer)).__name__
        'LinearExplainer'
        """
        save_explainer(self, out_file, model_saver, masker_saver)

    @classmethod
    def load(
        cls,
        in_file: Any,
        model_loader: Any = None,
        masker_loader: Any = None,
        instantiate: bool = True,
    ) -> Any:
        """Read an explainer written by :meth:`save` (a binary file or a path). Only load files
        you trust: they are unpickled."""
        return load_explainer(cls, in_file, model_loader, masker_loader, instantiate)
