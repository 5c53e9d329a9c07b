"""The one function that turns the store into a leaderboard: UI, CLI and benchmarks call it."""

from __future__ import annotations

from arena.config import ModelCatalogue
from arena.ratings import leaderboard
from arena.store import Store


def leaderboard_rows(store: Store, catalogue: ModelCatalogue | None = None, *, min_votes: int = 0) -> list[dict]:
    """Rows (rank, model, score, votes, wins, organization, license, link) for the default category."""
    rows = leaderboard(store.outcome_counts(anonymous_only=True, exclude_flagged=True), min_votes=min_votes)
    meta = {m.name: m for m in catalogue.models} if catalogue else {}
    out = []
    for row in rows:
        spec = meta.get(row.model)
        out.append(
            {
                "rank": row.rank,
                "model": row.model,
                "score": row.score,
                "votes": row.votes,
                "wins": row.wins,
                "organization": (spec.organization if spec else None) or "",
                "license": (spec.license if spec else None) or "",
                "link": (spec.link if spec else None) or "",
            }
        )
    return out
