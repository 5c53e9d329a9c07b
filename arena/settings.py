"""Runtime settings read from the environment, declared once in one table.

Every setting is an ``ARENA_*`` environment variable with a default and a help
line; ``docs/settings.md`` is checked against this table by a test so that no
knob goes undocumented.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'db' / 'arena.sqlite3'}"


class SettingsError(ValueError):
    """An environment variable with a value that cannot be used."""


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Operational knobs; models live in models.yaml, not here."""

    database_url: str = _setting(DEFAULT_DATABASE_URL, "SQLAlchemy URL of the store (SQLite file under db/ by default; postgresql+psycopg://… in production).")
    max_turns: int = _setting(8, "User turns allowed in one battle or chat before a new round is required.")
    max_prompt_chars: int = _setting(4000, "Longest accepted prompt, in characters.")
    connect_timeout: float = _setting(5.0, "Seconds to open a connection to a model endpoint.")
    first_token_timeout: float = _setting(60.0, "Seconds to wait for the first token before trying another endpoint or failing.")
    total_timeout: float = _setting(300.0, "Seconds one answer may take in total.")
    health_interval: float = _setting(30.0, "Seconds between availability probes of remote endpoints.")
    local_threads: int = _setting(1, "Torch threads per in-process generation (1 keeps two panes fast on 2 cores).")
    cache_dir: str = _setting(str(Path.home() / ".cache" / "starling-arena"), "Where the embedded model's converted weights are cached.")
    judge_salt: str = _setting("", "Secret salt for judge hashes; generated and stored in the database when empty.")
    trust_forwarded_for: bool = _setting(False, "Take the client address from X-Forwarded-For (only behind a trusted proxy).")
    long_prompt_tokens: int = _setting(500, "User-turn tokens (words and punctuation) from which a battle is in the 'long prompt' category.")
    leaderboard_min_votes: int = _setting(0, "Models with fewer votes in a category are hidden from its leaderboard.")
    provisional_votes: int = _setting(300, "Models with fewer votes in a category are marked provisional on its leaderboard "
                                      "(300 votes: about ±40 points of 95 % interval against average opponents).")
    anchor_model: str = _setting("", "Model pinned to ARENA_ANCHOR_SCORE on the leaderboard scale (empty: the mean is 1000).")
    anchor_score: float = _setting(1000.0, "Score of ARENA_ANCHOR_MODEL, or of the average model when no anchor is set.")
    log_level: str = _setting("INFO", "Logging level for the app.")
    log_format: str = _setting("text", "Log lines as readable text, or 'json' (one JSON object per line, for log collectors).")
    models_watch_interval: float = _setting(2.0, "Seconds between checks of models.yaml for changes, reloaded without a restart (0: only the Admin tab's Reload).")
    redis_url: str = _setting("", "Redis for shared rate limits across instances (e.g. redis://127.0.0.1:6379/0); empty: per-process memory.")
    rate_limit_on_redis_down: str = _setting("memory", "What rate limits do while ARENA_REDIS_URL does not answer: memory (each process counts on its own), open (no limits) or closed (limited events refused).")
    prompts_per_minute: int = _setting(20, "Prompts and regenerations one judge may send per minute (all tabs together).")
    votes_per_minute: int = _setting(20, "Votes one judge may cast per minute.")
    battles_per_hour: int = _setting(120, "Battles (anonymous and side-by-side) one judge may start per hour.")
    votes_per_day: int = _setting(500, "Votes one judge may cast per day.")
    moderation: str = _setting("rules", "Content moderation of every turn (both sides' history): rules (local patterns), openai (ARENA_MODERATION_URL) or off.")
    moderation_url: str = _setting("", "OpenAI-compatible base URL for ARENA_MODERATION=openai (its /moderations route is called).")
    moderation_model: str = _setting("", "Model name sent to the moderation endpoint (empty: the endpoint's default).")
    moderation_api_key: str = _setting("", "Bearer token for the moderation endpoint, if it needs one.")
    moderation_patterns: str = _setting("", "File of extra regular expressions (one per line) for ARENA_MODERATION=rules.")
    min_vote_seconds: float = _setting(1.5, "Votes cast sooner than this after both answers finished are refused (nobody reads two answers that fast).")
    admin_password: str = _setting("", "Password of the Admin tab (exports, and later model operations); empty: the tab refuses everything.")
    export_dir: str = _setting("", "Where the Admin tab writes export files (empty: exports/ in the project).")
    shutdown_grace_seconds: float = _setting(30.0, "On SIGTERM, seconds the web server waits for answers being streamed to finish (and be stored) before it cancels them; keep it below the orchestrator's kill timeout.")
    patches_off: str = _setting("", "Framework patches to leave out, comma-separated names from arena/patches.py (for measuring each one; empty: all that fit the installed versions are used).")
    judging: str = _setting("rules", "Which judges of models.yaml the app runs in the background on new votes: rules (the instant rule baselines), all (LLM and reward judges too) or off. python -m arena judge runs any of them on demand.")
    keep_alive_seconds: float = _setting(75.0, "Seconds the web server keeps an idle HTTP connection open; keep it above the load balancer's idle timeout (60 s on AWS ALB and nginx).")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build settings from ``ARENA_*`` variables, naming the variable on a bad value."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            var = env_name(spec.name)
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            kind: type[Any] = type(spec.default)  # every field has a default (_setting)
            try:
                if kind is bool:
                    lowered = raw.strip().lower()
                    if lowered not in {"1", "0", "true", "false", "yes", "no"}:
                        raise ValueError(raw)
                    values[spec.name] = lowered in {"1", "true", "yes"}
                else:
                    values[spec.name] = kind(raw)
            except ValueError:
                raise SettingsError(f"{var}={raw!r} is not a valid {kind.__name__}. Fix: {spec.metadata['help']}") from None
        settings = cls(**values)
        if settings.log_format not in ("text", "json"):
            raise SettingsError(f"ARENA_LOG_FORMAT={settings.log_format!r}: use text or json.")
        if settings.moderation not in ("rules", "openai", "off"):
            raise SettingsError(f"ARENA_MODERATION={settings.moderation!r}: use rules, openai or off.")
        if settings.judging not in ("rules", "all", "off"):
            raise SettingsError(f"ARENA_JUDGING={settings.judging!r}: use rules, all or off.")
        if settings.rate_limit_on_redis_down not in ("memory", "open", "closed"):
            raise SettingsError(f"ARENA_RATE_LIMIT_ON_REDIS_DOWN={settings.rate_limit_on_redis_down!r}: use memory, open or closed.")
        if settings.moderation == "openai" and not settings.moderation_url:
            raise SettingsError("ARENA_MODERATION=openai needs ARENA_MODERATION_URL (an OpenAI-compatible base URL, e.g. https://api.openai.com/v1).")
        for name in ("max_turns", "max_prompt_chars", "local_threads", "prompts_per_minute", "votes_per_minute", "battles_per_hour", "votes_per_day"):
            if getattr(settings, name) < 1:
                raise SettingsError(f"{env_name(name)} must be at least 1.")
        return settings


def env_name(field_name: str) -> str:
    """The environment variable behind a setting."""
    return "ARENA_" + field_name.upper()


def settings_table() -> list[tuple[str, Any, str]]:
    """(variable, default, help) for every setting, for docs and tests."""
    return [(env_name(f.name), f.default, f.metadata["help"]) for f in fields(Settings)]
