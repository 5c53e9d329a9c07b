"""The ratings are pure maths and the domain types a leaf: checked on what a fresh interpreter actually loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules_loaded_by(statement: str) -> list[str]:
    """Every module in ``sys.modules`` after running *statement* in a fresh interpreter (this checkout first on the path)."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_importing_the_ratings_loads_no_sqlalchemy() -> None:
    loaded = modules_loaded_by("import arena.ratings")
    assert "arena.ratings" in loaded
    assert not [m for m in loaded if m == "sqlalchemy" or m.startswith("sqlalchemy.")]
    assert "arena.columnar" not in loaded and "arena.tables" not in loaded


def test_importing_the_judges_loads_no_sqlalchemy() -> None:
    loaded = modules_loaded_by("import arena.judges")
    assert "arena.judges" in loaded
    assert not [m for m in loaded if m == "sqlalchemy" or m.startswith("sqlalchemy.")]


def test_importing_the_suspicion_tests_loads_no_sqlalchemy() -> None:
    loaded = modules_loaded_by("import arena.suspicion")
    assert "arena.suspicion.detect" in loaded
    assert not [m for m in loaded if m == "sqlalchemy" or m.startswith("sqlalchemy.")]


def test_the_domain_module_imports_nothing_of_the_project() -> None:
    loaded = modules_loaded_by("import arena.domain")
    assert [m for m in loaded if m == "arena" or m.startswith("arena.")] == ["arena", "arena.domain"]
