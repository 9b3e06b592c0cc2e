"""The import-graph check (scripts/check_imports.py) on the real crate and on small made-up
crates where it must fail."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _checker():
    path = ROOT / "scripts" / "check_imports.py"
    spec = importlib.util.spec_from_file_location("check_imports", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _crate(tmp_path: Path, files: dict[str, str]) -> Path:
    src = tmp_path / "src"
    for name, text in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    return src


def test_the_core_has_no_cycle_and_the_model_imports_no_algorithm():
    assert _checker().check() == []


def test_a_model_importing_an_algorithm_is_caught(tmp_path):
    src = _crate(
        tmp_path,
        {
            "lib.rs": "pub mod ensemble;\npub mod tree_shap;\n",
            "ensemble/mod.rs": "use crate::tree_shap::quadrature::PreparedTree;\n",
            "tree_shap/mod.rs": "pub mod quadrature;\n",
            "tree_shap/quadrature.rs": "pub struct PreparedTree;\n",
        },
    )
    problems = _checker().check(src)
    assert any("ensemble must not import tree_shap" in p for p in problems), problems


def test_a_cycle_through_super_and_brace_groups_is_caught(tmp_path):
    # game -> tree_shap via `super::super::tree_shap` and tree_shap -> game via a brace group;
    # a mention in a comment is not an import.
    src = _crate(
        tmp_path,
        {
            "game/tree_game.rs": "use super::super::tree_shap::pair_game::walk;\n",
            "tree_shap/pair_game.rs": "use crate::{ensemble::Tree, game::Engine};\n",
            "ensemble/mod.rs": "// see crate::game::Engine\n",
        },
    )
    problems = _checker().check(src)
    assert len(problems) == 1 and "tree_shap -> game -> tree_shap" in problems[0], problems
