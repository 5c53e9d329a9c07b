"""Assembles the tabs into one Gradio Blocks app."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from arena.admin import AdminService
from arena.judge_report import AgreementService
from arena.leaderboard import LeaderboardService
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


def build_demo(arena: Arena, leaderboards: LeaderboardService, admin: AdminService,
               agreements: AgreementService | None = None) -> gr.Blocks:
    """The whole UI over the services the composition root built (never the store itself); the caller launches it.

    *agreements* None leaves the AI judges' section out of the Leaderboard tab.
    """
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        accepted = gr.BrowserState(False, storage_key="starling-arena-terms-v1")
        with gr.Group(elem_id="terms") as terms:
            gr.Markdown(TERMS, elem_id="terms-text")
            agree = gr.Button("I understand and agree", variant="primary", elem_id="terms-agree")
        agree.click(lambda: (True, gr.update(visible=False)), outputs=[accepted, terms], api_visibility="private")
        with gr.Tabs():
            with gr.Tab("⚔️ Arena (battle)", id="battle") as battle_tab:
                PairTab(arena, "anony")
            with gr.Tab("👥 Side-by-side", id="side-by-side") as side_by_side_tab:
                side_by_side = PairTab(arena, "named")
            with gr.Tab("💬 Direct chat", id="direct") as direct_tab:
                direct = DirectTab(arena)
            with gr.Tab("🏆 Leaderboard", id="leaderboard") as board_tab:
                board = LeaderboardTab(leaderboards, arena.pool.catalogue, min_votes=arena.settings.leaderboard_min_votes,
                                       provisional_votes=arena.settings.provisional_votes, agreements=agreements)
            with gr.Tab("🔧 Admin", id="admin") as admin_tab:
                AdminTab(admin)
        with gr.Accordion("Models in this arena", open=False) as models_accordion:
            models_md = gr.Markdown("", elem_id="models-status")
        demo.load(lambda agreed: gr.update(visible=not agreed), inputs=[accepted], outputs=[terms], api_visibility="private")
        # Model names reach the browser only when a voter opens a tab or panel that shows them: a voter who
        # stays on the battle tab receives no name until the vote (tests/test_anonymity.py checks every byte).
        side_by_side_tab.select(side_by_side.load_choices, inputs=[side_by_side.pick_a, side_by_side.pick_b],
                                outputs=[side_by_side.pick_a, side_by_side.pick_b], api_visibility="private")
        direct_tab.select(direct.load_choices, inputs=[direct.pick], outputs=[direct.pick], api_visibility="private")
        opened = board_tab.select(board.redraw, inputs=[board.category, board.style, board.trust], outputs=board.outputs,
                                  api_visibility="private")
        opened.then(lambda: gr.Timer(active=True), outputs=[board.timer], api_visibility="private")
        board.then_fragility(opened)
        for tab in (battle_tab, side_by_side_tab, direct_tab, admin_tab):
            tab.select(lambda: gr.Timer(active=False), outputs=[board.timer], api_visibility="private")  # no refreshes out of sight
        models_accordion.expand(friendly_errors(lambda: models_markdown(arena)), outputs=[models_md], api_visibility="private")
    return demo
