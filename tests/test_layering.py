"""The package's layering: lower layers never import the ones built on them."""

from __future__ import annotations

import ast
from pathlib import Path

import pstpose

PACKAGE = Path(pstpose.__file__).resolve().parent


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n.startswith("pstpose")}


def _offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        for name in _imports(path):
            if name.startswith(forbidden):
                bad.append(f"{path.relative_to(PACKAGE)} imports {name}")
    return bad


def test_models_import_nothing_of_the_prediction_pipeline():
    assert _offenders("models", ("pstpose.inference", "pstpose.commands")) == []


def test_data_does_not_reach_up_into_inference_engine_or_commands():
    assert _offenders("data", ("pstpose.inference", "pstpose.engine", "pstpose.commands")) == []


def test_no_command_module_imports_another():
    bad = []
    for path in sorted((PACKAGE / "commands").glob("*.py")):
        own = f"pstpose.commands.{path.stem}"
        bad += [f"{path.name} imports {n}" for n in _imports(path) if n.startswith("pstpose.commands.") and n != own]
    assert bad == []
