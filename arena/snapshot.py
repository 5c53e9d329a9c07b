"""The transcript a vote judged, frozen with the vote.

A vote is about exactly the conversation the voter saw: both sides' current
messages at vote time (answers replaced by Regenerate are not part of it).
Storing that snapshot on the vote row, as JSON text, lets an export stream
battles without joining conversations and messages (one column instead of six
index lookups per battle), in the same spirit as the vote facts the ratings
read. The messages table stays the full record, superseded answers included.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

FINISHED = (None, "stop")  # finish reasons of a complete answer (None: not recorded, e.g. imported)


@dataclass(frozen=True)
class Snapshot:
    conversation_a: list[dict[str, str]]
    conversation_b: list[dict[str, str]]
    unfinished: bool  # an answer was cut short (length limit, stopped, error) or a side's last message is not an answer


def is_unfinished(finish_reasons, conversation_a: list[dict[str, str]], conversation_b: list[dict[str, str]]) -> bool:  # noqa: ANN001
    if any(reason not in FINISHED for reason in finish_reasons):
        return True
    return any(not c or c[-1]["role"] != "assistant" for c in (conversation_a, conversation_b))


def freeze(conversation_a: list[dict[str, str]], conversation_b: list[dict[str, str]], finish_reasons=()) -> str:  # noqa: ANN001
    """The snapshot as JSON text: ``{"a": [...], "b": [...], "unfinished": bool}``."""
    unfinished = is_unfinished(finish_reasons, conversation_a, conversation_b)
    return orjson.dumps({"a": conversation_a, "b": conversation_b, "unfinished": unfinished}).decode("utf-8")


def thaw(text: str) -> Snapshot:
    data = orjson.loads(text)
    return Snapshot(data["a"], data["b"], bool(data["unfinished"]))
