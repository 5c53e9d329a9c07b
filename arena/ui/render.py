"""Turning domain objects into what Gradio components display.

Only this module decides what text reaches the browser for a battle. Model
names appear only through :meth:`arena.battle.Battle.reveal`, which stays
silent until the vote in anonymous mode.
"""

from __future__ import annotations

import html
from typing import Callable

from arena.battle import FLAGGED_TEXT, Battle, SideName

GENERATING_MARK = " ▌"
PANE_LABELS: dict[SideName, str] = {"a": "Model A", "b": "Model B"}


def pane_messages(battle: Battle | None, side: SideName, display: Callable[[str], str] | None = None) -> list[dict]:
    """The chat history of one pane, with a cursor while generating and a notice on failure.

    *display* rewrites the answers' text before it leaves the server (see
    :meth:`arena.service.Arena.display_filter`: identities hidden until the vote).
    """
    if battle is None or side not in battle.sides:
        return []
    pane = battle.sides[side]
    messages = [dict(m) for m in pane.messages]
    if display is not None:
        for message in messages:
            if message["role"] == "assistant":
                message["content"] = display(message["content"])
    if messages and messages[-1]["role"] == "assistant":
        last = messages[-1]
        if pane.status == "generating":
            last["content"] = last["content"] + GENERATING_MARK
        elif pane.status == "error":
            notice = f"⚠️ *Error: {pane.public_error}.*"
            last["content"] = (last["content"] + "\n\n" + notice) if last["content"] else notice
        elif pane.status == "stopped":
            last["content"] = (last["content"] + "\n\n*(stopped)*") if last["content"] else "*(stopped before answering)*"
    return messages


PANE_STATES = {"generating": "writing…", "done": "done", "error": "failed", "stopped": "stopped"}


def pane_label(battle: Battle | None, side: SideName) -> str:
    """'Model A' while anonymous; the model's name once revealed."""
    if battle is None:
        return PANE_LABELS[side]
    names = battle.reveal()
    if names is None:
        return PANE_LABELS[side]
    return f"{PANE_LABELS[side]}: {names[side]}" if battle.mode == "anony" else names[side]


def pane_title(label: str) -> str:
    """A pane's title as Markdown: the label in bold, with Markdown's own characters escaped."""
    escaped = "".join("\\" + c if c in "\\`*_[]<>|~" else c for c in label)
    return f"**{escaped}**"


def pane_states(battle: Battle) -> str:
    """Each pane's own state, e.g. 'Model A: done · Model B: writing…' (one line, in the status under the panes)."""
    return " · ".join(f"{PANE_LABELS[name]}: {PANE_STATES.get(side.status, side.status)}" for name, side in battle.sides.items())


def battle_status(battle: Battle | None) -> str:
    """One line of guidance under the panes."""
    if battle is None or battle.state == "ready":
        return "Ask anything: two anonymous models answer side by side. Then vote for the better answer."
    state = battle.state
    if state == "generating":
        panes = f" {pane_states(battle)}." if len(battle.sides) > 1 else ""
        return f"⏳ Generating…{panes} Press **Stop** to interrupt."
    if state == "flagged":
        return f"⚠️ {FLAGGED_TEXT}"
    if state == "failed":
        return "⚠️ A model failed to answer, so this battle cannot be voted on. Press **New round** to try another pair."
    leak = ""
    if battle.leaked and battle.mode == "anony":
        leak = " ⚠️ An answer revealed a model's identity, so this vote will not count toward the leaderboard."
    if state == "voted":
        names = battle.reveal() or {}
        revealed = " · ".join(f"{PANE_LABELS[s]}: **{html.escape(n)}**" for s, n in names.items())
        return f"✅ Your vote was recorded. {revealed}.{leak} Press **New round** to continue."
    if battle.mode == "direct":
        return "Continue the conversation, or start a new chat."
    return f"Which answer is better? Vote below, or keep chatting with the same pair.{leak}"
