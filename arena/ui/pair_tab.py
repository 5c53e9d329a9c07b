"""Two panes and a vote: the Arena (battle) tab and the Side-by-side tab.

One class serves both: in ``anony`` mode the pair is drawn by the server and
hidden until the vote; in ``named`` mode the voter picks both models. The
battle's identity lives only in a ``gr.State`` (server-side), never in a
component the browser can read.
"""

from __future__ import annotations

import logging
from typing import Any, AsyncIterator, Awaitable, Callable

import gradio as gr

from arena.battle import Battle, RuleViolation
from arena.domain import Winner
from arena.service import Arena
from arena.ui.chat_base import ChatTab
from arena.ui.errors import trouble_message
from arena.ui.render import battle_status, pane_label, pane_messages, pane_title

log = logging.getLogger(__name__)

VOTES: tuple[tuple[Winner, str], ...] = (
    ("model_a", "👈 A is better"),
    ("model_b", "👉 B is better"),
    ("tie", "🤝 Tie"),
    ("tie (bothbad)", "👎 Both are bad"),
)


class PairTab(ChatTab):
    """Builds and wires one two-pane tab inside an open ``gr.Blocks``."""

    def __init__(self, arena: Arena, mode: str) -> None:
        assert mode in ("anony", "named")
        super().__init__(arena)
        self.mode = mode
        prefix = "battle" if mode == "anony" else "sbs"
        self.prefix = prefix
        self.battle_id = gr.State(None)
        if mode == "named":
            with gr.Row():  # choices arrive when the tab is opened (load_choices), not with the page
                self.pick_a = gr.Dropdown(label="Model A", choices=[], interactive=True, allow_custom_value=True, elem_id=f"{prefix}-pick-a")
                self.pick_b = gr.Dropdown(label="Model B", choices=[], interactive=True, allow_custom_value=True, elem_id=f"{prefix}-pick-b")
        # Each pane's title is a Markdown above it, not the Chatbot's label: changing a label rebuilds the whole
        # component on the server (about 7 ms), changing a Markdown's text costs next to nothing.
        with gr.Row(equal_height=True, elem_classes=["arena-panes"]):
            with gr.Column(min_width=280):
                self.title_a = gr.Markdown(pane_title(self._label(None, "a")), elem_id=f"{prefix}-title-a", elem_classes=["arena-pane-title"])
                self.chat_a = gr.Chatbot(show_label=False, height=460, buttons=["copy"], elem_id=f"{prefix}-chat-a", feedback_options=None, elem_classes=["arena-chat"])
            with gr.Column(min_width=280):
                self.title_b = gr.Markdown(pane_title(self._label(None, "b")), elem_id=f"{prefix}-title-b", elem_classes=["arena-pane-title"])
                self.chat_b = gr.Chatbot(show_label=False, height=460, buttons=["copy"], elem_id=f"{prefix}-chat-b", feedback_options=None, elem_classes=["arena-chat"])
        self.status = gr.Markdown(battle_status(None), elem_id=f"{prefix}-status")
        with gr.Row():
            self.vote_buttons = [
                gr.Button(text, interactive=False, elem_id=f"{prefix}-vote-{i}") for i, (_, text) in enumerate(VOTES)
            ]
        with gr.Row():
            self.prompt = gr.Textbox(
                show_label=False,
                placeholder="Type your message and press Enter (Shift+Enter for a new line)",
                lines=1,
                max_lines=8,
                scale=8,
                elem_id=f"{prefix}-prompt",
            )
            self.send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id=f"{prefix}-send")
        with gr.Row():
            self.stop = gr.Button("⏹ Stop", interactive=False, elem_id=f"{prefix}-stop")
            self.regenerate = gr.Button("🔄 Regenerate", interactive=False, elem_id=f"{prefix}-regenerate")
            self.new_round = gr.Button("🎲 New round" if mode == "anony" else "🗑 Clear", elem_id=f"{prefix}-new-round")
            self.example_button = gr.Button("💡 Example prompt", elem_id=f"{prefix}-example")
        self.controls = self.controls_field(prefix, [self.send, self.stop, self.regenerate, *self.vote_buttons])
        self._wire()

    # --- outputs ---------------------------------------------------------------
    @property
    def _outputs(self) -> list[Any]:
        return [self.battle_id, self.chat_a, self.chat_b, self.title_a, self.title_b, self.status, self.prompt, self.controls]

    def _view(self, battle: Battle | None, *, notice: str | None = None, prompt: Any = gr.skip(), relabel: bool = False) -> dict:
        """The whole tab for *battle*; the pane titles only with *relabel*."""
        generating = battle is not None and battle.state == "generating"
        closed = battle is not None and battle.state in ("voted", "failed", "flagged")
        can_vote = battle is not None and battle.can_vote
        can_regenerate = battle is not None and battle.state in ("awaiting_vote",) and battle.turns > 0
        display = self.arena.display_filter(battle)
        view = {
            self.battle_id: battle.id if battle else None,
            self.chat_a: pane_messages(battle, "a", display),
            self.chat_b: pane_messages(battle, "b", display),
            self.title_a: pane_title(self._label(battle, "a")) if relabel else gr.skip(),
            self.title_b: pane_title(self._label(battle, "b")) if relabel else gr.skip(),
            self.status: notice or battle_status(battle),
            self.prompt: prompt,
            self.controls: self.controls_value({
                self.send: not (generating or closed), self.stop: generating, self.regenerate: can_regenerate,
                **{button: can_vote for button in self.vote_buttons},
            }),
        }
        return view

    def _panes(self, battle: Battle) -> dict:
        display = self.arena.display_filter(battle)
        return {self.chat_a: pane_messages(battle, "a", display), self.chat_b: pane_messages(battle, "b", display)}

    def _label(self, battle: Battle | None, side: str) -> str:
        if self.mode == "named" and battle is None:
            return "Model A" if side == "a" else "Model B"
        return pane_label(battle, side)  # type: ignore[arg-type]

    # --- handlers ----------------------------------------------------------------
    async def _on_send_anony(self, prompt: str, battle_id: str | None, request: gr.Request) -> AsyncIterator[dict]:
        async for view in self._send_flow("anony", prompt, battle_id, None, request):
            yield view

    async def _on_send_named(
        self, prompt: str, battle_id: str | None, model_a: str | None, model_b: str | None, request: gr.Request
    ) -> AsyncIterator[dict]:
        async for view in self._send_flow("named", prompt, battle_id, [model_a or "", model_b or ""], request):
            yield view

    def _vote_handler(self, winner: Winner) -> Callable[[str | None, gr.Request], Awaitable[dict]]:
        async def on_vote(battle_id: str | None, request: gr.Request) -> dict:
            session, _ = self._identify(request)
            battle = self._current(battle_id, session)
            try:
                await self.arena.vote(battle_id or "", winner, session)
            except RuleViolation as exc:
                return self._view(battle, notice=f"⚠️ {exc}")
            except Exception as exc:  # noqa: BLE001 - a vote that could not be stored is reported in place
                view = self._view(self._after_trouble(battle, session), notice=f"⚠️ {trouble_message('vote', exc)}", relabel=True)
                return view
            # The names, revealed in place.
            return self._view(self.arena.get(battle_id or "", session), relabel=True)

        on_vote.__name__ = f"vote_{winner.replace(' ', '_').replace('(', '').replace(')', '')}"
        return on_vote

    async def _on_new_round(self) -> dict:
        # async, though it awaits nothing: Gradio runs a plain function in a worker thread, a trip per round.
        return self._view(None, prompt="", relabel=True)

    async def _on_pick(self, battle_id: str | None) -> dict:
        """Another model ends the battle in progress. Before any battle there is nothing to reset, and resetting
        anyway could race a first message sent right after the pick."""
        return await self._on_new_round() if battle_id else gr.skip()

    # --- wiring --------------------------------------------------------------------
    def _wire(self) -> None:
        picks = [self.pick_a, self.pick_b] if self.mode == "named" else []
        send_inputs = [self.prompt, self.battle_id, *picks]
        for trigger, suffix in ((self.prompt.submit, "submit"), (self.send.click, "send")):
            trigger(
                self._on_send_named if self.mode == "named" else self._on_send_anony,
                inputs=send_inputs,
                outputs=self._outputs,
                api_name=f"{self.prefix}_{suffix}",
                show_progress="hidden",
                concurrency_limit=None,
            )
        self.regenerate.click(
            self._on_regenerate, inputs=[self.battle_id], outputs=self._outputs,
            api_name=f"{self.prefix}_regenerate", show_progress="hidden", concurrency_limit=None,
        )
        self.stop.click(self._on_stop, inputs=[self.battle_id], outputs=None, api_name=f"{self.prefix}_stop", concurrency_limit=None)
        for button, (winner, _) in zip(self.vote_buttons, VOTES):
            name = winner.replace(" (bothbad)", "_bothbad")
            button.click(
                self._vote_handler(winner), inputs=[self.battle_id], outputs=self._outputs,
                api_name=f"{self.prefix}_vote_{name}", concurrency_limit=None,
            )
        self.new_round.click(self._on_new_round, outputs=self._outputs, api_name=f"{self.prefix}_new_round")
        self.example_button.click(self.example, inputs=[self.prompt], outputs=[self.prompt], api_visibility="private")
        if self.mode == "named":
            for pick in picks:
                pick.change(self._on_pick, inputs=[self.battle_id], outputs=self._outputs, api_visibility="private")

    def load_choices(self, current_a: str | None = None, current_b: str | None = None) -> tuple[gr.Dropdown, gr.Dropdown]:
        """Dropdown choices for named mode from current availability; valid picks are kept (no reset on revisit)."""
        choices = self.arena.pool.named_choices()
        defaults = (choices[0] if choices else None, choices[1] if len(choices) > 1 else None)
        pick_a, pick_b = (
            gr.Dropdown(choices=choices) if current in choices else gr.Dropdown(choices=choices, value=default)
            for current, default in zip((current_a, current_b), defaults)
        )
        return pick_a, pick_b
