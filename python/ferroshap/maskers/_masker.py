"""``maskers.Masker``: the base of every masker, with shap's ``save`` / ``load``.

A masker file is a short header (so that shap's files, or any other file, are refused with a
clear message rather than an unpickling error) followed by the pickled masker. The file is
ferroshap's own: shap's Serializable format is not read or written.
"""

from __future__ import annotations

import io
import os
import pickle
from typing import Any

import numpy as np

__all__ = ["Masker", "dumps", "loads"]

_MAGIC = b"ferroshap-masker\n"
_VERSION = 1


def dumps(obj: Any, what: str) -> bytes:
    """``obj`` pickled; with cloudpickle (shap's dependency) when plain pickle cannot, so that
    maskers holding local functions (an ``OutputComposite``'s model) can be saved as in shap."""
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        try:
            import cloudpickle
        except ImportError:
            raise TypeError(
                f"the {what} cannot be pickled ({e}); install cloudpickle to save lambdas and "
                "local functions, or use module-level functions"
            ) from None
        try:
            return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e2:  # noqa: BLE001 (cloudpickle raises many types)
            raise TypeError(f"the {what} cannot be pickled: {e2}") from None


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def _read(in_file: Any) -> bytes:
    if isinstance(in_file, (str, os.PathLike)):
        with open(in_file, "rb") as f:
            return f.read()
    return in_file.read()


class Masker:
    """The base class of ferroshap's maskers, as ``shap.maskers.Masker``.

    A masker is called as ``masker(mask, *row_args)``: ``mask`` holds one boolean per feature
    (True: the feature comes from the explained row), ``row_args`` are one row of each of the
    model's inputs, and the result is a tuple with one entry per model input, each holding the
    masked rows to evaluate (the model's outputs over them are averaged). Subclass it to write
    your own masker: define ``__call__``, ``shape`` (``(rows, n_features)`` or a function of
    the row's inputs giving it) and, for PartitionExplainer, ``clustering``.

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> class ZeroMasker(ferroshap.maskers.Masker):
    ...     def __init__(self, n_features):
    ...         self.shape = (1, n_features)
    ...         self.clustering = None
    ...     def __call__(self, mask, x):
    ...         return ((x * mask).reshape(1, -1),)
    >>> masker = ZeroMasker(3)
    >>> masker(np.array([True, False, True]), np.array([1.0, 2.0, 3.0]))[0]
    array([[1., 0., 3.]])
    """

    shape: Any
    clustering: Any

    def __call__(self, mask: Any, *args: Any) -> Any:  # pragma: no cover (abstract)
        raise NotImplementedError(f"{type(self).__name__} does not define __call__")

    def _standardize_mask(self, mask: Any, *args: Any) -> np.ndarray:
        """``True`` / ``False`` (shap's shorthand for all or no features) as a boolean array of
        the masker's width; any other mask is returned as given."""
        if mask is True or mask is False:
            shape = self.shape(*args) if callable(self.shape) else self.shape
            return np.full(shape[1], mask, dtype=bool)
        return mask

    def save(self, out_file: Any) -> None:
        """Write the masker to a binary file object or a path (ferroshap's own format: the
        masker pickled whole, its data included).

        Examples
        --------
        >>> import io, numpy as np, ferroshap
        >>> buffer = io.BytesIO()
        >>> ferroshap.maskers.Independent(np.zeros((3, 2))).save(buffer)
        >>> _ = buffer.seek(0)
        >>> ferroshap.maskers.Masker.load(buffer).shape
        (3, 2)
        """
        header = _MAGIC + bytes([_VERSION]) + type(self).__name__.encode() + b"\n"
        payload = header + dumps(self, f"{type(self).__name__} masker")
        if isinstance(out_file, (str, os.PathLike)):
            with open(out_file, "wb") as f:
                f.write(payload)
        else:
            out_file.write(payload)

    @classmethod
    def load(cls, in_file: Any, instantiate: bool = True) -> Any:
        """Read a masker written by :meth:`save` (a binary file object or a path); called on a
        subclass, the file must hold that class (or one of its subclasses). Only load files you
        trust: they are unpickled."""
        if not instantiate:
            raise NotImplementedError(
                "instantiate=False is not supported: the file holds the whole pickled masker"
            )
        stream = io.BytesIO(_read(in_file))
        if stream.read(len(_MAGIC)) != _MAGIC:
            raise ValueError(
                "this is not a file written by a ferroshap masker's save() (files written by "
                "shap's save() cannot be read: build the masker again)"
            )
        version = stream.read(1)
        if version != bytes([_VERSION]):
            raise ValueError(f"unsupported ferroshap masker file version {version!r}")
        name = stream.readline().rstrip(b"\n").decode()
        masker = loads(stream.read())
        if not isinstance(masker, cls):
            raise ValueError(f"this file holds a {name} masker, not a {cls.__name__}")
        return masker
