"""OpChain: Explanation operations recorded on the class (``Explanation.abs.mean(0)``) and
applied later to an instance, as plots do with their ``order`` arguments."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

__all__ = ["OpChain", "op"]


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

    def __init__(self, ops: tuple[tuple[str, tuple | None, dict | None], ...] = ()) -> None:
        self._ops = ops

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
        text = "Explanation"
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
        if self.is_property:
            return self.fn(obj)
        return types.MethodType(self.fn, obj)


_OPS: dict[str, _Op] = {}


def op(is_property: bool = False) -> Callable[[Callable[..., Any]], _Op]:
    def wrap(fn: Callable[..., Any]) -> _Op:
        op = _Op(fn, is_property)
        _OPS[fn.__name__] = op
        return op

    return wrap
