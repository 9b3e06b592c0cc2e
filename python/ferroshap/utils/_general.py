"""Small helpers of ``shap.utils`` that user code and shap-based extensions call, under shap's
names and with shap's behaviour: formatting, name lookup, Shapley weights, a generic op chain,
stderr suppression."""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from ferroshap._opchain import OpChain as _ExplanationOpChain

__all__ = [
    "OpChain",
    "convert_name",
    "format_value",
    "import_errors",
    "ordinal_str",
    "record_import_error",
    "shapley_coefficients",
    "suppress_stderr",
]

# Optional imports that failed, name -> (message, exception), as shap keeps them.
import_errors: dict[str, tuple[str, ImportError]] = {}


def record_import_error(package_name: str, msg: str, e: ImportError) -> None:
    """Remember that ``package_name`` could not be imported (``msg``, ``e``)."""
    import_errors[package_name] = (msg, e)


def format_value(s: Any, format_str: str) -> str:
    """``s`` formatted with ``format_str`` (unless it is already a string), trailing zeros
    removed and a leading minus as the Unicode minus sign, as shap's plots label numbers.

    Examples
    --------
    >>> format_value(-1.5, "%0.03f")
    '\u22121.5'
    >>> format_value(2.0, "%0.03f")
    '2'
    """
    if not isinstance(s, str):
        s = format_str % s
    s = re.sub(r"\.?0+$", "", s)
    if s.startswith("-"):
        s = "\u2212" + s[1:]
    return s


def ordinal_str(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ... ``11th``, ``21st``."""
    suffix = "th" if 10 <= n % 100 < 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def convert_name(ind: Any, shap_values: Any, input_names: Any) -> Any:
    """A feature index from a name, as shap's legacy plots read ``ind``: a name, ``"rank(k)"``
    (the k-th most important feature by mean ``|SHAP|``), ``"sum()"`` (kept as is), or an index
    (returned unchanged).

    Raises
    ------
    ValueError
        For a name that is not among ``input_names``.
    """
    if ind is None or not isinstance(ind, str):
        return ind
    matches = np.flatnonzero(np.asarray(input_names) == ind)
    if len(matches):
        return int(matches[0])
    if ind.startswith("rank(") and ind.endswith(")"):
        if shap_values is None:
            raise ValueError("shap_values must be provided for rank-based indexing")
        order = np.argsort(-np.abs(np.asarray(shap_values)).mean(0), kind="stable")
        return int(order[int(ind[5:-1])])
    if ind == "sum()":
        return "sum()"
    raise ValueError(f"Could not find feature named: {ind}")


def shapley_coefficients(n: int) -> np.ndarray:
    """The Shapley weight of a coalition of each size ``0 .. n-1`` among ``n`` players:
    ``1 / (n C(n-1, s))``."""
    return np.array([1.0 / (n * math.comb(n - 1, s)) for s in range(n)])


@contextlib.contextmanager
def suppress_stderr() -> Iterator[None]:
    """Send ``sys.stderr`` to the null device inside the ``with`` block."""
    with open(os.devnull, "w") as devnull:
        old, sys.stderr = sys.stderr, devnull
        try:
            yield
        finally:
            sys.stderr = old


class OpChain(_ExplanationOpChain):
    """shap's generic ``utils.OpChain``: any chain of attribute reads, calls and indexing under
    a root name, applied later with :meth:`apply` (``Explanation.abs.mean(0)`` builds the
    Explanation-specific chain this extends).

    Examples
    --------
    >>> OpChain("shap.Explanation").abs.mean(0)
    shap.Explanation.abs.mean(0)
    """

    def __init__(self, root_name: str = "", ops: tuple = ()) -> None:
        super().__init__(ops, root=root_name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return OpChain(self._root, (*self._ops, (name, None, None)))

    def __getitem__(self, item: Any) -> OpChain:
        return OpChain(self._root, (*self._ops, ("__getitem__", (item,), {})))

    def __call__(self, *args: Any, **kwargs: Any) -> OpChain:
        """Give the last operation these arguments (it becomes a call)."""
        if not self._ops:
            raise TypeError("an empty OpChain cannot be called")
        name = self._ops[-1][0]
        return OpChain(self._root, (*self._ops[:-1], (name, args, kwargs)))
