"""The transcript a vote judged, frozen with the vote.

A vote is about exactly the conversation the voter saw: both sides' current
messages at vote time (answers replaced by Regenerate are not part of it).
Storing that snapshot on the vote row, as JSON text, lets an export stream
battles without joining conversations and messages (one column instead of six
index lookups per battle), in the same spirit as the vote facts the ratings
read. The messages table stays the full record, superseded answers included.
"""

from __future__ import annotations

import orjson

FINISHED = (None, "stop")  # finish reasons of a complete answer (None: not recorded, e.g. imported)


def split_prompt(conversation_a: list[dict[str, str]], conversation_b: list[dict[str, str]]) -> tuple[list, list, list]:
    """(the longest run of messages both sides share that ends with a user turn, rest of side a, rest of side b)."""
    shared = 0
    for message_a, message_b in zip(conversation_a, conversation_b):
        if message_a != message_b:
            break
        shared += 1
    while shared and conversation_a[shared - 1]["role"] != "user":
        shared -= 1
    return conversation_a[:shared], conversation_a[shared:], conversation_b[shared:]


def is_unfinished(finish_reasons, conversation_a: list[dict[str, str]], conversation_b: list[dict[str, str]]) -> bool:  # noqa: ANN001
    """An answer did not finish normally (length limit, stopped, error), or a side's last message is not an answer."""
    if any(reason not in FINISHED for reason in finish_reasons):
        return True
    return any(not c or c[-1]["role"] != "assistant" for c in (conversation_a, conversation_b))


def freeze(conversation_a: list[dict[str, str]], conversation_b: list[dict[str, str]], finish_reasons=()) -> str:  # noqa: ANN001
    """The snapshot as JSON text: ``{"p": shared prompt, "a": rest of a, "b": rest of b, "u": unfinished}``.

    The messages both sides share (system prompt, first user turn) are stored once.
    """
    prompt, rest_a, rest_b = split_prompt(conversation_a, conversation_b)
    unfinished = is_unfinished(finish_reasons, conversation_a, conversation_b)
    return orjson.dumps({"p": prompt, "a": rest_a, "b": rest_b, "u": unfinished}).decode("utf-8")


def assemble(rows) -> tuple[list[dict[str, str]], list[dict[str, str]], list[str | None]]:  # noqa: ANN001 - iterable of tuples
    """Both sides' messages and the answers' finish reasons from stored rows.

    *rows*: ``(side, system_prompt, role, content, finish_reason)`` of one
    battle's current messages, ordered by side then position. A side's system
    prompt, if any, comes first.
    """
    sides: dict[str, list[dict[str, str]]] = {"a": [], "b": []}
    reasons: list[str | None] = []
    for side, system_prompt, role, content, finish_reason in rows:
        messages = sides.setdefault(side, [])
        if not messages and system_prompt:
            messages.append({"role": "system", "content": system_prompt})
        messages.append({"role": role, "content": content})
        if role == "assistant":
            reasons.append(finish_reason)
    return sides["a"], sides["b"], reasons
