"""Model dumps (XGBoost's JSON dump, LightGBM's ``dump_model()``) explain like the saved models.

A dump prints every number so that it reads back as the saved model's (XGBoost: float32 with 9
significant digits; LightGBM: doubles that round-trip), so the dump's ensemble has the same
thresholds, leaf values and covers as the saved model's: predictions and SHAP values must be
equal to 1e-12 (only the order of nodes differs, which can change the last bit of a sum).
"""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, make_classification

import ferroshap
from ferroshap.cli import main
from ferroshap.models import load_lightgbm_dump, load_tree_model_file, load_xgboost_dump

SAME = dict(rtol=1e-12, atol=1e-12)


def _dump(booster: xgb.Booster) -> list[str]:
    return booster.get_dump(dump_format="json", with_stats=True)


def _compare(dump_explainer, model_explainer, X):
    np.testing.assert_allclose(
        dump_explainer.ensemble.predict_margin(X),
        model_explainer.ensemble.predict_margin(X),
        **SAME,
    )
    np.testing.assert_allclose(
        dump_explainer.shap_values(X), model_explainer.shap_values(X), **SAME
    )
    np.testing.assert_allclose(
        dump_explainer.expected_value, model_explainer.expected_value, **SAME
    )


def test_xgboost_binary_dump_with_feature_names_and_config():
    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target
    model = xgb.XGBClassifier(n_estimators=15, max_depth=4).fit(X, y)
    booster = model.get_booster()
    dump = _dump(booster)
    assert '"split": "mean radius"' in "".join(dump) or '"split": "worst' in "".join(dump)
    explainer = ferroshap.TreeExplainer.from_dump(
        dump, config=booster.save_config(), feature_names=list(X.columns)
    )
    _compare(explainer, ferroshap.TreeExplainer(booster), X.to_numpy()[:40])
    # Probability output with background, through the same ensemble.
    with_data = ferroshap.TreeExplainer.from_dump(
        dump,
        config=booster.save_config(),
        feature_names=list(X.columns),
        data=X.iloc[:20],
        model_output="probability",
    )
    total = with_data.shap_values(X.iloc[:5]).sum(1) + with_data.expected_value
    np.testing.assert_allclose(total, model.predict_proba(X.iloc[:5])[:, 1], atol=1e-6)


def test_xgboost_multiclass_forest_dump_from_settings():
    X, y = make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)
    booster = xgb.train(
        {"objective": "multi:softprob", "num_class": 3, "num_parallel_tree": 2, "max_depth": 3},
        xgb.DMatrix(X, y),
        num_boost_round=3,
    )
    config = json.loads(booster.save_config())
    base = config["learner"]["learner_model_param"]["base_score"]
    model = load_xgboost_dump(
        _dump(booster),
        objective="multi:softprob",
        base_score=[float(b) for b in base.strip("[]").split(",")],
        num_feature=6,
        num_class=3,
        num_parallel_tree=2,
    )
    explainer = ferroshap.TreeExplainer(model)
    _compare(explainer, ferroshap.TreeExplainer(booster), X[:30])
    # The dump knows its rounds: tree_limit counts them as XGBoost does.
    np.testing.assert_allclose(
        explainer.shap_values(X[:5], tree_limit=1),
        ferroshap.TreeExplainer(booster).shap_values(X[:5], tree_limit=1),
        **SAME,
    )


def test_xgboost_categorical_dump():
    rng = np.random.default_rng(0)
    c = rng.integers(0, 8, 500)
    frame = pd.DataFrame({"a": rng.normal(size=500), "c": pd.Categorical(c)})
    y = np.isin(c, [1, 3, 6]) + frame["a"] + rng.normal(size=500) * 0.1
    booster = xgb.train(
        {"max_depth": 3, "max_cat_to_onehot": 1},
        xgb.DMatrix(frame, y, enable_categorical=True),
        num_boost_round=5,
    )
    assert '"split_condition": [' in "".join(_dump(booster))
    explainer = ferroshap.TreeExplainer.from_dump(
        _dump(booster), config=booster.save_config(), feature_names=["a", "c"]
    )
    codes = np.column_stack([frame["a"], c]).astype(float)[:50]
    codes[::7, 1] = np.nan
    _compare(explainer, ferroshap.TreeExplainer(booster), codes)


def test_lightgbm_dump_categorical_missing_and_multiclass():
    rng = np.random.default_rng(1)
    n = 400
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": np.where(rng.uniform(size=n) < 0.15, np.nan, rng.normal(size=n)),
            "z": np.where(rng.uniform(size=n) < 0.3, 0.0, rng.normal(size=n)),
            "c": rng.integers(0, 6, n),
        }
    )
    y = (frame["a"] + np.isin(frame["c"], [1, 4]) > 0.5).astype(int) + (frame["z"] > 0)
    params = {"num_leaves": 6, "verbose": -1, "min_data_per_group": 5, "cat_l2": 0.0}
    for objective, target, extra in [
        ("binary", (y > 0).astype(int), {}),
        ("multiclass", y, {"num_class": 3}),
        ("regression", frame["a"] * 2.0, {"zero_as_missing": True}),
    ]:
        booster = lgb.train(
            {**params, **extra, "objective": objective},
            lgb.Dataset(frame, target, categorical_feature=["c"]),
            6,
        )
        X = frame.to_numpy()[:40]
        explainer = ferroshap.TreeExplainer.from_dump(booster.dump_model())
        _compare(explainer, ferroshap.TreeExplainer(booster), X)
        # The JSON text reads the same as the dict.
        text = load_lightgbm_dump(json.dumps(booster.dump_model()))
        np.testing.assert_allclose(
            text.ensemble.shap_values(X), explainer.ensemble.shap_values(X), **SAME
        )


def test_dump_files_from_file_and_cli(tmp_path, capsys):
    X, y = make_classification(200, 4, n_informative=3, n_redundant=0, random_state=3)
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, y), 5)
    booster.dump_model(str(tmp_path / "xgb_dump.json"), dump_format="json", with_stats=True)
    (tmp_path / "config.json").write_text(booster.save_config())
    booster.save_model(str(tmp_path / "model.json"))
    lgb_booster = lgb.train({"verbose": -1, "num_leaves": 5}, lgb.Dataset(X, y), 5)
    (tmp_path / "lgb_dump.json").write_text(json.dumps(lgb_booster.dump_model()))

    dumped = load_tree_model_file(tmp_path / "xgb_dump.json", config=tmp_path / "config.json")
    saved = load_tree_model_file(tmp_path / "model.json")
    np.testing.assert_allclose(
        dumped.ensemble.shap_values(X[:10]), saved.ensemble.shap_values(X[:10]), **SAME
    )
    lgb_values = ferroshap.TreeExplainer.from_file(tmp_path / "lgb_dump.json").shap_values(X[:10])
    np.testing.assert_allclose(
        lgb_values, ferroshap.TreeExplainer(lgb_booster).shap_values(X[:10]), **SAME
    )
    # A dump without its settings names what is missing.
    with pytest.raises(ValueError, match="objective"):
        load_tree_model_file(tmp_path / "xgb_dump.json")

    np.savetxt(tmp_path / "rows.csv", X[:10], delimiter=",")
    outputs = []
    for model, extra in [("model.json", []), ("xgb_dump.json", ["--config", "config.json"])]:
        out = tmp_path / f"{model}.csv"
        args = ["explain", str(tmp_path / model), str(tmp_path / "rows.csv"), "--out", str(out)]
        extra = [str(tmp_path / e) if e.endswith(".json") else e for e in extra]
        assert main(args + extra + ["--no-header"]) == 0
        outputs.append(np.loadtxt(out, delimiter=",", skiprows=1))
    np.testing.assert_allclose(outputs[0], outputs[1], **SAME)
    assert main(["explain", str(tmp_path / "xgb_dump.json"), str(tmp_path / "rows.csv")]) != 0
    assert "objective" in capsys.readouterr().err


def test_bad_dumps_are_refused_with_the_reason():
    X, y = make_classification(100, 4, random_state=4)
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, y), 2)
    no_stats = booster.get_dump(dump_format="json")
    with pytest.raises(ferroshap.ModelFormatError, match="with_stats=True"):
        load_xgboost_dump(no_stats, config=booster.save_config())
    with pytest.raises(ValueError, match="base_score"):
        load_xgboost_dump(_dump(booster), objective="binary:logistic")
    dart = xgb.train({"booster": "dart", "objective": "binary:logistic"}, xgb.DMatrix(X, y), 2)
    with pytest.raises(ferroshap.UnsupportedModelError, match="DART"):
        load_xgboost_dump(_dump(dart), config=dart.save_config())
    with pytest.raises(TypeError, match="get_dump"):
        load_xgboost_dump(42)
    with pytest.raises(ferroshap.ModelFormatError, match="LightGBM JSON dump"):
        load_lightgbm_dump('{"name": "tree", "max_feature_idx": 1, "tree_info": [{}]}')
