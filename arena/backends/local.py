"""In-process generation with transformers, for the embedded default.

Generation is CPU-bound and runs in a worker thread that feeds a streamer; the
event loop only relays text. Each model entry admits ``max_concurrency``
generations at a time and queues the rest, and torch uses ``threads`` threads
per generation: on 2 cores, two single-threaded generations (one per pane)
beat two that fight over both cores.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from pathlib import Path
from typing import Any, AsyncIterator

from arena.backends.base import (
    BackendError,
    GenerationStats,
    Health,
    Message,
    SamplingParams,
)
from arena.embedded import EMBEDDED_MODEL_ID, ensure_converted

log = logging.getLogger(__name__)

_LOADED: dict[str, tuple[Any, Any]] = {}
_LOAD_LOCK = threading.Lock()


def resolve_model_path(model: str, cache_dir: str) -> Path:
    """Map a ``model:`` value of a local entry to a folder or GGUF file."""
    if model.lower() == EMBEDDED_MODEL_ID:
        return ensure_converted(cache_dir)
    path = Path(model).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"local model {model!r} is neither {EMBEDDED_MODEL_ID!r} nor an existing folder or .gguf file"
        )
    return path


def load_model(path: Path, threads: int) -> tuple[Any, Any]:
    """Load (once per process) a causal LM and its tokenizer from *path*."""
    key = str(path)
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(threads)
        started = time.monotonic()
        if path.suffix == ".gguf":
            tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
        else:
            tokenizer = AutoTokenizer.from_pretrained(str(path))
            model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
        model.eval()
        log.info("loaded local model %s in %.1f s", path.name, time.monotonic() - started)
        _LOADED[key] = (model, tokenizer)
        return model, tokenizer


class LocalBackend:
    """Streams answers from a transformers model in this process."""

    def __init__(self, model: str, *, cache_dir: str, threads: int = 1, max_concurrency: int = 1) -> None:
        self.model = model
        self.cache_dir = cache_dir
        self.threads = threads
        self.max_concurrency = max_concurrency
        # One semaphore per event loop (the app has one; tests start several).
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
        self._loaded: tuple[Any, Any] | None = None
        self._load_error: str | None = None

    def _get_semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop not in self._semaphores:
            self._semaphores[loop] = asyncio.Semaphore(self.max_concurrency)
        return self._semaphores[loop]

    def load(self) -> tuple[Any, Any]:
        """Load the weights (blocking); safe to call from several threads."""
        if self._loaded is None:
            try:
                self._loaded = load_model(resolve_model_path(self.model, self.cache_dir), self.threads)
                self._load_error = None
            except Exception as exc:  # surfaced through health() and as a pane error
                self._load_error = f"{type(exc).__name__}: {exc}"
                raise
        return self._loaded

    async def stream(self, messages: list[Message], params: SamplingParams, stats: GenerationStats) -> AsyncIterator[str]:
        started = time.monotonic()
        stats.attempts += 1
        stats.endpoint = "local"
        async with self._get_semaphore():
            try:
                model, tokenizer = await asyncio.to_thread(self.load)
            except Exception as exc:  # noqa: BLE001 - any load failure (files, torch) makes the model unavailable instead of crashing the battle
                raise BackendError("unavailable", f"local model failed to load: {exc}") from None
            async for text in self._generate(model, tokenizer, messages, params, stats, started):
                yield text
        stats.duration_s = time.monotonic() - started

    async def _generate(self, model, tokenizer, messages, params, stats, started) -> AsyncIterator[str]:  # noqa: ANN001
        from transformers import TextIteratorStreamer

        stop = threading.Event()
        inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        prompt_len = int(inputs["input_ids"].shape[-1])
        stats.prompt_tokens = prompt_len
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                output = self._generate_blocking(model, tokenizer, inputs, params, streamer, stop)
                outcome["tokens"] = int(output.shape[-1]) - prompt_len
            except Exception as exc:  # noqa: BLE001 - worker thread: whatever generation raises is reported to the event loop below
                outcome["error"] = exc
                streamer.end()

        worker = threading.Thread(target=run, name="local-generate", daemon=True)
        worker.start()
        iterator = iter(streamer)
        try:
            while True:
                text = await asyncio.to_thread(next, iterator, None)  # the streamer yields only str: None is its end
                if text is None:
                    break
                if text:
                    if stats.first_token_s is None:
                        stats.first_token_s = time.monotonic() - started
                    yield text
        finally:
            stop.set()  # a cancelled or closed stream frees the CPU at the next token
        await asyncio.to_thread(worker.join)
        if "error" in outcome:
            raise BackendError("internal", f"generation failed: {outcome['error']!r}")
        stats.completion_tokens = outcome.get("tokens")
        stats.finish_reason = "length" if outcome.get("tokens", 0) >= params.max_tokens else "stop"

    def _generate_blocking(self, model, tokenizer, inputs, params, streamer, stop: threading.Event):  # noqa: ANN001, ANN202
        """transformers' generate() in this (worker) thread, streaming into *streamer*, stopping when *stop* is set."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        class _StopWhenAsked(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):  # noqa: ANN001, ANN003, ANN204 - transformers' signature
                return stop.is_set()

        torch.set_num_threads(self.threads)
        do_sample = params.temperature > 0
        kwargs = dict(**inputs, max_new_tokens=params.max_tokens, do_sample=do_sample, streamer=streamer,
                      stopping_criteria=StoppingCriteriaList([_StopWhenAsked()]),
                      pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        if do_sample:
            kwargs.update(temperature=params.temperature, top_p=params.top_p)
        with torch.inference_mode():
            return model.generate(**kwargs)

    async def health(self) -> Health:
        if self._load_error:
            return Health(ok=False, detail=self._load_error)
        try:
            resolve = await asyncio.to_thread(self._check_resolvable)
        except Exception as exc:  # noqa: BLE001 - a health check reports any failure instead of raising
            return Health(ok=False, detail=f"{type(exc).__name__}: {exc}")
        return Health(ok=True, detail=resolve, served_models=(self.model,))

    def _check_resolvable(self) -> str:
        if self.model.lower() == EMBEDDED_MODEL_ID:
            from arena.embedded import find_gguf

            return f"embedded ({find_gguf().name})"
        if not Path(self.model).expanduser().exists():
            raise FileNotFoundError(self.model)
        return "local files"

    async def aclose(self) -> None:
        return None
