"""The Admin tab: password-gated operations: model status and reload, activity and flagged battles, exports.

Every action takes the password field as an input and checks it on the server
(:class:`arena.admin.AdminGate`), so the tab's endpoints refuse a caller
without the password just as the tab does. Voters see a locked panel.
"""

from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go

from arena.admin import INCLUDE_CHOICES, Activity, AdminRefused, AdminService
from arena.export.formats import FORMAT_NAMES
from arena.suspicion_service import Suspicion
from arena.ui.errors import friendly_errors

FLAGGED_HEADERS = ["Time (UTC)", "Battle", "Mode", "Model A", "Model B", "Flags", "Detail"]
SUSPICION_HEADERS = ["Voter", "Votes", "q-value", "p-value", "Strongest test", "Side A share", "Side test p", "Ties",
                     "Median s to vote", "Peak votes/min"]


def suspicion_outputs(result: Suspicion) -> tuple[str, list[list]]:
    """The suspicious-voters panel: a summary sentence and one row of evidence per flagged voter."""
    report = result.report
    config = report.config
    summary = (f"**{len(result.flagged)}** of {len(report.voters):,} tested voters flagged (at most {config.fdr:.0%} of them"
               f" expected to be honest; method {config.method}; voters with at least {config.min_votes} votes tested;"
               f" {report.total_votes:,} votes). `python -m arena leaderboard --exclude-flagged-judges` and"
               " `python -m arena export --exclude-flagged-judges` leave their votes out; docs/suspicion.md explains the tests.")
    rows = [[v.judge_hash[:12], v.votes, f"{v.qvalue:.2g}", f"{v.pvalue:.2g}", v.strongest, f"{v.share_a:.0%}",
             f"{v.side_pvalue:.2g}", f"{v.tie_share:.0%}", "" if v.median_seconds != v.median_seconds else f"{v.median_seconds:.1f}",
             v.peak_per_minute] for v in result.flagged]
    return summary, rows


def activity_outputs(activity: Activity):  # noqa: ANN201 - (figure, figure, rows, battle ids)
    """The activity panel's plots and flagged-battle rows, with the flagged battles' ids to pick from."""
    per_day = go.Figure(go.Bar(x=[d.isoformat() for d, _ in activity.per_day], y=[n for _, n in activity.per_day]))
    per_day.update_layout(title="Votes per day (last 30 days, UTC)", height=320, margin={"l": 40, "r": 10, "t": 50, "b": 60})
    per_model = go.Figure(go.Bar(x=[m for m, _ in activity.per_model], y=[n for _, n in activity.per_model]))
    per_model.update_layout(title="Votes per model (either side)", height=320, margin={"l": 40, "r": 10, "t": 50, "b": 100})
    rows = [[f.created_at.strftime("%Y-%m-%d %H:%M"), f.battle_id, f.mode, f.model_a, f.model_b, ", ".join(f.reasons), f.detail[:200]]
            for f in activity.flagged]
    return per_day, per_model, rows, [f.battle_id for f in activity.flagged]


class AdminTab:
    """Widgets and events of the Admin tab over an :class:`AdminService` (which checks the password)."""

    def __init__(self, admin: AdminService) -> None:
        self.admin = admin
        if not admin.configured:
            gr.Markdown("The Admin tab is disabled: set `ARENA_ADMIN_PASSWORD` to enable it.", elem_id="admin-disabled")
        self.password = gr.Textbox(label="Admin password", type="password", elem_id="admin-password", max_lines=1)
        if admin.manages_models:
            self._models_panel()
        self._activity_panel()
        self._suspicion_panel()
        self._export_panel()
        self._judges_panel()

    def _judges_panel(self) -> None:
        with gr.Group():
            gr.Markdown("### AI judges\nHow often each judge agrees with the human votes on the same battles.")
            show = gr.Button("Show agreement", elem_id="admin-agreement-show")
            report = gr.Markdown(elem_id="admin-agreement")
        show.click(self.show_agreement, inputs=[self.password], outputs=[report], api_name="admin_agreement")

    @friendly_errors
    def show_agreement(self, password: str) -> str:
        try:
            return self.admin.agreement(password)
        except AdminRefused as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    def _models_panel(self) -> None:
        with gr.Group():
            gr.Markdown("### Models\nEdits to models.yaml are picked up by themselves; Reload applies them now.")
            with gr.Row():
                status = gr.Button("Show status", elem_id="admin-status")
                reload = gr.Button("Reload models.yaml", elem_id="admin-reload")
            self.status = gr.Markdown(elem_id="admin-models")
        status.click(self.show_status, inputs=[self.password], outputs=[self.status], api_name="admin_status")
        reload.click(self.reload, inputs=[self.password], outputs=[self.status], api_name="admin_reload")

    def _activity_panel(self) -> None:
        with gr.Group():
            gr.Markdown("### Activity")
            show = gr.Button("Show activity", elem_id="admin-activity")
            with gr.Row():
                per_day, per_model = gr.Plot(label="Votes per day"), gr.Plot(label="Votes per model")
            flagged = gr.Dataframe(headers=FLAGGED_HEADERS,
                                   label="Flagged battles (identity leak, moderation, errors)", interactive=False, wrap=True)
            pick = gr.Dropdown(label="Review a flagged battle", choices=[], allow_custom_value=True,  # choices change; the store checks
                               elem_id="admin-flagged-pick")
            transcript = gr.Markdown(elem_id="admin-transcript")
        show.click(self.activity, inputs=[self.password], outputs=[per_day, per_model, flagged, pick], api_name="admin_activity")
        pick.change(self.transcript, inputs=[self.password, pick], outputs=[transcript], api_name="admin_transcript")

    def _suspicion_panel(self) -> None:
        with gr.Group():
            gr.Markdown("### Suspicious voters\nVoters whose votes do not look like honest votes, with the evidence.")
            show = gr.Button("Find suspicious voters", elem_id="admin-suspicion-show")
            summary = gr.Markdown(elem_id="admin-suspicion-summary")
            table = gr.Dataframe(headers=SUSPICION_HEADERS, label="Flagged voters", interactive=False, wrap=True,
                                 elem_id="admin-suspicion")
        show.click(self.suspicious_voters, inputs=[self.password], outputs=[summary, table], api_name="admin_suspicion")

    @friendly_errors
    def suspicious_voters(self, password: str) -> tuple[str, list[list]]:
        try:
            return suspicion_outputs(self.admin.suspicious_voters(password))
        except AdminRefused as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    def _export_panel(self) -> None:
        with gr.Group(visible=True):
            gr.Markdown("### Export preference data\nThe vote log as training data, with a datasheet (see docs/export.md).")
            with gr.Row():
                self.format = gr.Dropdown(list(FORMAT_NAMES), value="pairwise", label="Format", elem_id="admin-export-format")
                self.suffix = gr.Dropdown([".jsonl", ".jsonl.gz", ".parquet"], value=".jsonl", label="File type")
                self.kto = gr.Checkbox(label="pairwise: ties as KTO rows", value=False)
            self.include = gr.CheckboxGroup(INCLUDE_CHOICES, value=[], label="Also include (dropped by default)")
            run = gr.Button("Export", variant="primary", elem_id="admin-export")
            self.files = gr.File(label="Download", file_count="multiple", interactive=False, elem_id="admin-export-files")
            self.summary = gr.Markdown(elem_id="admin-export-summary")
        run.click(self.export, inputs=[self.password, self.format, self.suffix, self.kto, self.include],
                  outputs=[self.files, self.summary], api_name="admin_export")

    @friendly_errors
    def show_status(self, password: str) -> str:
        try:
            return self.admin.models_status(password)
        except AdminRefused as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    @friendly_errors
    def reload(self, password: str) -> str:
        try:
            return self.admin.reload(password)
        except (AdminRefused, ValueError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    @friendly_errors
    def activity(self, password: str):  # noqa: ANN201 - Gradio outputs
        try:
            per_day, per_model, rows, ids = activity_outputs(self.admin.activity(password))
        except AdminRefused as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return per_day, per_model, rows, gr.update(choices=ids, value=None)

    @friendly_errors
    def transcript(self, password: str, battle_id: str | None) -> str:
        try:
            return self.admin.transcript(password, battle_id or "")
        except AdminRefused as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    @friendly_errors
    def export(self, password: str, format_name: str, suffix: str, kto: bool, include: list[str],
               progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[list[str], str]:  # noqa: B008 - Gradio's idiom
        try:
            return self.admin.export(password, format_name, suffix, kto, include or [], progress=True)
        except AdminRefused as exc:
            raise gr.Error(str(exc), print_exception=False) from None
