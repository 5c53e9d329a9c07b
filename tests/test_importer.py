"""import-battles: FastChat / chatbot_arena_conversations JSON lines into the store."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from arena.cli import main
from arena.importer import import_battles
from arena.leaderboard import LeaderboardQuery, LeaderboardService
from arena.store import Store


def battle_line(i: int, winner: str = "model_a", **extra) -> dict:
    line = {
        "question_id": f"q{i}",
        "model_a": "alpha" if i % 2 else "beta",
        "model_b": "beta" if i % 2 else "alpha",
        "winner": winner,
        "judge": f"arena_user_{i % 7}",
        "conversation_a": [{"role": "user", "content": f"Question number {i}, please answer in English."}, {"role": "assistant", "content": "## Answer\n- **yes**"}],
        "conversation_b": [{"role": "user", "content": f"Question number {i}, please answer in English."}, {"role": "assistant", "content": "no"}],
        "turn": 1,
        "anony": True,
        "language": "English",
        "tstamp": 1_700_000_000 + i,
    }
    line.update(extra)
    return line


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_imports_good_lines_and_rejects_bad_ones_with_line_numbers(tmp_path: Path, store: Store) -> None:
    """Good lines load; each bad line is reported with its number and the reason; the rest still load."""
    lines = [json.dumps(battle_line(i)) for i in range(1, 6)]
    lines.insert(2, "{not json")
    lines.insert(4, json.dumps(battle_line(99, winner="model_c")))
    lines.append(json.dumps({**battle_line(100), "model_b": "alpha", "model_a": "alpha"}))
    lines.append(json.dumps({**battle_line(101), "conversation_a": "oops"}))
    report = import_battles(store, write_lines(tmp_path / "b.jsonl", lines))
    assert report.imported == 5 and report.duplicates == 0
    reasons = dict(report.rejected)
    assert set(reasons) == {3, 5, 8, 9}
    assert "not valid JSON" in reasons[3] and "winner must be one of" in reasons[5]
    assert "same model" in reasons[8] and "conversation_a must be a list" in reasons[9]


def test_imported_votes_drive_the_leaderboard(tmp_path: Path, store: Store) -> None:
    """alpha wins every imported battle, so it leads; language, style and tokens are stored."""
    lines = [json.dumps(battle_line(i, winner="model_a" if i % 2 else "model_b")) for i in range(1, 41)]
    import_battles(store, write_lines(tmp_path / "b.jsonl", lines), batch_size=7)
    board = LeaderboardService(store).get(LeaderboardQuery(rounds=20))
    assert [r.model for r in board.ratings.rows] == ["alpha", "beta"] and board.ratings.total_votes == 40
    assert "lang:en" in store.categories()
    columns = store.vote_columns_for("overall", ["headers_a", "headers_b", "lists_a", "bold_a", "len_b", "user_tokens"])
    assert set(columns["headers_a"]) == {1} and set(columns["headers_b"]) == {0}
    assert set(columns["lists_a"]) == {1} and set(columns["bold_a"]) == {1} and set(columns["len_b"]) == {1}
    assert min(columns["user_tokens"]) > 5


def test_reimport_skips_duplicates(tmp_path: Path, store: Store) -> None:
    """Importing the same file twice adds nothing the second time."""
    path = write_lines(tmp_path / "b.jsonl", [json.dumps(battle_line(i)) for i in range(10)])
    assert import_battles(store, path).imported == 10
    again = import_battles(store, path)
    assert again.imported == 0 and again.duplicates == 10


def test_gzip_and_named_battles(tmp_path: Path, store: Store) -> None:
    """.jsonl.gz files load; anony=false battles are named and left out of the default board."""
    path = tmp_path / "b.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        for i in range(6):
            handle.write(json.dumps(battle_line(i, anony=i < 3)) + "\n")
    assert import_battles(store, path).imported == 6
    assert sum(c.count for c in store.outcome_counts("overall")) == 3
    assert sum(c.count for c in store.outcome_counts("all")) == 6


@pytest.mark.parametrize(
    "field,value,message",
    [("turn", 0, "turn must be a positive integer"), ("anony", "yes", "anony must be true or false"),
     ("tstamp", "yesterday", "tstamp must be a Unix time"), ("model_a", "", "model_a must be a non-empty string")],
)
def test_field_validation(tmp_path: Path, sqlite_store: Store, field: str, value: object, message: str) -> None:
    """Each malformed field is named in the rejection."""
    report = import_battles(sqlite_store, write_lines(tmp_path / "b.jsonl", [json.dumps({**battle_line(1), field: value})]))
    assert report.imported == 0 and message in report.rejected[0][1]


def test_cli_import_then_leaderboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """python -m arena import-battles exits 1 when lines were rejected and 0 otherwise, then the leaderboard shows the models."""
    monkeypatch.setenv("ARENA_DATABASE_URL", f"sqlite:///{tmp_path / 'arena.sqlite3'}")
    good = write_lines(tmp_path / "good.jsonl", [json.dumps(battle_line(i)) for i in range(20)])
    assert main(["import-battles", str(good)]) == 0
    assert "imported 20 battles" in capsys.readouterr().out
    from arena.store import Store

    store = Store(f"sqlite:///{tmp_path / 'arena.sqlite3'}")
    last_vote_id, elo = store.load_elo("overall")  # the import left online Elo current
    assert last_vote_id == store.votes_version() and set(elo) == {"alpha", "beta"}
    store.close()
    bad = write_lines(tmp_path / "bad.jsonl", [json.dumps(battle_line(50)), "[]"])
    assert main(["import-battles", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "bad.jsonl:2: rejected: expected a JSON object" in captured.err and "imported 1 battles" in captured.out
    assert main(["leaderboard", "--models", str(tmp_path / "none.yaml"), "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in payload["rows"]} == {"alpha", "beta"} and payload["total_votes"] == 21
    assert main(["leaderboard", "--models", str(tmp_path / "none.yaml"), "--style-control", "--category", "lang:en"]) == 0
    assert "style coefficients" in capsys.readouterr().out
    assert main(["leaderboard", "--category", "nope"]) == 2
