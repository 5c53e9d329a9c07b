"""Friendly errors in the UI layer: a short sentence with a reference for the voter, the traceback in the log."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Iterator

import gradio as gr
import pytest

from arena.service import Arena
from arena.ui.errors import friendly_errors
from arena.ui.pair_tab import PairTab
from tests.helpers import make_arena, models_yaml
from tests.upstream import Upstream

REFERENCE = re.compile(r"reference ([0-9a-f]{8})")


def broken(kind: str):  # a handler of the given kind that fails
    if kind == "sync":
        def handler(x: int) -> int:
            raise KeyError("internal detail")
    elif kind == "async":
        async def handler(x: int) -> int:
            raise KeyError("internal detail")
    elif kind == "gen":
        def handler(x: int):
            yield x
            raise KeyError("internal detail")
    else:
        async def handler(x: int):
            yield x
            raise KeyError("internal detail")
    return handler


def drive(handler, kind: str) -> list:
    """Run a wrapped handler to the end, returning what it produced."""
    if kind == "sync":
        return [handler(1)]
    if kind == "async":
        return [asyncio.run(handler(1))]
    if kind == "gen":
        return list(handler(1))

    async def collect() -> list:
        return [item async for item in handler(1)]
    return asyncio.run(collect())


@pytest.mark.parametrize("kind", ["sync", "async", "gen", "asyncgen"])
def test_unexpected_errors_become_a_sentence_with_a_logged_reference(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    wrapped = friendly_errors(broken(kind))
    assert wrapped.__name__ == "handler"
    with caplog.at_level(logging.ERROR, logger="arena.ui.errors"), pytest.raises(gr.Error) as raised:
        drive(wrapped, kind)
    message = raised.value.message
    assert "internal detail" not in message and "KeyError" not in message and "Traceback" not in message
    reference = REFERENCE.search(message).group(1)
    record = next(r for r in caplog.records if reference in r.getMessage())
    assert record.exc_info and record.exc_info[0] is KeyError  # the operator gets the traceback


@pytest.mark.parametrize("kind", ["sync", "async", "gen", "asyncgen"])
def test_wrapper_keeps_the_handler_kind_and_results(kind: str) -> None:
    def plain(x: int) -> int:
        return x + 1

    async def coroutine(x: int) -> int:
        return x + 1

    def generator(x: int):
        yield x + 1

    async def async_generator(x: int):
        yield x + 1

    handler = {"sync": plain, "async": coroutine, "gen": generator, "asyncgen": async_generator}[kind]
    wrapped = friendly_errors(handler)
    assert drive(wrapped, kind) == [2]
    import inspect
    assert inspect.iscoroutinefunction(wrapped) == inspect.iscoroutinefunction(handler)
    assert inspect.isasyncgenfunction(wrapped) == inspect.isasyncgenfunction(handler)
    assert inspect.isgeneratorfunction(wrapped) == inspect.isgeneratorfunction(handler)


def test_deliberate_refusals_pass_through_unchanged() -> None:
    @friendly_errors
    def refuse() -> None:
        raise gr.Error("Wrong admin password.")

    with pytest.raises(gr.Error) as raised:
        refuse()
    assert raised.value.message == "Wrong admin password."


@pytest.fixture
def arena(tmp_path: Path, sqlite_url: str, up: Upstream, up2: Upstream) -> Iterator[Arena]:
    a = make_arena(tmp_path, models_yaml(up.url, up2.url), sqlite_url)
    yield a
    a.store.close()


def test_a_bug_during_send_is_shown_in_place_and_the_tab_stays_usable(arena: Arena, monkeypatch: pytest.MonkeyPatch) -> None:
    with gr.Blocks():
        tab = PairTab(arena, "anony")

    async def exploding_send(*args, **kwargs):
        raise RuntimeError("database schema mismatch at row 7")
        yield  # pragma: no cover - makes this an async generator

    monkeypatch.setattr(arena, "send", exploding_send)

    async def collect() -> list[dict]:
        return [view async for view in tab._send_flow("anony", "hello", None, None, None)]

    views = asyncio.run(collect())
    status = views[-1][tab.status]
    assert status.startswith("⚠️ Something went wrong on our side") and REFERENCE.search(status)
    assert "schema mismatch" not in status
    assert tab.send.elem_id in views[-1][tab.controls].split(",")  # the voter can try again


def test_example_prompt_button_handler_changes_the_prompt(arena: Arena) -> None:
    with gr.Blocks():
        tab = PairTab(arena, "anony")
    first = tab.example(None)
    assert first and tab.example(first) != first


def test_the_controls_field_names_the_enabled_buttons_and_the_page_applies_it(arena: Arena) -> None:
    """Buttons are enabled by a text value (cheap for the server); a JavaScript-only listener maps it onto the buttons."""
    with gr.Blocks() as demo:
        tab = PairTab(arena, "anony")
    assert tab.controls.value == tab.send.elem_id  # as laid out: only Send
    assert tab._view(None, prompt="")[tab.controls] == "battle-send"
    assert not any(button in tab._view(None) for button in (tab.send, tab.stop, tab.regenerate, *tab.vote_buttons))
    listener = next(d for d in demo.get_config_file()["dependencies"] if list(d["targets"]) == [(tab.controls._id, "change")])
    assert listener["backend_fn"] is False and listener["js"] and "interactive" in listener["js"]  # the browser's job
    assert listener["outputs"] == [b._id for b in (tab.send, tab.stop, tab.regenerate, *tab.vote_buttons)]


def test_picking_a_model_resets_only_a_battle_in_progress(arena: Arena) -> None:
    with gr.Blocks():
        tab = PairTab(arena, "named")
    assert asyncio.run(tab._on_pick(None)) == gr.skip()  # nothing to reset: nothing sent
    view = asyncio.run(tab._on_pick("some-battle"))
    assert view[tab.battle_id] is None and view[tab.chat_a] == [] and view[tab.prompt] == ""


def test_cheap_handlers_run_in_the_event_loop(arena: Arena) -> None:
    """Gradio runs a plain function in a worker thread; the handlers that only build a view are coroutines, so a new
    round or a pick costs no thread trip."""
    import inspect

    from arena.ui.direct_tab import DirectTab

    with gr.Blocks():
        pair, direct = PairTab(arena, "named"), DirectTab(arena)
    for handler in (pair._on_new_round, pair._on_pick, direct._on_clear, direct._on_pick):
        assert inspect.iscoroutinefunction(handler), handler
