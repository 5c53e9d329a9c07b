"""Judging beside the running app: the background pass over new votes, ARENA_JUDGING, the Admin tab's report, reloads."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable

import pytest

from arena.admin import AdminGate, AdminRefused, AdminService
from arena.judge_kinds import JudgeLimits
from arena.judges.base import JudgeInput, Reading
from arena.judges.rules import RuleJudge
from arena.judging import BackgroundJudging, background_judges, pool_judges
from arena.reload import ModelsReloader
from arena.settings import Settings, SettingsError
from arena.store import Store
from tests.helpers import battle, make_arena
from tests.upstream import Behavior


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
    judging = BackgroundJudging(store, lambda: ([RuleJudge("longer", "longer")], JudgeLimits(concurrency={"longer": 1})),
                                every_s=0.05)

    async def scenario() -> None:
        loop = asyncio.create_task(judging.run())
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


# --- judges follow a reload of models.yaml ----------------------------------------------------

def judges_yaml(url: str, judges: str) -> str:
    return f'models:\n  - name: Alpha\n    backend: openai\n    endpoints: ["{url}"]\n    model: test-model\njudges:\n{judges}'


LONGER = "  - {name: longer-answer, kind: rule, rule: longer}\n"
SWITCHED = "  - {name: longer-answer, kind: rule, rule: longer, enabled: false}\n  - {name: more-markdown, kind: rule, rule: markdown}\n"


def finished(store: Store, judge: str) -> int:
    """*judge*'s rows that are no longer pending."""
    counts = store.judgement_counts(judge).get(judge, {})
    return sum(counts.values()) - counts.get("pending", 0)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for *condition*, with a deadline generous enough for a loaded machine (a failure, not a measure)."""
    for _ in range(1200):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"still waiting for {what}")


def test_the_background_judges_follow_a_reload_and_a_bad_edit_changes_nothing(tmp_path: Path, sqlite_url: str, up,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Added and disabled judges apply to the next pass; the old judges are closed; a refused edit leaves them be."""
    arena = make_arena(tmp_path, judges_yaml(up.url, LONGER), sqlite_url)
    store, path = arena.store, tmp_path / "models.yaml"
    reloader = ModelsReloader(arena, path)
    # Passes run at start and when a reload wakes the loop, never on a timer here: which judges saw which votes is exact.
    judging = BackgroundJudging(store, lambda: pool_judges(arena.pool, "rules"), every_s=3600)
    reloader.on_reload(judging.reloaded)
    closed: list[str] = []
    (old_judge,) = judging.worker.judges

    async def note_closed() -> None:
        closed.append(old_judge.name)

    monkeypatch.setattr(old_judge, "aclose", note_closed)
    admin = AdminService(AdminGate("secret"), store, tmp_path, pool=arena.pool, reloader=reloader)

    async def scenario() -> None:
        store.insert_battles([battle(i, "alpha", "beta", "model_a") for i in range(3)])
        task = asyncio.create_task(judging.run())
        await until(lambda: finished(store, "longer-answer") == 3, "longer-answer to judge the first votes")
        store.insert_battles([battle(10 + i, "alpha", "beta", "model_b") for i in range(2)])  # no pass until the reload
        path.write_text(judges_yaml(up.url, SWITCHED))
        result = await asyncio.to_thread(reloader.reload)
        assert result.ok and "judges: more-markdown" in result.message, result.message
        await until(lambda: finished(store, "more-markdown") == 5, "more-markdown to judge every vote")
        assert judging.judge_names() == ["more-markdown"] and closed == ["longer-answer"]
        assert sum(store.judgement_counts("longer-answer")["longer-answer"].values()) == 3  # nothing new for the disabled one

        before = judging.worker
        path.write_text(judges_yaml(up.url, SWITCHED + "  - {name: shortest, kind: rule, rule: shortest}\n"))
        bad = await asyncio.to_thread(reloader.reload)
        assert not bad.ok and reloader.version == 1
        for part in (str(path), "judge 'shortest' (entry 3)", "field 'rule'", "previous configuration stays active"):
            assert part in bad.message, bad.message
        assert "❌" in admin.models_status("secret") and "judge 'shortest'" in admin.models_status("secret")
        store.insert_battles([battle(20, "alpha", "beta", "tie")])
        judging.reloaded(reloader.version)  # wake a pass by hand: the same judges, from the configuration still active
        await until(lambda: finished(store, "more-markdown") == 6, "more-markdown to judge the last vote")
        assert judging.worker is before and judging.judge_names() == ["more-markdown"]
        task.cancel()

    try:
        asyncio.run(scenario())
    finally:
        store.close()


class _GatedJudge:
    """A judge whose readings wait for a gate, so a pass can be held open; it notes when it is closed."""

    kind = "rule"

    def __init__(self, name: str) -> None:
        self.name, self.gate, self.reading, self.closed = name, asyncio.Event(), asyncio.Event(), False

    async def read(self, item: JudgeInput) -> Reading:
        self.reading.set()
        await self.gate.wait()
        return Reading(verdict="a")

    async def aclose(self) -> None:
        self.closed = True


def test_a_pass_in_progress_finishes_with_its_judges_before_they_are_replaced(store: Store) -> None:
    store.insert_battles([battle(i, "alpha", "beta", "model_a") for i in range(2)])

    async def scenario() -> None:
        first = _GatedJudge("first")
        made = iter([[first], [RuleJudge("second", "longer")]])
        judging = BackgroundJudging(store, lambda: (next(made), JudgeLimits()), every_s=3600)
        task = asyncio.create_task(judging.run())
        await asyncio.wait_for(first.reading.wait(), 60)
        judging.reloaded(1)  # mid-pass
        for _ in range(20):
            await asyncio.sleep(0)
        assert judging.judge_names() == ["first"] and not first.closed  # the pass still holds its judge
        first.gate.set()
        await until(lambda: finished(store, "second") == 2, "the new judge to judge both votes")
        assert finished(store, "first") == 2 and first.closed
        task.cancel()

    asyncio.run(scenario())


def test_an_llm_judge_follows_its_models_new_backend_after_a_reload(tmp_path: Path, sqlite_url: str, up, up2) -> None:
    verdict = Behavior(reply="Rationale: the first is fine.\nVerdict: 1")
    up.behavior = up2.behavior = verdict
    judge = "  - {name: alpha-judge, kind: llm, model: Alpha}\n"
    arena = make_arena(tmp_path, judges_yaml(up.url, judge), sqlite_url)
    reloader = ModelsReloader(arena, tmp_path / "models.yaml")
    judging = BackgroundJudging(arena.store, lambda: pool_judges(arena.pool, "all"), every_s=3600)
    reloader.on_reload(judging.reloaded)

    async def scenario() -> None:
        arena.store.insert_battles([battle(1, "alpha", "beta", "model_a")])
        task = asyncio.create_task(judging.run())
        await until(lambda: finished(arena.store, "alpha-judge") == 1, "the first vote's judgement")
        assert len(up.requests) == 2 and not up2.requests  # both orders, on the old endpoint
        arena.store.insert_battles([battle(2, "alpha", "beta", "model_a")])
        (tmp_path / "models.yaml").write_text(judges_yaml(up2.url, judge))  # Alpha moves: a new backend
        assert (await asyncio.to_thread(reloader.reload)).ok
        await until(lambda: finished(arena.store, "alpha-judge") == 2, "the second vote's judgement")
        assert len(up.requests) == 2 and len(up2.requests) == 2
        (new_judge,) = judging.worker.judges
        assert new_judge.backend is arena.pool.backends["Alpha"]  # type: ignore[attr-defined]
        task.cancel()

    try:
        asyncio.run(scenario())
    finally:
        arena.store.close()
