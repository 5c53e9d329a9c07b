"""AI judges' verdicts in the export: read beside each chunk of votes, and the ``--labels`` choice of whose preference counts.

Verdicts (``a``, ``b``, ``tie``, naming the original sides) are read with one
query per chunk keyed by vote id, like the transcripts, so export speed stays
flat. Only judgements with status ``done`` count; a battle without one has an
empty mapping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Protocol, Sequence

from sqlalchemy import select

from arena.tables import Judgement

if TYPE_CHECKING:
    from arena.store import Store


class ExportedBattle(Protocol):
    """What this module reads of arena.export.source.ExportedBattle (a protocol: source imports this module)."""

    vote_id: int
    winner: str
    human_winner: str
    ai: dict[str, str]

AS_WINNER = {"a": "model_a", "b": "model_b", "tie": "tie"}  # a judge's verdict in the vote's winner vocabulary
LABEL_KINDS = ("human", "ai", "agree")


class UnknownJudge(ValueError):
    """``--labels`` names a judge without any judgements in the store."""


ANY_JUDGE = "*"  # plain ``agree``: every judge that gave the battle a verdict


def parse_labels(labels: str) -> tuple[str, str | None]:
    """``human`` → (human, None); ``ai:NAME`` / ``agree:NAME`` → (kind, NAME); ``agree`` → (agree, ANY_JUDGE); else a clear error."""
    if labels == "human":
        return "human", None
    if labels == "agree":
        return "agree", ANY_JUDGE
    kind, _, name = labels.partition(":")
    if kind not in ("ai", "agree") or not name.strip():
        raise ValueError(f"--labels must be human, ai:NAME, agree or agree:NAME, got {labels!r}")
    return kind, name.strip()


def check_labels(store: Store, labels: str) -> None:
    """Fail before any work when *labels* names a judge that has no judgements (listing those that do)."""
    _, name = parse_labels(labels)
    if name is None:
        return
    if name == ANY_JUDGE:
        if not store.judgement_counts():
            raise UnknownJudge("--labels agree needs judgements, and the store has none (python -m arena judge)")
        return
    judges = sorted(store.judgement_counts())
    if name not in judges:
        raise UnknownJudge(f"no judgements by {name!r} in the store; judges with judgements: {', '.join(judges) or 'none'}")


def attach_verdicts(store: Store, battles: Sequence[ExportedBattle]) -> None:
    """Fill each battle's ``ai`` mapping (judge → verdict) from its vote's ``done`` judgements, in one query."""
    if not battles:
        return
    by_vote = {b.vote_id: b for b in battles}
    query = (select(Judgement.vote_id, Judgement.judge, Judgement.verdict)
             .where(Judgement.vote_id.in_(list(by_vote)), Judgement.status == "done", Judgement.verdict.is_not(None)))
    with store.engine.connect() as conn:
        for vote_id, judge, verdict in conn.execute(query):
            by_vote[vote_id].ai[judge] = str(verdict)


def label_reason(battle: ExportedBattle, labels: str) -> str | None:
    """Apply *labels* to *battle*: None to keep it (its ``winner`` then the label's), or why it is dropped."""
    kind, name = parse_labels(labels)
    if name is None:
        return None
    if name == ANY_JUDGE:
        if not battle.ai:
            return "not judged by any judge"
        disagreeing = sorted(judge for judge, verdict in battle.ai.items() if AS_WINNER[verdict] != battle.winner)
        return f"human vote and {disagreeing[0]} disagree" if disagreeing else None
    verdict = battle.ai.get(name)
    if verdict is None:
        return f"not judged by {name}"
    if kind == "ai":
        battle.human_winner, battle.winner = battle.winner, AS_WINNER[verdict]
        return None
    if AS_WINNER[verdict] != battle.winner:
        return f"human vote and {name} disagree"
    return None


def ai_winner(ai: dict[str, str], terms: dict[str, str]) -> list[dict[str, str]]:
    """The row's ``ai_winner`` column: one {judge, verdict} per judge, the verdict translated by *terms* (a, b, tie → the row's words)."""
    return [{"judge": judge, "verdict": terms[verdict]} for judge, verdict in sorted(ai.items())]


def agreement_counts(battles: Iterable[ExportedBattle]) -> tuple[dict[str, int], dict[str, int]]:
    """Per judge: battles where the human vote and the judge both pick a side, and those where they pick the same one."""
    decisive: dict[str, int] = {}
    agreed: dict[str, int] = {}
    for b in battles:
        human = b.human_winner or b.winner
        if human not in ("model_a", "model_b"):
            continue
        for judge, verdict in b.ai.items():
            if verdict in ("a", "b"):
                decisive[judge] = decisive.get(judge, 0) + 1
                agreed[judge] = agreed.get(judge, 0) + (AS_WINNER[verdict] == human)
    return decisive, agreed


def describe_labels(labels: str) -> str:
    """Whose preference the chosen/rejected (and KTO) labels are, for the datasheet."""
    kind, name = parse_labels(labels)
    if kind == "ai":
        return f"chosen/rejected by the AI judge {name} (RLAIF); battles {name} did not judge validly are dropped"
    if kind == "agree" and name == ANY_JUDGE:
        return "chosen/rejected by the human vote, kept only where every AI judge that judged the battle agrees with it"
    if kind == "agree":
        return f"chosen/rejected by the human vote, kept only where the human vote and the AI judge {name} agree"
    return "chosen/rejected by the human vote"
