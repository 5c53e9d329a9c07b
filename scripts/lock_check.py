"""Compare the packages installed in this interpreter with a lock file; exit 1 on any difference.

    python scripts/lock_check.py requirements-dev.lock [--also requirements-model.lock] [--remove-extras]

Each locked package must be installed at exactly its locked version, and
nothing else may be installed (apart from the installer's own tools and this
project). ``--remove-extras`` uninstalls what the lock does not list, which
is what a lock bump that drops a package needs. Used by scripts/setup.sh and
tests/test_dependencies.py.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

# Installed by venv or pip itself, or this project (installed editable): never in a lock.
UNLOCKED = {"pip", "setuptools", "wheel", "starling-arena"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def locked(paths: list[Path]) -> dict[str, str]:
    """Package name (canonical) -> pinned version, from uv / pip-compile lock files."""
    pins: dict[str, str] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            match = _PIN.match(line)
            if match:
                pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def installed() -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}


def differences(pins: dict[str, str], present: dict[str, str]) -> tuple[list[str], list[str]]:
    """(problems with locked packages, names installed but not locked)."""
    problems = []
    for name, version in sorted(pins.items()):
        if name not in present:
            problems.append(f"{name}=={version} is locked but not installed")
        elif Version(present[name]) != Version(version):
            problems.append(f"{name} is {present[name]}, the lock says {version}")
    extras = sorted(name for name in present if name not in pins and name not in UNLOCKED)
    return problems, extras


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock", type=Path)
    parser.add_argument("--also", type=Path, action="append", default=[], help="another lock file installed beside it")
    parser.add_argument("--remove-extras", action="store_true", help="uninstall packages the locks do not list")
    args = parser.parse_args(argv)
    problems, extras = differences(locked([args.lock, *args.also]), installed())
    if extras and args.remove_extras:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--quiet", "-y", *extras], check=True)
        extras = []
    for line in problems + [f"{name} is installed but not locked" for name in extras]:
        print(f"{args.lock}: {line}", file=sys.stderr)
    return 1 if problems or extras else 0


if __name__ == "__main__":
    sys.exit(main())
