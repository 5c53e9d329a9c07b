"""Assembles the tabs into one Gradio Blocks app."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from arena.admin import AdminGate
from arena.leaderboard import LeaderboardService
from arena.reload import ModelsReloader
from arena.service import Arena
from arena.settings import Settings
from arena.ui.admin_tab import AdminTab
from arena.ui.direct_tab import DirectTab
from arena.ui.errors import friendly_errors
from arena.ui.leaderboard_tab import LeaderboardTab
from arena.ui.pair_tab import PairTab

TITLE = "Starling Arena"
INTRO = (
    "# ⭐ Starling Arena\n"
    "Chat with two anonymous models side by side and vote for the better answer; names are revealed after your vote. "
    "Prompts, answers and votes are stored and may be published as research data: do not share personal information."
)

TERMS = (
    "**Before your first battle.** Your prompts, the answers and your votes are stored and may be published as "
    "research data (for example to train reward models); you are identified only by a salted hash, never by your "
    "address. Do not type personal or confidential information. This notice is remembered in this browser."
)


def models_markdown(arena: Arena) -> str:
    """Which models exist and whether they can be used now (not which ones are in your battle)."""
    lines = ["| Model | Status | Organization | License | About |", "|---|---|---|---|---|"]
    for status in arena.pool.statuses():
        spec = arena.pool.catalogue.get(status.name)
        state = "✅ available" if status.available else "⛔ unavailable"
        name = f"[{spec.name}]({spec.link})" if spec.link else spec.name
        lines.append(f"| {name} | {state} | {spec.organization or ''} | {spec.license or ''} | {spec.description or ''} |")
    return "\n".join(lines)


def export_root(settings: Settings) -> Path:
    """Where the Admin tab writes exports (ARENA_EXPORT_DIR, or exports/ in the project)."""
    return Path(settings.export_dir) if settings.export_dir else Path(__file__).resolve().parents[2] / "exports"


def build_demo(arena: Arena, leaderboards: LeaderboardService, reloader: ModelsReloader | None = None) -> gr.Blocks:
    """The whole UI; the caller launches it."""
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        accepted = gr.BrowserState(False, storage_key="starling-arena-terms-v1")
        with gr.Group(elem_id="terms") as terms:
            gr.Markdown(TERMS, elem_id="terms-text")
            agree = gr.Button("I understand and agree", variant="primary", elem_id="terms-agree")
        agree.click(lambda: (True, gr.update(visible=False)), outputs=[accepted, terms], api_name=False)
        with gr.Tabs():
            with gr.Tab("⚔️ Arena (battle)", id="battle"):
                battle = PairTab(arena, "anony")
            with gr.Tab("👥 Side-by-side", id="side-by-side"):
                side_by_side = PairTab(arena, "named")
            with gr.Tab("💬 Direct chat", id="direct"):
                direct = DirectTab(arena)
            with gr.Tab("🏆 Leaderboard", id="leaderboard"):
                board = LeaderboardTab(leaderboards, arena.pool.catalogue, min_votes=arena.settings.leaderboard_min_votes)
            with gr.Tab("🔧 Admin", id="admin"):
                AdminTab(AdminGate(arena.settings.admin_password), arena.store, export_root(arena.settings), arena, reloader)
        with gr.Accordion("Models in this arena", open=False):
            models_md = gr.Markdown(models_markdown(arena), elem_id="models-status")

        @friendly_errors
        def on_load():
            a, b = side_by_side.load_choices()
            return a, b, direct.load_choices(), models_markdown(arena)

        demo.load(on_load, outputs=[side_by_side.pick_a, side_by_side.pick_b, direct.pick, models_md], api_name=False)
        demo.load(lambda agreed: gr.update(visible=not agreed), inputs=[accepted], outputs=[terms], api_name=False)
        demo.load(board.redraw, inputs=[board.category, board.style], outputs=board.outputs, api_name=False)
        del battle
    return demo
