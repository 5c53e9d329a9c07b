#!/usr/bin/env bash
# The README's test command: install everything the tests need, then run them.
#   bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
bash scripts/setup-vllm.sh
.venv/bin/python -m arena prepare-embedded >/dev/null
.venv/bin/ruff check arena tests app.py bench scripts
.venv/bin/lint-imports --no-cache  # the layer contract (pyproject.toml, [tool.importlinter])
.venv/bin/mypy  # types of arena/ ([tool.mypy])
exec .venv/bin/python -m pytest "$@"
