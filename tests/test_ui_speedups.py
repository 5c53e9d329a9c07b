"""The shortcut for skipped outputs sends exactly what Gradio would, without rebuilding skipped components."""

from __future__ import annotations

import asyncio

import gradio as gr
import pytest
from gradio.blocks import Blocks
from gradio.state_holder import SessionState

from arena.ui import gradio_speedups


def demo_with_outputs():  # noqa: ANN201
    with gr.Blocks() as demo:
        chat = gr.Chatbot()
        title = gr.Markdown("**Model A**")
        button = gr.Button("Vote", interactive=False)
        box = gr.Textbox()
        remembered = gr.State({})
        button.click(lambda: None, outputs=[chat, title, button, box, remembered])
    demo.config = demo.get_config_file()
    return demo, demo.fns[0], (chat, title, button, box, remembered)


PREDICTIONS = [
    lambda c, t, b, x, s: {c: [{"role": "user", "content": "hi"}]},  # only the pane: the streaming case
    lambda c, t, b, x, s: {c: [], t: "**Model A: X**", b: gr.update(interactive=True), x: gr.skip(), s: {"k": 1}},
    lambda c, t, b, x, s: {t: gr.skip(), b: gr.skip()},  # nothing at all
    lambda c, t, b, x, s: {b: gr.update(interactive=True)},  # a single real update
]


@pytest.mark.parametrize("make", PREDICTIONS)
def test_same_output_as_gradio_and_no_rebuild_of_skipped_components(make, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(Blocks, "postprocess_data", Blocks.postprocess_data)  # undo the install after this test
    slow_demo, slow_fn, slow_blocks = demo_with_outputs()
    slow_state = SessionState(slow_demo)
    expected = asyncio.run(slow_demo.postprocess_data(slow_fn, make(*slow_blocks), slow_state))
    assert gradio_speedups.install()
    assert gradio_speedups.install()  # idempotent
    fast_demo, fast_fn, fast_blocks = demo_with_outputs()
    fast_state = SessionState(fast_demo)
    assert asyncio.run(fast_demo.postprocess_data(fast_fn, make(*fast_blocks), fast_state)) == expected
    prediction = {key._id: value for key, value in make(*fast_blocks).items()}
    for slow, fast in zip(slow_blocks, fast_blocks):
        if prediction.get(fast._id, gr.skip()) == gr.skip() and not fast.stateful:
            assert slow_state.blocks_config.blocks[slow._id] is not slow  # Gradio built a new instance of it
            assert fast_state.blocks_config.blocks[fast._id] is fast  # the shortcut left it alone


def test_non_dict_results_go_through_gradio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Blocks, "postprocess_data", Blocks.postprocess_data)
    demo, fn, blocks = demo_with_outputs()
    values = [[], "**t**", gr.update(interactive=True), "x", {}]
    expected = asyncio.run(demo.postprocess_data(fn, list(values), SessionState(demo)))
    gradio_speedups.install()
    assert asyncio.run(demo.postprocess_data(fn, list(values), SessionState(demo))) == expected


def test_text_components_are_converted_in_the_event_loop_and_files_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import anyio
    import gradio.blocks as blocks

    monkeypatch.setattr(blocks, "anyio", anyio)  # Gradio as shipped, whatever ran before; restored afterwards
    threads: dict[str, int] = {}

    class SpyText(gr.Textbox):
        def postprocess(self, value):  # noqa: ANN001, ANN201
            threads["text"] = threading.get_ident()
            return super().postprocess(value)

    class SpyFile(gr.File):
        def postprocess(self, value):  # noqa: ANN001, ANN201
            threads["file"] = threading.get_ident()
            return super().postprocess(value)

    def convert() -> tuple[list, dict[str, int]]:
        with gr.Blocks() as demo:
            text, files = SpyText(), SpyFile()
            gr.Button().click(lambda: None, outputs=[text, files])
        demo.config = demo.get_config_file()
        threads.clear()
        loop_thread: list[int] = []

        async def run() -> list:
            loop_thread.append(threading.get_ident())
            return await demo.postprocess_data(demo.fns[0], ["hello", None], SessionState(demo))

        return asyncio.run(run()), {k: v == loop_thread[0] for k, v in threads.items()}

    before, in_loop = convert()
    assert in_loop == {"text": False, "file": False}  # Gradio's own way: a worker thread each
    assert gradio_speedups.process_text_components_inline()
    assert gradio_speedups.process_text_components_inline()  # idempotent
    after, in_loop = convert()
    assert in_loop == {"text": True, "file": False}
    assert after == before


UPDATE_SEQUENCES = [
    [lambda c, t, b, x, s: {b: gr.update(interactive=True)}, lambda c, t, b, x, s: {b: gr.update(interactive=False)}],
    [lambda c, t, b, x, s: {b: gr.update(interactive=True, visible=False), t: "**X**"},
     lambda c, t, b, x, s: {b: gr.update(visible=True), x: gr.update(placeholder="ask", interactive=False)}],
    [lambda c, t, b, x, s: {b: gr.update(interactive=True, label=None)},  # None is dropped, as Gradio does
     lambda c, t, b, x, s: {b: gr.update(value="Again")}],  # a value: Gradio's own path
]


@pytest.mark.parametrize("sequence", UPDATE_SEQUENCES)
def test_property_updates_match_gradio_in_message_and_session_config(sequence, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(Blocks, "postprocess_data", Blocks.postprocess_data)
    monkeypatch.setattr(gradio_speedups, "prop_updates", gradio_speedups.PropUpdates())
    slow_demo, slow_fn, slow_blocks = demo_with_outputs()
    slow_state = SessionState(slow_demo)
    expected = [asyncio.run(slow_demo.postprocess_data(slow_fn, make(*slow_blocks), slow_state)) for make in sequence]
    gradio_speedups.install()
    fast_demo, fast_fn, fast_blocks = demo_with_outputs()
    for _session in range(2):  # the second session reuses what the first built
        fast_state = SessionState(fast_demo)
        got = [asyncio.run(fast_demo.postprocess_data(fast_fn, make(*fast_blocks), fast_state)) for make in sequence]
        assert got == expected
        last = {key._id for key in sequence[-1](*fast_blocks)}
        for slow, fast in zip(slow_blocks, fast_blocks):
            if fast._id in last:  # (the configuration of skipped components is the other shortcut's business)
                assert fast_state.config_values[fast._id] == {**slow_state.config_values[slow._id], "id": fast._id}
        fast_button, slow_button = fast_state.blocks_config.blocks[fast_blocks[2]._id], slow_state.blocks_config.blocks[slow_blocks[2]._id]
        assert fast_button.constructor_args == slow_button.constructor_args


def test_a_property_update_is_built_once_for_all_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Blocks, "postprocess_data", Blocks.postprocess_data)
    cache = gradio_speedups.PropUpdates()
    monkeypatch.setattr(gradio_speedups, "prop_updates", cache)
    gradio_speedups.install()
    demo, fn, (chat, title, button, box, remembered) = demo_with_outputs()
    states = [SessionState(demo) for _ in range(5)]
    for state in states:
        for interactive in (True, False, True):
            asyncio.run(demo.postprocess_data(fn, {button: gr.update(interactive=interactive)}, state))
    assert cache.built == 3  # enable, disable, enable again (from the disabled instance): once each, for five sessions
    assert all(state.blocks_config.blocks[button._id].interactive is True for state in states)
    first, second = states[0].config_values[button._id], states[1].config_values[button._id]
    assert first == second and first["props"] is not second["props"]  # each session may write to its own


def test_the_property_cache_forgets_beyond_its_capacity() -> None:
    demo, fn, (chat, title, button, box, remembered) = demo_with_outputs()
    cache = gradio_speedups.PropUpdates(capacity=2)
    state = SessionState(demo)
    for label in ("a", "b", "c"):
        assert cache.apply(box, gr.update(label=label), state, postprocess=True) == {"__type__": "update", "label": label}
    assert cache.built == 3 and len(cache._made) == 2
    assert cache.apply(box, gr.update(label="a"), state, postprocess=True) == {"__type__": "update", "label": "a"}
    assert cache.built == 4  # "a" from "c" was never built
    assert cache.apply(box, gr.update(info=["x"]), state, postprocess=True) is None  # a list: not remembered
    assert cache.apply(remembered, gr.update(interactive=True), state, postprocess=True) is None  # state: Gradio's


@pytest.mark.parametrize("with_auth", [False, True])
def test_the_login_check_runs_without_a_thread_hop_and_still_checks(with_auth: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import fastapi.dependencies.utils as fastapi_dependencies
    import httpx

    from tests.upstream import free_port

    with gr.Blocks() as demo:
        box = gr.Textbox()
        gr.Button("Go").click(lambda: "done", outputs=box, api_name="go")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                auth=("ada", "secret") if with_auth else None)
    try:
        hops: list[str] = []
        real = fastapi_dependencies.run_in_threadpool

        async def counting(call, *args, **kwargs):  # noqa: ANN001, ANN202
            hops.append(getattr(call, "__name__", "?"))
            return await real(call, *args, **kwargs)

        monkeypatch.setattr(fastapi_dependencies, "run_in_threadpool", counting)
        urls = [f"http://127.0.0.1:{port}/gradio_api/info", f"http://127.0.0.1:{port}/config"]  # a router's, the app's
        before = [httpx.get(url, timeout=10).status_code for url in urls]
        assert hops.count("login_check") == 2
        assert gradio_speedups.run_login_check_inline(demo.app) > 10  # every route of Gradio's that checks
        hops.clear()
        after = [httpx.get(url, timeout=10).status_code for url in urls]
        assert "login_check" not in hops
        assert after == before == ([401, 401] if with_auth else [200, 200])  # the check still checks
    finally:
        demo.close()


async def test_the_analytics_summary_takes_a_thread_trip_only_when_due(monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio.queueing as queueing

    assert gradio_speedups.summarise_analytics_only_when_due()
    assert gradio_speedups.summarise_analytics_only_when_due()  # idempotent
    assert queueing.run_sync is gradio_speedups._run_sync_unless_idle
    trips: list[str] = []

    async def recording(fn, *args, **kwargs):  # noqa: ANN001, ANN202 - stands in for the thread trip
        trips.append(fn.__name__)
        return "computed" if fn.__name__ == "compute_analytics_summary" else fn(*args, **kwargs)

    monkeypatch.setattr(gradio_speedups, "_real_run_sync", recording)
    with gr.Blocks() as demo:
        gr.Button("x")
    demo.queue()
    queue = demo._queue
    queue.ANAYLTICS_CACHE_FREQUENCY, queue.event_count_at_last_cache = 3, 0
    queue.cached_event_analytics_summary = {"functions": {"earlier": {}}}
    summaries = []
    for recorded in (1, 2, 3):
        queue.events_recorded = recorded
        summaries.append(await queueing.run_sync(queue.compute_analytics_summary, [{"function": "f"}]))
    assert summaries == [{"functions": {"earlier": {}}}] * 2 + ["computed"]
    assert trips == ["compute_analytics_summary"]  # only the due one went to a thread
    assert await queueing.run_sync(len, [1, 2]) == 2 and trips[-1] == "len"  # anything else still does


def test_state_writes_keep_their_configuration_and_still_store_value_and_lifetime(monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio.state_holder as state_holder
    from gradio.blocks import BlocksConfig

    setitem = state_holder.SessionState.__setitem__
    monkeypatch.setattr(state_holder.SessionState, "__setitem__", getattr(setitem, "__wrapped__", setitem))  # Gradio's own
    with gr.Blocks() as demo:
        remembered = gr.State({}, time_to_live=60)
        box = gr.Textbox()
    slow = SessionState(demo)
    slow[remembered._id] = {"k": 1}
    slow[box._id] = gr.Textbox("replaced", render=False)  # a component write: not a State
    assert gradio_speedups.keep_state_configs()
    assert gradio_speedups.keep_state_configs()  # idempotent
    fast = SessionState(demo)
    computed: list[int] = []
    real = BlocksConfig.config_for_block
    monkeypatch.setattr(BlocksConfig, "config_for_block", staticmethod(lambda _id, *a, **k: computed.append(_id) or real(_id, *a, **k)))
    fast[remembered._id] = {"k": 1}
    fast[box._id] = gr.Textbox("replaced", render=False)
    assert computed == [box._id]  # the State's configuration was not recomputed; the component's was
    assert fast.state_data == slow.state_data and fast[remembered._id] == {"k": 1}
    assert fast._state_ttl[remembered._id][0] == 60 and set(fast._state_ttl) == set(slow._state_ttl)
    assert fast.config_values == slow.config_values  # what a reconnecting page would get is unchanged


def test_type_hints_are_read_once_per_handler_and_stay_right(monkeypatch: pytest.MonkeyPatch) -> None:
    import typing

    import gradio.utils as gradio_utils

    hints = gradio_utils.get_type_hints
    monkeypatch.setattr(gradio_utils, "get_type_hints", getattr(hints, "__wrapped__", hints))  # Gradio's own, for this test
    read: list[object] = []
    real = typing.get_type_hints
    monkeypatch.setattr(typing, "get_type_hints", lambda fn, *a, **k: read.append(fn) or real(fn, *a, **k))

    class Tab:
        def on_send(self, prompt: str, request: gr.Request) -> None: ...

    def plain(x: int) -> None: ...

    expected = gradio_utils.get_type_hints(Tab().on_send)
    assert gradio_speedups.remember_type_hints()
    assert gradio_speedups.remember_type_hints()  # idempotent
    read.clear()
    tab = Tab()
    for _ in range(3):
        assert gradio_utils.get_type_hints(tab.on_send) == expected  # a fresh bound method each time
        assert gradio_utils.get_type_hints(plain) == {"x": int, "return": type(None)}
    assert len(read) == 2  # once per function
    gradio_utils.get_type_hints(plain)["x"] = str  # a caller's change does not leak into the next call
    assert gradio_utils.get_type_hints(plain)["x"] is int
    assert gradio_utils.get_type_hints(len) == {}  # a builtin: no hints, and nothing kept
