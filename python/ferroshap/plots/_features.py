"""Picking one feature by index or name, with errors that list what exists."""

from __future__ import annotations

from typing import Any

__all__ = ["feature_index"]


def feature_index(ind: Any, names: list[str]) -> int:
    """The position of feature ``ind`` (an index, negative from the end, or a name)."""
    n = len(names)
    if isinstance(ind, str):
        if ind not in names:
            shown = ", ".join(repr(x) for x in names[:12]) + (", ..." if n > 12 else "")
            raise ValueError(f"no feature named {ind!r}; the features are {shown}")
        return names.index(ind)
    j = int(ind)
    if not -n <= j < n:
        raise IndexError(f"feature index {ind} is out of range for {n} features")
    return j % n
