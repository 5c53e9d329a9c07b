"""Importing battles in the FastChat / ``chatbot_arena_conversations`` JSON-lines format.

One JSON object per line: ``model_a``, ``model_b``, ``winner`` (``model_a``,
``model_b``, ``tie`` or ``tie (bothbad)``), ``conversation_a`` and
``conversation_b`` (OpenAI message lists), and optionally ``question_id``,
``tstamp``, ``judge``, ``turn``, ``anony``, ``language``, ``openai_moderation``
and this arena's own flags (``leak_flag``, ``error_flag``, ``moderation_flag``).
The file is streamed in batches; a bad
line is rejected with its line number and the rest still load. Battle ids are
derived from ``question_id`` (or the line's content), so importing a file twice
does not duplicate it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from arena.domain import OUTCOME_SCORE, VoteFacts
from arena.store import BattleRecord, Store
from arena.text_stats import count_tokens, style_features

# Language names used by the public arena datasets → ISO 639-1 codes (as detected live).
LANGUAGE_CODES = {
    "english": "en", "chinese": "zh", "russian": "ru", "spanish": "es", "german": "de", "french": "fr",
    "japanese": "ja", "portuguese": "pt", "italian": "it", "korean": "ko", "polish": "pl", "dutch": "nl",
    "arabic": "ar", "vietnamese": "vi", "turkish": "tr", "indonesian": "id", "ukrainian": "uk", "persian": "fa",
}


class BadLine(ValueError):
    """A line that is not a usable battle; the message says which field and why."""


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def import_battles(store: Store, path: str | Path, *, batch_size: int = 2000, judge_salt: str = "", progress: bool = False) -> ImportReport:
    """Stream *path* into *store*; return counts and the rejected lines with reasons."""
    path = Path(path)
    report = ImportReport()
    batch: list[BattleRecord] = []
    with _open(path) as handle, tqdm(total=_size(path), unit="B", unit_scale=True, desc="import", disable=not progress) as bar:
        for line_number, line in enumerate(handle, start=1):
            bar.update(len(line.encode("utf-8")) if not path.suffix == ".gz" else 0)
            if not line.strip():
                continue
            try:
                batch.append(parse_line(line, store, judge_salt))
            except BadLine as exc:
                report.rejected.append((line_number, str(exc)))
                continue
            if len(batch) >= batch_size:
                _flush(store, batch, report)
        _flush(store, batch, report)
    return report


def _flush(store: Store, batch: list[BattleRecord], report: ImportReport) -> None:
    inserted, duplicates = store.insert_battles(batch)
    report.imported += inserted
    report.duplicates += duplicates
    batch.clear()


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _size(path: Path) -> int | None:
    return None if path.suffix == ".gz" else os.path.getsize(path)


def parse_line(line: str, store: Store, judge_salt: str = "") -> BattleRecord:
    """One JSON line → a :class:`BattleRecord`, or :class:`BadLine` naming the problem."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise BadLine("expected a JSON object")
    model_a, model_b = _name(data, "model_a"), _name(data, "model_b")
    if model_a == model_b:
        raise BadLine("model_a and model_b are the same model")
    winner = data.get("winner")
    if winner not in OUTCOME_SCORE:
        raise BadLine(f"winner must be one of {', '.join(OUTCOME_SCORE)}, got {winner!r}")
    conversation_a = _conversation(data, "conversation_a")
    conversation_b = _conversation(data, "conversation_b")
    user_turns = [m["content"] for m in conversation_a if m["role"] == "user"]
    turn = data.get("turn", len(user_turns) or 1)
    if not isinstance(turn, int) or isinstance(turn, bool) or turn < 1:
        raise BadLine(f"turn must be a positive integer, got {turn!r}")
    anony = data.get("anony", True)
    if not isinstance(anony, bool):
        raise BadLine(f"anony must be true or false, got {anony!r}")
    tstamp = data.get("tstamp")
    if tstamp is None:
        created = datetime.now(timezone.utc)
    elif isinstance(tstamp, (int, float)) and not isinstance(tstamp, bool):
        created = datetime.fromtimestamp(float(tstamp), timezone.utc)
    else:
        raise BadLine(f"tstamp must be a Unix time in seconds, got {tstamp!r}")
    judge = data.get("judge")
    judge = str(judge) if judge is not None else "anonymous-import"
    facts = VoteFacts(
        model_a=model_a, model_b=model_b, winner=winner, mode="anony" if anony else "named",
        leak_flag=bool(data.get("leak_flag", False)), error_flag=bool(data.get("error_flag", False)),
        turns=turn, user_tokens=sum(count_tokens(t) for t in user_turns), language=_language(data.get("language")),
        style_a=style_features(m["content"] for m in conversation_a if m["role"] == "assistant").as_tuple(),
        style_b=style_features(m["content"] for m in conversation_b if m["role"] == "assistant").as_tuple(),
    )
    key = data.get("question_id") or hashlib.sha256(line.strip().encode("utf-8")).hexdigest()
    battle_id = uuid.uuid5(uuid.NAMESPACE_URL, f"arena-import/{key}/{model_a}/{model_b}").hex
    time_to_vote = data.get("time_to_vote_s", 0.0)
    return BattleRecord(
        battle_id=battle_id, facts=facts, judge_hash=store.hash_judge(f"import:{judge}", judge_salt), created_at=created,
        conversation_a=conversation_a, conversation_b=conversation_b,
        time_to_vote_s=float(time_to_vote) if isinstance(time_to_vote, (int, float)) else 0.0,
        moderation_flag=_moderated(data),
    )


def _moderated(data: dict[str, Any]) -> bool:
    """This arena's ``moderation_flag``, or the public datasets' ``openai_moderation.flagged``."""
    if "moderation_flag" in data:
        return bool(data["moderation_flag"])
    moderation = data.get("openai_moderation")
    return bool(moderation.get("flagged")) if isinstance(moderation, dict) else False


def _name(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadLine(f"{key} must be a non-empty string, got {value!r}")
    if len(value) > 100:
        raise BadLine(f"{key} is longer than 100 characters")
    return value.strip()


def _conversation(data: dict[str, Any], key: str) -> list[dict[str, str]]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise BadLine(f"{key} must be a list of messages")
    messages = []
    for i, message in enumerate(value):
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant"):
            raise BadLine(f"{key}[{i}] must be an object with role system, user or assistant")
        content = message.get("content")
        if not isinstance(content, str):
            raise BadLine(f"{key}[{i}].content must be a string")
        messages.append({"role": message["role"], "content": content})
    return messages


def _language(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip() or value.lower() == "unknown":
        return None
    value = value.strip().lower()
    return LANGUAGE_CODES.get(value, value)[:16]
