"""``ferroshap.datasets``: shap's datasets under shap's names, with shap's columns, values and
row samples. The offline ones are compared with shap's own functions; the downloaded ones are
checked on small files in shap's formats placed in a temporary cache (nothing is downloaded:
a ``file://`` address stands in for shap's repository)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap

import ferroshap
from ferroshap import datasets


def _assert_same(a, b):
    assert type(a) is type(b)
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, list):
        assert a == b
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("diabetes", {}),
        ("diabetes", {"n_points": 50}),
        ("iris", {}),
        ("iris", {"display": True, "n_points": 20}),
        ("linnerud", {"n_points": 7}),
        ("corrgroups60", {}),
        ("independentlinear60", {"n_points": 300}),
    ],
)
def test_offline_datasets_equal_shaps(name, kwargs):
    # Bit-identical: the same scikit-learn data, the same seeded draws and row samples.
    ours = getattr(ferroshap.datasets, name)(**kwargs)
    theirs = getattr(shap.datasets, name)(**kwargs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        _assert_same(a, b)


def test_synthetic_datasets_leave_numpy_global_state_alone():
    np.random.seed(123)  # noqa: NPY002 (the global state is what this test is about)
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    datasets.corrgroups60(100)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002


_ADULT_ROWS = [
    "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, "
    "Male, 2174, 0, 40, United-States, <=50K",
    "50, Self-emp-not-inc, 83311, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, "
    "White, Male, 0, 0, 13, United-States, <=50K",
    "38, Private, 215646, HS-grad, 9, Divorced, Handlers-cleaners, Unmarried, Black, Female, 0, "
    "0, 40, ?, >50K",
    "53, ?, 234721, 11th, 7, Married-civ-spouse, Handlers-cleaners, Wife, Black, Female, 0, 0, "
    "40, United-States, >50K",
    "28, Private, 338409, Bachelors, 13, Married-civ-spouse, Prof-specialty, Own-child, Black, "
    "Female, 0, 0, 40, Cuba, <=50K",
    "37, Private, 284582, Masters, 14, Married-civ-spouse, Exec-managerial, Other-relative, "
    "White, Female, 0, 0, 40, United-States, >50K",
]


@pytest.fixture()
def data_source(tmp_path, monkeypatch):
    """An empty cache and a local folder standing in for shap's data repository."""
    source = tmp_path / "source"
    source.mkdir()
    monkeypatch.setenv("FERROSHAP_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FERROSHAP_DATA_URL", source.as_uri())
    return source


@pytest.mark.parametrize("kwargs", [{}, {"display": True}, {"n_points": 4}])
def test_adult_processed_as_shap_processes_it(data_source, monkeypatch, kwargs):
    path = data_source / "adult.data"
    path.write_text("\n".join(_ADULT_ROWS) + "\n")
    # shap would download its copy; point its loader at the same small file instead.
    monkeypatch.setattr(shap.datasets, "cache", lambda url, file_name=None: str(path))
    ours = datasets.adult(**kwargs)
    theirs = shap.datasets.adult(**kwargs)
    for a, b in zip(ours, theirs, strict=True):
        _assert_same(a, b)
    X, y = datasets.adult()
    assert list(X["Relationship"]) == [0, 4, 1, 5, 3, 2]
    assert y.tolist() == [False, False, True, True, False, True]


def test_download_is_cached_and_used_offline(data_source, tmp_path):
    (data_source / "imdb_train.txt").write_text("bad film\nawful\ngreat film\nloved it\n")
    texts, labels = datasets.imdb()
    assert texts == ["bad film\n", "awful\n", "great film\n", "loved it\n"]
    assert labels.tolist() == [False, False, True, True]
    assert (tmp_path / "cache" / "imdb_train.txt").is_file()
    (data_source / "imdb_train.txt").unlink()  # the source is gone: the cached copy serves
    assert datasets.imdb(n_points=2)[0] == [
        texts[i] for i in np.random.RandomState(0).permutation(4)[:2]
    ]


def test_missing_file_names_the_url_and_where_to_put_it(data_source, tmp_path):
    with pytest.raises(OSError, match=r"NHANESI_X\.csv.*save that file as .*cache"):
        datasets.nhanesi()
    assert not list((tmp_path / "cache").iterdir())  # no partial file left behind


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_n_points(bad):
    with pytest.raises(ValueError, match="n_points"):
        datasets.diabetes(n_points=bad)
