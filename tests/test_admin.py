"""The admin gate and the Admin tab's export action (the handler the tab and its API endpoint run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.admin import AdminGate, AdminRefused, AdminService
from arena.store import Store
from tests.helpers import battle


def test_gate_refuses_without_a_configured_password() -> None:
    gate = AdminGate("")
    assert not gate.configured and not gate.allows("") and not gate.allows("anything")
    with pytest.raises(AdminRefused, match="ARENA_ADMIN_PASSWORD"):
        gate.require("anything")


def test_gate_accepts_only_the_password() -> None:
    gate = AdminGate("s3cret")
    assert gate.allows("s3cret")
    for attempt in ("", None, "s3cre", "s3cret ", "S3CRET"):
        assert not gate.allows(attempt)
    with pytest.raises(AdminRefused, match="Wrong admin password"):
        gate.require("nope")


def test_admin_export_refuses_then_delivers_the_file_and_its_datasheet(store: Store, tmp_path: Path) -> None:
    store.insert_battles([battle(i, "alpha", "beta", ["model_a", "tie"][i % 2]) for i in range(6)])
    store.insert_battles([battle(50, "alpha", "beta", "model_b", mode="named")])
    exports = tmp_path / "exports"
    admin = AdminService(AdminGate("s3cret"), store, exports)
    with pytest.raises(AdminRefused):
        admin.export("wrong", "pairwise", ".jsonl", False, [])
    assert not exports.exists()  # nothing written for a refused caller
    files, summary = admin.export("s3cret", "pairwise", ".jsonl", True, ["named"])
    data, card = Path(files[0]), Path(files[1])
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    assert len(rows) == 14 and {"prompt", "completion", "label"} <= set(rows[0])  # 7 battles × 2 KTO rows, named one included
    assert card.name == "README.md" and "pairwise" in card.read_text() and "wrote 14 kto rows" in summary


def test_admin_activity_and_transcripts_need_the_password(store: Store) -> None:
    from datetime import datetime, timezone

    from arena.ui.admin_tab import activity_outputs

    now = datetime.now(timezone.utc)
    flagged = battle(70, "alpha", "beta", "model_a", leak=True, when=now)
    store.insert_battles([flagged, battle(71, "alpha", "beta", "tie", when=now)])
    admin = AdminService(AdminGate("s3cret"), store, Path("unused-exports"))
    for attempt in ("", "nope"):
        with pytest.raises(AdminRefused):
            admin.activity(attempt)
        with pytest.raises(AdminRefused):
            admin.transcript(attempt, flagged.battle_id)
    per_day, per_model, rows, ids = activity_outputs(admin.activity("s3cret"))
    assert sum(per_day.data[0].y) == 2 and list(per_model.data[0].x) == ["alpha", "beta"]
    assert ids == [flagged.battle_id] and rows[0][5] == "identity leak"
    text = admin.transcript("s3cret", flagged.battle_id)
    assert "#### Side a" in text and "alpha answers 70.0" in text and "beta answers 70.0" in text
