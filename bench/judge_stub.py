"""A judge's stand-in server for bench/judge.py: OpenAI-compatible chat and vLLM's ``/pooling``, with a fault switch.

Why a server of its own: the judging benchmark measures the worker, so the
judge model must cost nothing but a set delay, and the fault section needs a
judge that fails, stalls or talks nonsense on demand, switched between runs
without a restart. It serves ``GET /v1/models``, ``POST /v1/chat/completions``
(streamed, as the arena's backend asks), ``POST /pooling`` and
``POST /mode`` (``{"mode": "ok" | "fail" | "stall" | "garbage"}``):

- ok: after ``--delay-ms``, the chat reply ``Rationale: ...\\nVerdict: 1`` and a pooling score
  (the answer's length, so the longer answer wins);
- fail: HTTP 500 at once;
- stall: nothing for ``--stall-s`` seconds (longer than the judges' timeout), then the ok answer;
- garbage: after ``--delay-ms``, a chat reply with no verdict line and a pooling body that is not JSON.

    python bench/judge_stub.py --port 8102 [--delay-ms 10] [--stall-s 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

VERDICT = "Rationale: the first answer is clearer.\nVerdict: 1"
GARBAGE = "Both answers have their merits and I would not want to choose."
MODES = ("ok", "fail", "stall", "garbage")


def sse(chunks: list[dict]) -> bytes:
    """The whole event stream at once: the judge reads it to the end anyway, and one write costs the stub least."""
    return "".join("data: " + json.dumps(c) + "\n\n" for c in chunks).encode() + b"data: [DONE]\n\n"


def chat_stream(model: str, text: str) -> bytes:
    head = {"id": "cmpl-judge-stub", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    first, rest = text[: len(text) // 2], text[len(text) // 2:]
    choices = [{"role": "assistant", "content": ""}, {"content": first}, {"content": rest}]
    chunks = [{**head, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in choices]
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({**head, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 12, "total_tokens": 13}})
    return sse(chunks)


async def read_json(request: Request) -> dict | None:
    """The request's JSON body; None when the client went away first (a judge that timed out or was cancelled)."""
    try:
        return await request.json()
    except ClientDisconnect:
        return None


def build_app(delay_s: float, stall_s: float) -> Starlette:
    state = {"mode": "ok"}

    async def wait_or_fail() -> Response | None:
        """The mode's delay; a response when the mode answers with an error instead."""
        mode = state["mode"]
        if mode == "fail":
            return JSONResponse({"error": {"message": "judge stub failing", "type": "server_error"}}, status_code=500)
        await asyncio.sleep(stall_s if mode == "stall" else delay_s)
        return None

    async def set_mode(request: Request) -> JSONResponse:
        mode = (await request.json())["mode"]
        if mode not in MODES:
            return JSONResponse({"error": f"mode must be one of {MODES}"}, status_code=400)
        state["mode"] = mode
        return JSONResponse(state)

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": "judge-stub", "object": "model", "owned_by": "bench"}]})

    async def chat(request: Request) -> Response:
        if (body := await read_json(request)) is None:
            return Response(status_code=499)
        garbage = state["mode"] == "garbage"
        if (error := await wait_or_fail()) is not None:
            return error
        payload = chat_stream(body.get("model", "judge-stub"), GARBAGE if garbage else VERDICT)
        return Response(payload, media_type="text/event-stream")

    async def pooling(request: Request) -> Response:
        if (body := await read_json(request)) is None:
            return Response(status_code=499)
        garbage = state["mode"] == "garbage"
        if (error := await wait_or_fail()) is not None:
            return error
        if garbage:
            return Response(b"<html>not a pooling body</html>", media_type="text/html")
        score = float(len(body["messages"][-1]["content"]))
        return JSONResponse({"object": "list", "data": [{"index": 0, "object": "pooling", "data": [score]}]})

    return Starlette(routes=[Route("/mode", set_mode, methods=["POST"]), Route("/v1/models", models),
                             Route("/v1/chat/completions", chat, methods=["POST"]), Route("/pooling", pooling, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=10.0, help="the judge model's time per request when answering")
    parser.add_argument("--stall-s", type=float, default=30.0, help="how long a stalled request waits before answering")
    args = parser.parse_args()
    app = build_app(args.delay_ms / 1000, args.stall_s)
    # The plain asyncio loop and h11, as bench/token_server.py: the stand-in costs the same in every run.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, loop="asyncio", http="h11")


if __name__ == "__main__":
    main()
