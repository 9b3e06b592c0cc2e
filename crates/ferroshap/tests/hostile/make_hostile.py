"""Writes the hostile model corpus: valid models edited so that a declared size is absurd.

Each file reproduces one abort or memory blow-up reported against ferroshap (issue 14): the
parsers must refuse it with a clear error, allocating no more than a small multiple of the
file's size. Run from anywhere: ``python crates/ferroshap/tests/hostile/make_hostile.py``.
"""

import json
import re
from pathlib import Path

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures"


def _xgb(name: str, edit) -> None:
    model = json.loads((FIXTURES / "xgb34_xgb_multiclass.json").read_text())
    edit(model)
    (HERE / name).write_text(json.dumps(model))


def _lgb(name: str, source: str, pattern: str, replacement: str) -> None:
    text = (FIXTURES / source).read_text()
    edited, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert count >= 1, (name, pattern)
    (HERE / name).write_text(edited)


def _param(key: str, value: str):
    def edit(model):
        model["learner"]["learner_model_param"][key] = value

    return edit


def _huge_categories(model) -> None:
    # Every split categorical, on category 2^24 - 1 (the largest XGBoost allows): a bitset
    # per node of 2 MB from a few bytes of JSON.
    for tree in model["learner"]["gradient_booster"]["model"]["trees"]:
        n = len(tree["left_children"])
        internal = [i for i in range(n) if tree["left_children"][i] != -1]
        tree["split_type"] = [1 if i in internal else 0 for i in range(n)]
        tree["categories_nodes"] = internal
        tree["categories_segments"] = list(range(len(internal)))
        tree["categories_sizes"] = [1] * len(internal)
        tree["categories"] = [2**24 - 1] * len(internal)


def main() -> None:
    _xgb("xgb_num_class_1e15.json", _param("num_class", "1000000000000000"))
    _xgb("xgb_num_target_1e15.json", _param("num_target", "1000000000000000"))

    def scalar_base_num_class(model):
        # Files before XGBoost 3 store one base score for every output.
        _param("base_score", "5E-1")(model)
        _param("num_class", "1000000000000000")(model)

    _xgb("xgb_num_class_1e15_scalar_base.json", scalar_base_num_class)
    _xgb("xgb_num_feature_1e8.json", _param("num_feature", "100000000"))
    _xgb("xgb_num_feature_1e18.json", _param("num_feature", "1000000000000000000"))
    _xgb("xgb_categories_2e24.json", _huge_categories)
    _lgb(
        "lgb_max_feature_idx_1e15.txt",
        "lgb_regression.txt",
        r"^max_feature_idx=\d+",
        "max_feature_idx=1000000000000000",
    )
    _lgb(
        "lgb_num_tree_per_iteration_1e15.txt",
        "lgb_regression.txt",
        r"^num_tree_per_iteration=\d+",
        "num_tree_per_iteration=1000000000000000",
    )
    _lgb(
        "lgb_num_class_1e15.txt",
        "lgb_multiclass.txt",
        r"^num_class=\d+",
        "num_class=1000000000000000",
    )
    _lgb(
        "lgb_num_cat_2e64.txt",
        "lgb_categorical.txt",
        r"^num_cat=[1-9]\d*",
        "num_cat=18446744073709551615",
    )
    _lgb(
        "lgb_num_cat_1e12.txt", "lgb_categorical.txt", r"^num_cat=[1-9]\d*", "num_cat=1000000000000"
    )
    _lgb(
        "lgb_num_leaves_1e15.txt",
        "lgb_regression.txt",
        r"^num_leaves=\d+",
        "num_leaves=1000000000000000",
    )


if __name__ == "__main__":
    main()
