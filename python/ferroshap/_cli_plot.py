"""Plots from the command line: ``ferroshap plot`` and ``ferroshap explain --plot``.

::

    ferroshap plot VALUES --kind beeswarm|bar|waterfall|scatter [--row N] [--feature NAME]
                   [--data DATA | --example] [--output NAME] [--max-display K] -o FILE

VALUES is the file ``ferroshap explain --out`` writes (CSV or Parquet): one column per feature,
then ``base_value``; for several outputs ``"<feature> [<output>]"`` and
``"base_value [<output>]"`` columns. It holds SHAP values only, so the feature values that
colour a beeswarm and place a scatter's points come from ``--data`` (the file that was
explained; its columns are matched by feature name, its rows must be the same rows) or from
``--example`` (the bundled data, for values of ``explain --example``).

``explain --plot FILE`` draws a plot of the explained rows right away (``--plot-kind``, default
beeswarm). The picture's format follows FILE's extension (``.png``, ``.svg``, ``.pdf``, ...).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_explain_plot_options", "add_plot_command", "check_plot_path", "plot_command"]

KINDS = ("beeswarm", "bar", "waterfall", "scatter")
_OUTPUT_COLUMN = re.compile(r"^(.*) \[(.+)\]$")


def add_plot_command(commands: Any) -> None:
    """The ``plot`` subcommand's arguments."""
    plot = commands.add_parser(
        "plot",
        help="draw a plot from a values file written by 'ferroshap explain --out'",
        description=(
            "Draw a beeswarm, bar, waterfall or scatter plot of the SHAP values in VALUES (the "
            "file 'ferroshap explain --out' writes) into FILE (.png, .svg, .pdf, ...)."
        ),
        epilog=(
            "VALUES holds SHAP values only: pass the explained data with --data (or --example "
            "for values of 'explain --example') to colour the beeswarm by feature value and to "
            "place the scatter's points; the waterfall then shows each feature's value too."
        ),
    )
    plot.add_argument("values", metavar="VALUES", help="the values file (.csv or .parquet)")
    plot.add_argument("--kind", choices=KINDS, required=True, help="which plot to draw")
    plot.add_argument("-o", "--out", metavar="FILE", required=True, help="the picture to write")
    plot.add_argument("--row", type=int, metavar="N", help="the row to draw (waterfall, bar)")
    plot.add_argument("--feature", metavar="NAME", help="the feature to draw (scatter)")
    data = plot.add_mutually_exclusive_group()
    data.add_argument("--data", metavar="DATA", help="the explained rows (.csv, .parquet, ...)")
    data.add_argument(
        "--example", action="store_true", help="the values came from 'explain --example'"
    )
    _add_common(plot, "--output", "--max-display")


def add_explain_plot_options(explain: Any) -> None:
    """``explain --plot FILE [--plot-kind KIND] [--plot-output NAME]``."""
    explain.add_argument(
        "--plot",
        metavar="FILE",
        help="also draw a plot of the explained rows into FILE (.png, .svg, .pdf, ...)",
    )
    explain.add_argument(
        "--plot-kind",
        choices=("beeswarm", "bar"),
        default="beeswarm",
        help="the plot --plot draws (default: beeswarm)",
    )
    _add_common(explain, "--plot-output", "--plot-max-display")


def _add_common(parser: Any, output_flag: str, max_display_flag: str) -> None:
    parser.add_argument(
        output_flag,
        metavar="NAME",
        help="for a model with several outputs: the one to draw (name, e.g. 'class 1', or index)",
    )
    parser.add_argument(
        max_display_flag,
        type=int,
        default=10,
        metavar="K",
        help="how many features to draw; the rest are summed into one row (default: 10)",
    )


def check_plot_path(path: str | None) -> None:
    """Fail before any work if the picture cannot be written."""
    from ferroshap.cli import CliError

    if path is None:
        return
    suffix = Path(path).suffix.lower().lstrip(".")
    formats = _image_formats()
    if suffix not in formats:
        raise CliError(
            f"cannot draw into {path!r}: use one of .{', .'.join(sorted(formats))} "
            f"(got {'.' + suffix if suffix else 'no extension'})"
        )
    parent = Path(path).parent
    if not parent.is_dir():
        raise CliError(f"cannot write {path}: folder {parent} does not exist")


def _image_formats() -> set[str]:
    from ferroshap.cli import CliError

    try:
        import matplotlib
    except ImportError:
        raise CliError("plots need matplotlib: pip install 'ferroshap[plots]'") from None
    matplotlib.use("Agg")  # a file is written; no window is opened
    from matplotlib.backend_bases import FigureCanvasBase

    return set(FigureCanvasBase.get_supported_filetypes())


def write_explain_plot(args: argparse.Namespace, explanation: Any) -> None:
    """The plot of ``explain --plot``, after the values are computed."""
    _draw(
        args.plot_kind, explanation, None, None, args.plot_output, args.plot_max_display, args.plot
    )
    print(f"wrote {args.plot}: {args.plot_kind} plot")


def plot_command(args: argparse.Namespace) -> int:
    """Run ``ferroshap plot``."""
    from ferroshap.cli import CliError, _polars

    check_plot_path(args.out)
    values_path = Path(args.values)
    reader = _reader(values_path, "values")
    if not values_path.is_file():
        raise CliError(f"values file not found: {values_path}")
    pl = _polars()
    table = getattr(pl, reader)(values_path)
    data = None
    data_path = None
    if args.example:
        from ferroshap.datasets import example_data_path

        data_path = example_data_path()
    elif args.data is not None:
        data_path = Path(args.data)
        if not data_path.is_file():
            raise CliError(f"data file not found: {data_path}")
    explanation = read_values(table, values_path.name)
    if data_path is not None:
        data = _read_data(pl, data_path, explanation.feature_names, table.height)
        explanation.data = data
    if args.kind == "scatter" and data is None:
        raise CliError(
            "a scatter plot places each row at its feature value: pass the explained data with "
            "--data DATA (or --example)"
        )
    _check_options(args, explanation)
    _draw(args.kind, explanation, args.row, args.feature, args.output, args.max_display, args.out)
    print(f"wrote {args.out}: {args.kind} plot of {values_path.name}")
    return 0


def read_values(table: Any, name: str) -> Any:
    """An Explanation from the wide table ``explain --out`` writes (``to_polars`` layout)."""
    from ferroshap import Explanation
    from ferroshap.cli import CliError

    columns = list(table.columns)
    if "base_value" in columns:
        features = [c for c in columns if c != "base_value"]
        if not features:
            raise CliError(f"{name} has a base_value column but no feature columns")
        values = table.select(features).to_numpy().astype(np.float64)
        base = table["base_value"].to_numpy().astype(np.float64)
        return Explanation(values, base_values=base, feature_names=features)
    outputs = [
        m.group(2) for c in columns if (m := _OUTPUT_COLUMN.match(c)) and m.group(1) == "base_value"
    ]
    if not outputs:
        raise CliError(
            f"{name} is not a values file of 'ferroshap explain --out': it has no base_value "
            f"column (columns: {', '.join(columns[:6])}{', ...' if len(columns) > 6 else ''})"
        )
    first = [
        m.group(1) for c in columns if (m := _OUTPUT_COLUMN.match(c)) and m.group(2) == outputs[0]
    ]
    features = [f for f in first if f != "base_value"]
    try:
        values = np.stack(
            [table.select([f"{f} [{o}]" for f in features]).to_numpy() for o in outputs], axis=-1
        ).astype(np.float64)
    except Exception as error:
        if type(error).__module__.startswith("polars"):
            raise CliError(f"{name}: every output needs a column per feature ({error})") from None
        raise
    base = table.select([f"base_value [{o}]" for o in outputs]).to_numpy().astype(np.float64)
    return Explanation(values, base_values=base, feature_names=features, output_names=outputs)


def _reader(path: Path, what: str) -> str:
    from ferroshap.cli import _DATA_READERS, CliError

    reader = _DATA_READERS.get(path.suffix.lower())
    if reader is None:
        raise CliError(
            f"cannot read {what} file {path.name}: use a .csv, .parquet or .arrow file "
            f"(got {path.suffix or 'no extension'})"
        )
    return reader


def _read_data(pl: Any, path: Path, names: list[str], n_rows: int) -> np.ndarray:
    from ferroshap.cli import CliError, _select_features

    frame = getattr(pl, _reader(path, "data"))(path)
    frame = _select_features(frame, names, path.name)
    if frame.height != n_rows:
        raise CliError(
            f"{path.name} has {frame.height} rows but the values file {n_rows}: pass the data "
            "that was explained"
        )
    try:
        return frame.to_numpy().astype(np.float64)
    except (TypeError, ValueError):
        # Text columns (categories) stay as they are: the plots show them as labels.
        return frame.to_numpy()


def _check_options(args: argparse.Namespace, explanation: Any) -> None:
    from ferroshap.cli import CliError

    n_rows = explanation.values.shape[0]
    if args.kind == "waterfall" and args.row is None:
        raise CliError(f"a waterfall plot draws one row: pass --row N (0 .. {n_rows - 1})")
    if args.row is not None:
        if args.kind not in ("waterfall", "bar"):
            raise CliError(f"--row is for waterfall and bar plots, not {args.kind}")
        if not -n_rows <= args.row < n_rows:
            raise CliError(
                f"row {args.row} is out of range: the values file has {n_rows} rows "
                f"(0 .. {n_rows - 1})"
            )
    if args.kind == "scatter" and args.feature is None:
        raise CliError("a scatter plot draws one feature: pass --feature NAME")
    if args.feature is not None:
        if args.kind != "scatter":
            raise CliError(f"--feature is for scatter plots, not {args.kind}")
        if args.feature not in explanation.feature_names:
            shown = ", ".join(repr(n) for n in explanation.feature_names[:12])
            more = ", ..." if len(explanation.feature_names) > 12 else ""
            raise CliError(f"no feature named {args.feature!r}; the features are {shown}{more}")


def _output(explanation: Any, output: str | None) -> Any:
    """The output to draw, by name or index; None where the values have one output."""
    from ferroshap.cli import CliError

    if output is None or explanation.values.ndim == 2:
        if output is not None:
            raise CliError("the values have one output; drop the output option")
        return None
    names = list(explanation.output_names)
    if output in names:
        return output
    if output.lstrip("-").isdigit() and -len(names) <= int(output) < len(names):
        return int(output)
    raise CliError(f"no output {output!r}; the outputs are {', '.join(repr(n) for n in names)}")


def _draw(kind, explanation, row, feature, output, max_display, path) -> None:
    """Draw ``kind`` and save it to ``path`` (format from the extension)."""
    from ferroshap.cli import CliError

    _image_formats()  # selects the Agg backend before pyplot loads
    import matplotlib.pyplot as plt

    import ferroshap.plots

    picked = _output(explanation, output)
    if picked is None and explanation.values.ndim == 3:
        names = ", ".join(repr(n) for n in explanation.output_names)
        raise CliError(
            f"the model has {explanation.values.shape[2]} outputs ({names}): pick one with "
            "--output NAME (--plot-output with explain)"
        )
    sv = explanation if picked is None else explanation[..., picked]
    if kind == "beeswarm":
        ax = ferroshap.plots.beeswarm(sv, max_display=max_display, show=False)
    elif kind == "bar":
        ax = ferroshap.plots.bar(
            sv if row is None else sv[row], max_display=max_display, show=False
        )
    elif kind == "waterfall":
        ax = ferroshap.plots.waterfall(sv[row], max_display=max_display, show=False)
    else:
        ax = ferroshap.plots.scatter(sv[:, feature], color=sv, show=False)
    figure = ax.figure if hasattr(ax, "figure") else plt.gcf()
    figure.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(figure)
