"""Preference-data export: every format loads with `datasets` and has what TRL's trainers read; filters; round trip."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from arena.cli import main
from arena.domain import VoteFacts
from arena.export import ExportFilters, run_export
from arena.export.formats import rank_answers
from arena.leaderboard import LeaderboardQuery, LeaderboardService
from arena.snapshot import split_prompt
from arena.store import Store
from tests.helpers import T0, battle


@pytest.fixture
def filled(store: Store) -> Store:
    """Ten clean anonymous battles plus one of each kind the defaults drop."""
    outcomes = ["model_a", "model_b", "tie", "tie (bothbad)", "model_a", "model_b", "model_a", "model_a", "model_b", "tie"]
    records = [battle(i, ["alpha", "beta", "gamma"][i % 3], ["beta", "gamma", "alpha"][i % 3], w) for i, w in enumerate(outcomes)]
    records += [
        battle(20, "alpha", "beta", "model_a", mode="named"),
        battle(21, "alpha", "beta", "model_a", leak=True),
        battle(22, "alpha", "beta", "model_a", error=True),
        battle(23, "alpha", "beta", "model_a", moderated=True),
        battle(24, "alpha", "beta", "model_b", turns=2),
    ]
    store.insert_battles(records)
    # battle 25, played through the store as the app does: side b's answer was cut at the length limit
    from arena.backends.base import GenerationStats
    from arena.battle import Battle as Play
    from arena.battle import Limits

    play = Play.start("anony", ["alpha", "beta"], session_id="s", judge_hash="j1")
    play.begin_turn("Question number 25?", Limits())
    store.save_start(play)
    for side, reason in (("a", "stop"), ("b", "length")):
        play.append(side, f"{'alpha' if side == 'a' else 'beta'} answers 25.0")
        play.finish_side(side, GenerationStats(finish_reason=reason))
    store.save_turn(play, regenerated=False)
    store.record_vote(play.id, VoteFacts(model_a="alpha", model_b="beta", winner="model_a", mode="anony"), "j1", 2.0)
    return store


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def load(path: Path, cache: Path):
    """The file as `datasets` loads it (offline; the JSON or Parquet builder by file type)."""
    import datasets

    kind = "parquet" if path.suffix == ".parquet" else "json"
    return datasets.load_dataset(kind, data_files=str(path), split="train", cache_dir=str(cache))


# ------------------------------------------------------------------------ formats
@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".parquet"])
def test_pairwise_loads_and_fits_trl_preference_trainers(filled: Store, tmp_path: Path, suffix: str, tokenizer) -> None:
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    out = tmp_path / f"pairs{suffix}"
    summary = run_export(filled, "pairwise", out)
    data = load(out, tmp_path / "cache")
    assert {"prompt", "chosen", "rejected", "chosen_model", "rejected_model", "battle_id"} <= set(data.column_names)
    assert len(data) == summary.rows_written == 8  # eleven kept battles minus two ties and one both-bad
    for row in data:
        assert is_conversational(row)
        assert row["prompt"][-1]["role"] == "user" and row["chosen"][0]["role"] == "assistant" == row["rejected"][0]["role"]
        assert row["chosen"][0]["content"].startswith(row["chosen_model"])
        assert row["rejected"][0]["content"].startswith(row["rejected_model"])
        text = maybe_apply_chat_template({k: row[k] for k in ("prompt", "chosen", "rejected")}, tokenizer)
        assert row["prompt"][-1]["content"] in text["prompt"] and row["chosen"][0]["content"] in text["chosen"]


def test_kto_rows_fit_trl_kto_trainer(filled: Store, tmp_path: Path, tokenizer) -> None:
    from trl.data_utils import maybe_apply_chat_template

    out = tmp_path / "kto.jsonl"
    run_export(filled, "pairwise", out, ties="kto")
    data = load(out, tmp_path / "cache")
    assert {"prompt", "completion", "label"} <= set(data.column_names)
    assert len(data) == 22  # two rows per kept battle, ties included
    by_battle: dict[str, list[bool]] = {}
    for row in data:
        by_battle.setdefault(row["battle_id"], []).append(row["label"])
        text = maybe_apply_chat_template({"prompt": row["prompt"], "completion": row["completion"]}, tokenizer)
        assert row["completion"][0]["content"] in text["completion"]
    labels = sorted(tuple(v) for v in by_battle.values())
    assert labels.count((True, True)) == 2 and labels.count((False, False)) == 1  # the ties and the both-bad vote
    assert labels.count((True, False)) + labels.count((False, True)) == 8


def test_battles_format_and_round_trip_give_the_same_leaderboard(filled: Store, tmp_path: Path, database_url: str) -> None:
    out = tmp_path / "battles.jsonl"
    run_export(filled, "battles", out, ExportFilters(include_named=True, include_leaked=True, include_errored=True,
                                                      include_moderated=True, include_unfinished=True))
    rows = read_jsonl(out)
    assert len(rows) == 16
    first = rows[0]
    assert set(first) >= {"question_id", "model_a", "model_b", "winner", "judge", "conversation_a", "conversation_b", "turn",
                          "anony", "language", "tstamp", "leak_flag", "error_flag", "moderation_flag"}
    assert first["conversation_a"][0] == {"role": "user", "content": "Question number 0?"}
    assert load(out, tmp_path / "cache").num_rows == 16

    fresh = Store(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    from arena.importer import import_battles

    report = import_battles(fresh, out)
    assert report.imported == 16 and not report.rejected
    for category in ("overall", "all", "anonymous"):
        ours = LeaderboardService(filled).compute(LeaderboardQuery(category=category, rounds=10))
        theirs = LeaderboardService(fresh).compute(LeaderboardQuery(category=category, rounds=10))
        assert [(r.model, round(r.score, 6), r.votes) for r in ours.ratings.rows] == \
               [(r.model, round(r.score, 6), r.votes) for r in theirs.ratings.rows]
    again = tmp_path / "again.jsonl"
    run_export(fresh, "battles", again, ExportFilters(include_named=True, include_leaked=True, include_errored=True,
                                                       include_moderated=True, include_unfinished=True))
    strip = ("question_id", "judge")  # new ids and re-hashed judges on import; everything else comes back
    assert sorted(json.dumps({k: v for k, v in r.items() if k not in strip}, sort_keys=True) for r in read_jsonl(again)) == \
           sorted(json.dumps({k: v for k, v in r.items() if k not in strip}, sort_keys=True) for r in rows)
    fresh.close()


def test_sharegpt_keeps_the_preferred_conversation(filled: Store, tmp_path: Path) -> None:
    out = tmp_path / "sft.parquet"
    run_export(filled, "sharegpt", out)
    data = load(out, tmp_path / "cache")
    assert len(data) == 12  # 8 decisive + 2 ties × 2 sides; the both-bad battle gives nothing
    for row in data:
        roles = [m["from"] for m in row["conversations"]]
        assert roles == ["human", "gpt"] * (len(roles) // 2) and row["conversations"][1]["value"].startswith(row["model"])


def test_kwise_ranks_agree_with_the_votes(store: Store, tmp_path: Path) -> None:
    """Hand-built: four models answered the same prompt; alpha beats everyone, delta loses to everyone."""
    prompt = "Rank these answers please"
    votes = [("alpha", "beta", "model_a"), ("alpha", "gamma", "model_a"), ("beta", "gamma", "model_a"),
             ("gamma", "delta", "model_a"), ("beta", "delta", "model_a"), ("alpha", "delta", "tie (bothbad)"),
             ("delta", "alpha", "model_b")]
    records = [battle(100 + i, a, b, w, prompt=prompt if i % 2 else f"  {prompt.upper()} ") for i, (a, b, w) in enumerate(votes)]
    records += [battle(200, "alpha", "beta", "model_a", prompt="lonely prompt")]  # two models only: below --min-answers
    store.insert_battles(records)
    out = tmp_path / "kwise.jsonl"
    summary = run_export(store, "kwise", out)
    rows = read_jsonl(out)
    assert len(rows) == 1 and summary.drops["prompt answered by fewer than 3 models"] == 1
    row = rows[0]
    assert row["num_responses"] == 4 and row["turns"] == 1 and row["votes"] == 7 and row["source"] == ["starling-arena"]
    assert [(a["model"], a["rank"]) for a in row["answers"]] == [("alpha", 1), ("beta", 2), ("gamma", 3), ("delta", 4)]
    assert all(a["answer"].startswith(a["model"]) for a in row["answers"])
    assert load(out, tmp_path / "cache").num_rows == 1


def test_rank_answers_shares_ranks_on_equal_evidence() -> None:
    ranks = rank_answers(["a", "b", "c"], [("a", "b", "tie"), ("c", "a", "model_b"), ("c", "b", "model_b")])
    assert ranks["c"] == 3 and ranks["a"] == ranks["b"] == 1


def test_split_prompt_keeps_the_shared_user_turns() -> None:
    a = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "A1"},
         {"role": "user", "content": "q2"}, {"role": "assistant", "content": "A2"}]
    b = a[:2] + [{"role": "assistant", "content": "B1"}, {"role": "user", "content": "q2"}, {"role": "assistant", "content": "B2"}]
    split = split_prompt(a, b)
    assert split.prompt == a[:2] and split.rest_a == a[2:] and split.rest_b == b[2:]
    assert split.system_a == split.system_b == []


def test_split_prompt_sets_aside_per_model_system_prompts() -> None:
    """Models configured with different system prompts still share the voter's prompt."""
    question = {"role": "user", "content": "q"}
    a = [{"role": "system", "content": "Be terse."}, question, {"role": "assistant", "content": "A"}]
    b = [{"role": "system", "content": "Be chatty."}, question, {"role": "assistant", "content": "B"}]
    split = split_prompt(a, b)
    assert split.prompt == [question] and split.rest_a == a[2:] and split.rest_b == b[2:]
    assert split.system_a == a[:1] and split.system_b == b[:1]


def test_battles_with_different_system_prompts_export_whole(store: Store, tmp_path: Path) -> None:
    record = battle(60, "alpha", "beta", "model_a")
    record = replace(record, conversation_a=[{"role": "system", "content": "Be terse."}, *record.conversation_a],
                     conversation_b=[{"role": "system", "content": "Be chatty."}, *record.conversation_b])
    store.insert_battles([record])
    run_export(store, "pairwise", tmp_path / "p.jsonl", datasheet=False)
    run_export(store, "battles", tmp_path / "b.jsonl", datasheet=False)
    pair, = read_jsonl(tmp_path / "p.jsonl")
    assert pair["prompt"] == [{"role": "user", "content": "Question number 60?"}]
    assert pair["chosen"] == [{"role": "assistant", "content": "alpha answers 60.0"}]
    whole, = read_jsonl(tmp_path / "b.jsonl")
    assert whole["conversation_a"] == record.conversation_a and whole["conversation_b"] == record.conversation_b


# ------------------------------------------------------------------------ filters
def test_each_default_drop_reason_is_counted(filled: Store, tmp_path: Path) -> None:
    summary = run_export(filled, "battles", tmp_path / "b.jsonl")
    assert summary.drops == {
        "side-by-side (names visible)": 1, "identity leak": 1, "backend error": 1, "moderated": 1, "unfinished answer": 1,
    }
    assert summary.battles_read == 16 and summary.battles_kept == 11 and summary.rows_written == 11


def test_optional_filters(filled: Store, tmp_path: Path) -> None:
    def kept(**options: object) -> tuple[int, dict]:
        summary = run_export(filled, "battles", tmp_path / "f.jsonl", ExportFilters(**options), datasheet=False)  # type: ignore[arg-type]
        return summary.rows_written, dict(summary.drops)

    assert kept(since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=9))[0] == 4
    assert kept(models=frozenset({"alpha", "beta"}))[0] == 5  # four one-turn alpha–beta battles and the two-turn one
    assert kept(exclude_models=frozenset({"gamma"}))[1]["model in --exclude-models"] == 6
    assert kept(min_turns=2)[0] == 1
    assert kept(language="fr")[1]["other language"] == 11
    capped, drops = kept(daily_cap=4)
    assert capped == 4 and drops["judge's daily vote cap reached"] == 7
    store_rows, drops = kept(max_per_prompt=1)
    assert store_rows == 11 and "duplicate prompt (cap per prompt reached)" not in drops  # every prompt differs


def test_duplicate_prompts_are_capped(store: Store, tmp_path: Path) -> None:
    store.insert_battles([battle(i, "alpha", "beta", "model_a", prompt="Same  question?" if i < 5 else None) for i in range(8)])
    summary = run_export(store, "pairwise", tmp_path / "p.jsonl", ExportFilters(max_per_prompt=2))
    assert summary.rows_written == 5 and summary.drops["duplicate prompt (cap per prompt reached)"] == 3


def test_prompt_hash_is_stored_at_vote_time(store: Store) -> None:
    from arena.prompts import prompt_hash
    from tests.helpers import played

    b = played(store)
    store.record_vote(b.id, VoteFacts(model_a="m1", model_b="m2", winner="model_a", mode="anony"), b.judge_hash, 1.0)
    from arena.tables import Vote

    with store.session() as session:
        stored = session.query(Vote.prompt_hash).filter(Vote.battle_id == b.id).scalar()
    assert stored == prompt_hash(["what is 2+2?"])


# ------------------------------------------------------------------ datasheet, CLI
def test_datasheet_describes_the_export(filled: Store, tmp_path: Path) -> None:
    out = tmp_path / "data" / "pairs.jsonl"
    summary = run_export(filled, "pairwise", out, command="python -m arena export --format pairwise --out data/pairs.jsonl")
    card = (tmp_path / "data" / "README.md").read_text()
    assert summary.datasheet == tmp_path / "data" / "README.md"
    assert card.startswith("---\nlicense: other\n") and "path: pairs.jsonl" in card
    assert "| alpha |" in card and "| tie |" in card and "identity leak: 1" in card
    assert "python -m arena export --format pairwise --out data/pairs.jsonl" in card
    assert "salted" in card and "IP address" in card
    import datasets

    assert datasets.load_dataset(str(tmp_path / "data"), split="train", cache_dir=str(tmp_path / "cache")).num_rows == 8


def test_cli_export_prints_a_summary_and_rejects_bad_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'arena.sqlite3'}"
    monkeypatch.setenv("ARENA_DATABASE_URL", url)
    store = Store(url)
    store.insert_battles([battle(i, "alpha", "beta", ["model_a", "tie"][i % 2]) for i in range(6)])
    store.close()
    out = tmp_path / "out.jsonl.gz"
    assert main(["export", "--format", "pairwise", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote 3 pairwise rows to {out}" in printed and "dropped 3: tie" in printed
    assert len(read_jsonl(out)) == 3 and (tmp_path / "README.md").exists()
    assert main(["export", "--format", "pairwise", "--out", str(tmp_path / "x.csv")]) == 2
    assert "must end in .jsonl, .jsonl.gz, .parquet" in capsys.readouterr().err
    assert main(["export", "--format", "kwise", "--out", str(tmp_path / "k.jsonl"), "--ties", "kto"]) == 2
    assert main(["export", "--format", "battles", "--out", str(tmp_path / "b.jsonl"), "--since", "yesterday"]) == 2
    assert "--since must be a date" in capsys.readouterr().err


def test_interrupted_export_leaves_no_file(filled: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from arena.export import formats

    def broken(battles, drops):
        for _ in battles:
            raise KeyboardInterrupt
        yield {}

    monkeypatch.setattr(formats, "BATTLES", replace(formats.BATTLES, rows=broken))
    with pytest.raises(KeyboardInterrupt):
        run_export(filled, "battles", tmp_path / "b.jsonl")
    assert list(tmp_path.glob("b.jsonl*")) == []


def test_moderation_is_read_from_public_datasets(store: Store) -> None:
    from arena.importer import parse_line

    line = {"model_a": "x", "model_b": "y", "winner": "tie", "conversation_a": [], "conversation_b": [],
            "openai_moderation": {"flagged": True}}
    assert parse_line(json.dumps(line), store).moderation_flag is True
    assert parse_line(json.dumps({**line, "openai_moderation": {"flagged": False}}), store).moderation_flag is False
    assert parse_line(json.dumps({**line, "moderation_flag": True}), store).moderation_flag is True


def test_votes_without_a_snapshot_are_read_from_their_messages(filled: Store, tmp_path: Path) -> None:
    """Votes stored before transcript snapshots existed export the same rows, rebuilt from the messages table."""
    from sqlalchemy import update

    from arena.tables import Vote

    with_snapshots = run_export(filled, "battles", tmp_path / "a.jsonl", datasheet=False)
    with filled.engine.begin() as conn:
        conn.execute(update(Vote).values(transcript=None))
    without = run_export(filled, "battles", tmp_path / "b.jsonl", datasheet=False)
    assert without.drops == with_snapshots.drops and without.rows_written == with_snapshots.rows_written == 11
    assert read_jsonl(tmp_path / "a.jsonl") == read_jsonl(tmp_path / "b.jsonl")


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_two_process_export_equals_one_process(filled: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    """Split between a helper process and this one, the export has the same rows in the same order and the same summary."""
    from arena.export import run as export_run

    one = run_export(filled, "battles", tmp_path / f"one{suffix}", workers=1, datasheet=False)
    started: list[tuple] = []
    real_start = export_run.start_part
    monkeypatch.setattr(export_run, "start_part", lambda *a, **k: started.append(a[5]) or real_start(*a, **k))
    monkeypatch.setattr(export_run, "PARALLEL_MIN_BATTLES", 0)
    two = run_export(filled, "battles", tmp_path / f"two{suffix}", workers=2, datasheet=False)
    assert len(started) == 1 and started[0][0] == 0  # the helper took the older half
    assert read_jsonl(tmp_path / f"two{suffix}") == read_jsonl(tmp_path / f"one{suffix}")
    assert (two.rows_written, two.battles_read, two.battles_kept) == (one.rows_written, one.battles_read, one.battles_kept)
    assert two.drops == one.drops and two.per_model == one.per_model and two.per_winner == one.per_winner
    assert (two.first_vote, two.last_vote) == (one.first_vote, one.last_vote)
    assert sorted(p.name for p in tmp_path.iterdir() if "two" in p.name) == [f"two{suffix}"]  # no part files left


def test_a_failing_helper_leaves_its_half_to_this_process(filled: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the helper cannot run, this process exports its half too: the file is complete, nothing is lost."""
    from arena.export import run as export_run

    one = run_export(filled, "pairwise", tmp_path / "one.jsonl", workers=1, datasheet=False)
    monkeypatch.setattr(export_run, "PARALLEL_MIN_BATTLES", 0)
    monkeypatch.setattr("sys.executable", "/bin/false")  # the helper exits at once, with an error
    two = run_export(filled, "pairwise", tmp_path / "two.jsonl", workers=2, datasheet=False)
    assert read_jsonl(tmp_path / "two.jsonl") == read_jsonl(tmp_path / "one.jsonl") and two.rows_written == one.rows_written
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("two")) == ["two.jsonl"]
