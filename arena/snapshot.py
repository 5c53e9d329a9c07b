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
class Split:
    """A battle's two conversations as: own system prompts, the shared prompt, and what each side added."""

    prompt: list[dict[str, str]]    # the longest run of messages both sides share that ends with a user turn
    rest_a: list[dict[str, str]]    # side a after the prompt: its answer(s) (and, multi-turn, later turns)
    rest_b: list[dict[str, str]]
    system_a: list[dict[str, str]]  # side a's own system prompt when the two sides' differ (else empty)
    system_b: list[dict[str, str]]


def split_prompt(conversation_a: list[dict[str, str]], conversation_b: list[dict[str, str]]) -> Split:
    """Split two conversations of one battle (each is ``system_x + prompt + rest_x``).

    Models may be configured with different system prompts; those describe the
    deployment, not what the voter asked, so they are set aside and the shared
    prompt starts at the first user turn. A system prompt both sides share stays
    in the prompt.
    """
    system_a = _leading_system(conversation_a)
    system_b = _leading_system(conversation_b)
    if system_a != system_b:
        conversation_a, conversation_b = conversation_a[len(system_a):], conversation_b[len(system_b):]
    else:
        system_a = system_b = []
    shared = 0
    for message_a, message_b in zip(conversation_a, conversation_b):
        if message_a != message_b:
            break
        shared += 1
    while shared and conversation_a[shared - 1]["role"] != "user":
        shared -= 1
    return Split(conversation_a[:shared], conversation_a[shared:], conversation_b[shared:], system_a, system_b)


def _leading_system(conversation: list[dict[str, str]]) -> list[dict[str, str]]:
    count = 0
    while count < len(conversation) and conversation[count]["role"] == "system":
        count += 1
    return conversation[:count]


def is_unfinished(finish_reasons, conversation_a: list[dict[str, str]], conversation_b: list[dict[str, str]]) -> bool:  # noqa: ANN001
    """An answer did not finish normally (length limit, stopped, error), or a side's last message is not an answer."""
    if any(reason not in FINISHED for reason in finish_reasons):
        return True
    return any(not c or c[-1]["role"] != "assistant" for c in (conversation_a, conversation_b))


def freeze(conversation_a: list[dict[str, str]], conversation_b: list[dict[str, str]], finish_reasons=()) -> str:  # noqa: ANN001
    """The snapshot as JSON text: the :class:`Split` (``p``, ``a``, ``b``, ``sa``, ``sb``) and ``u`` (unfinished).

    The messages both sides share (a common system prompt, the first user turn) are stored once.
    """
    split = split_prompt(conversation_a, conversation_b)
    unfinished = is_unfinished(finish_reasons, conversation_a, conversation_b)
    return orjson.dumps({"p": split.prompt, "a": split.rest_a, "b": split.rest_b, "sa": split.system_a, "sb": split.system_b,
                         "u": unfinished}).decode("utf-8")


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
