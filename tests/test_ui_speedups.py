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


def test_absent_modules_are_remembered_and_present_ones_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    absent = "arena_no_such_module_xyz"
    monkeypatch.delitem(sys.modules, absent, raising=False)
    try:
        assert gradio_speedups.remember_missing_modules((absent, "json")) == [absent]
        assert sys.modules[absent] is None
        with pytest.raises(ImportError):
            __import__(absent)
        import json

        assert json.dumps([1]) == "[1]"
        assert gradio_speedups.remember_missing_modules((absent,)) == []  # already known
    finally:
        sys.modules.pop(absent, None)


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
