"""Log format: text by default, JSON lines on request."""

from __future__ import annotations

import json
import logging

import pytest

from arena.logs import configure_logging
from arena.settings import Settings, SettingsError


def test_json_lines_carry_level_logger_message_and_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    previous = logging.getLogger().handlers[:]
    try:
        configure_logging("INFO", "json")
        logging.getLogger("arena.test").info("battle %s voted", "b123", extra={"battle_id": "b123"})
        line = capsys.readouterr().err.strip().splitlines()[-1]
        entry = json.loads(line)
        assert entry["level"] == "INFO" and entry["logger"] == "arena.test" and entry["message"] == "battle b123 voted"
        assert entry["battle_id"] == "b123" and entry["time"].endswith("+00:00")
    finally:
        logging.getLogger().handlers[:] = previous


def test_log_format_is_validated() -> None:
    assert Settings.from_env({"ARENA_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(SettingsError, match="ARENA_LOG_FORMAT"):
        Settings.from_env({"ARENA_LOG_FORMAT": "xml"})
