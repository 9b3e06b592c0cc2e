"""Fails when the core's layers import each other the wrong way.

Reads every ``crate::...`` and ``super::...`` path in the Rust code of
``crates/ferroshap/src`` (comments and doc links skipped), resolves it to the top-level module
it names, and checks the rules of ARCHITECTURE.md ("Dependencies point one way"):

* ``ensemble/`` (the model) imports nothing from ``tree_shap/`` or ``game/``;
* no cycle between ``ensemble/``, ``tree_shap/`` and ``game/``.

Run from anywhere: ``python scripts/check_imports.py`` (exit status 1 and the offending lines
on failure). ``--graph`` prints every edge between top-level modules with one example line.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "crates" / "ferroshap" / "src"
LAYERS = ("ensemble", "tree_shap", "game")
FORBIDDEN = {("ensemble", "tree_shap"), ("ensemble", "game")}

_PATH = re.compile(r"\b((?:crate|(?:super::)+)(?:::)?)\s*(\{[^}]*\}|\w+)", re.S)


def module_path(file: Path, src: Path) -> list[str]:
    """The module path of ``file``: ``src/game/tree_game.rs`` is ``["game", "tree_game"]``."""
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return parts


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def targets(file: Path, src: Path) -> list[tuple[str, int, str]]:
    """``(top-level module, line number, line)`` for each path in ``file`` leaving its module."""
    own = module_path(file, src)
    # `super` in a file `a/b.rs` is `a`; in `a/mod.rs` (module `a`) it is the crate root.
    found = []
    code = strip_comments(file.read_text())
    for match in _PATH.finditer(code):
        head, rest = match.group(1), match.group(2)
        if head.startswith("crate"):
            base: list[str] = []
        else:
            ups = head.count("super")
            if ups > len(own):
                continue
            base = own[: len(own) - ups]
        names = (
            [n.strip().split("::")[0] for n in rest.strip("{}").split(",") if n.strip()]
            if rest.startswith("{")
            else [rest]
        )
        line = code.count("\n", 0, match.start()) + 1
        for name in names:
            path = base + [name] if name not in ("self",) else base
            if path and path[0] != (own[0] if own else None):
                found.append((path[0], line, code.splitlines()[line - 1].strip()))
    return found


def edges(src: Path) -> dict[tuple[str, str], list[str]]:
    """Every import between different top-level modules, with where it is."""
    out: dict[tuple[str, str], list[str]] = {}
    for file in sorted(src.rglob("*.rs")):
        own = module_path(file, src)
        if not own:
            continue
        for target, line, text in targets(file, src):
            where = f"{file.relative_to(src.parent.parent.parent)}:{line}: {text}"
            out.setdefault((own[0], target), []).append(where)
    return out


def cycles(graph: dict[tuple[str, str], list[str]], nodes: tuple[str, ...]) -> list[list[str]]:
    """The simple cycles among ``nodes`` (each once, starting from its first node)."""
    succ = {n: sorted({b for (a, b) in graph if a == n and b in nodes}) for n in nodes}
    found = []

    def walk(path: list[str]) -> None:
        for nxt in succ[path[-1]]:
            if nxt == path[0]:
                found.append([*path, nxt])
            elif nxt not in path and nodes.index(nxt) > nodes.index(path[0]):
                walk([*path, nxt])

    for start in nodes:
        walk([start])
    return found


def check(src: Path = SRC) -> list[str]:
    """The rule violations, as messages (empty when the layers are in order)."""
    graph = edges(src)
    problems = []
    for a, b in sorted(FORBIDDEN):
        for where in graph.get((a, b), []):
            problems.append(f"{a} must not import {b}: {where}")
    for cycle in cycles(graph, LAYERS):
        lines = [f"import cycle {' -> '.join(cycle)}:"]
        for a, b in zip(cycle, cycle[1:], strict=False):
            lines.append(f"  {a} -> {b}, e.g. {graph[(a, b)][0]}")
        problems.append("\n".join(lines))
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--graph", action="store_true", help="print the module graph")
    parser.add_argument("--src", type=Path, default=SRC, help="a crate's src folder")
    args = parser.parse_args()
    if args.graph:
        for (a, b), wheres in sorted(edges(args.src).items()):
            print(f"{a} -> {b} ({len(wheres)}): {wheres[0]}")
    problems = check(args.src)
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"import graph ok: no cycle among {', '.join(LAYERS)}; ensemble imports neither")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
