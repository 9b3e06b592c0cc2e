"""``save`` / ``load`` for explainers: shap's method names and arguments, ferroshap's own file.

A file is a short header (so that a shap file or any other file is refused with a clear
message instead of an unpickling error), a record of how the model and the masker were
saved, whatever custom ``model_saver`` / ``masker_saver`` functions wrote, then the pickled
explainer. Explainers pickle compactly (a tree ensemble as its bytes, a Kernel explainer as its
model and background). The model and the masker are pickled with the explainer by default
(shap's ``".save"``); with ``model_saver=False`` (or ``None``) they are left out and
``load(..., model_loader=...)`` must give them back; with a function, that function writes them
(``saver(obj, file)``) and the matching loader reads them (``loader(file)``), as shap's.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from typing import Any

import numpy as np

from ferroshap.maskers._masker import dumps

__all__ = ["SaveLoad", "load_explainer", "save_explainer"]

_MAGIC = b"ferroshap-explainer\n"
_VERSION = 2
_INLINE, _LEFT_OUT, _CUSTOM = "inline", "left out", "custom"


def _mode(saver: Any, what: str) -> str:
    if saver is None or saver is False:
        return _LEFT_OUT
    if callable(saver):
        return _CUSTOM
    if isinstance(saver, str) and saver in (".save", "auto"):
        return _INLINE
    raise ValueError(
        f"{what}_saver must be '.save' (pickled with the explainer), False / None (left out) or "
        f"a function saver(obj, file), got {saver!r}"
    )


def _model_attribute(explainer: Any) -> str:
    # TreeExplainer keeps the model given as _original_model (its `model` is a view of the
    # trees, which are always saved).
    return "_original_model" if hasattr(explainer, "_original_model") else "model"


def _fingerprint(data: Any) -> str | None:
    """A hash of background data, to tell whether a loaded masker holds the saved one's."""
    if not isinstance(data, np.ndarray) or data.dtype == object:
        return None
    return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()


class _Pickler(pickle.Pickler):
    """Pickles the explainer with the objects left out (the model, the masker and its data)
    replaced by their names."""

    def __init__(self, file: Any, left_out: dict[int, str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._left_out = left_out

    def persistent_id(self, obj: Any) -> str | None:
        return self._left_out.get(id(obj))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, objects: dict[str, Any]) -> None:
        super().__init__(file)
        self._objects = objects

    def persistent_load(self, pid: str) -> Any:
        return self._objects[pid]


def save_explainer(explainer: Any, out_file: Any, model_saver: Any, masker_saver: Any) -> None:
    """Write ``explainer`` to ``out_file`` (a path or a binary file object)."""
    if isinstance(out_file, (str, os.PathLike)):
        with open(out_file, "wb") as f:
            save_explainer(explainer, f, model_saver, masker_saver)
        return
    model = getattr(explainer, _model_attribute(explainer), None)
    masker = getattr(explainer, "masker", None)
    record: dict[str, Any] = {
        "model": _mode(model_saver, "model") if model is not None else _INLINE,
        "masker": _mode(masker_saver, "masker") if masker is not None else _INLINE,
    }
    left_out: dict[int, str] = {}
    if record["model"] != _INLINE:
        left_out[id(model)] = "model"
    if record["masker"] != _INLINE:
        left_out[id(masker)] = "masker"
        data = getattr(masker, "data", None)
        if data is not None:
            left_out[id(data)] = "masker.data"
        record["masker_class"] = type(masker)
        record["max_samples"] = getattr(masker, "max_samples", None)
        clustering = getattr(masker, "clustering", None)
        record["clustering"] = clustering if isinstance(clustering, np.ndarray) else None
        record["fingerprint"] = _fingerprint(data)
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, left_out).dump(explainer)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise TypeError(
            f"the explainer cannot be saved because its model cannot be pickled ({e}); pass a "
            "module-level function or a fitted estimator instead of a lambda or closure, or "
            "save the model yourself (model_saver=)"
        ) from None
    out_file.write(_MAGIC + bytes([_VERSION]) + type(explainer).__name__.encode() + b"\n")
    out_file.write(dumps(record, "masker settings"))
    if record["model"] == _CUSTOM:
        model_saver(model, out_file)
    if record["masker"] == _CUSTOM:
        masker_saver(masker, out_file)
    out_file.write(buffer.getvalue())


def _restore(what: str, mode: str, loader: Any, in_file: Any) -> Any:
    if loader is not None and not callable(loader):
        raise TypeError(f"{what}_loader must be a function loader(file), got {loader!r}")
    if mode == _INLINE:
        if loader is not None:
            raise ValueError(
                f"this file holds its {what} (saved with {what}_saver='.save'); "
                f"{what}_loader is for files saved with a {what}_saver function or False"
            )
        return None
    if loader is None:
        how = "a custom function" if mode == _CUSTOM else f"{what}_saver=False"
        raise ValueError(
            f"this file was saved without its {what} ({how}): pass {what}_loader= to load()"
        )
    return loader(in_file)


def _as_masker(record: dict[str, Any], loaded: Any) -> Any:
    """The masker a masker_loader gave back, as the saved masker's class (shap's loaders may
    give back the data or the tokenizer the masker was built from)."""
    from ferroshap.maskers import Partition, Text

    cls = record["masker_class"]
    if isinstance(loaded, cls):
        masker = loaded
    elif issubclass(cls, Text):
        masker = Text(loaded)
    elif issubclass(cls, Partition):
        masker = cls(loaded, max_samples=record["max_samples"], clustering=record["clustering"])
    elif record["max_samples"] is not None:
        masker = cls(loaded, max_samples=record["max_samples"])
    else:
        raise TypeError(
            f"masker_loader gave a {type(loaded).__name__}, but the explainer was saved with a "
            f"{cls.__name__} masker"
        )
    expected = record.get("fingerprint")
    if expected is not None and _fingerprint(getattr(masker, "data", None)) != expected:
        raise ValueError(
            "the masker given by masker_loader holds other background data than the saved "
            "explainer's; values computed from it would not match the saved expected value: "
            "build the explainer again with the new background"
        )
    return masker


def load_explainer(
    cls: type, in_file: Any, model_loader: Any, masker_loader: Any, instantiate: bool
) -> Any:
    """Read an explainer of class ``cls`` written by :func:`save_explainer`."""
    if not instantiate:
        raise NotImplementedError(
            "instantiate=False is not supported: the file holds the whole pickled explainer"
        )
    if isinstance(in_file, (str, os.PathLike)):
        with open(in_file, "rb") as f:
            return load_explainer(cls, f, model_loader, masker_loader, instantiate)
    if in_file.read(len(_MAGIC)) != _MAGIC:
        raise ValueError(
            "this is not a file written by a ferroshap explainer's save() (files written by "
            "shap's save() cannot be read: build the explainer again from the model)"
        )
    version = in_file.read(1)
    if version not in (b"\x01", bytes([_VERSION])):
        raise ValueError(f"unsupported ferroshap explainer file version {version!r}")
    name = in_file.readline().rstrip(b"\n").decode()
    # shap's Explainer.load reads a file of any explainer class.
    if name != cls.__name__ and not getattr(cls, "_loads_any_explainer", False):
        raise ValueError(f"this file holds a {name}, not a {cls.__name__}")
    if version == b"\x01":  # a header, then the pickled explainer
        return _restore_only(pickle.load(in_file), model_loader, masker_loader)
    record = pickle.load(in_file)
    model = _restore("model", record["model"], model_loader, in_file)
    objects: dict[str, Any] = {}
    if record["model"] != _INLINE:
        objects["model"] = model
    if record["masker"] != _INLINE:
        masker = _as_masker(record, _restore("masker", record["masker"], masker_loader, in_file))
        objects["masker"] = masker
        objects["masker.data"] = getattr(masker, "data", None)
    explainer = _Unpickler(in_file, objects).load()
    if record["model"] != _INLINE and _model_attribute(explainer) == "_original_model":
        explainer._original_model = model
    return explainer


def _restore_only(explainer: Any, model_loader: Any, masker_loader: Any) -> Any:
    if model_loader is not None or masker_loader is not None:
        raise ValueError("this file (format 1) holds its model and masker: pass no loaders")
    return explainer


class SaveLoad:
    """shap's ``save`` / ``load`` methods for an explainer class (the file is ferroshap's own:
    see the module's documentation)."""

    def save(self, out_file: Any, model_saver: Any = ".save", masker_saver: Any = ".save") -> None:
        """Write the explainer to a binary file or a path, as shap's ``save`` (ferroshap's
        own format).

        Parameters
        ----------
        out_file
            A binary file object or a path.
        model_saver, masker_saver
            ``".save"`` (default): pickled with the explainer. ``False`` or ``None``: left out
            (``load`` then needs ``model_loader`` / ``masker_loader``). A function
            ``saver(obj, file)``: writes the model / masker to the file, read back by the
            loader given to ``load``.

        Examples
        --------
        >>> import io, pickle, numpy as np, ferroshap
        >>> explainer = ferroshap.LinearExplainer((np.array([1.0, 2.0]), 0.5), np.zeros((3, 2)))
        >>> buffer = io.BytesIO()
        >>> explainer.save(buffer, model_saver=pickle.dump)
        >>> _ = buffer.seek(0)
        >>> type(ferroshap.LinearExplainer.load(buffer, model_loader=pickle.load)).__name__
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
        you trust: they are unpickled.

        Parameters
        ----------
        in_file
            A binary file object or a path.
        model_loader, masker_loader
            For a file saved with ``model_saver`` / ``masker_saver`` set to a function or to
            ``False``: a function ``loader(file)`` giving the model / masker back (for the
            masker, the background data or tokenizer it was built from also works). A masker
            whose background data differs from the saved one is refused.
        """
        return load_explainer(cls, in_file, model_loader, masker_loader, instantiate)
