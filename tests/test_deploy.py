"""Deployment files, proven without a Docker engine: the compose file validates, the Dockerfile lints
and installs the way the README does, and the compose wiring matches models.yaml."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
REQUIRE = os.environ.get("ARENA_REQUIRE_DEPLOY_TOOLS") == "1"


def tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        if REQUIRE:
            pytest.fail(f"{name} is required (ARENA_REQUIRE_DEPLOY_TOOLS=1) but not installed")
        pytest.skip(f"{name} not installed")
    return path


def test_compose_file_validates_and_requires_a_database_password() -> None:
    compose = tool("docker-compose")
    env = {**os.environ, "POSTGRES_PASSWORD": "test-password"}
    ok = subprocess.run([compose, "-f", "docker-compose.yml", "config"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    resolved = yaml.safe_load(ok.stdout)
    assert set(resolved["services"]) == {"postgres", "starling", "openchat", "arena"}
    env.pop("POSTGRES_PASSWORD")
    missing = subprocess.run([compose, "-f", "docker-compose.yml", "config"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stderr


def test_compose_wiring_matches_models_yaml() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    models = {m["name"]: m for m in yaml.safe_load((ROOT / "models.yaml").read_text())["models"]}
    arena_env = services["arena"]["environment"]
    assert arena_env["ARENA_DATABASE_URL"].startswith("postgresql+psycopg://arena:") and "@postgres:5432/arena" in arena_env["ARENA_DATABASE_URL"]
    for service, model in (("starling", "Starling-LM-7B-alpha"), ("openchat", "OpenChat-3.5")):
        vllm = services[service]
        assert vllm["image"].startswith("vllm/vllm-openai")
        served = vllm["command"][vllm["command"].index("--served-model-name") + 1]
        assert served == models[model]["model"]  # the id the arena asks for is the one vLLM serves
        variable = re.fullmatch(r"\$\{(\w+)\}", models[model]["endpoints"][0]).group(1)
        assert arena_env[variable] == f"http://{service}:8000/v1"
        gpu = vllm["deploy"]["resources"]["reservations"]["devices"][0]
        assert gpu["capabilities"] == ["gpu"] and gpu["count"] == 1
    assert services["arena"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert {"pgdata", "hf-cache", "exports"} <= set(compose["volumes"])


def test_dockerfile_lints_clean_and_installs_like_the_readme() -> None:
    hadolint = tool("hadolint")
    result = subprocess.run([hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    dockerfile = (ROOT / "Dockerfile").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "RUN bash scripts/setup.sh" in dockerfile and "bash scripts/setup.sh" in readme
    assert re.search(r"^USER \d+$", dockerfile, re.M) and "HEALTHCHECK" in dockerfile and "python:3.11-slim" in dockerfile
