"""Explanation: shap's slicing, reductions and conversions."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import polars as pl
import pytest

from ferroshap.explanation import Explanation, OpChain

N, M, K = 6, 3, 2
FEATURES = ["age", "bmi", "bp"]
OUTPUTS = ["class 0", "class 1"]


@pytest.fixture
def sv2():
    rng = np.random.default_rng(0)
    return Explanation(
        rng.normal(size=(N, M)),
        base_values=np.full(N, 0.5),
        data=rng.normal(size=(N, M)),
        feature_names=FEATURES,
    )


@pytest.fixture
def sv3():
    rng = np.random.default_rng(1)
    return Explanation(
        rng.normal(size=(N, M, K)),
        base_values=rng.normal(size=(N, K)),
        data=rng.normal(size=(N, M)),
        feature_names=FEATURES,
        output_names=OUTPUTS,
    )


def test_attributes_and_shape(sv2):
    assert sv2.shape == (N, M) and len(sv2) == N
    assert sv2.lower_bounds is None and sv2.upper_bounds is None
    assert sv2.display_data is None and sv2.output_names is None


def test_row_selection(sv2):
    row = sv2[2]
    assert row.shape == (M,)
    np.testing.assert_array_equal(row.values, sv2.values[2])
    np.testing.assert_array_equal(row.data, sv2.data[2])
    assert row.base_values == 0.5 and row.feature_names == FEATURES
    assert sv2[1:4].shape == (3, M) and sv2[1:4].base_values.shape == (3,)
    mask = np.arange(N) % 2 == 0
    np.testing.assert_array_equal(sv2[mask].values, sv2.values[mask])
    np.testing.assert_array_equal(sv2[[5, 0]].data, sv2.data[[5, 0]])
    np.testing.assert_array_equal(sv2[-1].values, sv2.values[-1])


def test_feature_by_name_and_position(sv2):
    bmi = sv2[:, "bmi"]
    assert bmi.shape == (N,) and bmi.feature_names == "bmi"
    np.testing.assert_array_equal(bmi.values, sv2.values[:, 1])
    np.testing.assert_array_equal(bmi.data, sv2.data[:, 1])
    assert bmi.base_values.shape == (N,)
    np.testing.assert_array_equal(sv2[:, 1].values, bmi.values)
    two = sv2[:, ["bp", "age"]]
    assert two.feature_names == ["bp", "age"]
    np.testing.assert_array_equal(two.values, sv2.values[:, [2, 0]])
    assert sv2[0, "bp"].values == sv2.values[0, 2]


def test_row_and_feature_arrays_select_independently(sv2):
    # Not numpy's joint fancy indexing: rows x features.
    sub = sv2[[0, 2], [1, 2]]
    np.testing.assert_array_equal(sub.values, sv2.values[np.ix_([0, 2], [1, 2])])


def test_outputs_by_name_and_position(sv3):
    c1 = sv3[..., "class 1"]
    assert c1.shape == (N, M) and c1.output_names == "class 1"
    np.testing.assert_array_equal(c1.values, sv3.values[:, :, 1])
    np.testing.assert_array_equal(c1.base_values, sv3.base_values[:, 1])
    np.testing.assert_array_equal(c1.data, sv3.data)
    np.testing.assert_array_equal(sv3[:, :, 0].values, sv3.values[:, :, 0])
    one = sv3[3, "bmi", "class 0"]
    assert one.values == sv3.values[3, 1, 0] and one.base_values == sv3.base_values[3, 0]
    assert one.data == sv3.data[3, 1]


def test_single_row_of_multi_output(sv3):
    row = sv3[0]
    assert row.shape == (M, K) and row.base_values.shape == (K,) and row.data.shape == (M,)
    np.testing.assert_array_equal(row[:, 1].values, sv3.values[0, :, 1])
    np.testing.assert_array_equal(row[:, 1].base_values, sv3.base_values[0, 1])
    # Built directly from one row, the axes are inferred the same way.
    direct = Explanation(sv3.values[0], sv3.base_values[0], sv3.data[0])
    np.testing.assert_array_equal(direct[:, 1].base_values, sv3.base_values[0, 1])


def test_bad_indices(sv2, sv3):
    with pytest.raises(IndexError, match="no feature named 'nope'"):
        sv2[:, "nope"]
    with pytest.raises(IndexError, match="no output names"):
        Explanation(np.zeros((2, 2, 2)))[..., "x"]
    with pytest.raises(IndexError, match="too many"):
        sv2[0, 0, 0]
    with pytest.raises(IndexError):
        sv2[N]


def test_names_set_after_construction_are_used(sv2):
    sv2.feature_names = ["a", "b", "c"]
    assert sv2[:, "c"].feature_names == "c"


def test_abs_and_reductions(sv2, sv3):
    np.testing.assert_array_equal(sv2.abs.values, np.abs(sv2.values))
    mean = sv2.abs.mean(0)
    assert mean.shape == (M,) and mean.feature_names == FEATURES
    np.testing.assert_allclose(mean.values, np.abs(sv2.values).mean(0))
    np.testing.assert_allclose(mean.data, sv2.data.mean(0))
    assert mean.base_values == pytest.approx(0.5)
    np.testing.assert_allclose(sv2.sum(1).values, sv2.values.sum(1))
    assert sv2.sum(1).feature_names is None
    np.testing.assert_allclose(sv2.max(0).values, sv2.values.max(0))
    np.testing.assert_allclose(sv2.min(0).values, sv2.values.min(0))
    np.testing.assert_allclose(sv2.percentile(50, 0).values, np.median(sv2.values, axis=0))
    m3 = sv3.abs.mean(0)
    assert m3.shape == (M, K) and m3.base_values.shape == (K,)
    np.testing.assert_allclose(m3[:, "class 1"].values, np.abs(sv3.values[:, :, 1]).mean(0))
    np.testing.assert_allclose(sv3.sum(-1).values, sv3.values.sum(-1))
    with pytest.raises(ValueError, match="out of bounds"):
        sv2.mean(2)


def test_argsort_flip_and_opchain(sv2):
    top = sv2.abs.mean(0).argsort.flip[0]
    assert int(top.values) == int(np.argmax(np.abs(sv2.values).mean(0)))
    chain = Explanation.abs.mean(0)
    assert isinstance(chain, OpChain) and repr(chain) == "Explanation.abs.mean(0)"
    np.testing.assert_array_equal(chain.apply(sv2).values, sv2.abs.mean(0).values)
    picked = sv2[:, sv2.abs.mean(0).argsort.flip[:2]]
    assert picked.shape == (N, 2)


def test_sample(sv2):
    s = sv2.sample(4, random_state=3)
    assert s.shape == (4, M)
    rows = [int(np.flatnonzero((sv2.values == r).all(1))[0]) for r in s.values]
    assert len(set(rows)) == 4
    np.testing.assert_array_equal(s.data, sv2.data[rows])
    np.testing.assert_array_equal(sv2.sample(4, random_state=3).values, s.values)
    assert sv2.sample(100).shape == (N, M)
    # As shap: at most the number of rows even with replacement.
    assert sv2.sample(10, replace=True).shape == (N, M)
    with pytest.raises(ValueError, match="at least 1"):
        sv2.sample(0)


def test_sample_picks_shaps_rows(sv2):
    import shap  # installed by the test extra

    theirs = shap.Explanation(sv2.values, data=sv2.data).sample(4, random_state=3)
    np.testing.assert_array_equal(sv2.sample(4, random_state=3).values, theirs.values)


def test_op_history_lists_the_operations_as_shap():
    from ferroshap._explanation import OpHistoryItem

    sv = Explanation(np.arange(-18.0, 17.0).reshape(7, 5))
    out = sv.abs.sample(5, random_state=0).flip[..., :3].mean(axis=0) + 2
    names = [item.name for item in out.op_history]
    assert names == ["abs", "sample", "flip", "__getitem__", "mean", "__add__"]
    assert all(isinstance(item, OpHistoryItem) for item in out.op_history)
    assert out.op_history[0].prev_shape == (7, 5) and out.op_history[4].collapsed_instances
    assert sv.op_history == []  # the source is untouched
    # shap's numbers for the same chain (its own test's expected values).
    np.testing.assert_allclose(out.values, [10.8, 11.0, 11.6])


def test_hstack_joins_features_and_refuses_mismatches():
    a = Explanation(
        np.ones((3, 2)), base_values=np.zeros(3), data=np.zeros((3, 2)), feature_names=["a", "b"]
    )
    b = Explanation(
        2 * np.ones((3, 1)), base_values=np.zeros(3), data=np.ones((3, 1)), feature_names=["c"]
    )
    ab = a.hstack(b)
    assert ab.shape == (3, 3) and ab.feature_names == ["a", "b", "c"]
    np.testing.assert_array_equal(ab.data, np.hstack([a.data, b.data]))
    np.testing.assert_array_equal(ab[:, "c"].values, [2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="different numbers of rows"):
        a.hstack(Explanation(np.ones((2, 1)), base_values=np.zeros(2)))
    with pytest.raises(AssertionError, match="different numbers of rows"):  # shap's type too
        a.hstack(Explanation(np.ones((2, 1)), base_values=np.zeros(2)))
    with pytest.raises(ValueError, match="different base values"):
        a.hstack(Explanation(np.ones((3, 1)), base_values=np.ones(3)))


def test_cohorts_validate_and_refuse_a_bare_call():
    from ferroshap import Cohorts

    with pytest.raises(TypeError):
        Cohorts(group=None)
    groups = Cohorts()
    with pytest.raises(TypeError, match="dict"):
        groups.cohorts = [1, 2]
    with pytest.raises(ValueError, match="No methods"):
        groups(axis=0)
    multi = Explanation(np.zeros((4, 2, 3)), data=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="multiple outputs at once"):
        multi.cohorts(2)


def test_repr_like_shap(sv2):
    text = repr(sv2[:2])
    assert text.startswith(".values =\narray(")
    assert "\n\n.base_values =\narray(" in text and "\n\n.data =\narray(" in text
    assert repr(Explanation(np.zeros(2))) == ".values =\narray([0., 0.])"
    # A scalar base value prints as a number, as shap's.
    one = Explanation(np.arange(3), base_values=0.5)
    assert repr(one) == ".values =\narray([0, 1, 2])\n\n.base_values =\n0.5"


def test_to_pandas_and_polars(sv2):
    frame = sv2.to_pandas()
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == FEATURES
    np.testing.assert_array_equal(frame.to_numpy(), sv2.values)
    with_base = sv2.to_polars(with_base_values=True)
    assert isinstance(with_base, pl.DataFrame)
    assert with_base.columns == [*FEATURES, "base_value"]
    np.testing.assert_array_equal(with_base["base_value"].to_numpy(), sv2.base_values)
    one = sv2[0].to_pandas()
    assert one.shape == (1, M)


def test_multi_output_columns(sv3):
    frame = sv3.to_polars(with_base_values=True)
    assert frame.columns[:4] == ["age [class 0]", "bmi [class 0]", "bp [class 0]", "age [class 1]"]
    assert frame.columns[-2:] == ["base_value [class 0]", "base_value [class 1]"]
    np.testing.assert_array_equal(frame["bp [class 1]"].to_numpy(), sv3.values[:, 2, 1])
    unnamed = Explanation(np.zeros((1, 2, 2)), base_values=np.zeros((1, 2)))
    assert unnamed.to_pandas().columns.tolist() == [
        "Feature 0 [output 0]",
        "Feature 1 [output 0]",
        "Feature 0 [output 1]",
        "Feature 1 [output 1]",
    ]


def test_importing_explanation_loads_neither_pandas_nor_polars():
    code = (
        "import sys, ferroshap.explanation; "
        "print(sorted(m for m in ('pandas', 'polars') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_axis_names_for_image_values():
    rng = np.random.default_rng(2)
    values = rng.normal(size=(4, 3, 5, 6, 2))
    sv = Explanation(
        values,
        base_values=rng.normal(size=(4, 2)),
        data=rng.normal(size=(4, 3, 5, 6)),
        axis_names=("rows", "channels", "height", "width", "outputs"),
    )
    assert sv.axis_names == ("rows", "channels", "height", "width", "outputs")
    one = sv[1, ..., 0]
    assert one.axis_names == ("channels", "height", "width")
    np.testing.assert_array_equal(one.values, values[1, ..., 0])
    np.testing.assert_array_equal(one.data, sv.data[1])
    assert one.base_values == sv.base_values[1, 0]
    with pytest.raises(ValueError, match="name 2 axes"):
        Explanation(values, axis_names=("rows", "outputs"))
    with pytest.raises(ValueError, match="'outputs' must be the last"):
        Explanation(values, axis_names=("rows", "outputs", "c", "h", "w"))


def test_field_of_wrong_shape_is_rejected_at_construction():
    with pytest.raises(ValueError, match="data has shape"):
        Explanation(np.zeros((4, 3)), data=np.zeros((4, 2)))


def test_from_shap_and_to_shap_round_trip(sv3):
    import shap

    theirs = sv3.to_shap()
    assert isinstance(theirs, shap.Explanation)
    np.testing.assert_array_equal(theirs[..., 1].values, sv3.values[..., 1])
    back = Explanation.from_shap(theirs)
    assert back.axis_names == sv3.axis_names
    assert back.feature_names == FEATURES and back.output_names == OUTPUTS
    np.testing.assert_array_equal(back.base_values, sv3.base_values)
    np.testing.assert_array_equal(back[2, "bmi", "class 1"].values, sv3.values[2, 1, 1])
