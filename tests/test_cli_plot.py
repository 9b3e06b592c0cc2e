"""``ferroshap plot`` and ``ferroshap explain --plot``: pictures from the command line.

The command's pictures are compared pixel for pixel with the same plot drawn through the Python
API on the same explanation and saved the same way: equal images mean the values file was read
back right (values, names, base values) and the data arrived for the colours and positions.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import polars as pl
import pytest
import xgboost

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import ferroshap  # noqa: E402
from ferroshap.cli import main  # noqa: E402
from ferroshap.datasets import load_example  # noqa: E402


@pytest.fixture(scope="module")
def example():
    model_path, X = load_example()
    return ferroshap.TreeExplainer.from_file(model_path)(X)


@pytest.fixture(scope="module")
def values_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("values")
    path = folder / "values.parquet"
    assert main(["explain", "--example", "--top", "1", "--out", str(path)]) == 0
    return path


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _api_png(ax, path) -> np.ndarray:
    ax.figure.savefig(path, dpi=150, bbox_inches="tight")  # as the command saves
    return plt.imread(path)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_explain_plot_writes_the_beeswarm(tmp_path, capsys, example):
    picture = tmp_path / "beeswarm.png"
    code, out, err = _run(capsys, "explain", "--example", "--plot", str(picture))
    assert code == 0, err
    assert f"wrote {picture}: beeswarm plot" in out
    expected = _api_png(ferroshap.plots.beeswarm(example, show=False), tmp_path / "api.png")
    np.testing.assert_array_equal(plt.imread(picture), expected)


@pytest.mark.parametrize(
    ("argv", "draw"),
    [
        (["--kind", "beeswarm"], lambda sv: ferroshap.plots.beeswarm(sv, show=False)),
        (["--kind", "bar"], lambda sv: ferroshap.plots.bar(sv, show=False)),
        (["--kind", "bar", "--row", "7"], lambda sv: ferroshap.plots.bar(sv[7], show=False)),
        (
            ["--kind", "waterfall", "--row", "3", "--max-display", "5"],
            lambda sv: ferroshap.plots.waterfall(sv[3], max_display=5, show=False),
        ),
        (
            ["--kind", "scatter", "--feature", "bmi"],
            lambda sv: ferroshap.plots.scatter(sv[:, "bmi"], color=sv, show=False),
        ),
    ],
)
def test_plot_from_the_values_file_equals_the_api(
    tmp_path, capsys, example, values_file, argv, draw
):
    picture = tmp_path / "cli.png"
    code, out, err = _run(capsys, "plot", str(values_file), *argv, "--example", "-o", str(picture))
    assert code == 0, err
    expected = _api_png(draw(example), tmp_path / "api.png")
    np.testing.assert_array_equal(plt.imread(picture), expected)


def test_data_file_and_csv_values(tmp_path, capsys, example):
    from ferroshap.datasets import example_data_path

    values = tmp_path / "values.csv"
    assert main(["explain", "--example", "--out", str(values)]) == 0
    # The data file with the columns shuffled and an extra one: matched by name.
    frame = pl.read_csv(example_data_path())
    shuffled = frame.select(list(reversed(frame.columns))).with_columns(pl.lit(1).alias("label"))
    shuffled.write_csv(tmp_path / "data.csv")
    picture = tmp_path / "scatter.svg"
    code, _, err = _run(
        capsys, "plot", str(values), "--kind", "scatter", "--feature", "s5",
        "--data", str(tmp_path / "data.csv"), "-o", str(picture),
    )  # fmt: skip
    assert code == 0, err
    assert "ignoring columns the model does not use: 'label'" in err
    assert picture.read_text().lstrip().startswith("<?xml") and "s5" in picture.read_text()


def test_multiclass_values_pick_an_output(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    names = ["u", "v", "w"]
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
    model.get_booster().feature_names = names
    model_path = tmp_path / "multi.json"
    model.get_booster().save_model(model_path)
    pl.DataFrame(X, schema=names).write_csv(tmp_path / "X.csv")
    values = tmp_path / "values.parquet"
    code, _, err = _run(
        capsys, "explain", str(model_path), str(tmp_path / "X.csv"), "--out", str(values),
        "--plot", str(tmp_path / "bee.png"), "--plot-output", "class 2",
    )  # fmt: skip
    assert code == 0, err
    sv = ferroshap.TreeExplainer.from_file(model_path)(X)
    expected = _api_png(ferroshap.plots.beeswarm(sv[..., 2], show=False), tmp_path / "api.png")
    np.testing.assert_array_equal(plt.imread(tmp_path / "bee.png"), expected)
    # Read back: three outputs; picked by name or by index, the same picture.
    for pick in ("class 1", "1"):
        out = tmp_path / f"bar-{pick}.png"
        code, _, err = _run(
            capsys, "plot", str(values), "--kind", "bar", "--output", pick, "-o", str(out)
        )
        assert code == 0, err
    np.testing.assert_array_equal(
        plt.imread(tmp_path / "bar-class 1.png"), plt.imread(tmp_path / "bar-1.png")
    )
    expected = _api_png(ferroshap.plots.bar(sv[..., 1], show=False), tmp_path / "api-bar.png")
    np.testing.assert_array_equal(plt.imread(tmp_path / "bar-1.png"), expected)
    code, _, err = _run(capsys, "plot", str(values), "--kind", "bar", "-o", str(tmp_path / "x.png"))
    assert code == 2 and "3 outputs ('class 0', 'class 1', 'class 2')" in err and "--output" in err
    code, _, err = _run(
        capsys,
        "plot",
        str(values),
        "--kind",
        "bar",
        "--output",
        "class 7",
        "-o",
        str(tmp_path / "x.png"),
    )
    assert code == 2 and "no output 'class 7'" in err


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--kind", "waterfall"], "draws one row: pass --row N (0 .. 441)"),
        (
            ["--kind", "waterfall", "--row", "442"],
            "row 442 is out of range: the values file has 442 rows",
        ),
        (
            ["--kind", "scatter", "--feature", "BMI", "--example"],
            "no feature named 'BMI'; the features are 'age'",
        ),
        (["--kind", "scatter", "--feature", "bmi"], "pass the explained data with --data DATA"),
        (["--kind", "beeswarm", "--row", "1"], "--row is for waterfall and bar plots"),
        (["--kind", "bar", "--feature", "bmi"], "--feature is for scatter plots"),
        (["--kind", "bar", "--output", "1"], "the values have one output"),
    ],
)
def test_bad_options(tmp_path, capsys, values_file, extra, fragment):
    code, _, err = _run(capsys, "plot", str(values_file), *extra, "-o", str(tmp_path / "x.png"))
    assert code == 2 and fragment in err, err
    assert not (tmp_path / "x.png").exists()


def test_bad_files(tmp_path, capsys, values_file):
    from ferroshap.datasets import example_data_path

    cases = [
        (
            [str(example_data_path()), "--kind", "bar", "-o", str(tmp_path / "x.png")],
            "no base_value column",
        ),
        ([str(values_file), "--kind", "bar", "-o", str(tmp_path / "x.bmpx")], "use one of"),
        (
            [str(values_file), "--kind", "bar", "-o", str(tmp_path / "no" / "x.png")],
            "does not exist",
        ),
        (
            [str(tmp_path / "missing.csv"), "--kind", "bar", "-o", str(tmp_path / "x.png")],
            "values file not found",
        ),
    ]
    half = tmp_path / "half.csv"
    pl.read_csv(example_data_path()).head(100).write_csv(half)
    cases.append(
        (
            [
                str(values_file),
                "--kind",
                "beeswarm",
                "--data",
                str(half),
                "-o",
                str(tmp_path / "x.png"),
            ],
            "half.csv has 100 rows but the values file 442",
        )
    )
    for argv, fragment in cases:
        code, _, err = _run(capsys, "plot", *argv)
        assert code == 2 and fragment in err, (argv, err)


def test_explain_plot_path_checked_before_explaining(tmp_path, capsys):
    code, out, err = _run(capsys, "explain", "--example", "--plot", str(tmp_path / "p.docx"))
    assert code == 2 and "cannot draw into" in err
    assert out == ""  # nothing was explained
