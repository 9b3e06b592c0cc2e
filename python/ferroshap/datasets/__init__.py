"""Data to try ferroshap on: the small example bundled with ferroshap (a saved XGBoost model and
the data it was trained on), and shap's datasets under shap's names (``ferroshap.datasets.adult()``,
``california()``, ``diabetes()``, ...; see :mod:`ferroshap.datasets._shap_sets` for where each
comes from).

The model is an ``xgboost.XGBRegressor`` (100 trees, depth 4) trained on scikit-learn's diabetes
data (442 patients, 10 standardised features: age, sex, bmi, bp, s1..s6; target: disease
progression one year later). ``scripts/make_example.py`` in the source repository made both
files; the example needs no download.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ferroshap.datasets._shap_sets import (
    a1a,
    adult,
    cache,
    california,
    communitiesandcrime,
    corrgroups60,
    diabetes,
    imagenet50,
    imdb,
    independentlinear60,
    iris,
    linnerud,
    nhanesi,
    rank,
)

__all__ = [
    "a1a",
    "adult",
    "cache",
    "california",
    "communitiesandcrime",
    "corrgroups60",
    "diabetes",
    "example_data_path",
    "example_model_path",
    "imagenet50",
    "imdb",
    "independentlinear60",
    "iris",
    "linnerud",
    "load_example",
    "nhanesi",
    "rank",
]

_HERE = Path(__file__).resolve().parent


def example_model_path() -> Path:
    """Path of the bundled XGBoost JSON model (``diabetes_xgb.json``).

    Examples
    --------
    >>> from ferroshap.datasets import example_model_path
    >>> example_model_path().name
    'diabetes_xgb.json'
    """
    return _HERE / "diabetes_xgb.json"


def example_data_path() -> Path:
    """Path of the bundled data (``diabetes.csv``): a header row, then 442 rows of 10 features.

    Examples
    --------
    >>> from ferroshap.datasets import example_data_path
    >>> example_data_path().name
    'diabetes.csv'
    """
    return _HERE / "diabetes.csv"


def load_example() -> tuple[Path, Any]:
    """The bundled model's path and its data.

    Returns
    -------
    (Path, data)
        The model file, and the data as a polars DataFrame ``(442, 10)`` with the feature
        names as columns when polars is installed, else a float64 numpy array ``(442, 10)``
        in the same column order.

    Examples
    --------
    >>> import ferroshap
    >>> from ferroshap.datasets import load_example
    >>> model_path, X = load_example()
    >>> X.shape
    (442, 10)
    >>> explainer = ferroshap.TreeExplainer.from_file(model_path)  # doctest: +SKIP
    >>> explainer(X).values.shape  # doctest: +SKIP
    (442, 10)
    """
    data_path = example_data_path()
    try:
        import polars as pl
    except ImportError:
        import numpy as np

        return example_model_path(), np.loadtxt(data_path, delimiter=",", skiprows=1)
    return example_model_path(), pl.read_csv(data_path)
