"""The house rules that keep the package readable: small modules, short functions (docs/architecture.md, "Conventions")."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import PROJECT_ROOT

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def sources() -> list[Path]:
    return sorted((PROJECT_ROOT / "arena").rglob("*.py"))


def long_functions(path: Path) -> list[str]:
    """Functions of *path* over the limit, counted from the first decorator to the last line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{path}:{node.lineno} {node.name}() has {length} lines")
    return found


def test_no_module_is_over_400_lines() -> None:
    long = [f"{p.relative_to(PROJECT_ROOT)}: {n} lines" for p in sources() if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES]
    assert long == [], "split these modules by concern:\n" + "\n".join(long)


def test_no_function_is_over_60_lines() -> None:
    long = [line for path in sources() for line in long_functions(path)]
    assert long == [], "split these functions:\n" + "\n".join(long)


def test_the_length_check_counts_from_the_decorator_to_the_last_line(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    body = "    x = 1\n" * (MAX_FUNCTION_LINES - 2)
    sample.write_text(f"@decorator\ndef at_the_limit():\n{body}\n@decorator\ndef one_over():\n{body}    x = 2\n")
    assert [line.split()[-4] for line in long_functions(sample)] == ["one_over()"]


def test_no_test_module_imports_another() -> None:
    """Shared factories live in tests/helpers.py (fixtures in conftest.py), so a test module can be read and run alone."""
    offenders = []
    for path in sorted((PROJECT_ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            if any(name.startswith("tests.test_") for name in names):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == [], "move what these share into tests/helpers.py: " + ", ".join(offenders)
