"""The Admin tab's service: one password from the environment, compared in constant time, in front of every action.

The gate is checked by every admin action on the server, not only when the tab
is unlocked, so calling an admin endpoint directly without the password fails
the same way. With no password configured the admin actions refuse everything.
:class:`AdminService` holds what the actions need (the store, the pool, the
reloader, the export folder), so the tab is widgets only.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from arena.activity import FlaggedBattle, battle_transcripts, flagged_battles, votes_per_day, votes_per_model
from arena.export import ExportFilters, run_export
from arena.export.formats import FORMAT_NAMES
from arena.judge_report import AgreementService
from arena.pool import ModelPool
from arena.reload import ModelsReloader
from arena.store import Store
from arena.suspicion_service import Suspicion, SuspicionService

log = logging.getLogger(__name__)


class AdminRefused(PermissionError):
    """The caller did not present the admin password (or none is configured)."""


class AdminGate:
    def __init__(self, password: str) -> None:
        self._password = password.encode("utf-8")

    @property
    def configured(self) -> bool:
        return bool(self._password)

    def allows(self, attempt: str | None) -> bool:
        """True only for the configured password (constant-time comparison; never when unset)."""
        if not self._password or not attempt:
            return False
        return hmac.compare_digest(self._password, attempt.encode("utf-8"))

    def require(self, attempt: str | None) -> None:
        if not self.configured:
            raise AdminRefused("The Admin tab is disabled: set ARENA_ADMIN_PASSWORD to enable it.")
        if not self.allows(attempt):
            raise AdminRefused("Wrong admin password.")


INCLUDE_CHOICES = [
    ("side-by-side (named) battles", "named"),
    ("identity-leaked battles", "leaked"),
    ("battles with errors", "errored"),
    ("unfinished answers", "unfinished"),
    ("moderated battles", "moderated"),
]


@dataclass(frozen=True)
class Activity:
    """What the Admin tab's activity panel shows: votes per day and per model, the newest flagged battles."""

    per_day: list[tuple[date, int]]
    per_model: list[tuple[str, int]]
    flagged: list[FlaggedBattle]


class AdminService:
    """Everything the Admin tab may do, each action behind the gate: the tab itself never holds the store.

    *pool* None (no models to manage) leaves the models panel out of the tab.
    """

    def __init__(self, gate: AdminGate, store: Store, export_root: Path, *, pool: ModelPool | None = None,
                 reloader: ModelsReloader | None = None, agreements: AgreementService | None = None,
                 suspicion: SuspicionService | None = None) -> None:
        self.gate, self.store, self.export_root = gate, store, export_root
        self.pool, self.reloader = pool, reloader
        self.agreements = agreements or AgreementService(store)
        self.suspicion = suspicion or SuspicionService(store)

    @property
    def configured(self) -> bool:
        return self.gate.configured

    @property
    def manages_models(self) -> bool:
        return self.pool is not None

    def agreement(self, password: str) -> str:
        """The AI judges' agreement with the human votes, as Markdown (refuses without the password)."""
        self.gate.require(password)
        return self.agreements.markdown()

    def suspicious_voters(self, password: str) -> Suspicion:
        """The voters flagged as suspicious, with the evidence (refuses without the password)."""
        self.gate.require(password)
        return self.suspicion.get()

    def models_status(self, password: str) -> str:
        """Every model's health (healthy or why not) and the outcome of the last models.yaml reload."""
        self.gate.require(password)
        return self._models_markdown()

    def reload(self, password: str) -> str:
        """Reload models.yaml now (refuses without the password); the status table with the outcome."""
        self.gate.require(password)
        if self.reloader is None:
            raise ValueError("this app was started without a models.yaml to reload")
        self.reloader.reload()
        return self._models_markdown()

    def activity(self, password: str) -> Activity:
        """Votes per day and per model, flagged battles. Refuses without the password."""
        self.gate.require(password)
        return Activity(votes_per_day(self.store), votes_per_model(self.store), flagged_battles(self.store))

    def transcript(self, password: str, battle_id: str) -> str:
        """Both sides of a battle as markdown, for reviewing a flag. Refuses without the password."""
        self.gate.require(password)
        if not battle_id:
            return ""
        sides = battle_transcripts(self.store, battle_id)
        parts = []
        for side in sorted(sides):
            parts.append(f"#### Side {side}")
            parts += [f"**{role}:** {content}" for role, content in sides[side]]
        return "\n\n".join(parts) or "No messages stored for this battle."

    def export(self, password: str, format_name: str, suffix: str, ties_as_kto: bool, include: list[str],
               progress: bool = False) -> tuple[list[str], str]:
        """Run an export into its own timestamped folder; (files to download, summary markdown). Refuses without the password."""
        self.gate.require(password)
        if format_name not in FORMAT_NAMES:
            raise ValueError(f"unknown format {format_name!r}")
        kto = "-kto" if ties_as_kto else ""
        folder = self.export_root / f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{format_name}{kto}"
        out = folder / f"{format_name}{kto}{suffix}"
        filters = ExportFilters(include_named="named" in include, include_leaked="leaked" in include,
                                include_errored="errored" in include, include_unfinished="unfinished" in include,
                                include_moderated="moderated" in include)  # the values of INCLUDE_CHOICES
        summary = run_export(self.store, format_name, out, filters, ties="kto" if ties_as_kto and format_name == "pairwise" else "drop",
                             progress=progress, command=f"Admin tab export: {format_name}{' (ties as KTO)' if ties_as_kto else ''},"
                             f" including {', '.join(include) or 'defaults only'}")
        log.info("admin export %s: %d rows in %s", format_name, summary.rows_written, folder)
        files = [str(out)] + ([str(summary.datasheet)] if summary.datasheet else [])
        return files, "\n".join(f"- {line}" for line in summary.lines())

    def _models_markdown(self) -> str:
        statuses, endpoints = (self.pool.statuses(), self.pool.endpoint_rows()) if self.pool is not None else ([], [])
        lines = ["| Model | Status | Detail |", "|---|---|---|"]
        for status in statuses:
            lines.append(f"| {status.name} | {'✅ healthy' if status.available else '⛔ unavailable'} | {status.detail} |")
        lines += ["", "| Model | Endpoint | Status | Latency | Served ids |", "|---|---|---|---|---|"]
        lines += [f"| {' | '.join(row)} |" for row in endpoints]
        if self.reloader is not None and self.reloader.last is not None:
            last = self.reloader.last
            lines += ["", f"Last reload ({last.at:%Y-%m-%d %H:%M:%S} UTC): {'✅' if last.ok else '❌'} {last.message}"]
        return "\n".join(lines)
