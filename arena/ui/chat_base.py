"""What every chat tab shares: finding the session's battle, regenerate, stop."""

from __future__ import annotations

import json
from typing import AsyncIterator, Callable

import gradio as gr

from arena.battle import Battle, RuleViolation
from arena.domain import Mode
from arena.examples import example_prompt
from arena.service import Arena
from arena.ui.errors import trouble_message
from arena.ui.session import identify


class ChatTab:
    """Base of the battle, side-by-side and direct-chat tabs; subclasses render with ``_view``."""

    controls: gr.Textbox  # each subclass creates it with controls_field() once its buttons exist

    def __init__(self, arena: Arena) -> None:
        self.arena = arena

    def _view(self, battle: Battle | None, *, notice: str | None = None, prompt: object = gr.skip(), relabel: bool = False) -> dict:
        raise NotImplementedError

    def _panes(self, battle: Battle) -> dict:
        """Only the chat panes' contents: what changes while answers stream (the controls stay as they are)."""
        raise NotImplementedError

    @staticmethod
    def controls_field(prefix: str, buttons: list[gr.Button]) -> gr.Textbox:
        """A hidden text naming the buttons that are enabled (by elem_id); the page applies it to them itself.

        Why: a button enabled or disabled by the server is a property update,
        and Gradio builds a new instance of the component (and its
        configuration, twice) for each one, per session: about 5 ms of the
        app's CPU per battle (``bench/load.py``). A text value costs next to
        nothing, and a JavaScript-only listener on it sets the buttons'
        ``interactive`` in the browser, with no trip to the server. The server
        still refuses anything the rules forbid, whatever a page enables.
        """
        assert all(button.elem_id for button in buttons), "each control needs an elem_id (its name in the field)"
        initial = [button.elem_id for button in buttons if button.elem_id and button.interactive is not False]
        field = gr.Textbox(",".join(initial), visible=False, elem_id=f"{prefix}-controls")
        names = json.dumps([button.elem_id for button in buttons])
        field.change(None, inputs=[field], outputs=buttons, api_visibility="private",
                     js=f"(value) => {{ const on = new Set((value || '').split(',')); "
                        f"return {names}.map((name) => ({{__type__: 'update', interactive: on.has(name)}})); }}")
        return field

    @staticmethod
    def controls_value(enabled: dict[gr.Button, bool]) -> str:
        """The controls field's value for these buttons' states."""
        return ",".join(str(button.elem_id) for button, on in enabled.items() if on)

    @staticmethod
    def _controls_key(battle: Battle) -> tuple:
        """Everything besides the answers' text that the view depends on: equal keys, equal controls."""
        return battle.state, battle.can_vote, battle.leaked, battle.turns, tuple(side.status for side in battle.sides.values())

    async def _stream(self, updates: AsyncIterator[Battle], *, clear_prompt: bool) -> AsyncIterator[dict]:
        """Views of a generation: the whole view when the controls change, only the panes in between.

        Why: a token arrives every few milliseconds per side; re-sending every
        control for each of the many updates a second cost most of the app's
        CPU under load, and only the two panes changed.
        """
        last = None
        async for update in updates:
            key = self._controls_key(update)
            if key == last:
                yield self._panes(update)
                continue
            first = last is None
            # The prompt box clears once accepted; a new named battle or chat shows its models' names on the panes.
            view = self._view(update, prompt="" if clear_prompt and first else gr.skip(),
                              relabel=first and update.mode != "anony" and update.turns == 1)
            yield view
            last = key

    def _identify(self, request: gr.Request | None) -> tuple[str, str]:
        """(session id, raw client identity) of a request."""
        return identify(request, trust_forwarded_for=self.arena.settings.trust_forwarded_for)

    def _current(self, battle_id: str | None, session: str) -> Battle | None:
        """The session's battle, or None if it has none (or it expired)."""
        if not battle_id:
            return None
        try:
            return self.arena.get(battle_id, session)
        except RuleViolation:
            return None

    async def _send_flow(
        self, mode: Mode, prompt: str, battle_id: str | None, models: list[str] | None, request: gr.Request
    ) -> AsyncIterator[dict]:
        """Send *prompt* in the session's battle, starting one (with *models*, or a drawn pair) if it has none."""
        session, judge_raw = self._identify(request)
        battle = self._current(battle_id, session)

        async def turn() -> AsyncIterator[Battle]:
            nonlocal battle
            if battle is None:
                battle = await self.arena.start(mode, session_id=session, judge_hash=self.arena.judge_hash(judge_raw), models=models)
            async for update in self.arena.send(battle.id, prompt, session):
                yield update

        async for view in self._shown_in_place("send", turn(), lambda: battle, session, clear_prompt=True):
            yield view

    async def _on_regenerate(self, battle_id: str | None, request: gr.Request) -> AsyncIterator[dict]:
        session, _ = self._identify(request)
        battle = self._current(battle_id, session)
        updates = self.arena.regenerate(battle_id or "", session)
        async for view in self._shown_in_place("regenerate", updates, lambda: battle, session, clear_prompt=False):
            yield view

    async def _shown_in_place(
        self, action: str, updates: AsyncIterator[Battle], battle: Callable[[], Battle | None], session: str,
        *, clear_prompt: bool,
    ) -> AsyncIterator[dict]:
        """The views of a generation; a broken rule, an outage or a bug ends it with a notice in place.

        *battle* returns the battle as the caller knows it when the trouble
        came (a send may have started one). Never a stack trace: unexpected
        errors are described by :func:`trouble_message`.
        """
        try:
            async for view in self._stream(updates, clear_prompt=clear_prompt):
                yield view
        except RuleViolation as exc:
            yield self._view(battle(), notice=f"⚠️ {exc}")
        except Exception as exc:  # noqa: BLE001 - a bug or an outage: say so in place instead of breaking the page
            view = self._view(self._after_trouble(battle(), session), notice=f"⚠️ {trouble_message(action, exc)}", relabel=True)
            yield view

    def _after_trouble(self, battle: Battle | None, session: str) -> Battle | None:
        """The battle as the server now holds it, to redraw after an unexpected error (None if it is gone)."""
        return self._current(battle.id, session) if battle is not None else None

    def example(self, current: str | None) -> str:
        """An example prompt for the prompt box (a different one from what it holds)."""
        return example_prompt(avoid=current)

    async def _on_stop(self, battle_id: str | None, request: gr.Request) -> None:
        session, _ = self._identify(request)
        try:
            await self.arena.stop(battle_id or "", session)
        except RuleViolation:
            pass  # nothing running any more: the button is about to be disabled
