"""OpChain: Explanation operations recorded on the class (``Explanation.abs.mean(0)``) and
applied later to an instance, as plots do with their ``order`` arguments."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OpChain", "OpHistoryItem", "op", "record"]


@dataclass
class OpHistoryItem:
    """One operation applied to an Explanation, as ``shap``'s ``op_history`` lists them:
    its name (``"abs"``, ``"__getitem__"``, ``"mean"``, ``"__add__"`` ...), the shape of the
    values before it, and its arguments."""

    name: str
    prev_shape: tuple[int, ...]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    collapsed_instances: bool = False


def record(result: Any, source: Any, name: str, args: tuple = (), kwargs: Any = None) -> Any:
    """Give ``result`` (an Explanation made from ``source``) ``source``'s history plus this
    operation; what ``source``'s method did internally (a ``sample`` slicing rows, say) is not
    listed, as in shap."""
    if hasattr(result, "op_history"):
        shape = source.values.shape
        collapsed = name in _REDUCTIONS and bool(args or kwargs) and _axis(args, kwargs) == 0
        item = OpHistoryItem(name, shape, tuple(args), dict(kwargs or {}), collapsed)
        result.op_history = [*source.op_history, item]
    return result


_REDUCTIONS = frozenset({"mean", "sum", "max", "min", "percentile"})


def _axis(args: tuple, kwargs: Any) -> Any:
    if kwargs and "axis" in kwargs:
        return kwargs["axis"]
    return args[-1] if args else None


class OpChain:
    """A recorded chain of Explanation operations, applied later to an Explanation.

    ``Explanation.abs.mean(0)`` (on the class, not an instance) gives one; plots take it as an
    ``order`` argument and call :meth:`apply` with the explanation they draw.

    Examples
    --------
    >>> order = Explanation.abs.mean(0)
    >>> order
    Explanation.abs.mean(0)
    >>> sv = Explanation(np.array([[1.0, -3.0], [-1.0, 1.0]]))
    >>> order.apply(sv).values
    array([1., 2.])
    """

    def __init__(
        self, ops: tuple[tuple[str, tuple | None, dict | None], ...] = (), root: str = "Explanation"
    ) -> None:
        self._ops = ops
        self._root = root

    def __getattr__(self, name: str) -> Any:
        op = _OPS.get(name)
        if op is None:
            raise AttributeError(f"{name!r} cannot be chained on an Explanation")
        if op.is_property:
            return OpChain((*self._ops, (name, None, None)))

        def record(*args: Any, **kwargs: Any) -> OpChain:
            return OpChain((*self._ops, (name, args, kwargs)))

        return record

    def __getitem__(self, item: Any) -> OpChain:
        return OpChain((*self._ops, ("__getitem__", (item,), {})))

    def apply(self, explanation: Any) -> Any:
        """Run the recorded operations on ``explanation`` and return the result."""
        result: Any = explanation
        for name, args, kwargs in self._ops:
            attr = getattr(result, name)
            result = attr if args is None else attr(*args, **(kwargs or {}))
        return result

    def __repr__(self) -> str:
        text = self._root
        for name, args, kwargs in self._ops:
            if args is None:
                text += f".{name}"
            elif name == "__getitem__":
                text += f"[{args[0]!r}]"
            else:
                parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in (kwargs or {}).items()]
                text += f".{name}({', '.join(parts)})"
        return text


class _Op:
    """An Explanation operation that, read from the class itself, starts an :class:`OpChain`."""

    def __init__(self, fn: Callable[..., Any], is_property: bool) -> None:
        self.fn = fn
        self.is_property = is_property
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return getattr(OpChain(), self.fn.__name__)
        name = self.fn.__name__
        if self.is_property:
            return record(self.fn(obj), obj, name)
        fn = self.fn

        @functools.wraps(fn)
        def method(*args: Any, **kwargs: Any) -> Any:
            return record(fn(obj, *args, **kwargs), obj, name, args, kwargs)

        return method


_OPS: dict[str, _Op] = {}


def op(is_property: bool = False) -> Callable[[Callable[..., Any]], _Op]:
    def wrap(fn: Callable[..., Any]) -> _Op:
        op = _Op(fn, is_property)
        _OPS[fn.__name__] = op
        return op

    return wrap
