"""The Leaderboard tab: table, category selector, style control, interval and matrix plots.

A timer asks the cached :class:`LeaderboardService` every few seconds; it
recomputes only when a vote arrived, and the tab redraws only when the version
it shows is stale.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import gradio as gr

from arena.categories import CATEGORIES, DEFAULT_CATEGORY, LANGUAGE_PREFIX, UnknownCategory
from arena.config import ModelCatalogue
from arena.judge_report import AgreementService
from arena.leaderboard import Leaderboard, LeaderboardQuery, LeaderboardService, fragility_text, interval_text
from arena.ui import plots
from arena.ui.errors import friendly_errors

COLUMNS = ["Rank (UB)", "Model", "Arena score", "95% CI", "Votes", "Elo", "Organization", "License"]
ColumnType = Literal["number", "markdown", "str"]  # the Dataframe datatypes this table uses
DATATYPES: list[ColumnType] = ["number", "markdown", "number", "str", "number", "number", "str", "str"]
REFRESH_S = 5.0
TOP_CHOICE = "the #1"


def category_choices(present: list[str]) -> list[tuple[str, str]]:
    """(label, value) pairs: fixed categories first, then languages that have votes."""
    choices = [(c.title, c.name) for c in CATEGORIES.values()]
    choices += [(f"Language: {name.removeprefix(LANGUAGE_PREFIX)}", name) for name in present if name.startswith(LANGUAGE_PREFIX)]
    return choices


def table_rows(board: Leaderboard, catalogue: ModelCatalogue) -> list[list]:
    rows = []
    for row in board.as_rows(catalogue):
        model = f"[{row['model']}]({row['link']})" if row["link"] else row["model"]
        if row["provisional"]:
            model += " *(provisional)*"
        rows.append([row["rank"], model, round(row["score"]), interval_text(row),
                     row["votes"], None if row["elo"] is None else round(row["elo"]), row["organization"], row["license"]])
    return rows


def summary_markdown(board: Leaderboard) -> str:
    ratings = board.ratings
    votes, models = ratings.total_votes, len(ratings.rows)
    lines = [f"**{board.description}** {votes:,} vote{'s' if votes != 1 else ''}, {models} model{'s' if models != 1 else ''}. "
             f"Rank (UB) = 1 + number of models whose lower bound exceeds this model's upper bound."]
    if ratings.style_coefficients:
        parts = [f"{name}: {c:+.3f} (± {1.96 * e:.3f})" for name, (c, e) in ratings.style_coefficients.items()]
        lines.append("Style coefficients (log-odds per standard deviation): " + "; ".join(parts))
    provisional = [row.model for row in ratings.rows if row.provisional]
    if provisional:
        lines.append(f"*Provisional*: {len(provisional)} model(s) with fewer than {board.query.provisional_votes:,} votes here; "
                     "their scores and ranks can still move a lot. An interval side shown as ∞ is not bounded by the votes yet "
                     "(only wins, or only losses).")
    if ratings.ties is not None:
        calibration = ratings.ties.calibration
        lines.append(f"Rao–Kupper tie parameter θ = {ratings.ties.theta:.3f} (95% {ratings.ties.theta_low:.3f}–{ratings.ties.theta_high:.3f}); "
                     f"calibration MAE Bradley–Terry {calibration.mae(calibration.bradley_terry):.3f}, "
                     f"Rao–Kupper {calibration.mae(calibration.rao_kupper):.3f}.")
    lines.extend(f"- {note}" for note in ratings.notes)
    return "\n\n".join(lines)


def trust_options(exclude_flagged_judges: bool, tie_model: str, simultaneous: bool) -> dict:
    """The tab's trust controls as the session keeps them (a State, so the ``leaderboard`` API keeps its two parameters)."""
    return {"exclude_flagged_judges": bool(exclude_flagged_judges), "tie_model": tie_model or "bt", "simultaneous": bool(simultaneous)}


class LeaderboardTab:
    """Widgets and events of the leaderboard."""

    def __init__(self, service: LeaderboardService, catalogue: ModelCatalogue, *, min_votes: int = 0, provisional_votes: int = 0,
                 agreements: AgreementService | None = None) -> None:
        self.service = service
        self.agreements = agreements
        self.catalogue = catalogue
        self.min_votes = min_votes
        self.provisional_votes = provisional_votes
        with gr.Row():
            self.category = gr.Dropdown(label="Category", choices=category_choices([]), value=DEFAULT_CATEGORY,
                                        allow_custom_value=True,  # choices grow with the votes; redraw() checks the name
                                        interactive=True, elem_id="leaderboard-category", scale=3)
            self.style = gr.Checkbox(label="Style control (adjust for length and markdown)", value=False,
                                     elem_id="leaderboard-style", scale=2)
            refresh = gr.Button("Refresh", size="sm", elem_id="leaderboard-refresh", scale=1)
        self.summary = gr.Markdown("", elem_id="leaderboard-summary")
        with gr.Row():
            self.fragility = gr.Markdown("", elem_id="leaderboard-fragility")
            self.pair = gr.Dropdown(label="How fragile is this order?", choices=[TOP_CHOICE], value=TOP_CHOICE, interactive=True,
                                    allow_custom_value=True, elem_id="leaderboard-fragility-pair", scale=0, min_width=260)
        self.table = gr.Dataframe(headers=COLUMNS, datatype=DATATYPES, value=[], interactive=False, wrap=True,
                                  elem_id="leaderboard-table")
        self.ci_plot = gr.Plot(label="Confidence intervals", elem_id="leaderboard-ci")
        with gr.Row():
            self.win_plot = gr.Plot(label="Win fraction", elem_id="leaderboard-winrate")
            self.count_plot = gr.Plot(label="Battle counts", elem_id="leaderboard-counts")
        with gr.Accordion("Predicted win probability", open=False):
            self.predicted_plot = gr.Plot(label="Predicted win probability", elem_id="leaderboard-predicted")
        self._trust_controls()
        if agreements is not None:
            self._judges_section()
        self.shown_version = gr.State(-1)
        self.timer = gr.Timer(REFRESH_S, active=False)  # ticks only while the tab is open (see ui/app.py)
        outputs, board_inputs = self.outputs, [self.category, self.style, self.trust]  # a State is no API parameter
        for trigger in (self.category.change, self.style.change):
            self.then_fragility(trigger(self.redraw, inputs=board_inputs, outputs=outputs, api_visibility="private",
                                         show_progress="minimal"))
        self.then_fragility(refresh.click(self.redraw, inputs=board_inputs, outputs=outputs, api_name="leaderboard",
                                           show_progress="minimal"))
        self.then_fragility(self.timer.tick(self.refresh_if_stale, inputs=[*board_inputs, self.shown_version],
                                             outputs=outputs, api_visibility="private", show_progress="hidden"))
        for control in self._trust_inputs:
            self.then_fragility(control.input(trust_options, inputs=self._trust_inputs, outputs=[self.trust], api_visibility="private")
                                .then(self.redraw, inputs=board_inputs, outputs=outputs, api_visibility="private",
                                      show_progress="minimal"))
        self.pair.input(self.show_fragility, inputs=[*board_inputs, self.pair], outputs=[self.fragility, self.pair],
                        api_visibility="private", show_progress="hidden")

    def then_fragility(self, event: Any) -> None:  # a Gradio Dependency
        """After a redraw, the fragility sentence (computed apart: it refits, and the table should not wait for it)."""
        event.then(self.show_fragility, inputs=[self.category, self.style, self.trust, self.pair], outputs=[self.fragility, self.pair],
                   api_visibility="private", show_progress="hidden")

    def _trust_controls(self) -> None:
        """How far to trust the board: leave out flagged voters, model ties as ties, rank by simultaneous intervals."""
        with gr.Accordion("Trust options", open=False, elem_id="leaderboard-trust"):
            with gr.Row():
                exclude = gr.Checkbox(label="Leave out voters flagged as suspicious", value=False, elem_id="leaderboard-exclude-flagged")
                ties = gr.Radio(label="Ties", choices=[("half a win (Bradley–Terry)", "bt"), ("ties as ties (Rao–Kupper)", "rao-kupper")],
                                value="bt", elem_id="leaderboard-tie-model")
                simultaneous = gr.Checkbox(label="Rank (UB) from simultaneous intervals (hold for all models at once)", value=False,
                                           elem_id="leaderboard-simultaneous")
        self._trust_inputs: list[gr.Checkbox | gr.Radio] = [exclude, ties, simultaneous]
        self.trust = gr.State(trust_options(False, "bt", False))

    def _judges_section(self) -> None:
        """The AI judges beside the human vote, computed when a reader opens the section (and kept until a new judgement)."""
        with gr.Accordion("AI judges vs the human vote", open=False, elem_id="leaderboard-judges") as section:
            gr.Markdown("The same battles judged by AI judges: how often each agrees with the voters, the leaderboard it "
                        "would produce, and the models it rates above what people do (the Goodhart table).")
            report = gr.Markdown("", elem_id="leaderboard-judges-report")
        section.expand(self.judges_report, outputs=[report], api_visibility="private")

    @friendly_errors
    async def judges_report(self) -> str:
        assert self.agreements is not None, "the section exists only with a service"
        return await asyncio.to_thread(self.agreements.markdown)

    @friendly_errors
    async def show_fragility(self, category: str, style: bool, trust: dict, pair: str) -> tuple:
        """The sentence on how many votes the #1 (or the chosen adjacent pair) rests on, and the pairs to choose from."""
        query = self._query(category, style, trust)
        board = await asyncio.to_thread(self.service.get, query)
        names = [row.model for row in board.ratings.rows]
        choices = [TOP_CHOICE] + [f"{above} over {below}" for above, below in zip(names, names[1:])]
        chosen = pair if pair in choices else TOP_CHOICE
        above, _, below = chosen.partition(" over ")
        ordered = None if chosen == TOP_CHOICE else (above, below)
        result = await asyncio.to_thread(self.service.fragility, query, ordered)
        return f"**{fragility_text(result, top=ordered is None)}**", gr.Dropdown(choices=choices, value=chosen)

    def _query(self, category: str, style: bool, trust: dict | None = None) -> LeaderboardQuery:
        trust = trust or {}
        try:
            return LeaderboardQuery(category=category or DEFAULT_CATEGORY, style_control=bool(style), min_votes=self.min_votes,
                                    provisional_votes=self.provisional_votes, tie_model=str(trust.get("tie_model", "bt")),
                                    simultaneous=bool(trust.get("simultaneous")),
                                    exclude_flagged_judges=bool(trust.get("exclude_flagged_judges")))
        except ValueError as exc:  # e.g. Rao–Kupper with style control
            raise gr.Error(str(exc), print_exception=False) from None

    @property
    def outputs(self) -> list:
        return [self.shown_version, self.category, self.summary, self.table, self.ci_plot, self.win_plot, self.count_plot, self.predicted_plot]

    @friendly_errors
    async def redraw(self, category: str, style: bool, trust: dict | None = None) -> tuple:
        """Render the current leaderboard for the selected category, style setting and trust options."""
        query = self._query(category, style, trust)
        try:
            board = await asyncio.to_thread(self.service.get, query)
        except UnknownCategory as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        present = await asyncio.to_thread(self.service.categories)
        return (
            board.version,
            gr.Dropdown(choices=category_choices(present)),
            summary_markdown(board),
            table_rows(board, self.catalogue),
            plots.ci_chart(board),
            plots.win_fraction_heatmap(board),
            plots.battle_count_heatmap(board),
            plots.predicted_heatmap(board),
        )

    @friendly_errors
    async def refresh_if_stale(self, category: str, style: bool, trust: dict, shown_version: int) -> tuple:
        """Timer tick: redraw only if votes arrived since the version on screen."""
        version = await asyncio.to_thread(self.service.votes_version)
        if version == shown_version:
            return tuple(gr.skip() for _ in self.outputs)
        return await self.redraw(category, style, trust)
