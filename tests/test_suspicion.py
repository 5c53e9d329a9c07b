"""Suspicious voters end to end: seeded simulations, the store's service, the CLI flags and the Admin listing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from arena.admin import AdminGate, AdminRefused, AdminService
from arena.cli import main
from arena.store import BattleRecord, Store
from arena.suspicion import A_WON, B_WON, TIE, SuspicionConfig, VoterVotes, detect
from arena.suspicion_service import SuspicionService
from tests.helpers import T0, battle

THETA = np.array([1.2, 0.8, 0.4, 0.0, -0.4, -0.8, -1.2])
WINNER = {A_WON: "model_a", B_WON: "model_b", TIE: "tie"}


def honest_arena(seed: int, voters: int, votes_each: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(voter, a, b, outcome) of honest voters: Bradley–Terry on THETA, ties 25 %, each voter a little noisier or sharper."""
    rng = np.random.default_rng(seed)
    voter = np.repeat(np.arange(voters), votes_each)
    a = rng.integers(0, len(THETA), len(voter))
    b = (a + rng.integers(1, len(THETA), len(voter))) % len(THETA)
    beta = rng.lognormal(0, 0.2, voters)[voter]
    p = 1 / (1 + np.exp(-beta * (THETA[a] - THETA[b])))
    outcome = np.where(rng.random(len(voter)) < 0.25, TIE, np.where(rng.random(len(voter)) < p, A_WON, B_WON))
    return voter, a, b, outcome


def planted(seed: int, voter_code: int, votes: int, rule: str) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(THETA), votes)
    b = (a + rng.integers(1, len(THETA), votes)) % len(THETA)
    if rule == "against the favourite":
        outcome = np.where(THETA[a] < THETA[b], A_WON, B_WON)
    else:  # always A
        outcome = np.full(votes, A_WON)
    return np.full(votes, voter_code), a, b, outcome


def arrays(*parts: tuple[np.ndarray, ...], seed: int = 0) -> VoterVotes:
    voter, a, b, outcome = (np.concatenate(column) for column in zip(*parts))
    shuffle = np.random.default_rng(seed).permutation(len(voter))  # interleaved, as votes arrive
    n = int(voter.max()) + 1
    return VoterVotes(voters=[str(i) for i in range(n)], models=[f"m{i}" for i in range(len(THETA))], voter=voter[shuffle],
                      a=a[shuffle], b=b[shuffle], outcome=outcome[shuffle].astype(np.int8))


@pytest.mark.parametrize("method", ["robust", "surprise"])
def test_an_always_against_the_favourite_voter_is_flagged_and_honest_ones_are_not(method: str) -> None:
    votes = arrays(honest_arena(1, 300, 30), planted(2, 300, 60, "against the favourite"))
    report = detect(votes, SuspicionConfig(method=method))
    assert report.flagged_voters == ["300"]
    assert report.qvalue[report.voters.index("300")] < 1e-6


def test_an_always_a_voter_is_flagged_by_the_side_test() -> None:
    votes = arrays(honest_arena(3, 300, 30), planted(4, 300, 60, "always A"))
    report = detect(votes)
    assert report.flagged_voters == ["300"]
    picked = report.voters.index("300")
    assert report.tested.strongest[picked].startswith("side") and report.signals.share_a[picked] == 1.0


def test_honest_voters_alone_are_not_flagged() -> None:
    for seed in range(3):
        assert detect(arrays(honest_arena(10 + seed, 400, 40))).flagged_voters == []


def test_a_campaign_of_small_accounts_is_found_together() -> None:
    """Twelve accounts of 40 votes that vote model m3 up and m2 down whenever they meet them, honestly otherwise."""
    honest = honest_arena(5, 400, 40)
    rng = np.random.default_rng(6)
    accounts = []
    for k in range(12):
        voter, a, b, outcome = honest_arena(100 + k, 1, 40)
        outcome = np.where(a == 3, A_WON, np.where(b == 3, B_WON, outcome))
        outcome = np.where((a == 2) & (b != 3), B_WON, np.where((b == 2) & (a != 3), A_WON, outcome))
        accounts.append((voter + 400 + k, a, b, outcome))
    report = detect(arrays(honest, *accounts, seed=int(rng.integers(100))))
    found = {int(v) for v in report.flagged_voters}
    assert len(found & set(range(400, 412))) >= 8 and found <= set(range(400, 412))


def stored_arena(store: Store, *, cheater: bool = True) -> tuple[str, int]:
    """Honest voters and (with *cheater*) one who always votes against the favourite, stored; (their hash, their votes).

    The honest battles are the same with and without the cheater (same ids, same outcomes).
    """
    voter, a, b, outcome = (np.concatenate(c) for c in zip(honest_arena(7, 120, 25), planted(8, 120, 60, "against the favourite")))
    records: list[BattleRecord] = []
    for i, (v, x, y, o) in enumerate(zip(voter, a, b, outcome)):
        if v == 120 and not cheater:
            continue
        judge = "cheater" if v == 120 else f"honest-{v}"
        records.append(battle(i, f"m{x}", f"m{y}", WINNER[int(o)], judge=judge, when=T0 + timedelta(seconds=20 * i)))
    store.insert_battles(records)
    return "cheater", int((voter == 120).sum())


def test_the_service_flags_the_stored_cheater_with_evidence(store: Store) -> None:
    cheater, votes = stored_arena(store)
    suspicion = SuspicionService(store).get()
    assert [v.judge_hash for v in suspicion.flagged] == [cheater]
    flagged = suspicion.flagged[0]
    assert flagged.votes == votes and flagged.qvalue < 1e-6 and flagged.strongest
    assert flagged.peak_per_minute == 3 and 0.0 <= flagged.share_a <= 1.0  # a vote every 20 s


def test_the_cli_flags_drop_exactly_the_flagged_voters_votes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    url, clean_url = f"sqlite:///{tmp_path / 'arena.sqlite3'}", f"sqlite:///{tmp_path / 'clean.sqlite3'}"
    for database, with_cheater in ((url, True), (clean_url, False)):  # the same votes, and the same without the cheater's
        store = Store(database)
        cheater, cheater_votes = stored_arena(store, cheater=with_cheater)
        store.close()

    def board(database: str, *flags: str) -> dict:
        monkeypatch.setenv("ARENA_DATABASE_URL", database)
        assert main(["leaderboard", "--models", str(tmp_path / "none.yaml"), "--format", "json", *flags]) == 0
        return json.loads(capsys.readouterr().out)

    everything, filtered, reference = board(url), board(url, "--exclude-flagged-judges"), board(clean_url)
    assert everything["total_votes"] - filtered["total_votes"] == cheater_votes and filtered["excluded_judges"] == 1
    assert [(r["model"], r["score"], r["votes"]) for r in filtered["rows"]] == [(r["model"], r["score"], r["votes"])
                                                                               for r in reference["rows"]]
    assert "1 flagged voter left out" in filtered["description"] and "excluded_judges" not in everything

    monkeypatch.setenv("ARENA_DATABASE_URL", url)
    out = tmp_path / "battles.jsonl"
    assert main(["export", "--format", "battles", "--out", str(out), "--no-progress", "--exclude-flagged-judges"]) == 0
    printed = capsys.readouterr()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == everything["total_votes"] - cheater_votes and cheater not in {r["judge"] for r in rows}
    assert f"dropped {cheater_votes}: voter flagged as suspicious" in printed.out
    assert "1 voters flagged as suspicious" in printed.err
    card = (tmp_path / "README.md").read_text()
    assert "battles of 1 voters flagged as suspicious dropped" in card


def test_the_admin_lists_flagged_voters_behind_the_password(store: Store) -> None:
    from arena.ui.admin_tab import SUSPICION_HEADERS, suspicion_outputs

    cheater, votes = stored_arena(store)
    admin = AdminService(AdminGate("s3cret"), store, Path("unused-exports"))
    for attempt in ("", "nope"):
        with pytest.raises(AdminRefused):
            admin.suspicious_voters(attempt)
    summary, rows = suspicion_outputs(admin.suspicious_voters("s3cret"))
    assert "**1** of" in summary and "--exclude-flagged-judges" in summary
    assert len(rows) == 1 and len(rows[0]) == len(SUSPICION_HEADERS)
    assert rows[0][0] == cheater[:12] and rows[0][1] == votes and rows[0][4].startswith(("agreement", "careless", "campaign"))
