"""The per-node arrays of a ``_core.TreeEnsemble``, read from its native bytes
(``TreeEnsemble.to_bytes``, whose layout ``crates/ferroshap/src/formats/native.rs`` documents),
for shap's view of a tree model (``explainer.model.trees``, ``explainer.model.thresholds``, ...).

Node numbering is ferroshap's (the order its parsers keep: the source library's node ids for
XGBoost and scikit-learn); a row goes left when ``x <= threshold`` at the model's input
precision (float32 for XGBoost and LightGBM). Internal nodes hold the cover-weighted mean of
their children's values, shap's convention for models whose files have no internal values.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

__all__ = ["read_trees"]

_MAGIC = b"FSHAPTE1"
_DEFAULT_LEFT, _CATEGORICAL, _LEAF = 1, 4, 8
_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")
_INTERNAL = struct.Struct("<IIId")  # left, right, feature, threshold


class _Reader:
    def __init__(self, data: bytes) -> None:
        if not data.startswith(_MAGIC):
            raise ValueError("not a ferroshap native model (bad magic)")
        self.data, self.at = data, len(_MAGIC)

    def u8(self) -> int:
        self.at += 1
        return self.data[self.at - 1]

    def u64(self) -> int:
        self.at += 8
        return _U64.unpack_from(self.data, self.at - 8)[0]

    def f64s(self, n: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype="<f8", count=n, offset=self.at)
        self.at += 8 * n
        return out

    def skip(self, item_bytes: int) -> None:
        """Skips a counted run of items (the count first)."""
        n = self.u64()  # read before moving past the run
        self.at += item_bytes * n


def _tree(r: _Reader, width: int) -> dict[str, Any]:
    n = r.u64()
    output = r.u64()
    r.u8()  # categories_go_left: categorical splits are shown by their node only
    left = np.full(n, -1, dtype=np.int64)
    right = np.full(n, -1, dtype=np.int64)
    default = np.full(n, -1, dtype=np.int64)
    feature = np.full(n, -1, dtype=np.int64)
    threshold = np.zeros(n)
    cover = np.zeros(n)
    values = np.zeros((n, width))
    leaf = np.zeros(n, dtype=bool)
    data = r.data
    for i in range(n):
        flags = r.u8()
        cover[i] = _F64.unpack_from(data, r.at)[0]
        r.at += 8
        if flags & _LEAF:
            leaf[i] = True
            values[i] = r.f64s(width)
            continue
        left[i], right[i], feature[i], threshold[i] = _INTERNAL.unpack_from(data, r.at)
        r.at += _INTERNAL.size
        default[i] = left[i] if flags & _DEFAULT_LEFT else right[i]
        if flags & _CATEGORICAL:
            r.skip(4)
            threshold[i] = np.nan  # a set of categories, not a threshold
    _fill_internal_values(left, right, cover, values, leaf)
    return {
        "children_left": left,
        "children_right": right,
        "children_default": default,
        "features": feature,
        "thresholds": threshold,
        "values": values,
        "node_sample_weight": cover,
        "output": output,
    }


def _fill_internal_values(left, right, cover, values, leaf) -> None:
    """Internal nodes' values: the cover-weighted mean of their children's (children first)."""
    order, stack = [], [0]
    while stack:
        node = stack.pop()
        order.append(node)
        if not leaf[node]:
            stack.extend((left[node], right[node]))
    for node in reversed(order):
        if leaf[node]:
            continue
        a, b = left[node], right[node]
        w = cover[a] + cover[b]
        if w > 0:
            values[node] = (values[a] * cover[a] + values[b] * cover[b]) / w
        else:
            values[node] = (values[a] + values[b]) / 2


def read_trees(ensemble: Any) -> tuple[list[dict[str, Any]], int]:
    """Each tree's node arrays (shap's ``SingleTree`` fields plus ``output``, the first model
    output the tree adds to) and the number of outputs."""
    r = _Reader(ensemble.to_bytes())
    r.u64()  # features
    n_outputs = r.u64()
    width = r.u64()
    r.at += 4  # input precision, zero rule, category rule, link
    r.skip(1)  # objective
    if r.u8():
        for _ in range(r.u64()):
            r.skip(1)  # a feature name
    r.skip(1)  # categorical flags
    r.skip(8)  # base offsets
    trees = [_tree(r, width) for _ in range(r.u64())]
    return trees, int(n_outputs)
