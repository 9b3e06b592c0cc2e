"""shap's datasets (``shap.datasets.adult()`` and friends) with the same columns, values and
row samples, so that a tutorial switched to ferroshap by its import runs on the same data.

Where the data comes from:

- ``diabetes``, ``iris``, ``linnerud``: the copies bundled with scikit-learn (offline).
- ``corrgroups60``, ``independentlinear60``: generated (offline), the same numbers as shap's,
  from a private seeded generator (shap reseeds NumPy's global one; this leaves it alone).
- ``california``: scikit-learn's ``fetch_california_housing`` (it downloads and caches).
- ``adult``, ``nhanesi``, ``communitiesandcrime``, ``a1a``, ``imdb``, ``imagenet50``, ``rank``:
  the files shap reads from its repository (LightGBM's for ``rank``), downloaded on first use
  into a cache folder: ``$FERROSHAP_DATA_DIR``, else ``$XDG_CACHE_HOME/ferroshap`` or
  ``~/.cache/ferroshap``. A copy already downloaded by shap is used instead of downloading
  again. ``$FERROSHAP_DATA_URL`` replaces shap's address (a mirror, or ``file://`` for a local
  folder). Offline, the error says which file to put where.

``n_points`` picks the rows shap picks (a shuffle seeded with 0, then the first ``n_points``).
These functions need pandas and scikit-learn (and scipy for the sparse ones).
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "a1a",
    "adult",
    "cache",
    "california",
    "communitiesandcrime",
    "corrgroups60",
    "diabetes",
    "imagenet50",
    "imdb",
    "independentlinear60",
    "iris",
    "linnerud",
    "nhanesi",
    "rank",
]

SHAP_DATA_URL = "https://github.com/shap/shap/raw/master/data/"
RANK_DATA_URL = "https://raw.githubusercontent.com/Microsoft/LightGBM/master/examples/lambdarank/"


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("ferroshap.datasets needs pandas: pip install pandas") from None
    return pd


def _sklearn_datasets() -> Any:
    try:
        import sklearn.datasets
    except ImportError:
        raise ImportError("this dataset needs scikit-learn: pip install scikit-learn") from None
    return sklearn.datasets


def cache_dir() -> Path:
    """The folder downloaded files are kept in (see the module's documentation)."""
    if os.environ.get("FERROSHAP_DATA_DIR"):
        return Path(os.environ["FERROSHAP_DATA_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ferroshap"


def _shap_cached(file_name: str) -> Path | None:
    """shap's own downloaded copy of ``file_name``, if shap is installed and has one."""
    import importlib.util

    spec = importlib.util.find_spec("shap")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "cached_data" / file_name
        if path.is_file():
            return path
    return None


def cache(url: str, file_name: str | None = None) -> str:
    """The local path of the file at ``url``, downloaded into :func:`cache_dir` on first use.

    Raises
    ------
    OSError
        When the file is not cached and cannot be downloaded; the message names the URL and
        the path to place the file at by hand.
    """
    name = file_name or os.path.basename(url)
    path = cache_dir() / name
    if path.is_file():
        return str(path)
    shap_copy = _shap_cached(name)
    if shap_copy is not None:
        return str(shap_copy)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".part")
    os.close(fd)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, path)  # whole files only: an interrupted download leaves no file
    except (OSError, ValueError) as e:
        raise OSError(
            f"could not download {url} ({e}); to use this dataset offline, save that file as "
            f"{path} (or set FERROSHAP_DATA_DIR to a folder holding {name})"
        ) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(path)


def _url(name: str) -> str:
    base = os.environ.get("FERROSHAP_DATA_URL") or SHAP_DATA_URL
    return base.rstrip("/") + "/" + name


def _check_points(n_points: Any) -> None:
    if n_points is not None and (
        not isinstance(n_points, (int, np.integer)) or isinstance(n_points, bool) or n_points < 1
    ):
        raise ValueError(f"n_points must be a positive int or None, got {n_points!r}")


def _rows(n: int, n_points: int | None) -> np.ndarray | None:
    """shap's sample of ``n_points`` rows out of ``n`` (``None``: all, in order)."""
    _check_points(n_points)
    if n_points is None or n_points >= n:
        return None
    return np.random.RandomState(0).permutation(n)[:n_points]


def _take(x: Any, rows: np.ndarray | None) -> Any:
    if rows is None:
        return x
    if hasattr(x, "iloc"):
        return x.iloc[rows]
    if isinstance(x, list):
        return [x[i] for i in rows]
    return x[rows]


def _sklearn_frame(loader: str, n_points: int | None) -> tuple[Any, Any, Any]:
    pd = _pandas()
    d = getattr(_sklearn_datasets(), loader)()
    X = pd.DataFrame(data=d.data, columns=d.feature_names)
    rows = _rows(len(X), n_points)
    return _take(X, rows), _take(d.target, rows), d


def diabetes(n_points: int | None = None) -> tuple[Any, np.ndarray]:
    """scikit-learn's diabetes data: a DataFrame ``(442, 10)`` (age, sex, bmi, bp, s1..s6) and
    the disease progression a year later."""
    X, y, _ = _sklearn_frame("load_diabetes", n_points)
    return X, y


def california(n_points: int | None = None) -> tuple[Any, np.ndarray]:
    """California housing (20,640 block groups x 8 features) and the median house value,
    from scikit-learn's ``fetch_california_housing`` (which downloads on first use)."""
    X, y, _ = _sklearn_frame("fetch_california_housing", n_points)
    return X, y


def iris(display: bool = False, n_points: int | None = None) -> tuple[Any, Any]:
    """Iris: a DataFrame ``(150, 4)`` and the species as 0/1/2 (``display=True``: their
    names, as a list)."""
    X, y, d = _sklearn_frame("load_iris", n_points)
    if display:
        return X, [str(d.target_names[v]) for v in y]
    return X, y


def linnerud(n_points: int | None = None) -> tuple[Any, Any]:
    """Linnerud: three exercises and three physiological measurements of 20 men, both as
    DataFrames."""
    pd = _pandas()
    d = _sklearn_datasets().load_linnerud()
    X = pd.DataFrame(d.data, columns=d.feature_names)
    y = pd.DataFrame(d.target, columns=d.target_names)
    rows = _rows(len(X), n_points)
    return _take(X, rows), _take(y, rows)


def _correlated_sample(n_points: int, correlated: bool) -> tuple[Any, np.ndarray]:
    """The synthetic data of shap's ``corrgroups60`` / ``independentlinear60``: 60 unit-variance
    features (every third of the first 30 has coefficient 1) and ``y = X beta + 0.01 noise``;
    the draws are NumPy's Mersenne Twister seeded with 0, in shap's order."""
    if not isinstance(n_points, (int, np.integer)) or isinstance(n_points, bool) or n_points < 2:
        raise ValueError(f"n_points must be an int >= 2, got {n_points!r}")
    pd = _pandas()
    rng = np.random.RandomState(0)
    m = 60
    beta = np.zeros(m)
    beta[0:30:3] = 1
    x = rng.randn(n_points, m)
    x = x - x.mean(0)
    if correlated:
        # Whiten to an identity sample correlation, then impose groups of three features
        # correlated at 0.99 (the first 30 features).
        sigma = x.T @ x / n_points
        x = x @ np.linalg.cholesky(np.linalg.inv(sigma))
        c = np.eye(m)
        for i in range(0, 30, 3):
            for a, b in ((i, i + 1), (i, i + 2), (i + 1, i + 2)):
                c[a, b] = c[b, a] = 0.99
        x = x @ np.linalg.cholesky(c).T
    y = x @ beta + rng.randn(n_points) * 1e-2
    return pd.DataFrame(x), y


def corrgroups60(n_points: int = 1_000) -> tuple[Any, np.ndarray]:
    """Synthetic: 60 features, the first 30 in tightly correlated groups of three (0.99), a
    linear target of one feature per group plus small noise."""
    return _correlated_sample(n_points, correlated=True)


def independentlinear60(n_points: int = 1_000) -> tuple[Any, np.ndarray]:
    """Synthetic: 60 independent centred Gaussian features and a linear target of every third
    of the first 30, plus small noise."""
    return _correlated_sample(n_points, correlated=False)


_ADULT_COLUMNS = [
    ("Age", "float32"),
    ("Workclass", "category"),
    ("fnlwgt", "float32"),
    ("Education", "category"),
    ("Education-Num", "float32"),
    ("Marital Status", "category"),
    ("Occupation", "category"),
    ("Relationship", "category"),
    ("Race", "category"),
    ("Sex", "category"),
    ("Capital Gain", "float32"),
    ("Capital Loss", "float32"),
    ("Hours per week", "float32"),
    ("Country", "category"),
    ("Target", "category"),
]
_RELATIONSHIP_CODES = {
    "Not-in-family": 0,
    "Unmarried": 1,
    "Other-relative": 2,
    "Own-child": 3,
    "Husband": 4,
    "Wife": 5,
}


def adult(display: bool = False, n_points: int | None = None) -> tuple[Any, np.ndarray]:
    """The UCI Adult census data (32,561 people, 12 features) and whether each earns more than
    50K a year (bool). Categorical columns become their category codes (``Relationship`` in
    shap's fixed order); ``display=True`` keeps the text values for plots."""
    pd = _pandas()
    raw = pd.read_csv(
        cache(_url("adult.data")),
        names=[name for name, _ in _ADULT_COLUMNS],
        na_values="?",
        dtype=dict(_ADULT_COLUMNS),
    )
    raw = _take(raw, _rows(len(raw), n_points))
    data = raw.drop(["Education"], axis=1)
    data["Target"] = data["Target"] == " >50K"
    for name, kind in _ADULT_COLUMNS:
        if kind != "category" or name in ("Target", "Education"):
            continue
        if name == "Relationship":
            try:
                data[name] = np.array([_RELATIONSHIP_CODES[v.strip()] for v in data[name]])
            except KeyError as e:
                raise ValueError(f"adult.data has an unknown Relationship value {e}") from None
        else:
            data[name] = data[name].cat.codes
    y = data["Target"].values
    if display:
        return raw.drop(["Education", "Target", "fnlwgt"], axis=1), y
    return data.drop(["Target", "fnlwgt"], axis=1), y


def nhanesi(display: bool = False, n_points: int | None = None) -> tuple[Any, np.ndarray]:
    """NHANES I (the survival data of shap's NHANES notebooks): a DataFrame of 79 features and
    the survival target."""
    pd = _pandas()
    X = pd.read_csv(cache(_url("NHANESI_X.csv")), index_col=0)
    y = pd.read_csv(cache(_url("NHANESI_y.csv")), index_col=0)["y"]
    rows = _rows(len(X), n_points)
    X, y = _take(X, rows), _take(y, rows)
    return (X.copy() if display else X), np.array(y)


def communitiesandcrime(n_points: int | None = None) -> tuple[Any, np.ndarray]:
    """UCI Communities and Crime (unnormalised): the rows whose total violent crime count is
    known, the predictive columns without missing values, and that count."""
    pd = _pandas()
    raw = pd.read_csv(cache(_url("CommViolPredUnnormalizedData.txt")), na_values="?")
    known = np.where(~np.isnan(raw.iloc[:, -2]))[0]
    known = _take(known, _rows(len(known), n_points))
    y = np.array(raw.iloc[known, -2], dtype=float)
    X = raw.iloc[known, 5:-18]
    complete = np.where(np.isnan(X.values).sum(0) == 0)[0]
    return X.iloc[:, complete], y


def a1a(n_points: int | None = None) -> tuple[Any, np.ndarray]:
    """The a1a data (LIBSVM's Adult subset): a sparse CSR matrix and labels in {-1, 1}."""
    data, target = _sklearn_datasets().load_svmlight_file(cache(_url("a1a.svmlight")))
    rows = _rows(data.shape[0], n_points)
    return _take(data, rows), _take(target, rows)


def imdb(n_points: int | None = None) -> tuple[list[str], np.ndarray]:
    """25,000 IMDB movie reviews (text, one per line) and whether each is positive."""
    with open(cache(_url("imdb_train.txt")), encoding="utf-8") as f:
        data = f.readlines()
    y = np.ones(len(data), dtype=bool)
    y[: len(data) // 2] = False
    rows = _rows(len(data), n_points)
    return _take(data, rows), _take(y, rows)


def imagenet50(resolution: int = 224, n_points: int | None = None) -> tuple[np.ndarray, Any]:
    """50 ImageNet images ``(50, resolution, resolution, 3)`` as float32 and their labels."""
    X = np.load(cache(_url(f"imagenet50_{resolution}x{resolution}.npy"))).astype(np.float32)
    y = np.loadtxt(cache(_url("imagenet50_labels.csv")))
    rows = _rows(len(X), n_points)
    return _take(X, rows), _take(y, rows)


def rank() -> tuple[Any, np.ndarray, Any, np.ndarray, np.ndarray, np.ndarray]:
    """LightGBM's learning-to-rank example: training and test matrices (sparse), their labels
    and their query group sizes."""
    base = os.environ.get("FERROSHAP_DATA_URL") or RANK_DATA_URL
    base = base.rstrip("/") + "/"
    load = _sklearn_datasets().load_svmlight_file
    x_train, y_train = load(cache(base + "rank.train"))
    x_test, y_test = load(cache(base + "rank.test"))
    q_train = np.loadtxt(cache(base + "rank.train.query"))
    q_test = np.loadtxt(cache(base + "rank.test.query"))
    return x_train, y_train, x_test, y_test, q_train, q_test
