"""The ``ferroshap`` command: explain a saved tree model on a CSV or Parquet file.

::

    ferroshap explain MODEL DATA [--out FILE] [--top K] [--threads N] [--missing VALUE]
                      [--header | --no-header]
    ferroshap explain --example [--out FILE] [--top K] [--threads N]
    ferroshap explain ... --plot FILE [--plot-kind beeswarm|bar] [--plot-output NAME]
    ferroshap plot VALUES --kind beeswarm|bar|waterfall|scatter [--row N] [--feature NAME]
                   [--data DATA | --example] [--output NAME] -o FILE
    ferroshap --version

MODEL is an XGBoost model saved as JSON (``.json``) or UBJSON (``.ubj``), or a LightGBM text
model (``.txt``). DATA is a CSV (``.csv``), Parquet (``.parquet``, ``.pq``) or Arrow IPC
(``.arrow``, ``.feather``, ``.ipc``) file; when the model knows its feature names, DATA's
columns are matched by name (extra columns, such as a label, are ignored with a note), otherwise
by position. A CSV's first line is its header; a first line of numbers that cannot be column
names is refused (pass ``--no-header`` for a file without one, ``--header`` to read it as names
anyway), and so is a row with more or fewer fields than the header.

``--out`` writes the SHAP values, Parquet or CSV by the file's extension: one column per feature,
named like the feature, then ``base_value``. A model with several outputs (multiclass) writes
one such set per output, each column name suffixed with the output, ``"bmi [class 0]"`` ...
``"base_value [class 2]"`` (``[output k]`` for multi-output regression).

``--plot`` also draws the explained rows (a beeswarm, or ``--plot-kind bar``) into FILE; ``plot``
draws from a values file written by ``--out`` (details: ``ferroshap._cli_plot``).

It prints the number of rows, the base value and the top K features by mean |SHAP|. Errors print
``ferroshap: error: <message>`` to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import ferroshap
from ferroshap import _cli_plot

_DATA_READERS = {
    ".csv": "read_csv",
    ".parquet": "read_parquet",
    ".pq": "read_parquet",
    ".arrow": "read_ipc",
    ".feather": "read_ipc",
    ".ipc": "read_ipc",
}
_OUT_WRITERS = {".csv": "write_csv", ".parquet": "write_parquet", ".pq": "write_parquet"}
# Above this many outputs the table shows only the sum over outputs.
_MAX_OUTPUT_COLUMNS = 6


class CliError(Exception):
    """A problem with the user's input: reported in one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ferroshap`` command.

    Parameters
    ----------
    argv
        The arguments after the program name; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0 on success, 2 on a usage or input error.

    Examples
    --------
    >>> from ferroshap.cli import main
    >>> main(["explain", "--example", "--top", "3"])  # doctest: +SKIP
    0
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # --help, --version and usage errors
        return exit.code if isinstance(exit.code, int) else 2
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("ferroshap: error: choose a command: explain or plot", file=sys.stderr)
        return 2
    try:
        if args.command == "plot":
            return _cli_plot.plot_command(args)
        return _explain(args)
    except Exception as error:
        if not _expected(error):
            raise
        print(f"ferroshap: error: {_message(error)}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ferroshap", description="Exact, fast SHAP values with a Rust core."
    )
    parser.add_argument("--version", action="version", version=f"ferroshap {ferroshap.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    explain = commands.add_parser(
        "explain",
        help="explain a saved XGBoost or LightGBM model on a CSV or Parquet file",
        description=(
            "Compute exact SHAP values of a saved XGBoost (.json, .ubj) or LightGBM (.txt) "
            "model for every row of a CSV or Parquet file, print the most important features "
            "and optionally write the values."
        ),
        epilog=(
            "--out columns: one per feature, named like the feature, then base_value. A model "
            "with several outputs gets one set per output, suffixed with it: "
            "'bmi [class 0]', ..., 'base_value [class 2]' ('[output k]' for multi-output "
            "regression)."
        ),
    )
    explain.add_argument("model", nargs="?", metavar="MODEL", help="the saved model file")
    explain.add_argument("data", nargs="?", metavar="DATA", help="the rows to explain")
    explain.add_argument(
        "--example",
        action="store_true",
        help="use the bundled example (XGBoost on the diabetes data) instead of MODEL and DATA",
    )
    explain.add_argument(
        "--out",
        metavar="FILE",
        help="write the SHAP values here: .parquet or .csv (one column per feature + base_value)",
    )
    explain.add_argument(
        "--top",
        type=_positive_int,
        default=10,
        metavar="K",
        help="how many features to list, by mean |SHAP| (default: 10)",
    )
    explain.add_argument(
        "--threads", type=_positive_int, metavar="N", help="threads to use (default: all cores)"
    )
    explain.add_argument(
        "--missing",
        type=_number,
        metavar="VALUE",
        help="a value to read as missing besides NaN, as XGBoost's missing= does (a model file "
        "does not record it)",
    )
    explain.add_argument(
        "--config",
        metavar="FILE",
        help="for an XGBoost JSON dump as MODEL (dump_model(..., dump_format='json', "
        "with_stats=True)): its booster's save_config() output, which holds the objective "
        "and base score the dump lacks",
    )
    header = explain.add_mutually_exclusive_group()
    header.add_argument(
        "--no-header",
        dest="header",
        action="store_false",
        default=None,
        help="the CSV has no header line: columns are the model's features, in order",
    )
    header.add_argument(
        "--header",
        dest="header",
        action="store_true",
        help="read the CSV's first line as column names even if it holds numbers",
    )
    _cli_plot.add_explain_plot_options(explain)
    _cli_plot.add_plot_command(commands)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _explain(args: argparse.Namespace) -> int:
    from ferroshap.datasets import example_data_path, example_model_path

    if args.example:
        if args.model is not None or args.data is not None:
            raise CliError("--example takes no MODEL or DATA")
        model_path, data_path = example_model_path(), example_data_path()
    else:
        if args.model is None or args.data is None:
            raise CliError("explain needs MODEL and DATA (or --example)")
        model_path, data_path = Path(args.model), Path(args.data)
    out_writer = _out_writer(args.out)
    _cli_plot.check_plot_path(args.plot)
    reader = _DATA_READERS.get(data_path.suffix.lower())
    if reader is None:
        raise CliError(
            f"cannot read {data_path.name}: use a .csv, .parquet or .arrow file "
            f"(got {data_path.suffix or 'no extension'})"
        )
    for path, what in ((model_path, "model"), (data_path, "data")):
        if not path.is_file():
            raise CliError(f"{what} file not found: {path}")
    if args.header is not None and reader != "read_csv":
        raise CliError("--header and --no-header apply to CSV files only")
    pl = _polars()
    if out_writer is not None:
        _check_writable(Path(args.out))

    explainer = _load_explainer(model_path, args.threads, args.missing, args.config)
    frame = _read_data(pl, reader, data_path, args.header, explainer)
    frame = _select_features(frame, explainer.feature_names, data_path.name)
    explanation = explainer(frame)
    if _unnamed(explainer.feature_names):
        # Columns matched by position: name the output after the data, not f0 / Column_0.
        explanation.feature_names = list(frame.columns)
    values = explanation.values
    if values.ndim == 3 and explanation.output_names is None:
        explanation.output_names = _output_labels(explainer.ensemble, values.shape[2])

    print(
        f"{model_path.name}: {explainer.ensemble.n_trees} trees, "
        f"{explainer.ensemble.n_features} features; {data_path.name}: {values.shape[0]} rows"
    )
    print(_base_line(explainer.expected_value, explanation.output_names))
    print()
    print(_importance_table(explanation, args.top))
    if out_writer is not None:
        table = explanation.to_polars(with_base_values=True)
        getattr(table, out_writer)(args.out)
        print(f"\nwrote {args.out}: {table.height} rows, {table.width} columns")
    if args.plot is not None:
        _cli_plot.write_explain_plot(args, explanation)
    return 0


def _load_explainer(
    model_path: Path, threads: int | None, missing: float | None = None, config: Any = None
) -> Any:
    from ferroshap.explainers import TreeExplainer

    if config is not None and not Path(config).is_file():
        raise CliError(f"--config {config}: no such file")
    try:
        return TreeExplainer.from_file(model_path, config, n_jobs=threads, missing=missing)
    except ferroshap.ModelFormatError as error:
        # The core names the format it tried ("cannot parse XGBoost JSON model: ..."); the
        # file's name is what the user needs.
        detail = str(error).removeprefix("cannot parse XGBoost or LightGBM model: ")
        raise CliError(f"cannot read {model_path.name} as a model: {detail}") from None


def _check_writable(out: Path) -> None:
    """Fail before any work when ``--out`` cannot be written (leaving no file behind)."""
    if out.is_dir():
        raise CliError(f"cannot write {out}: it is a folder")
    existed = out.exists()
    try:
        with open(out, "ab"):
            pass
    except OSError as error:
        raise CliError(f"cannot write {out}: {error.strerror or error}") from None
    if not existed:
        out.unlink()


def _read_data(pl: Any, reader: str, path: Path, header: bool | None, explainer: Any) -> Any:
    """DATA as a polars frame, refusing what would be read silently wrong: a headerless CSV
    (its first row taken as names), ragged rows (filled with nulls), no rows at all."""
    if reader != "read_csv":
        frame = getattr(pl, reader)(path)
    else:
        _check_csv_rows(path)
        frame = pl.read_csv(path, has_header=header is not False)
        if header is False:
            frame = _name_by_position(frame, explainer.feature_names, path.name)
        elif header is None and _looks_like_data(frame.columns, explainer.feature_names):
            shown = ", ".join(frame.columns[:4]) + (", ..." if frame.width > 4 else "")
            raise CliError(
                f"the first line of {path.name} holds numbers ({shown}), not column names: "
                "pass --no-header if the file has no header line (otherwise that row would be "
                "lost), or --header to read it as names"
            )
    if frame.height == 0:
        raise CliError(f"{path.name} has no rows to explain")
    return frame


def _check_csv_rows(path: Path) -> None:
    """Every line of a CSV has as many fields as the first: polars fills a short row with
    nulls (explained as missing values) without a word."""
    import csv

    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        try:
            first = next(reader, None)
            if first is None:
                return
            for row in reader:
                if len(row) != len(first) and not (row == [] and len(first) == 1):
                    got = "is empty" if not row else f"has {len(row)} fields"
                    raise CliError(
                        f"{path.name} line {reader.line_num} {got}, but the first line has "
                        f"{len(first)}: every row needs one value per column"
                    )
        except csv.Error as error:
            raise CliError(f"{path.name} line {reader.line_num}: {error}") from None


def _looks_like_data(columns: list[str], features: list[str] | None) -> bool:
    """Column names that are all numbers, other than the column numbers 0..n-1 or 1..n that
    ``DataFrame(array).to_csv`` writes and other than the model's own feature names."""
    import re

    if not _unnamed(features) and set(features) <= set(columns):
        return False
    names = [re.sub(r"_duplicated_\d+$", "", c) for c in columns]
    try:
        numbers = [float(n) for n in names]
    except ValueError:
        return False
    n = len(numbers)
    return numbers not in (list(range(n)), list(range(1, n + 1)))


def _name_by_position(frame: Any, names: list[str] | None, data_name: str) -> Any:
    """A headerless frame's columns named after the model's features, matched by position."""
    if _unnamed(names):
        return frame
    if frame.width != len(names):
        raise CliError(
            f"{data_name} has {frame.width} columns, but the model has {len(names)} features "
            "(without a header, columns are matched to the features by position)"
        )
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def _out_writer(out: str | None) -> str | None:
    if out is None:
        return None
    writer = _OUT_WRITERS.get(Path(out).suffix.lower())
    if writer is None:
        raise CliError(f"--out must end in .parquet or .csv, got {out!r}")
    parent = Path(out).parent
    if not parent.is_dir():
        raise CliError(f"cannot write {out}: folder {parent} does not exist")
    return writer


def _polars() -> Any:
    try:
        import polars as pl
    except ImportError:
        raise CliError(
            "reading CSV and Parquet files needs polars: pip install 'ferroshap[cli]'"
        ) from None
    return pl


def _select_features(frame: Any, names: list[str] | None, data_name: str) -> Any:
    """The model's features, by name and in the model's order, when the model names them."""
    if _unnamed(names):
        return frame
    from ferroshap._data import name_key

    columns = list(frame.columns)
    # Match by the name as the model stores it (LightGBM writes spaces as underscores).
    by_key = {name_key(c): c for c in columns}
    missing = [name for name in names if name_key(name) not in by_key]
    if missing:
        shown = ", ".join(repr(n) for n in missing[:8]) + (", ..." if len(missing) > 8 else "")
        raise CliError(
            f"{data_name} lacks {len(missing)} of the model's {len(names)} feature columns: {shown}"
        )
    wanted = [by_key[name_key(name)] for name in names]
    extra = [name for name in columns if name not in set(wanted)]
    if extra:
        shown = ", ".join(repr(n) for n in extra[:8]) + (", ..." if len(extra) > 8 else "")
        print(f"ferroshap: note: ignoring columns the model does not use: {shown}", file=sys.stderr)
    return frame if columns == wanted else frame.select(wanted)


def _unnamed(names: list[str] | None) -> bool:
    from ferroshap._data import _generated

    return not names or _generated(names)


def _output_labels(ensemble: Any, n_outputs: int) -> list[str]:
    objective = ensemble.objective.lower()
    classes = ensemble.link == "softmax" or any(
        word in objective for word in ("softmax", "softprob", "multiclass")
    )
    return [f"{'class' if classes else 'output'} {k}" for k in range(n_outputs)]


def _base_line(expected: Any, output_names: list[str] | None) -> str:
    base = np.atleast_1d(np.asarray(expected, dtype=np.float64))
    if base.size == 1:
        return f"base value (mean model output, margin): {base[0]:.6g}"
    labels = output_names or [f"output {k}" for k in range(base.size)]
    parts = ", ".join(f"{label} = {b:.6g}" for label, b in zip(labels, base, strict=False))
    return f"base values (margin): {parts}"


def _importance_table(explanation: Any, top: int) -> str:
    """The top features by mean |SHAP| over the rows, as aligned text."""
    values = np.abs(np.asarray(explanation.values, dtype=np.float64))
    n_features = values.shape[1]
    names = explanation.feature_names or [f"Feature {j}" for j in range(n_features)]
    mean = values.mean(axis=0) if values.shape[0] else np.zeros(values.shape[1:])
    if mean.ndim == 1:
        headers, columns = ["mean |SHAP|"], [mean]
    else:
        total = mean.sum(axis=1)
        headers, columns = ["mean |SHAP| (sum)"], [total]
        if mean.shape[1] <= _MAX_OUTPUT_COLUMNS:
            headers += list(explanation.output_names)
            columns += [mean[:, k] for k in range(mean.shape[1])]
        mean = total
    order = np.argsort(-mean, kind="stable")[:top]
    rows = [[str(names[j])] + [f"{c[j]:.6g}" for c in columns] for j in order]
    title = ["feature", *headers]
    widths = [max(len(r[i]) for r in [title, *rows]) for i in range(len(title))]
    lines = [f"top {len(order)} of {n_features} features by mean |SHAP|:"]
    for row in [title, *rows]:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return "\n".join(lines)


def _expected(error: Exception) -> bool:
    """Errors that come from the user's input, reported without a traceback."""
    if isinstance(error, (CliError, OSError, ValueError, TypeError, NotImplementedError)):
        return True
    if isinstance(error, ferroshap.FerroshapError):
        return True
    module = type(error).__module__ or ""
    return module.startswith("polars")  # malformed CSV / Parquet


def _message(error: Exception) -> str:
    if isinstance(error, FileNotFoundError) and error.filename:
        return f"file not found: {os.fsdecode(error.filename)}"
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split()) if "\n" in text and len(text) < 300 else text


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: the plot command's helpers raise
    # ferroshap.cli.CliError, which must be the class main() catches.
    from ferroshap.cli import main as _main

    sys.exit(_main())
