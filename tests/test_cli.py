"""The ``ferroshap`` command, run in-process through ``main`` and once as a real subprocess.

Reference numbers come from the boosting libraries themselves: XGBoost's ``pred_contribs`` and
LightGBM's ``pred_contrib`` (exact path-dependent Tree SHAP, the same algorithm), and the models'
margins for additivity.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import lightgbm
import numpy as np
import polars as pl
import pytest
import xgboost

import ferroshap
from ferroshap.cli import main
from ferroshap.datasets import example_data_path, example_model_path, load_example

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def _xgboost_reference(model_path, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    booster = xgboost.Booster(model_file=str(model_path))
    dmatrix = xgboost.DMatrix(X, feature_names=booster.feature_names)
    contribs = booster.predict(dmatrix, pred_contribs=True)
    margin = booster.predict(dmatrix, output_margin=True)
    return contribs, margin


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the bundled example ----------------------------------------------------------------------


def test_bundled_example_files():
    assert example_model_path().stat().st_size < 500_000
    model_path, X = load_example()
    assert model_path == example_model_path()
    assert X.shape == (442, 10) and X.columns == FEATURES


def test_example_in_process_prints_top_features(capsys):
    code, out, err = _run(capsys, "explain", "--example", "--top", "3")
    assert code == 0, err
    assert "442 rows" in out and "base value" in out
    X = pl.read_csv(example_data_path()).to_numpy()
    contribs, _ = _xgboost_reference(example_model_path(), X)
    importance = np.abs(contribs[:, :-1]).mean(0)
    top3 = [FEATURES[j] for j in np.argsort(-importance)[:3]]
    table = out.split("top 3 of 10 features by mean |SHAP|:")[1].strip().splitlines()[1:]
    assert [line.split()[0] for line in table] == top3
    # XGBoost accumulates in float32; ferroshap in float64: agree to float32 rounding.
    for line, j in zip(table, np.argsort(-importance)[:3], strict=True):
        assert float(line.split()[1]) == pytest.approx(importance[j], rel=1e-4)
    # The base value line shows the model's expected margin.
    base = float(out.split("base value (mean model output, margin):")[1].split()[0])
    assert base == pytest.approx(float(contribs[0, -1]), rel=1e-5)
    assert not list(example_model_path().parent.glob("*.parquet"))


def test_example_as_a_subprocess():
    exe = shutil.which("ferroshap")
    command = [exe] if exe else [sys.executable, "-m", "ferroshap.cli"]
    result = subprocess.run(
        [*command, "explain", "--example"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "top 10 of 10 features" in result.stdout and "bmi" in result.stdout


def test_version(capsys):
    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.strip() == f"ferroshap {ferroshap.__version__}"


# -- round trips ------------------------------------------------------------------------------


@pytest.fixture
def diabetes_with_label(tmp_path):
    """The example data with a label column and shuffled column order, as CSV and Parquet."""
    frame = pl.read_csv(example_data_path())
    shuffled = frame.with_columns(target=pl.lit(1.0)).select(["target", *reversed(FEATURES)])
    shuffled.write_csv(tmp_path / "data.csv")
    shuffled.write_parquet(tmp_path / "data.parquet")
    return frame


@pytest.mark.parametrize("data_ext", ["csv", "parquet"])
@pytest.mark.parametrize("out_ext", ["csv", "parquet"])
def test_round_trip_matches_xgboost(tmp_path, capsys, diabetes_with_label, data_ext, out_ext):
    out_path = tmp_path / f"shap.{out_ext}"
    code, out, err = _run(
        capsys, "explain", str(example_model_path()), str(tmp_path / f"data.{data_ext}"),
        "--out", str(out_path), "--threads", "2",
    )  # fmt: skip
    assert code == 0, err
    assert "ignoring columns the model does not use: 'target'" in err
    assert f"wrote {out_path}" in out
    result = pl.read_csv(out_path) if out_ext == "csv" else pl.read_parquet(out_path)
    assert result.columns == [*FEATURES, "base_value"]
    assert result.height == 442
    values = result.select(FEATURES).to_numpy()
    base = result["base_value"].to_numpy()
    contribs, margin = _xgboost_reference(example_model_path(), diabetes_with_label.to_numpy())
    # float32 accumulation in XGBoost vs float64 here: 1e-4 of the margin scale (~150).
    scale = float(np.abs(margin).max())
    np.testing.assert_allclose(values, contribs[:, :-1], atol=1e-4 * scale)
    np.testing.assert_allclose(base, contribs[:, -1], atol=1e-4 * scale)
    np.testing.assert_allclose(values.sum(1) + base, margin, atol=1e-4 * scale)


def test_threads_do_not_change_the_numbers(tmp_path, capsys):
    for threads in ("1", "2"):
        code, _, err = _run(
            capsys, "explain", "--example", "--out", str(tmp_path / f"t{threads}.parquet"),
            "--threads", threads,
        )  # fmt: skip
        assert code == 0, err
    one = pl.read_parquet(tmp_path / "t1.parquet")
    two = pl.read_parquet(tmp_path / "t2.parquet")
    assert one.equals(two)


def test_multiclass_xgboost_writes_one_set_per_class(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    names = ["w", "x", "y", "z"]
    model = xgboost.XGBClassifier(n_estimators=8, max_depth=3).fit(
        pl.DataFrame(X, schema=names).to_pandas(), y
    )
    model_path = tmp_path / "multi.json"
    model.get_booster().save_model(model_path)
    pl.DataFrame(X, schema=names).write_parquet(tmp_path / "X.parquet")
    code, out, err = _run(
        capsys, "explain", str(model_path), str(tmp_path / "X.parquet"),
        "--out", str(tmp_path / "shap.parquet"),
    )  # fmt: skip
    assert code == 0, err
    assert "class 0 = " in out and "class 2 = " in out
    result = pl.read_parquet(tmp_path / "shap.parquet")
    expected = [f"{n} [class {k}]" for k in range(3) for n in names]
    expected += [f"base_value [class {k}]" for k in range(3)]
    assert result.columns == expected
    contribs = model.get_booster().predict(
        xgboost.DMatrix(X, feature_names=names), pred_contribs=True
    )  # (n, classes, features + 1)
    for k in range(3):
        got = result.select([f"{n} [class {k}]" for n in names]).to_numpy()
        np.testing.assert_allclose(got, contribs[:, k, :-1], atol=1e-5)
        np.testing.assert_allclose(result[f"base_value [class {k}]"], contribs[:, k, -1], atol=1e-5)


def test_lightgbm_text_model(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 5))
    y = X[:, 0] * 2 + np.sin(X[:, 1]) + rng.normal(scale=0.1, size=400)
    booster = lightgbm.train(
        {"objective": "regression", "num_leaves": 8, "verbose": -1},
        lightgbm.Dataset(X, y),
        num_boost_round=20,
    )
    model_path = tmp_path / "model.txt"
    booster.save_model(model_path)
    # LightGBM names features Column_0.. when trained on arrays: columns match by position.
    pl.DataFrame(X, schema=list("abcde")).write_csv(tmp_path / "X.csv")
    out_path = tmp_path / "shap.csv"
    code, out, err = _run(
        capsys, "explain", str(model_path), str(tmp_path / "X.csv"), "--out", str(out_path)
    )
    assert code == 0, err
    result = pl.read_csv(out_path)
    assert result.columns == [*"abcde", "base_value"]
    contribs = booster.predict(X, pred_contrib=True)
    np.testing.assert_allclose(result.select(list("abcde")).to_numpy(), contribs[:, :-1], atol=1e-9)
    np.testing.assert_allclose(result["base_value"].to_numpy(), contribs[:, -1], atol=1e-9)


# -- errors: one line on stderr, exit status 2 ------------------------------------------------


def _assert_error(capsys, argv, *fragments):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    # Our own errors are one line; argparse's usage errors print the usage first.
    assert err.startswith("ferroshap: error: ") or ("ferroshap" in err and ": error: " in err), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def test_missing_model_file(tmp_path, capsys):
    _assert_error(
        capsys,
        ["explain", str(tmp_path / "nope.json"), str(example_data_path())],
        "model file not found",
        "nope.json",
    )


def test_missing_data_file(tmp_path, capsys):
    _assert_error(
        capsys,
        ["explain", str(example_model_path()), str(tmp_path / "nope.csv")],
        "data file not found",
    )


@pytest.mark.parametrize("content", [b"{ not json", b"\x00\x01garbage", b'{"learner": 1}'])
def test_bad_model(tmp_path, capsys, content):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    _assert_error(capsys, ["explain", str(bad), str(example_data_path())])


def test_data_missing_a_feature_column(tmp_path, capsys):
    pl.read_csv(example_data_path()).drop("bmi").write_csv(tmp_path / "X.csv")
    _assert_error(
        capsys,
        ["explain", str(example_model_path()), str(tmp_path / "X.csv")],
        "lacks 1 of the model's 10 feature columns: 'bmi'",
    )


def test_text_column_is_reported(tmp_path, capsys):
    frame = pl.read_csv(example_data_path()).with_columns(pl.lit("m").alias("sex"))
    frame.write_csv(tmp_path / "X.csv")
    _assert_error(
        capsys,
        ["explain", str(example_model_path()), str(tmp_path / "X.csv")],
        "column 'sex'",
    )


def test_wrong_column_count_for_an_unnamed_model(tmp_path, capsys):
    booster = lightgbm.train(
        {"objective": "regression", "verbose": -1},
        lightgbm.Dataset(np.random.default_rng(0).normal(size=(100, 3)), np.arange(100.0)),
        num_boost_round=2,
    )
    booster.save_model(tmp_path / "m.txt")
    pl.DataFrame({"a": [1.0], "b": [2.0]}).write_csv(tmp_path / "X.csv")
    _assert_error(
        capsys,
        ["explain", str(tmp_path / "m.txt"), str(tmp_path / "X.csv")],
        "X has 2 features, but the model was trained on 3 features",
    )


def test_malformed_csv(tmp_path, capsys):
    (tmp_path / "X.csv").write_text('age,sex\n1.0,"unterminated\n')
    _assert_error(capsys, ["explain", str(example_model_path()), str(tmp_path / "X.csv")])


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["explain"], "needs MODEL and DATA"),
        (["explain", "--example", "--out", "shap.xlsx"], "--out must end in .parquet or .csv"),
        (["explain", "--example", "--out", "/no/such/folder/shap.csv"], "does not exist"),
        (["explain", "m.json", "data.xlsx"], "use a .csv, .parquet or .arrow file"),
        (["explain", "--example", "m.json"], "--example takes no MODEL or DATA"),
        (["explain", "--example", "--top", "0"], "positive integer"),
        (["explain", "--example", "--threads", "x"], "positive integer"),
        ([], "choose a command"),
    ],
)
def test_usage_errors(capsys, argv, fragment):
    _assert_error(capsys, argv, fragment)


def test_without_polars_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "polars", None)  # makes `import polars` fail
    _assert_error(capsys, ["explain", "--example"], "pip install 'ferroshap[cli]'")


# -- input that used to be read silently wrong -----------------------------------------------


@pytest.fixture
def unnamed_lightgbm(tmp_path):
    """A LightGBM model trained without feature names, and the rows it is explained on."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3))
    booster = lightgbm.train(
        {"objective": "regression", "num_leaves": 8, "verbose": -1},
        lightgbm.Dataset(X, X[:, 0] - X[:, 1] ** 2),
        num_boost_round=10,
    )
    booster.save_model(tmp_path / "m.txt")
    return booster, X[:6]


def test_headerless_csv_is_refused_and_read_with_no_header(tmp_path, capsys, unnamed_lightgbm):
    booster, X = unnamed_lightgbm
    np.savetxt(tmp_path / "X.csv", X, delimiter=",")  # no header line
    argv = ["explain", str(tmp_path / "m.txt"), str(tmp_path / "X.csv")]
    # Before: the first row became the header and 5 rows were explained.
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert "first line of X.csv holds numbers" in err and "--no-header" in err
    out_path = tmp_path / "shap.csv"
    code, out, err = _run(capsys, *argv, "--no-header", "--out", str(out_path))
    assert code == 0, err
    result = pl.read_csv(out_path)
    assert result.height == 6
    contribs = booster.predict(X, pred_contrib=True)  # f64 Tree SHAP: 1e-9
    np.testing.assert_allclose(result.drop("base_value").to_numpy(), contribs[:, :-1], atol=1e-9)
    # The column numbers pandas writes for an unnamed frame are a header, not data.
    np.savetxt(tmp_path / "numbered.csv", X, delimiter=",", header="0,1,2", comments="")
    code, out, err = _run(
        capsys, "explain", str(tmp_path / "m.txt"), str(tmp_path / "numbered.csv")
    )
    assert code == 0 and ": 6 rows" in out, err
    # --header reads a line of numbers as names when that is what it is.
    code, out, err = _run(capsys, *argv, "--header")
    assert code == 0 and ": 5 rows" in out, err


def test_headerless_csv_for_a_named_model(tmp_path, capsys):
    X = pl.read_csv(example_data_path()).to_numpy()
    np.savetxt(tmp_path / "X.csv", X, delimiter=",")
    argv = ["explain", str(example_model_path()), str(tmp_path / "X.csv")]
    _assert_error(capsys, argv, "first line of X.csv holds numbers", "--no-header")
    out_path = tmp_path / "shap.parquet"
    code, _, err = _run(capsys, *argv, "--no-header", "--out", str(out_path))
    assert code == 0, err
    result = pl.read_parquet(out_path)
    assert result.columns == [*FEATURES, "base_value"] and result.height == 442
    contribs, _ = _xgboost_reference(example_model_path(), X)
    np.testing.assert_allclose(result.select(FEATURES).to_numpy(), contribs[:, :-1], atol=1e-2)
    np.savetxt(tmp_path / "narrow.csv", X[:, :9], delimiter=",")
    _assert_error(
        capsys,
        ["explain", str(example_model_path()), str(tmp_path / "narrow.csv"), "--no-header"],
        "narrow.csv has 9 columns, but the model has 10 features",
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a,b,c\n1,2,3\n4,5\n7,8,9\n", "X.csv line 3 has 2 fields, but the first line has 3"),
        ("a,b,c\n1,2,3\n4,5,6,7\n", "X.csv line 3 has 4 fields, but the first line has 3"),
        ("a,b,c\n1,2,3\n\n7,8,9\n", "X.csv line 3 is empty, but the first line has 3"),
        ("a,b,c\n", "X.csv has no rows to explain"),  # was: "dtype String"
    ],
)
def test_ragged_and_empty_csv_are_refused(tmp_path, capsys, unnamed_lightgbm, text, fragment):
    (tmp_path / "X.csv").write_text(text)
    _assert_error(capsys, ["explain", str(tmp_path / "m.txt"), str(tmp_path / "X.csv")], fragment)


def test_unwritable_out_is_reported_before_any_work(tmp_path, capsys):
    (tmp_path / "shap.csv").mkdir()
    code, out, err = _run(capsys, "explain", "--example", "--out", str(tmp_path / "shap.csv"))
    # Before: reported after the whole computation, its table already printed.
    assert code == 2 and out == ""
    assert "cannot write" in err and "it is a folder" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_out_in_a_read_only_folder_is_reported_before_any_work(tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    code, out, err = _run(capsys, "explain", "--example", "--out", str(folder / "shap.csv"))
    assert code == 2 and out == "" and "cannot write" in err and "ermission" in err
    assert not list(folder.iterdir())


def test_a_file_that_is_not_a_model_is_named(tmp_path, capsys):
    _assert_error(
        capsys,
        ["explain", str(example_data_path()), str(example_data_path())],
        "cannot read diabetes.csv as a model: unrecognised content",
    )
    assert "model model" not in capsys.readouterr().err


def test_missing_value_of_a_model_file(tmp_path, capsys):
    X, y = np.random.default_rng(4).normal(size=(300, 3)), np.zeros(300)
    y[X[:, 0] > 0] = 1
    X[::4, 0] = -999.0  # the model's missing marker
    model = xgboost.XGBClassifier(n_estimators=10, max_depth=3, missing=-999.0).fit(X, y)
    model.save_model(tmp_path / "m.json")
    pl.DataFrame(X, schema=["a", "b", "c"]).write_csv(tmp_path / "X.csv")
    out_path = tmp_path / "shap.parquet"
    argv = ["explain", str(tmp_path / "m.json"), str(tmp_path / "X.csv"), "--out", str(out_path)]
    code, _, err = _run(capsys, *argv, "--missing", "-999")
    assert code == 0, err
    values = pl.read_parquet(out_path).drop("base_value").to_numpy()
    booster = model.get_booster()
    contribs = booster.predict(xgboost.DMatrix(X, missing=-999.0), pred_contribs=True)
    # XGBoost's float32 Tree SHAP on margins of order 1: 1e-5.
    np.testing.assert_allclose(values, contribs[:, :-1], atol=1e-5)
    _assert_error(capsys, [*argv, "--missing", "x"], "expected a number")


def test_a_header_of_numbers_that_are_the_models_feature_names_is_a_header(tmp_path, capsys):
    X = np.random.default_rng(6).normal(size=(50, 3))
    names = ["10", "20", "30"]
    frame = pl.DataFrame(X, schema=names)
    model = xgboost.XGBRegressor(n_estimators=3).fit(frame.to_pandas(), X[:, 0])
    model.save_model(tmp_path / "m.json")
    frame.write_csv(tmp_path / "X.csv")
    code, out, err = _run(capsys, "explain", str(tmp_path / "m.json"), str(tmp_path / "X.csv"))
    assert code == 0 and ": 50 rows" in out, err


def test_python_dash_m_runs_the_command(tmp_path):
    """``python -m ferroshap`` is the ``ferroshap`` command (for environments without the
    console script on PATH)."""
    import os

    import ferroshap

    # The package this test imports, also from another working directory.
    root = os.path.dirname(os.path.dirname(ferroshap.__file__))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-m", "ferroshap", "explain", "--example", "--top", "3"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert len([line for line in out.stdout.splitlines() if line.strip()]) >= 3
    bad = subprocess.run(
        [sys.executable, "-m", "ferroshap", "explain", str(tmp_path / "missing.json"), "x.csv"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode != 0 and "missing.json" in bad.stderr
