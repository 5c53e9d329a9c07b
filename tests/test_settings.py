"""Settings: read from the environment, validated, and every one documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.settings import Settings, SettingsError, settings_table

DOCS = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    """docs/settings.md has a row for every ARENA_* setting."""
    text = DOCS.read_text()
    missing = [var for var, _, _ in settings_table() if f"`{var}`" not in text]
    assert missing == []


def test_values_are_parsed_from_the_environment() -> None:
    """Numbers and booleans are converted; unset variables keep defaults."""
    settings = Settings.from_env({"ARENA_MAX_TURNS": "3", "ARENA_TRUST_FORWARDED_FOR": "yes", "ARENA_TOTAL_TIMEOUT": "12.5"})
    assert settings.max_turns == 3 and settings.trust_forwarded_for is True and settings.total_timeout == 12.5
    assert settings.max_prompt_chars == Settings().max_prompt_chars


@pytest.mark.parametrize("env", [{"ARENA_MAX_TURNS": "many"}, {"ARENA_TRUST_FORWARDED_FOR": "perhaps"}, {"ARENA_MAX_TURNS": "0"}])
def test_bad_values_name_the_variable(env: dict[str, str]) -> None:
    """A bad value raises SettingsError naming the variable."""
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env(env)
