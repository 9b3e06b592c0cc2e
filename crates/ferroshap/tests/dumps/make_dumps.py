"""Writes the small model dumps the dump parsers' fuzz test mutates (`tests/parsers_fuzz.rs`).

Run from this folder: `python3 make_dumps.py`. XGBoost dumps (`*.xgbdump.json`) are JSON
arrays of `get_dump(dump_format="json", with_stats=True)` trees, read with objective
`binary:logistic` and base score 0.5 by the fuzz test; LightGBM dumps (`*.lgbdump.json`) are
`json.dumps(booster.dump_model())`.
"""

import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb

RNG = np.random.default_rng(3)
n = 400
frame = pd.DataFrame(
    {
        "a": RNG.normal(size=n),
        "b": np.where(RNG.uniform(size=n) < 0.1, np.nan, RNG.normal(size=n)),
        "c": pd.Categorical(RNG.integers(0, 6, n)),
    }
)
y = (frame["a"] + frame["c"].cat.codes.isin([1, 4]) > 0.5).astype(int)

booster = xgb.train(
    {"objective": "binary:logistic", "max_depth": 3, "max_cat_to_onehot": 1},
    xgb.DMatrix(frame, y, enable_categorical=True),
    num_boost_round=4,
)
with open("xgb_binary_categorical.xgbdump.json", "w") as f:
    f.write("[" + ",".join(booster.get_dump(dump_format="json", with_stats=True)) + "]")

three = (frame["a"] > 0).astype(int) + (frame["b"] > 0).astype(int)
booster = xgb.train(
    {"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
    xgb.DMatrix(frame[["a", "b"]].to_numpy(), three),
    num_boost_round=2,
)
with open("xgb_multiclass.xgbdump.json", "w") as f:
    f.write("[" + ",".join(booster.get_dump(dump_format="json", with_stats=True)) + "]")

params = {"num_leaves": 6, "verbose": -1, "min_data_in_leaf": 5, "cat_smooth": 1, "min_data_per_group": 5, "cat_l2": 0.0}
booster = lgb.train({**params, "objective": "binary"}, lgb.Dataset(frame, y), 4)
with open("lgb_binary_categorical.lgbdump.json", "w") as f:
    json.dump(booster.dump_model(), f)
booster = lgb.train(
    {**params, "objective": "multiclass", "num_class": 3}, lgb.Dataset(frame, three), 2
)
with open("lgb_multiclass.lgbdump.json", "w") as f:
    json.dump(booster.dump_model(), f)
