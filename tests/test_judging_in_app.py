"""Judging beside the running app: the background pass over new votes, ARENA_JUDGING, the Admin tab's report."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from arena.admin import AdminGate, AdminRefused, AdminService
from arena.judges.rules import RuleJudge
from arena.judging import JudgingWorker, background_judges, judge_new_votes
from arena.settings import Settings, SettingsError
from arena.store import Store
from tests.helpers import battle


def done(store: Store) -> dict[str, int]:
    """The longer-answer judge's rows per status."""
    return store.judgement_counts("longer").get("longer", {})


class _Kind:
    def __init__(self, name: str, kind: str) -> None:
        self.name, self.kind = name, kind


def test_the_app_runs_only_the_rule_judges_by_default() -> None:
    judges = [_Kind("longer", "rule"), _Kind("embedded-judge", "llm"), _Kind("rm", "reward")]
    assert [j.name for j in background_judges(judges, "rules")] == ["longer"]  # type: ignore[arg-type]
    assert [j.name for j in background_judges(judges, "all")] == ["longer", "embedded-judge", "rm"]  # type: ignore[arg-type]
    assert background_judges(judges, "off") == []  # type: ignore[arg-type]
    assert Settings.from_env({}).judging == "rules"
    with pytest.raises(SettingsError, match="ARENA_JUDGING='some'"):
        Settings.from_env({"ARENA_JUDGING": "some"})


def test_new_votes_are_judged_in_the_background_and_reported_to_the_admin(store: Store, tmp_path: Path) -> None:
    """Votes arrive while the background loop runs; each is judged once, and the Admin tab's report counts them."""
    judge = RuleJudge("longer", "longer")
    worker = JudgingWorker(store, [judge], concurrency=1)

    async def scenario() -> None:
        loop = asyncio.create_task(judge_new_votes(worker, every_s=0.05))
        store.insert_battles([battle(i, "alpha", "beta", ["model_a", "model_b", "tie"][i % 3]) for i in range(6)])
        for _ in range(200):
            await asyncio.sleep(0.05)
            if sum(done(store).values()) - done(store).get("pending", 0) == 6:
                break
        store.insert_battles([battle(10 + i, "alpha", "beta", "model_a") for i in range(3)])  # later votes: the next passes
        for _ in range(200):
            await asyncio.sleep(0.05)
            if sum(done(store).values()) == 9 and not done(store).get("pending"):
                break
        loop.cancel()

    asyncio.run(scenario())
    counts = done(store)
    assert sum(counts.values()) == 9 and not counts.get("pending"), counts
    admin = AdminService(AdminGate("secret"), store, tmp_path)
    with pytest.raises(AdminRefused):
        admin.agreement("wrong")
    report = admin.agreement("secret")
    assert "| longer | 9 |" in report and "Cohen's κ" in report
