"""Shared fixtures: stores on SQLite and on the real PostgreSQL server, and small factories."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

from arena.store import Store
from tests.upstream import Upstream, serve

# Nothing in the tests may reach the Hugging Face Hub (datasets and transformers load local files only).
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Apps started by tests inherit this: scripted voters vote the moment the answers end (tests of the rule set it).
os.environ.setdefault("ARENA_MIN_VOTE_SECONDS", "0")

POSTGRES_URL = os.environ.get("ARENA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("ARENA_REQUIRE_POSTGRES") == "1"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - whatever keeps PostgreSQL out of reach is reported below
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def postgres_available() -> None:
    problem = _postgres_reachable()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL required (ARENA_REQUIRE_POSTGRES=1) but unreachable at {POSTGRES_URL}: {problem}")
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}: {problem}")


@pytest.fixture
def postgres_url(postgres_available: None) -> Iterator[str]:
    """A URL whose connections live in a fresh schema, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'arena.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    yield s
    s.close()


@pytest.fixture
def up() -> Iterator[Upstream]:
    """A scriptable OpenAI-compatible upstream on a free port (see tests/upstream.py)."""
    yield from serve()


@pytest.fixture
def up2() -> Iterator[Upstream]:
    """A second, independent upstream."""
    yield from serve()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    s = Store(sqlite_url)
    yield s
    s.close()


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():  # a Playwright Browser
    if not Path(CHROMIUM).exists():
        if os.environ.get("ARENA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"chromium required (ARENA_REQUIRE_BROWSER=1) but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def tokenizer():
    """The embedded SmolLM2 tokenizer (prepared by scripts/test.sh): a real chat template for TRL's helpers."""
    from transformers import AutoTokenizer

    from arena.embedded import converted_dir
    from arena.settings import Settings

    folder = converted_dir(Settings().cache_dir)
    if not (folder / "tokenizer_config.json").exists():
        pytest.skip("the embedded model is not prepared (python -m arena prepare-embedded)")
    return AutoTokenizer.from_pretrained(folder)
