"""The Admin tab: password-gated operations: model status and reload, activity and flagged battles, exports.

Every action takes the password field as an input and checks it on the server
(:class:`arena.admin.AdminGate`), so the tab's endpoints refuse a caller
without the password just as the tab does. Voters see a locked panel.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import gradio as gr

from arena.activity import battle_transcripts, flagged_battles, votes_per_day, votes_per_model
from arena.admin import AdminGate, AdminRefused
from arena.export import ExportFilters, run_export
from arena.export.formats import FORMAT_NAMES
from arena.reload import ModelsReloader
from arena.service import Arena
from arena.store import Store
from arena.ui.errors import friendly_errors

log = logging.getLogger(__name__)

INCLUDE_CHOICES = [
    ("side-by-side (named) battles", "named"),
    ("identity-leaked battles", "leaked"),
    ("battles with errors", "errored"),
    ("unfinished answers", "unfinished"),
    ("moderated battles", "moderated"),
]


def export_for_admin(gate: AdminGate, store: Store, export_root: Path, password: str, format_name: str, suffix: str,
                     ties_as_kto: bool, include: list[str], progress: bool = False) -> tuple[list[str], str]:
    """Run an export into its own timestamped folder; (files to download, summary markdown). Refuses without the password."""
    gate.require(password)
    if format_name not in FORMAT_NAMES:
        raise ValueError(f"unknown format {format_name!r}")
    folder = export_root / f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{format_name}{'-kto' if ties_as_kto else ''}"
    out = folder / f"{format_name}{'-kto' if ties_as_kto else ''}{suffix}"
    filters = ExportFilters(**{f"include_{value}": value in include for _, value in INCLUDE_CHOICES})
    summary = run_export(store, format_name, out, filters, ties="kto" if ties_as_kto and format_name == "pairwise" else "drop",
                         progress=progress, command=f"Admin tab export: {format_name}{' (ties as KTO)' if ties_as_kto else ''},"
                         f" including {', '.join(include) or 'defaults only'}")
    log.info("admin export %s: %d rows in %s", format_name, summary.rows_written, folder)
    files = [str(out)] + ([str(summary.datasheet)] if summary.datasheet else [])
    return files, "\n".join(f"- {line}" for line in summary.lines())


def models_status_markdown(arena: Arena, reloader: ModelsReloader | None) -> str:
    """Every model's health (healthy or why not) and the outcome of the last models.yaml reload."""
    lines = ["| Model | Status | Detail |", "|---|---|---|"]
    for status in arena.pool.statuses():
        lines.append(f"| {status.name} | {'✅ healthy' if status.available else '⛔ unavailable'} | {status.detail} |")
    lines += ["", "| Model | Endpoint | Status | Latency | Served ids |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in arena.pool.endpoint_rows()]
    if reloader is not None and reloader.last is not None:
        last = reloader.last
        lines += ["", f"Last reload ({last.at:%Y-%m-%d %H:%M:%S} UTC): {'✅' if last.ok else '❌'} {last.message}"]
    return "\n".join(lines)


def reload_for_admin(gate: AdminGate, arena: Arena, reloader: ModelsReloader | None, password: str) -> str:
    """Reload models.yaml now (refuses without the password); the status table with the outcome."""
    gate.require(password)
    if reloader is None:
        raise ValueError("this app was started without a models.yaml to reload")
    reloader.reload()
    return models_status_markdown(arena, reloader)


def activity_for_admin(gate: AdminGate, store: Store, password: str):  # noqa: ANN201 - (figure, figure, rows, choices)
    """Votes per day and per model (plots), flagged battles (rows and their ids). Refuses without the password."""
    import plotly.graph_objects as go

    gate.require(password)
    days = votes_per_day(store)
    per_day = go.Figure(go.Bar(x=[d.isoformat() for d, _ in days], y=[n for _, n in days]))
    per_day.update_layout(title="Votes per day (last 30 days, UTC)", height=320, margin={"l": 40, "r": 10, "t": 50, "b": 60})
    models = votes_per_model(store)
    per_model = go.Figure(go.Bar(x=[m for m, _ in models], y=[n for _, n in models]))
    per_model.update_layout(title="Votes per model (either side)", height=320, margin={"l": 40, "r": 10, "t": 50, "b": 100})
    flagged = flagged_battles(store)
    rows = [[f.created_at.strftime("%Y-%m-%d %H:%M"), f.battle_id, f.mode, f.model_a, f.model_b, ", ".join(f.reasons), f.detail[:200]]
            for f in flagged]
    return per_day, per_model, rows, [f.battle_id for f in flagged]


def transcript_for_admin(gate: AdminGate, store: Store, password: str, battle_id: str) -> str:
    """Both sides of a battle as markdown, for reviewing a flag. Refuses without the password."""
    gate.require(password)
    if not battle_id:
        return ""
    sides = battle_transcripts(store, battle_id)
    parts = []
    for side in sorted(sides):
        parts.append(f"#### Side {side}")
        parts += [f"**{role}:** {content}" for role, content in sides[side]]
    return "\n\n".join(parts) or "No messages stored for this battle."


class AdminTab:
    def __init__(self, gate: AdminGate, store: Store, export_root: Path, arena: Arena | None = None,
                 reloader: ModelsReloader | None = None) -> None:
        self.gate, self.store, self.export_root = gate, store, export_root
        self.arena, self.reloader = arena, reloader
        if not gate.configured:
            gr.Markdown("The Admin tab is disabled: set `ARENA_ADMIN_PASSWORD` to enable it.", elem_id="admin-disabled")
        self.password = gr.Textbox(label="Admin password", type="password", elem_id="admin-password", max_lines=1)
        if arena is not None:
            with gr.Group():
                gr.Markdown("### Models\nEdits to models.yaml are picked up by themselves; Reload applies them now.")
                with gr.Row():
                    status = gr.Button("Show status", elem_id="admin-status")
                    reload = gr.Button("Reload models.yaml", elem_id="admin-reload")
                self.status = gr.Markdown(elem_id="admin-models")
            status.click(self.show_status, inputs=[self.password], outputs=[self.status], api_name="admin_status")
            reload.click(self.reload, inputs=[self.password], outputs=[self.status], api_name="admin_reload")
        with gr.Group():
            gr.Markdown("### Activity")
            show = gr.Button("Show activity", elem_id="admin-activity")
            with gr.Row():
                per_day, per_model = gr.Plot(label="Votes per day"), gr.Plot(label="Votes per model")
            flagged = gr.Dataframe(headers=["Time (UTC)", "Battle", "Mode", "Model A", "Model B", "Flags", "Detail"],
                                   label="Flagged battles (identity leak, moderation, errors)", interactive=False, wrap=True)
            pick = gr.Dropdown(label="Review a flagged battle", choices=[], allow_custom_value=True,  # choices change; the store checks
                               elem_id="admin-flagged-pick")
            transcript = gr.Markdown(elem_id="admin-transcript")
        show.click(self.activity, inputs=[self.password], outputs=[per_day, per_model, flagged, pick], api_name="admin_activity")
        pick.change(self.transcript, inputs=[self.password, pick], outputs=[transcript], api_name="admin_transcript")
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
            self.gate.require(password)
        except AdminRefused as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return models_status_markdown(self.arena, self.reloader)

    @friendly_errors
    def reload(self, password: str) -> str:
        try:
            return reload_for_admin(self.gate, self.arena, self.reloader, password)
        except (AdminRefused, ValueError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    @friendly_errors
    def activity(self, password: str):  # noqa: ANN201 - Gradio outputs
        try:
            per_day, per_model, rows, ids = activity_for_admin(self.gate, self.store, password)
        except AdminRefused as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return per_day, per_model, rows, gr.update(choices=ids, value=None)

    @friendly_errors
    def transcript(self, password: str, battle_id: str | None) -> str:
        try:
            return transcript_for_admin(self.gate, self.store, password, battle_id or "")
        except AdminRefused as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    @friendly_errors
    def export(self, password: str, format_name: str, suffix: str, kto: bool, include: list[str],
               progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[list[str], str]:  # noqa: B008 - Gradio's idiom
        try:
            return export_for_admin(self.gate, self.store, self.export_root, password, format_name, suffix, kto, include or [],
                                    progress=True)
        except AdminRefused as exc:
            raise gr.Error(str(exc), print_exception=False) from None
