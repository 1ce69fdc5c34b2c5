"""Imports point down the floors of docs/architecture.md only: no module imports one of a higher floor."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "balancedbio"
# top-level package or module -> floor (docs/architecture.md); anything not listed is floor 1
FLOORS = {"cli": 5, "__main__": 5, "pipeline": 4, "export": 4, "chat": 4,
          "synth": 3, "train": 3, "eval": 3, "embed": 3,
          "scoring": 2, "rewards": 2, "models": 2, "prompts": 2, "dryrun": 2, "testing": 2}


def _floor(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "balancedbio" or len(parts) < 2:
        return None
    return FLOORS.get(parts[1], 1)


def _imports(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):           # function-level (lazy) imports count too
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return out


def test_no_module_imports_a_higher_floor():
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(("balancedbio", *path.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")
        here = _floor(module)
        for target in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            there = _floor(target)
            if here is not None and there is not None and there > here:
                upward.append(f"{module} (floor {here}) imports {target} (floor {there})")
    assert upward == []


def test_the_floor_table_names_real_modules():
    names = {p.stem for p in SRC.glob("*.py")} | {p.name for p in SRC.iterdir() if p.is_dir()}
    assert set(FLOORS) <= names
