"""models.yaml at run time: a good file is applied without a restart, a bad one changes nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from arena.reload import ModelsReloader
from arena.service import Arena
from tests.helpers import make_arena, play
from tests.upstream import Upstream


def models_yaml(*entries: tuple[str, str]) -> str:
    lines = ["models:"]
    for name, url in entries:
        lines += [f"  - name: {name}", "    backend: openai", f'    endpoints: ["{url}"]', "    model: test-model"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def arena(tmp_path: Path, sqlite_url: str, up: Upstream, up2: Upstream) -> Arena:
    a = make_arena(tmp_path, models_yaml(("Alpha", up.url), ("Beta", up2.url)), sqlite_url)
    yield a
    a.store.close()


def test_reload_applies_a_good_file_and_running_battles_keep_their_models(arena: Arena, tmp_path: Path, up: Upstream,
                                                                           up2: Upstream) -> None:
    path = tmp_path / "models.yaml"
    reloader = ModelsReloader(arena, path)
    running = asyncio.run(arena.start("anony", session_id="s1", judge_hash="j1"))
    assert {side.model for side in running.sides.values()} == {"Alpha", "Beta"}

    path.write_text(models_yaml(("Alpha", up.url), ("Gamma", up2.url)))  # Beta leaves, Gamma arrives
    result = reloader.reload()
    assert result.ok and "Gamma" in result.message
    assert sorted(c.name for c in arena.pool.candidates()) == ["Alpha", "Gamma"]
    assert arena.pool.is_available("Gamma") and "Beta" not in arena.pool.backends
    assert any("gamma" in term.lower() for term in arena.pool.identity_terms())

    battle, _ = asyncio.run(play(arena, running.id, "Still there?", session="s1"))  # the running battle keeps Beta
    assert battle.state == "awaiting_vote" and {side.model for side in battle.sides.values()} == {"Alpha", "Beta"}
    unchanged = arena.pool.backends["Alpha"]
    reloader.reload()
    assert arena.pool.backends["Alpha"] is unchanged  # an unchanged entry keeps its backend and health


def test_reload_refuses_a_bad_file_and_keeps_the_running_configuration(arena: Arena, tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    reloader = ModelsReloader(arena, path)
    before = arena.pool.catalogue
    path.write_text(path.read_text().replace("backend: openai", "backend: telepathy", 1))
    result = reloader.reload()
    assert not result.ok
    assert str(path) in result.message and "Alpha" in result.message and "backend" in result.message
    assert "previous configuration stays active" in result.message
    assert arena.pool.catalogue is before and sorted(c.name for c in arena.pool.candidates()) == ["Alpha", "Beta"]
    assert reloader.last == result


def test_reload_switches_the_pairing_policy(arena: Arena, tmp_path: Path, up: Upstream, up2: Upstream) -> None:
    """sampling: active in a reloaded file is what the next battle is drawn by; a refused file keeps it."""
    from arena.leaderboard import LeaderboardService

    path = tmp_path / "models.yaml"
    reloader = ModelsReloader(arena, path)
    assert arena.starter.pairing.spec.sampling == "weights"
    path.write_text(models_yaml(("Alpha", up.url), ("Beta", up2.url)) + "pairing:\n  sampling: active\n  rule: widest\n")
    assert reloader.reload().ok
    policy = arena.starter.pairing
    assert (policy.spec.sampling, policy.spec.rule) == ("active", "widest")
    policy.attach(LeaderboardService(arena.store))
    drawn: list[object] = []
    real = policy.draw
    policy.draw = lambda candidates, rng=None: drawn.append(candidates) or real(candidates, rng)  # type: ignore[method-assign]
    battle = asyncio.run(arena.start("anony", session_id="s9", judge_hash="j9"))
    assert {side.model for side in battle.sides.values()} == {"Alpha", "Beta"} and len(drawn) == 1
    path.write_text(models_yaml(("Alpha", up.url), ("Beta", up2.url)) + "pairing:\n  sampling: clever\n")
    result = reloader.reload()
    assert not result.ok and "pairing.sampling" in result.message and arena.starter.pairing.spec.sampling == "active"


def test_watcher_picks_up_an_edit(arena: Arena, tmp_path: Path, up: Upstream) -> None:
    path = tmp_path / "models.yaml"
    reloader = ModelsReloader(arena, path)
    reloader.watch(0.05)
    try:
        path.write_text(models_yaml(("Alpha", up.url)))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and reloader.last is None:  # set once the reload has finished
            time.sleep(0.05)
        assert list(arena.pool.backends) == ["Alpha"] and reloader.last and reloader.last.ok
    finally:
        reloader.stop()


def test_admin_reload_and_status_need_the_password(arena: Arena, tmp_path: Path, up: Upstream) -> None:
    from arena.admin import AdminGate, AdminRefused, AdminService

    path = tmp_path / "models.yaml"
    reloader = ModelsReloader(arena, path)
    admin = AdminService(AdminGate("s3cret"), arena.store, tmp_path / "exports", pool=arena.pool, reloader=reloader)
    path.write_text(models_yaml(("Alpha", up.url)))
    with pytest.raises(AdminRefused):
        admin.reload("")
    with pytest.raises(AdminRefused):
        admin.models_status("wrong")
    assert "Beta" in arena.pool.backends  # nothing applied for a refused caller
    table = admin.reload("s3cret")
    assert "| Alpha | ✅ healthy |" in table and "Beta" not in arena.pool.backends and "Last reload" in table
    path.write_text("models: [")
    assert "❌" in admin.reload("s3cret")
    assert "| Alpha | ✅ healthy |" in admin.models_status("s3cret")


def test_a_stopped_endpoint_leaves_pairing_and_returns_when_it_is_back(tmp_path: Path, sqlite_url: str, up2: Upstream) -> None:
    """Health transitions against a real server: stop it, the model leaves pairing; start it, it returns (after back-off)."""
    from tests.upstream import Upstream as Server

    server = Server().start()
    arena = make_arena(tmp_path, models_yaml(("Alpha", server.url), ("Beta", up2.url), ("Gamma", up2.url)), sqlite_url)
    try:
        assert sorted(c.name for c in arena.pool.candidates()) == ["Alpha", "Beta", "Gamma"]
        port = server.port
        server.stop()
        asyncio.run(arena.pool.refresh())
        assert "Alpha" not in [c.name for c in arena.pool.candidates()] and not arena.pool.is_available("Alpha")
        server = Server(port=port).start()
        asyncio.run(arena.pool.refresh())
        assert not arena.pool.is_available("Alpha")  # within its back-off: not probed yet
        time.sleep(5.2)  # the first back-off is 5 s
        asyncio.run(arena.pool.refresh())
        assert arena.pool.is_available("Alpha") and "Alpha" in [c.name for c in arena.pool.candidates()]
    finally:
        server.stop()
        arena.store.close()
