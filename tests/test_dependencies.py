"""Dependencies: every import declared, the locks agree with the ranges, and this environment is exactly the lock."""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from lock_check import differences, installed, locked  # noqa: E402  (scripts/ is not a package)

PROJECT_PACKAGES = {"arena", "tests", "bench", "lock_check"}


def declared(path: Path) -> set[str]:
    """Canonical names required by a requirements file, following ``-r`` includes."""
    names: set[str] = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= declared(path.parent / line[3:].strip())
        elif line and not line.startswith("-"):
            names.add(canonicalize_name(Requirement(line).name))
    return names


def imported_distributions(*folders: str) -> dict[str, set[str]]:
    """Distribution -> the files that import it at top level (absolute imports of installed, non-stdlib modules)."""
    owners = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for folder in folders:
        base = ROOT / folder
        for file in [base] if base.is_file() else sorted(base.rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text())):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top in PROJECT_PACKAGES:
                        continue
                    for distribution in owners.get(top, [f"<not installed: {top}>"]):
                        found.setdefault(canonicalize_name(distribution), set()).add(str(file.relative_to(ROOT)))
    return found


def test_every_package_the_app_imports_is_a_declared_runtime_dependency() -> None:
    """arena/ and app.py import only what requirements.txt declares (not what happens to come along)."""
    runtime = declared(ROOT / "requirements.txt")
    undeclared = {name: files for name, files in imported_distributions("arena", "app.py").items() if name not in runtime}
    assert not undeclared, f"imported but not in requirements.txt: {undeclared}"


def test_every_package_the_tests_and_benchmarks_import_is_declared() -> None:
    everything = declared(ROOT / "requirements-dev.txt")
    undeclared = {name: files for name, files in imported_distributions("tests", "bench", "scripts").items() if name not in everything}
    assert not undeclared, f"imported but not in requirements-dev.txt: {undeclared}"


def test_each_lock_satisfies_its_ranges_and_the_dev_lock_keeps_the_runtime_versions() -> None:
    """A range edited without re-locking (bash scripts/lock.sh) fails here, before any machine installs something else."""
    runtime, dev = locked([ROOT / "requirements.lock"]), locked([ROOT / "requirements-dev.lock"])
    model = locked([ROOT / "requirements-model.lock"])
    for requirements, pins in (("requirements.txt", runtime), ("requirements-dev.txt", dev), ("requirements-model.txt", model)):
        for line in (ROOT / requirements).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            requirement = Requirement(line)
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{requirements}: {requirement.name} is not in its lock; run bash scripts/lock.sh"
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                f"{requirements}: {line} but the lock pins {pins[name]}; run bash scripts/lock.sh")
    assert {name: version for name, version in dev.items() if name in runtime} == runtime
    assert all("--hash=sha256:" in (ROOT / lock).read_text() for lock in ("requirements.lock", "requirements-dev.lock", "requirements-model.lock"))


def test_this_environment_is_exactly_the_dev_lock() -> None:
    """What scripts/setup.sh --dev installed: every locked version, nothing else (``pip freeze`` against the lock)."""
    pins = locked([ROOT / "requirements-dev.lock", ROOT / "requirements-model.lock"])
    problems, extras = differences(pins, installed())
    assert not problems and not extras, "\n".join(problems + [f"{name} is installed but not locked" for name in extras])


def test_the_lock_check_finds_a_wrong_version_a_missing_package_and_an_extra_one() -> None:
    problems, extras = differences({"gradio": "6.31.0", "numpy": "2.0.0"}, {"gradio": "6.30.0", "rich": "14.0.0", "pip": "25.0"})
    assert problems == ["gradio is 6.30.0, the lock says 6.31.0", "numpy==2.0.0 is locked but not installed"]
    assert extras == ["rich"]  # pip is the installer's own


def test_pyproject_takes_its_dependencies_from_requirements_and_installs_the_arena_command() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["dynamic"] == ["dependencies"]
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}
    assert project["project"]["scripts"] == {"arena": "arena.cli:main"}
    requires = {canonicalize_name(Requirement(r).name) for r in importlib.metadata.requires("starling-arena") or []}
    assert requires == declared(ROOT / "requirements.txt")
    command = Path(sys.executable).parent / "arena"
    result = subprocess.run([str(command), "check-models", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--no-probe" in result.stdout, result.stderr
