"""What one export did: rows written, battles read and kept, why the others were dropped, per model and outcome."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from arena.export.labels import agreement_counts
from arena.export.source import ExportedBattle


@dataclass
class ExportSummary:
    format: str
    path: Path
    datasheet: Path | None = None
    rows_written: int = 0
    battles_read: int = 0
    battles_kept: int = 0
    drops: Counter = field(default_factory=Counter)
    per_model: Counter = field(default_factory=Counter)
    per_winner: Counter = field(default_factory=Counter)
    first_vote: datetime | None = None
    last_vote: datetime | None = None
    ai_decisive: Counter = field(default_factory=Counter)  # per AI judge: kept battles where human and judge both pick a side
    ai_agreed: Counter = field(default_factory=Counter)    # ... and pick the same one

    def count_kept(self, battles: list[ExportedBattle]) -> None:
        """Count a chunk of battles that passed the filters (per model, per winner, date range)."""
        if not battles:
            return
        self.battles_kept += len(battles)
        self.per_model.update(b.model_a for b in battles)
        self.per_model.update(b.model_b for b in battles)
        self.per_winner.update(b.winner for b in battles)
        decisive, agreed = agreement_counts(battles)
        self.ai_decisive.update(decisive)
        self.ai_agreed.update(agreed)
        first, last = min(b.voted_at for b in battles), max(b.voted_at for b in battles)
        self.first_vote = first if self.first_vote is None else min(self.first_vote, first)
        self.last_vote = last if self.last_vote is None else max(self.last_vote, last)

    def merged_with(self, later: ExportSummary) -> ExportSummary:
        """This part's counts followed by a later part's (vote order)."""
        firsts = [m for m in (self.first_vote, later.first_vote) if m]
        lasts = [m for m in (self.last_vote, later.last_vote) if m]
        return ExportSummary(
            format=self.format, path=later.path, rows_written=self.rows_written + later.rows_written,
            battles_read=self.battles_read + later.battles_read, battles_kept=self.battles_kept + later.battles_kept,
            drops=self.drops + later.drops, per_model=self.per_model + later.per_model, per_winner=self.per_winner + later.per_winner,
            first_vote=min(firsts) if firsts else None, last_vote=max(lasts) if lasts else None,
            ai_decisive=self.ai_decisive + later.ai_decisive, ai_agreed=self.ai_agreed + later.ai_agreed,
        )

    def to_json(self) -> dict[str, Any]:
        """The counts as JSON (how a helper process hands its part's summary back; the datasheet path stays out)."""
        return {
            "format": self.format, "path": str(self.path), "rows_written": self.rows_written, "battles_read": self.battles_read,
            "battles_kept": self.battles_kept, "drops": dict(self.drops), "per_model": dict(self.per_model),
            "per_winner": dict(self.per_winner),
            "first_vote": self.first_vote.isoformat() if self.first_vote else None,
            "last_vote": self.last_vote.isoformat() if self.last_vote else None,
            "ai_decisive": dict(self.ai_decisive), "ai_agreed": dict(self.ai_agreed),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportSummary:
        return cls(
            format=data["format"], path=Path(data["path"]), rows_written=data["rows_written"], battles_read=data["battles_read"],
            battles_kept=data["battles_kept"], drops=Counter(data["drops"]), per_model=Counter(data["per_model"]),
            per_winner=Counter(data["per_winner"]),
            first_vote=datetime.fromisoformat(data["first_vote"]) if data["first_vote"] else None,
            last_vote=datetime.fromisoformat(data["last_vote"]) if data["last_vote"] else None,
            ai_decisive=Counter(data.get("ai_decisive", {})), ai_agreed=Counter(data.get("ai_agreed", {})),
        )

    def lines(self) -> list[str]:
        """The summary as printed by the CLI."""
        out = [f"wrote {self.rows_written:,} {self.format} rows to {self.path}",
               f"read {self.battles_read:,} voted battles, {self.battles_kept:,} passed the filters"]
        out += [f"  dropped {n:,}: {reason}" for reason, n in sorted(self.drops.items(), key=lambda kv: -kv[1])]
        if self.datasheet:
            out.append(f"datasheet: {self.datasheet}")
        return out
