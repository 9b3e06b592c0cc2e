"""Explanation against shap.Explanation on the same arrays: slicing, reductions, ordering,
hclust, cohorts and arithmetic give the same numbers where shap supports the case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
import shap

from ferroshap.cohorts import Cohorts
from ferroshap.explanation import Explanation

N, M = 40, 4
FEATURES = ["age", "bmi", "bp", "s1"]
OUTPUTS = ["low", "mid", "high"]


def _pair(outputs: bool = False):
    rng = np.random.default_rng(7)
    values = rng.normal(size=(N, M, 3) if outputs else (N, M))
    base = rng.normal(size=(N, 3) if outputs else N)
    data = rng.normal(size=(N, M))
    kw = dict(base_values=base, data=data, feature_names=FEATURES)
    if outputs:
        kw["output_names"] = OUTPUTS
    return Explanation(values, **kw), shap.Explanation(values, **kw)


def _same(ours: Explanation, theirs, fields=("base_values", "data")) -> None:
    # Both sides run the same numpy operations on the same arrays: values must be equal; the
    # reduced fields agree to 1e-12 relative (numpy's summation order is the same on both).
    np.testing.assert_array_equal(ours.values, theirs.values)
    for name in fields:
        a, b = getattr(ours, name), getattr(theirs, name)
        if b is None:
            assert a is None, name
        else:
            np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12)


@pytest.mark.parametrize(
    "index",
    [
        0,
        -1,
        slice(3, 9),
        (slice(None), "bmi"),
        (slice(None), 2),
        (5, "s1"),
        (slice(None), ["bp", "age"]),
        np.arange(N) % 3 == 0,
    ],
    ids=repr,
)
def test_slicing_matches_shap(index):
    ours, theirs = _pair()
    _same(ours[index], theirs[index])


@pytest.mark.parametrize(
    "index",
    # shap fails on explanation[..., "mid"] (IndexError inside its slicer); ferroshap's own
    # test covers that form.
    [
        (slice(None), slice(None), "mid"),
        (slice(None), slice(None), 2),
        (3, "bmi", "high"),
        (slice(2, 5), "age"),
    ],
    ids=repr,
)
def test_output_slicing_matches_shap(index):
    ours, theirs = _pair(outputs=True)
    _same(ours[index], theirs[index])


@pytest.mark.parametrize("op", ["mean", "sum", "max", "min"])
@pytest.mark.parametrize("axis", [0, 1])
def test_reductions_match_shap(op, axis):
    ours, theirs = _pair()
    # Over features (axis 1) shap drops the base values; ferroshap keeps them, as every row
    # still starts from its own base value.
    fields = ("base_values", "data") if axis == 0 else ("data",)
    _same(getattr(ours, op)(axis), getattr(theirs, op)(axis), fields)
    # shap's .abs also takes the absolute value of the feature values (data); ferroshap leaves
    # data as it is, so only the values are compared here.
    _same(getattr(ours.abs, op)(axis), getattr(theirs.abs, op)(axis), ())
    if axis == 1:
        np.testing.assert_array_equal(ours.mean(1).base_values, ours.base_values)


def test_order_chains_match_shap():
    ours, theirs = _pair()
    np.testing.assert_array_equal(
        ours.abs.mean(0).argsort.flip.values, theirs.abs.mean(0).argsort.flip.values
    )
    top = ours[:, ours.abs.mean(0).argsort.flip[0]]
    shap_top = theirs[:, theirs.abs.mean(0).argsort.flip[0]]
    _same(top, shap_top)


@pytest.mark.parametrize("axis", [0, 1])
def test_hclust_matches_shap(axis):
    ours, theirs = _pair()
    np.testing.assert_array_equal(ours.hclust(axis=axis), theirs.hclust(axis=axis))
    assert sorted(ours.hclust(axis=axis)) == list(range(N if axis == 0 else M))


def test_named_cohorts_match_shap():
    ours, theirs = _pair()
    labels = np.array(["a", "b", "c", "b"] * (N // 4))
    mine, shaps = ours.cohorts(labels), theirs.cohorts(labels)
    assert isinstance(mine, Cohorts) and list(mine.cohorts) == list(shaps.cohorts)
    for name in mine.cohorts:
        _same(mine.cohorts[name], shaps.cohorts[name])
    means = mine.abs.mean(0)
    np.testing.assert_allclose(
        means.cohorts["b"].values, np.abs(ours.values[labels == "b"]).mean(0), rtol=1e-12
    )


def _partition(cohorts) -> set[frozenset[float]]:
    # Rows identified by their first data value (distinct draws of a normal).
    return {frozenset(sv.data[:, 0].tolist()) for sv in cohorts.cohorts.values()}


def test_tree_cohorts_partition_like_shap():
    rng = np.random.default_rng(3)
    data = rng.normal(size=(200, M))
    # The values depend on the sign of feature 1 and the size of feature 3: clear cohorts.
    values = np.column_stack(
        [np.sign(data[:, 1]) * 2, data[:, 3] > 1, data[:, 0] * 0.1, data[:, 2]]
    )
    ours = Explanation(values, data=data, feature_names=FEATURES)
    theirs = shap.Explanation(values, data=data, feature_names=FEATURES)
    mine = ours.cohorts(3)
    assert len(mine) == 3
    assert _partition(mine) == _partition(theirs.cohorts(3))
    assert sum(sv.shape[0] for sv in mine.cohorts.values()) == 200
    first = next(iter(mine.cohorts))
    assert "bmi" in first and ("<" in first or ">=" in first)


def test_cohorts_reject_multi_output_naming_the_fix():
    ours, _ = _pair(outputs=True)
    with pytest.raises(ValueError, match=r"explanation\[\.\.\., 1\]\.cohorts"):
        ours.cohorts(2)
    with pytest.raises(ValueError, match="one label per row"):
        _pair()[0].cohorts(["a", "b"])


@pytest.mark.parametrize("op", ["__add__", "__sub__", "__mul__", "__truediv__", "__radd__"])
def test_arithmetic_matches_shap(op):
    ours, theirs = _pair()
    _same(getattr(ours, op)(2.5), getattr(theirs, op)(2.5))
    other_ours, other_theirs = ours[::-1], theirs[::-1]
    if op != "__radd__":
        _same(getattr(ours, op)(other_ours), getattr(theirs, op)(other_theirs))


def test_reflected_subtraction_is_not_swapped():
    # shap's __rsub__ computes sv - 2 for 2 - sv; ferroshap computes 2 - sv.
    ours, _ = _pair()
    np.testing.assert_array_equal((2 - ours).values, 2 - ours.values)
    np.testing.assert_array_equal((1 / (ours + 10)).values, 1 / (ours.values + 10))
    np.testing.assert_array_equal((-ours).base_values, -ours.base_values)


def test_arithmetic_of_mismatched_shapes_is_a_clear_error():
    ours, _ = _pair()
    with pytest.raises(ValueError, match="cannot combine values of shapes"):
        ours + ours[:3]


def test_long_and_wide_frames():
    ours, _ = _pair(outputs=True)
    long = ours.to_pandas(with_base_values=True, layout="long")
    assert isinstance(long, pd.DataFrame) and len(long) == N * M * 3
    assert long.columns.tolist() == ["row", "feature", "output", "value", "data", "base_value"]
    hit = long[(long.row == 7) & (long.feature == "bp") & (long.output == "high")]
    assert hit.value.item() == ours.values[7, 2, 2]
    assert hit.data.item() == ours.data[7, 2] and hit.base_value.item() == ours.base_values[7, 2]
    plong = ours[..., "mid"].to_polars(layout="long")
    assert isinstance(plong, pl.DataFrame) and plong.columns == ["row", "feature", "value", "data"]
    np.testing.assert_array_equal(plong["value"].to_numpy(), ours.values[:, :, 1].ravel())
    wide = ours.to_pandas(layout="wide")
    assert wide.shape == (N, M * 3) and wide.columns[5] == "bmi [mid]"
    with pytest.raises(ValueError, match="layout must be"):
        ours.to_pandas(layout="tall")


def test_hclust_of_too_many_rows_is_a_clear_error():
    from ferroshap.cohorts import HCLUST_MAX

    sv = Explanation(np.zeros((HCLUST_MAX + 1, 2)))
    with pytest.raises(ValueError, match=r"pairwise distances.*explanation\.sample"):
        sv.hclust()
