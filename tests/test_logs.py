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


def test_records_go_to_stderr_as_it_is_when_they_are_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    previous = logging.getLogger().handlers[:]
    try:
        first = io.StringIO()
        monkeypatch.setattr("sys.stderr", first)
        configure_logging("INFO")
        first.close()  # as pytest closes a finished test's capture
        second = io.StringIO()
        monkeypatch.setattr("sys.stderr", second)
        logging.getLogger("arena.test").warning("logged after the swap")  # from a background thread, say
        written = second.getvalue()
        assert written.rstrip().endswith("WARNING arena.test: logged after the swap") and "Logging error" not in written
    finally:
        logging.getLogger().handlers[:] = previous


def test_log_format_is_validated() -> None:
    assert Settings.from_env({"ARENA_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(SettingsError, match="ARENA_LOG_FORMAT"):
        Settings.from_env({"ARENA_LOG_FORMAT": "xml"})
