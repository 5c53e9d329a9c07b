"""The Leaderboard tab: Bradley–Terry scores from the stored anonymous votes."""

from __future__ import annotations

import asyncio

import gradio as gr

from arena.leaderboard import leaderboard_rows
from arena.service import Arena

COLUMNS = ["Rank", "Model", "Arena score", "Votes", "Organization", "License"]
REFRESH_S = 10.0


class LeaderboardTab:
    """A table that refreshes itself every few seconds."""

    def __init__(self, arena: Arena) -> None:
        self.arena = arena
        gr.Markdown(
            "Bradley–Terry scores (400 points per factor-10 in odds, centred at 1000) from anonymous, "
            "unflagged battles. Ties count as half a win for each side.",
        )
        self.table = gr.Dataframe(headers=COLUMNS, value=[], interactive=False, elem_id="leaderboard-table", wrap=True)
        self.summary = gr.Markdown("", elem_id="leaderboard-summary")
        refresh = gr.Button("Refresh", size="sm", elem_id="leaderboard-refresh")
        self.timer = gr.Timer(REFRESH_S)
        for trigger in (refresh.click, self.timer.tick):
            trigger(self.load, outputs=[self.table, self.summary], api_name=False, show_progress="hidden")

    async def load(self) -> tuple[list[list], str]:
        rows = await asyncio.to_thread(leaderboard_rows, self.arena.store, self.arena.pool.catalogue)
        table = [[r["rank"], r["model"], round(r["score"]), r["votes"], r["organization"], r["license"]] for r in rows]
        votes = sum(r["votes"] for r in rows) // 2
        summary = f"{len(rows)} models, {votes:,} counted votes." if rows else "No counted votes yet: play a battle in the Arena tab."
        return table, summary
