"""Maskers for models of several inputs, as shap's: :class:`Fixed` (an input left as it is),
:class:`Composite` (one masker per input, their features side by side), :class:`FixedComposite`
(the masked input followed by the original one) and :class:`OutputComposite` (the masked input
followed by a model's output on the original one).

ferroshap's explainers evaluate these through the maskers' own ``__call__`` (the masker
protocol), one explained row at a time: see :mod:`ferroshap.explainers._masker_game`.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from ferroshap.maskers._masker import Masker

__all__ = ["Composite", "Fixed", "FixedComposite", "OutputComposite", "arg_count", "masker_shape"]

# What a wrapping masker shows of the masker it wraps (shap's list).
_WRAPPED_ATTRIBUTES = (
    "shape",
    "invariants",
    "clustering",
    "data_transform",
    "mask_shapes",
    "feature_names",
    "text_data",
    "image_data",
)


def _invalid(message: str) -> Exception:
    # Imported here: ferroshap.utils imports the explainers, which import the maskers.
    from ferroshap.utils._exceptions import InvalidMaskerError

    return InvalidMaskerError(message)


class ArgCountError(ValueError, AssertionError):
    """A composite masker called with the wrong number of inputs (an ``AssertionError`` too,
    as shap raises one)."""


def arg_count(masker: Any) -> int:
    """How many model inputs ``masker`` masks: a composite's total, a wrapper's inner
    masker's, else the positional parameters of its ``__call__`` after the mask (1 for a
    ``(mask, *args)`` signature)."""
    if isinstance(masker, Composite):
        return masker.total_args
    if isinstance(masker, (FixedComposite, OutputComposite)):
        return arg_count(masker.masker)
    try:
        params = list(inspect.signature(masker).parameters.values())[1:]  # after the mask
    except (TypeError, ValueError):
        return 1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    n = sum(1 for p in params if p.kind in kinds and p.default is inspect.Parameter.empty)
    return max(n, 1) if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params) else n


def masker_shape(masker: Any, *args: Any) -> tuple[int | None, int]:
    """``(rows, n_features)`` of ``masker`` for one row of inputs ``args``."""
    shape = masker.shape(*args) if callable(masker.shape) else masker.shape
    return shape[0], int(shape[1])


def _as_tuple(out: Any) -> tuple[Any, ...]:
    return out if isinstance(out, tuple) else (out,)


class Fixed(Masker):
    """Leaves its input unchanged whatever the mask, as ``shap.maskers.Fixed``: for model
    inputs that are not explained, such as the labels of a loss.

    It has no features (``shape == (None, 0)``); in a :class:`Composite` it passes the input
    through to the model beside the masked ones.

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> masker = ferroshap.maskers.Fixed()
    >>> masker(np.array([], dtype=bool), "label")
    (['label'],)
    """

    def __init__(self) -> None:
        self.shape = (None, 0)
        self.clustering = np.zeros((0, 4))

    def __call__(self, mask: Any, x: Any) -> tuple[list[Any]]:
        return ([x],)

    def mask_shapes(self, x: Any) -> list[tuple[int, ...]]:
        """``[(0,)]``: no features to mask."""
        return [(0,)]

    def __repr__(self) -> str:
        return "Fixed()"


class Composite(Masker):
    """Several maskers, one per model input (or group of inputs), as
    ``shap.maskers.Composite``: the features are those of each masker in turn, a mask is split
    between them, and the model receives every masker's output side by side.

    Parameters
    ----------
    *maskers
        The maskers, in the order of the model's inputs (e.g. ``Text()`` then ``Fixed()`` for
        a model of ``(texts, labels)``). Maskers that return one row (text, a fixed input) are
        repeated to the number of background rows of the others.

    Attributes
    ----------
    maskers : tuple
        The maskers given.
    arg_counts : list of int
        How many inputs each masker takes.
    total_args : int
        Their sum: the number of inputs of the model.
    text_data, image_data : bool
        Whether any masker masks text / images.
    clustering
        When every masker has a ``clustering``: a function of a row's inputs giving the
        joint hierarchy (each masker's own, joined at the top).

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> masker = ferroshap.maskers.Composite(
    ...     ferroshap.maskers.Independent(np.zeros((2, 2))), ferroshap.maskers.Fixed()
    ... )
    >>> masker.shape(np.ones(2), "label")
    (2, 2)
    >>> masked, labels = masker(np.array([True, False]), np.ones(2), "label")
    >>> masked.tolist(), labels
    ([[1.0, 0.0], [1.0, 0.0]], ['label', 'label'])
    """

    def __init__(self, *maskers: Any) -> None:
        if not maskers:
            raise ValueError("Composite needs at least one masker")
        for m in maskers:
            if not callable(m) or not hasattr(m, "shape"):
                raise TypeError(
                    f"Composite takes maskers (callables with a shape), got {type(m).__name__}"
                )
        self.maskers = tuple(maskers)
        self.arg_counts = [arg_count(m) for m in self.maskers]
        self.total_args = sum(self.arg_counts)
        self.text_data = any(getattr(m, "text_data", False) for m in self.maskers)
        self.image_data = any(getattr(m, "image_data", False) for m in self.maskers)
        if all(hasattr(m, "clustering") for m in self.maskers):
            self.clustering = self._joint_clustering

    def _split(self, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if len(args) != self.total_args:
            raise ArgCountError(
                f"The number of passed args is incorrect: the Composite masker takes "
                f"{self.total_args} inputs ({', '.join(map(str, self.arg_counts))} per masker), "
                f"got {len(args)}"
            )
        out, pos = [], 0
        for n in self.arg_counts:
            out.append(args[pos : pos + n])
            pos += n
        return out

    def _shapes(self, args: tuple[Any, ...]) -> tuple[list[tuple[int | None, int]], int | None]:
        shapes = [masker_shape(m, *a) for m, a in zip(self.maskers, self._split(args), strict=True)]
        rows = None
        for r, _ in shapes:
            if r is None or r == 1:
                rows = rows if rows is not None else r
            elif rows is None or rows == 1:
                rows = r
            elif r != rows:
                raise _invalid(
                    "the maskers of a Composite masker must give the same number of background "
                    f"rows (or one): got {[s[0] for s in shapes]}"
                )
        return shapes, rows

    def shape(self, *args: Any) -> tuple[int | None, int]:
        """``(rows, n_features)`` for one row of inputs: the features of all maskers."""
        shapes, rows = self._shapes(args)
        return rows, sum(s[1] for s in shapes)

    def mask_shapes(self, *args: Any) -> list[tuple[int, ...]]:
        """The shape of each input's part of the mask."""
        out: list[tuple[int, ...]] = []
        for m, a in zip(self.maskers, self._split(args), strict=True):
            if hasattr(m, "mask_shapes"):
                out.extend(m.mask_shapes(*a))
            else:
                out.append((masker_shape(m, *a)[1],))
        return out

    def data_transform(self, *args: Any) -> list[Any]:
        """Each input as its masker shows it (text as its tokens); inputs of maskers without
        a ``data_transform`` as given."""
        out: list[Any] = []
        for m, a in zip(self.maskers, self._split(args), strict=True):
            out.extend(m.data_transform(*a) if hasattr(m, "data_transform") else a)
        return out

    def feature_names(self, *args: Any) -> list[Any]:
        """The feature names of each input (``None`` where its masker has none)."""
        out: list[Any] = []
        for m, a in zip(self.maskers, self._split(args), strict=True):
            names = getattr(m, "feature_names", None)
            if callable(names):
                out.extend(names(*a))
            else:
                out.extend([names] * len(a))
        return out

    def __call__(self, mask: Any, *args: Any) -> tuple[Any, ...]:
        mask = np.asarray(self._standardize_mask(mask, *args), dtype=bool)
        shapes, rows = self._shapes(args)
        width = sum(s[1] for s in shapes)
        if mask.shape != (width,):
            raise ValueError(f"mask must hold {width} booleans, got shape {mask.shape}")
        out: list[Any] = []
        pos = 0
        for m, a, (r, n) in zip(self.maskers, self._split(args), shapes, strict=True):
            masked = _as_tuple(m(mask[pos : pos + n], *a))
            if rows is not None and rows > 1 and (r is None or r == 1):
                # One row (a text, a fixed input) repeated beside each background row.
                masked = tuple([part[0]] * rows for part in masked)
            out.extend(masked)
            pos += n
        return tuple(out)

    def _joint_clustering(self, *args: Any) -> np.ndarray | None:
        """The maskers' hierarchies side by side, joined at the top (``None`` if one has no
        hierarchy)."""
        parts = []
        for m, a in zip(self.maskers, self._split(args), strict=True):
            c = m.clustering(*a) if callable(m.clustering) else m.clustering
            n = masker_shape(m, *a)[1]
            if n == 0:
                continue
            if c is None:
                return None
            parts.append((np.asarray(c, dtype=float).reshape(-1, 4), n))
        return join_linkages(parts)

    def __repr__(self) -> str:
        return f"Composite({', '.join(map(repr, self.maskers))})"


def join_linkages(parts: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """One linkage matrix over the leaves of several, in order: each part's leaves and
    clusters renumbered, then the parts' roots joined from the left, above every cluster."""
    total = sum(n for _, n in parts)
    rows: list[np.ndarray] = []
    roots: list[tuple[int, int]] = []  # (node index, leaves under it)
    leaf0, node0 = 0, total
    top = max((float(c[:, 2].max()) for c, _ in parts if len(c)), default=0.0)
    for c, n in parts:
        if len(c) != n - 1:
            raise _invalid(
                f"a masker's clustering has {len(c)} rows for its {n} features (needs {n - 1})"
            )
        renumbered = c.copy()
        for col in (0, 1):
            idx = c[:, col].astype(int)
            renumbered[:, col] = np.where(idx < n, idx + leaf0, idx - n + node0 + len(rows))
        rows.extend(renumbered)
        roots.append((leaf0 if n == 1 else node0 + len(rows) - 1, n))
        leaf0 += n
    (a, size_a), distance = roots[0], top
    for b, size_b in roots[1:]:
        distance += 1.0
        rows.append(np.array([a, b, distance, size_a + size_b], dtype=float))
        a, size_a = node0 + len(rows) - 1, size_a + size_b
    return np.array(rows, dtype=float).reshape(-1, 4)


class _Wrapper(Masker):
    """A masker around another, showing its attributes (shap's list) where it has them."""

    def __init__(self, masker: Any) -> None:
        if not callable(masker):
            raise TypeError(f"masker must be a masker, got {type(masker).__name__}")
        self.masker = masker
        for name in _WRAPPED_ATTRIBUTES:
            value = getattr(masker, name, None)
            if value is not None:
                setattr(self, name, value)


class FixedComposite(_Wrapper):
    """The masked input followed by the original one, as ``shap.maskers.FixedComposite``: for
    models that compare a masked input with the unmasked one (e.g. the likelihood of the
    original text under a masked prompt).

    ``masker(mask, *args)`` returns the wrapped masker's output, then each argument as a
    one-element array.

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> masker = ferroshap.maskers.FixedComposite(ferroshap.maskers.Text())
    >>> masker(np.array([True, False, True]), "a good film")
    (array(['a ...film'], dtype='<U9'), array(['a good film'], dtype='<U11'))
    """

    def __call__(self, mask: Any, *args: Any) -> tuple[Any, ...]:
        return _as_tuple(self.masker(mask, *args)) + tuple(np.array([a]) for a in args)

    def __repr__(self) -> str:
        return f"FixedComposite({self.masker!r})"


class OutputComposite(_Wrapper):
    """The masked input followed by a model's output on the original input, as
    ``shap.maskers.OutputComposite`` (e.g. a text generator's output, which a teacher-forcing
    model then scores under each masked input).

    Parameters
    ----------
    masker
        The masker of the input.
    model
        A function of the original row's inputs; its output (a tuple for several) follows
        the masked input.

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> masker = ferroshap.maskers.OutputComposite(ferroshap.maskers.Text(), lambda s: len(s))
    >>> masker(np.array([True, False, True]), "a good film")
    (array(['a ...film'], dtype='<U9'), 11)
    """

    def __init__(self, masker: Any, model: Any) -> None:
        super().__init__(masker)
        if not callable(model):
            raise TypeError(f"model must be callable, got {type(model).__name__}")
        self.model = model

    def __call__(self, mask: Any, *args: Any) -> tuple[Any, ...]:
        return _as_tuple(self.masker(mask, *args)) + _as_tuple(self.model(*args))

    def __repr__(self) -> str:
        return f"OutputComposite({self.masker!r}, {self.model!r})"
