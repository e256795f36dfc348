"""The package's layering: lower layers never import the ones built on them."""

from __future__ import annotations

import ast
import re
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


_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]+")


def _message_strings(path: Path) -> list[tuple[int, str]]:
    """String constants in ``path`` that are not docstrings (messages, f-string parts)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_the_flag_scan_sees_flags_in_messages_but_not_in_docstrings(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Run with --out."""\n\ndef f(n):\n    raise ValueError(f"{n}: pass --overwrite")\n')
    found = [text for _, text in _message_strings(sample) if _FLAG.search(text)]
    assert found == [": pass --overwrite"]


def test_no_library_message_names_a_command_line_flag():
    """Flags belong to the command line: library code names its parameters (``OptionError``)."""
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "commands" or rel.name in ("cli.py", "__main__.py"):
            continue
        bad += [f"{rel}:{line}: {text!r}" for line, text in _message_strings(path) if _FLAG.search(text)]
    assert bad == []
