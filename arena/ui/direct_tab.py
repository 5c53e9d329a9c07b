"""Direct chat with one chosen model (stored as a conversation, never voted on)."""

from __future__ import annotations

from typing import Any, AsyncIterator

import gradio as gr

from arena.battle import Battle
from arena.service import Arena
from arena.ui.chat_base import ChatTab
from arena.ui.render import battle_status, pane_label, pane_messages, pane_title


class DirectTab(ChatTab):
    """One model, one pane."""

    def __init__(self, arena: Arena) -> None:
        super().__init__(arena)
        self.battle_id = gr.State(None)
        self.pick = gr.Dropdown(label="Model", choices=[], interactive=True, allow_custom_value=True, elem_id="direct-pick")  # filled on opening; the service checks the name
        self.title = gr.Markdown(pane_title("Chat"), elem_id="direct-title", elem_classes=["arena-pane-title"])  # not a label: see PairTab
        self.chat = gr.Chatbot(show_label=False, height=520, buttons=["copy"], elem_id="direct-chat", feedback_options=None, elem_classes=["arena-chat"])
        self.status = gr.Markdown("Pick a model and start chatting.", elem_id="direct-status")
        with gr.Row():
            self.prompt = gr.Textbox(
                show_label=False, placeholder="Type your message and press Enter (Shift+Enter for a new line)",
                lines=1, max_lines=8, scale=8, elem_id="direct-prompt",
            )
            self.send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="direct-send")
        with gr.Row():
            self.stop = gr.Button("⏹ Stop", interactive=False, elem_id="direct-stop")
            self.regenerate = gr.Button("🔄 Regenerate", interactive=False, elem_id="direct-regenerate")
            self.clear = gr.Button("🗑 New chat", elem_id="direct-clear")
            self.example_button = gr.Button("💡 Example prompt", elem_id="direct-example")
        self.controls = self.controls_field("direct", [self.send, self.stop, self.regenerate])
        self._wire()

    @property
    def _outputs(self) -> list[Any]:
        return [self.battle_id, self.chat, self.title, self.status, self.prompt, self.controls]

    def _view(self, chat: Battle | None, *, notice: str | None = None, prompt: Any = gr.skip(), relabel: bool = False) -> dict:
        generating = chat is not None and chat.state == "generating"
        return {
            self.battle_id: chat.id if chat else None,
            self.chat: pane_messages(chat, "a"),
            self.title: pane_title(pane_label(chat, "a") if chat else "Chat") if relabel else gr.skip(),
            self.status: notice or (battle_status(chat) if chat else "Pick a model and start chatting."),
            self.prompt: prompt,
            self.controls: self.controls_value({
                self.send: not generating, self.stop: generating, self.regenerate: chat is not None and chat.state == "chatting",
            }),
        }

    def _panes(self, chat: Battle) -> dict:
        return {self.chat: pane_messages(chat, "a")}

    async def _on_send(self, prompt: str, chat_id: str | None, model: str | None, request: gr.Request) -> AsyncIterator[dict]:
        async for view in self._send_flow("direct", prompt, chat_id, [model or ""], request):
            yield view

    async def _on_clear(self) -> dict:
        # async, though it awaits nothing: Gradio runs a plain function in a worker thread.
        return self._view(None, prompt="", relabel=True)

    async def _on_pick(self, chat_id: str | None) -> dict:
        """Another model ends the chat in progress. Before any chat there is nothing to reset, and resetting anyway
        could race a first message sent right after the pick."""
        return await self._on_clear() if chat_id else gr.skip()

    def _wire(self) -> None:
        inputs = [self.prompt, self.battle_id, self.pick]
        for trigger, suffix in ((self.prompt.submit, "submit"), (self.send.click, "send")):
            trigger(self._on_send, inputs=inputs, outputs=self._outputs, api_name=f"direct_{suffix}", show_progress="hidden", concurrency_limit=None)
        self.regenerate.click(self._on_regenerate, inputs=[self.battle_id], outputs=self._outputs, api_name="direct_regenerate", show_progress="hidden", concurrency_limit=None)
        self.stop.click(self._on_stop, inputs=[self.battle_id], outputs=None, api_name="direct_stop", concurrency_limit=None)
        self.clear.click(self._on_clear, outputs=self._outputs, api_name="direct_clear")
        self.example_button.click(self.example, inputs=[self.prompt], outputs=[self.prompt], api_visibility="private")
        self.pick.change(self._on_pick, inputs=[self.battle_id], outputs=self._outputs, api_visibility="private")

    def load_choices(self, current: str | None = None) -> gr.Dropdown:
        """Choices from current availability, keeping a valid pick (reopening the tab must not end the chat)."""
        choices = self.arena.pool.named_choices()
        if current in choices:
            return gr.Dropdown(choices=choices)
        return gr.Dropdown(choices=choices, value=choices[0] if choices else None)
