"""A minimal OpenAI-compatible streaming server that emits tokens at a set rate (for bench/load.py).

Why a server of its own: the load benchmark measures the arena, so the model
must cost nothing but time. Every answer is ``--tokens`` words, the first
(``FIRST``) after ``--prefill-ms`` and the rest ``1/--rate`` seconds apart,
for whatever model id is asked. It serves ``GET /v1/models`` and
``POST /v1/chat/completions`` (streaming and not), enough for the arena's
OpenAI-compatible backend.

    python bench/token_server.py --port 8101 --models tok-a tok-b --rate 20 --tokens 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

FIRST = "Zqfirst"  # the first token of every answer: clients look for it to time the first token


def build_app(models: list[str], rate: float, tokens: int, prefill_s: float) -> Starlette:
    words = [FIRST] + [f"w{i}" for i in range(1, tokens)]

    async def list_models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model", "owned_by": "bench"} for m in models]})

    async def chat(request: Request):  # noqa: ANN202 - JSON or a stream
        body = await request.json()
        head = {"id": "cmpl-bench", "created": int(time.time()), "model": body.get("model", models[0])}
        if not body.get("stream"):
            await asyncio.sleep(prefill_s + (tokens - 1) / rate)
            return JSONResponse({**head, "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": " ".join(words)}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": tokens, "total_tokens": tokens + 1}})

        async def events():  # noqa: ANN202
            def chunk(delta: dict, finish: str | None = None) -> str:
                choice = {"index": 0, "delta": delta, "finish_reason": finish}
                return "data: " + json.dumps({**head, "object": "chat.completion.chunk", "choices": [choice]}) + "\n\n"

            yield chunk({"role": "assistant", "content": ""})
            await asyncio.sleep(prefill_s)
            for i, word in enumerate(words):
                if i:
                    await asyncio.sleep(1 / rate)
                yield chunk({"content": (" " if i else "") + word})
            yield chunk({}, "stop")
            usage = {"prompt_tokens": 1, "completion_tokens": tokens, "total_tokens": tokens + 1}
            yield "data: " + json.dumps({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/models", list_models), Route("/v1/chat/completions", chat, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--models", nargs="+", default=["tok-a", "tok-b"])
    parser.add_argument("--rate", type=float, default=20.0, help="tokens per second after the first")
    parser.add_argument("--tokens", type=int, default=30, help="tokens per answer")
    parser.add_argument("--prefill-ms", type=float, default=50.0, help="delay before the first token")
    args = parser.parse_args()
    app = build_app(args.models, args.rate, args.tokens, args.prefill_ms / 1000)
    # The plain asyncio loop and h11 whatever else is installed: the stand-in model must cost the same in every run.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, loop="asyncio", http="h11")


if __name__ == "__main__":
    main()
