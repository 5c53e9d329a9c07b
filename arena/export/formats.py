"""The export formats: each turns a stream of kept battles into rows, with a fixed column schema.

* ``battles``  – FastChat / ``chatbot_arena_conversations`` layout (``import-battles`` reads it back).
* ``pairwise`` – TRL's conversational preference format (``prompt``, ``chosen``, ``rejected``),
  for ``DPOTrainer`` and ``RewardTrainer``; ties and both-bad votes are dropped.
* ``kto``      – TRL's unpaired preference format (``prompt``, ``completion``, ``label``), for
  ``KTOTrainer``: the winner's answer is desirable, the loser's not; a tie makes both
  desirable, a both-bad vote both undesirable (``export --format pairwise --ties kto``).
* ``kwise``    – Nectar-style rankings: single-turn battles on the same prompt grouped, each
  model's answer ranked by a Bradley–Terry fit of that prompt's own votes.
* ``sharegpt`` – the preferred conversation in ShareGPT form, for supervised fine-tuning.

Pairwise and KTO rows split each battle at the longest run of messages both
sides share that ends with a user turn: that run is the ``prompt`` and each
side's remaining messages are its completion. For a single-turn battle that is
the user's question and one answer each; in a multi-turn battle the sides'
histories differ after the first answer, so the completions carry the later
user turns too (the vote judged the whole conversation).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator

import pyarrow as pa

from arena.domain import OUTCOME_SCORE
from arena.export.labels import ai_winner
from arena.export.source import Drops, ExportedBattle, ExportOrder, Turns

SOURCE = "starling-arena"
MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
AI_WINNER = pa.list_(pa.struct([("judge", pa.string()), ("verdict", pa.string())]))  # AI judges' verdicts in the row's terms
# K-wise: per judge, its top answer's model and the rank it gives each answer, in the row's answer order.
KWISE_AI = pa.list_(pa.struct([("judge", pa.string()), ("verdict", pa.string()), ("ranks", pa.list_(pa.int64()))]))
BATTLE_TERMS = {"a": "model_a", "b": "model_b", "tie": "tie"}
CHOSEN_A = {"a": "chosen", "b": "rejected", "tie": "tie"}   # pairwise, side a chosen
CHOSEN_B = {"a": "rejected", "b": "chosen", "tie": "tie"}
GOOD_A = {"a": "good", "b": "bad", "tie": "tie"}            # KTO, relative to the row's completion (side a's)
GOOD_B = {"a": "bad", "b": "good", "tie": "tie"}
SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt"}


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    schema: pa.Schema
    order: ExportOrder                                         # "vote" or "prompt" (grouped by prompt hash)
    rows: Callable[[Iterable[ExportedBattle], Drops], Iterator[dict]]
    trainers: str                                              # what reads it, for the datasheet


# ------------------------------------------------------------------ battles
def battle_rows(battles: Iterable[ExportedBattle], drops: Drops) -> Iterator[dict]:
    for b in battles:
        yield {
            "question_id": b.battle_id, "model_a": b.model_a, "model_b": b.model_b, "winner": b.winner, "judge": b.judge,
            "conversation_a": b.conversation_a, "conversation_b": b.conversation_b, "turn": b.turns,
            "anony": b.mode == "anony", "language": b.language, "tstamp": b.voted_at.timestamp(),
            "leak_flag": b.leak_flag, "error_flag": b.error_flag, "moderation_flag": b.moderation_flag,
            "ai_winner": ai_winner(b.ai, BATTLE_TERMS),
        }


BATTLES = Format(
    "battles", "one battle per row in the FastChat / chatbot_arena_conversations layout",
    pa.schema([("question_id", pa.string()), ("model_a", pa.string()), ("model_b", pa.string()), ("winner", pa.string()),
               ("judge", pa.string()), ("conversation_a", MESSAGES), ("conversation_b", MESSAGES), ("turn", pa.int64()),
               ("anony", pa.bool_()), ("language", pa.string()), ("tstamp", pa.float64()), ("leak_flag", pa.bool_()),
               ("error_flag", pa.bool_()), ("moderation_flag", pa.bool_()), ("ai_winner", AI_WINNER)]),
    "vote", battle_rows, "FastChat's elo_analysis.py, this arena's import-battles",
)


# ----------------------------------------------------------------- pairwise
Message = dict[str, str]


def last_turn(conversation: list[Message]) -> tuple[list[Message], list[Message]]:
    """(*conversation* up to and including its last user message, the answer after it).

    What DPO needs: a trainer treats the completion as the policy's own output,
    so a completion that holds a later user turn would train the model to write
    the voter's follow-up.
    """
    last_user = max((i for i, m in enumerate(conversation) if m["role"] == "user"), default=-1)
    return conversation[:last_user + 1], conversation[last_user + 1:]


def pairwise_rows(battles: Iterable[ExportedBattle], drops: Drops, turns: Turns = "last") -> Iterator[dict]:
    """Chosen and rejected per decided vote; with *turns* ``last`` the earlier turns (the winner's) join the prompt."""
    for b in battles:
        if b.winner not in ("model_a", "model_b"):
            drops.add("tie (pairwise needs a preference; --ties kto keeps ties)" if b.winner == "tie" else "both bad (pairwise needs a preference)")
            continue
        prompt, rest_a, rest_b = b.prompt, b.rest_a, b.rest_b
        if not prompt:
            drops.add("no shared prompt")
            continue
        a_won = b.winner == "model_a"
        chosen, rejected = (rest_a, rest_b) if a_won else (rest_b, rest_a)
        if turns == "last":
            prompt, chosen = last_turn(prompt + chosen)
            rejected = last_turn(b.prompt + rejected)[1]
            if not chosen or not rejected:
                drops.add("no final answer")
                continue
        yield {
            "prompt": prompt, "chosen": chosen, "rejected": rejected,
            "chosen_model": b.model_a if a_won else b.model_b, "rejected_model": b.model_b if a_won else b.model_a,
            "battle_id": b.battle_id, "ai_winner": ai_winner(b.ai, CHOSEN_A if a_won else CHOSEN_B),
        }


PAIRWISE = Format(
    "pairwise", "TRL conversational preference pairs (prompt, chosen, rejected)",
    pa.schema([("prompt", MESSAGES), ("chosen", MESSAGES), ("rejected", MESSAGES), ("chosen_model", pa.string()),
               ("rejected_model", pa.string()), ("battle_id", pa.string()), ("ai_winner", AI_WINNER)]),
    "vote", pairwise_rows, "TRL DPOTrainer, RewardTrainer (and other pairwise preference trainers)",
)


# ---------------------------------------------------------------------- kto
def kto_rows(battles: Iterable[ExportedBattle], drops: Drops, turns: Turns = "last") -> Iterator[dict]:
    """Two unpaired rows per vote; with *turns* ``last`` each side's own earlier turns are its row's prompt."""
    labels = {"model_a": (True, False), "model_b": (False, True), "tie": (True, True), "tie (bothbad)": (False, False)}
    for b in battles:
        if not b.prompt:
            drops.add("no shared prompt")
            continue
        (prompt_a, rest_a), (prompt_b, rest_b) = (b.prompt, b.rest_a), (b.prompt, b.rest_b)
        if turns == "last":
            (prompt_a, rest_a), (prompt_b, rest_b) = last_turn(b.prompt + b.rest_a), last_turn(b.prompt + b.rest_b)
            if not rest_a or not rest_b:
                drops.add("no final answer")
                continue
        label_a, label_b = labels[b.winner]
        yield {"prompt": prompt_a, "completion": rest_a, "label": label_a, "model": b.model_a, "battle_id": b.battle_id,
               "ai_winner": ai_winner(b.ai, GOOD_A)}
        yield {"prompt": prompt_b, "completion": rest_b, "label": label_b, "model": b.model_b, "battle_id": b.battle_id,
               "ai_winner": ai_winner(b.ai, GOOD_B)}


KTO = Format(
    "kto", "TRL unpaired preference rows (prompt, completion, label); ties and both-bad votes kept",
    pa.schema([("prompt", MESSAGES), ("completion", MESSAGES), ("label", pa.bool_()), ("model", pa.string()),
               ("battle_id", pa.string()), ("ai_winner", AI_WINNER)]),
    "vote", kto_rows, "TRL KTOTrainer",
)


# ----------------------------------------------------------------- sharegpt
def sharegpt_rows(battles: Iterable[ExportedBattle], drops: Drops) -> Iterator[dict]:
    for b in battles:
        if b.winner == "tie (bothbad)":
            drops.add("both bad (no conversation to imitate)")
            continue
        sides = {"model_a": [("a", b.model_a)], "model_b": [("b", b.model_b)], "tie": [("a", b.model_a), ("b", b.model_b)]}[b.winner]
        for side, model in sides:
            conversation = b.conversation_a if side == "a" else b.conversation_b
            yield {"conversations": [{"from": SHAREGPT_ROLES[m["role"]], "value": m["content"]} for m in conversation],
                   "model": model, "battle_id": b.battle_id}


SHAREGPT = Format(
    "sharegpt", "the preferred conversation (both on a tie) as ShareGPT conversations",
    pa.schema([("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))),
               ("model", pa.string()), ("battle_id", pa.string())]),
    "vote", sharegpt_rows, "supervised fine-tuning (Axolotl, LLaMA-Factory, FastChat's train scripts)",
)


# -------------------------------------------------------------------- kwise
def rank_answers(models: list[str], votes: list[tuple[str, str, str]]) -> dict[str, int]:
    """Rank (1 = best) of each model from a Bradley–Terry fit of *votes* (model_a, model_b, winner); equal fits share a rank.

    Ties count as half a win each. The fit's tiny prior keeps a model with only
    wins finite, and models that never met share the rank their scores give.
    """
    import numpy as np

    from arena.ratings import Comparisons, fit_bradley_terry  # scipy: imported only when ranking

    counts: dict[tuple[str, str, str], int] = {}
    for vote in votes:
        counts[vote] = counts.get(vote, 0) + 1
    index = {m: i for i, m in enumerate(models)}
    comparisons = Comparisons(
        models=models,
        a=np.array([index[a] for a, _, _ in counts], dtype=np.int64),
        b=np.array([index[b] for _, b, _ in counts], dtype=np.int64),
        score=np.array([OUTCOME_SCORE[w] for _, _, w in counts], dtype=float),
        count=np.array(list(counts.values()), dtype=float),
    )
    theta = fit_bradley_terry(comparisons.win_matrix())
    rounded = np.round(theta, 6)
    return {m: int(1 + (rounded > rounded[i]).sum()) for m, i in index.items()}


def kwise_rows(min_answers: int) -> Callable[[Iterable[ExportedBattle], Drops], Iterator[dict]]:
    def rows(battles: Iterable[ExportedBattle], drops: Drops) -> Iterator[dict]:
        group: list[ExportedBattle] = []
        for b in battles:
            if b.turns != 1:
                drops.add("multi-turn (K-wise rankings use single-turn prompts)")
                continue
            if group and b.prompt_hash != group[0].prompt_hash:
                yield from _kwise_group(group, min_answers, drops)
                group = []
            group.append(b)
        if group:
            yield from _kwise_group(group, min_answers, drops)
    return rows


def _kwise_group(group: list[ExportedBattle], min_answers: int, drops: Drops) -> Iterator[dict]:
    answers: dict[str, str] = {}
    votes = []
    judged: dict[str, list[tuple[str, str, str]]] = {}  # judge -> its verdicts on this prompt's battles, as votes
    prompt = ""
    for b in group:
        shared, rest_a, rest_b = b.prompt, b.rest_a, b.rest_b
        if not shared or not rest_a or not rest_b:
            continue
        prompt = prompt or shared[-1]["content"]
        answers.setdefault(b.model_a, rest_a[0]["content"])  # the first answer each model gave to this prompt
        answers.setdefault(b.model_b, rest_b[0]["content"])
        votes.append((b.model_a, b.model_b, b.winner))
        for judge, verdict in b.ai.items():
            judged.setdefault(judge, []).append((b.model_a, b.model_b, BATTLE_TERMS[verdict]))
    if len(answers) < min_answers:
        drops.add(f"prompt answered by fewer than {min_answers} models", len(group))
        return
    models = sorted(answers)
    ranks = rank_answers(models, votes)
    ordered = sorted(models, key=lambda m: (ranks[m], m))
    yield {
        "prompt": prompt,
        "answers": [{"answer": answers[m], "model": m, "rank": ranks[m]} for m in ordered],
        "num_responses": len(models), "turns": 1, "source": [SOURCE], "votes": len(votes),
        "prompt_hash": group[0].prompt_hash, "ai_winner": _kwise_ai(models, ordered, judged),
    }


def _kwise_ai(models: list[str], ordered: list[str], judged: dict[str, list[tuple[str, str, str]]]) -> list[dict]:
    """Per judge, the ranks its verdicts give the row's answers (in the row's order) and its top answer's model.

    Ranked like the human ranks, by a BT fit of the judge's verdicts on this prompt's battles; answers of models
    in no battle the judge judged share the rank the fit's prior gives them.
    """
    rows: list[dict] = []
    for judge, verdicts in sorted(judged.items()):
        rank_of = rank_answers(models, verdicts)
        best = min(models, key=lambda model: (rank_of[model], model))
        rows.append({"judge": judge, "verdict": best, "ranks": [rank_of[model] for model in ordered]})
    return rows


def kwise(min_answers: int = 3) -> Format:
    return Format(
        "kwise", f"Nectar-style K-wise rankings: prompts answered by at least {min_answers} models, answers ranked by a per-prompt BT fit",
        pa.schema([("prompt", pa.string()),
                   ("answers", pa.list_(pa.struct([("answer", pa.string()), ("model", pa.string()), ("rank", pa.int64())]))),
                   ("num_responses", pa.int64()), ("turns", pa.int64()), ("source", pa.list_(pa.string())),
                   ("votes", pa.int64()), ("prompt_hash", pa.string()), ("ai_winner", KWISE_AI)]),
        "prompt", kwise_rows(min_answers), "K-wise reward-model losses (as Starling's reward model on Nectar), listwise ranking",
    )


def get_format(name: str, *, ties: str = "drop", min_answers: int = 3, turns: Turns = "last") -> Format:
    """The format called *name* (``pairwise`` with ``ties="kto"`` is the KTO format); *turns* shapes pairwise and KTO rows."""
    if name in ("pairwise", "kto"):
        fmt, rows = (KTO, kto_rows) if name == "kto" or ties == "kto" else (PAIRWISE, pairwise_rows)
        return fmt if turns == "last" else replace(fmt, rows=lambda battles, drops: rows(battles, drops, turns))
    formats = {"battles": BATTLES, "sharegpt": SHAREGPT}
    if name == "kwise":
        return kwise(min_answers)
    if name not in formats:
        raise ValueError(f"unknown export format {name!r}; choose from battles, pairwise, kwise, sharegpt")
    return formats[name]


FORMAT_NAMES = ("battles", "pairwise", "kwise", "sharegpt")
