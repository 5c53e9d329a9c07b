"""A reward-model judge over vLLM's pooling API (``vllm serve MODEL --runner pooling``).

Each side is scored as the conversation followed by that answer, sent as chat
messages to ``POST {endpoint}/pooling`` (``{"model", "messages",
"use_activation": false}``, vLLM's ``PoolingChatRequest``); the reply's
``data[0].data`` holds the score: one number for a sequence-classification
reward model, or one row per token for a token-level one (the last token's row
is the sequence's score). Without ``use_activation: false`` vLLM passes a
one-label classifier's logit through a sigmoid, which squashes large rewards
together (they round to 1.0) and puts *tie_margin* on a probability scale; the
raw logit is the reward the model was trained to give. The higher-scored
answer wins; scores within *tie_margin* are a tie. A reading never raises:
HTTP errors, timeouts and unexpected bodies are invalid readings with a reason.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx

from arena.http_clients import async_client
from arena.judges.base import JudgeInput, JudgeKind, Message, Reading
from arena.judges.verdicts import Verdict


class RewardError(Exception):
    """A side could not be scored; the message is the reading's invalid reason (*unavailable*: the server was not reached)."""

    def __init__(self, message: str, *, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable


def pooling_url(endpoint: str) -> str:
    """vLLM serves ``/pooling`` at the server's root: a base URL given with ``/v1`` (as for chat models) is accepted."""
    return endpoint.rstrip("/").removesuffix("/v1") + "/pooling"


def score_of(body: Any) -> float:
    """The single score in a pooling response, or :class:`RewardError` saying why the body has none."""
    try:
        data = body["data"][0]["data"]
    except (KeyError, IndexError, TypeError):
        raise RewardError("garbage response: no data[0].data") from None
    if isinstance(data, list) and data and isinstance(data[-1], list):
        data = data[-1]  # one row per token: the last token's row scores the sequence
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        raise RewardError(f"garbage response: expected one score, got {str(data)[:40]}")
    return float(data)


class RewardJudge:
    """A :class:`arena.judges.base.Judge` that scores each answer with a reward model; the higher one wins."""

    kind: JudgeKind = "reward"

    def __init__(
        self,
        name: str,
        endpoints: list[str],
        model: str,
        *,
        tie_margin: float = 0.0,
        timeout_s: float = 60.0,
        api_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("a reward judge needs at least one endpoint")
        self.name = name
        self.model = model
        self.tie_margin = tie_margin
        self.timeout_s = timeout_s
        self._urls = itertools.cycle([pooling_url(e) for e in endpoints])
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._transport = transport
        self._client: httpx.AsyncClient | None = None  # opened on first use: a client is bound to its event loop

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = async_client(timeout=httpx.Timeout(self.timeout_s), headers=self._headers, transport=self._transport)
        return self._client

    async def _score(self, messages: list[Message]) -> float:
        try:
            response = await self._http().post(next(self._urls), json={"model": self.model, "messages": messages, "use_activation": False})
        except httpx.TimeoutException:
            raise RewardError("timed out") from None
        except httpx.HTTPError as exc:
            raise RewardError(f"http error: {type(exc).__name__}", unavailable=True) from None
        if response.status_code != 200:
            raise RewardError(f"http {response.status_code}", unavailable=True)
        try:
            body = response.json()
        except ValueError:
            raise RewardError("garbage response: not JSON") from None
        return score_of(body)

    async def read(self, item: JudgeInput) -> Reading:
        started = time.monotonic()
        sides = [[*item.conversation, {"role": "assistant", "content": answer}] for answer in (item.first, item.second)]
        try:
            async with asyncio.timeout(self.timeout_s):
                first, second = await asyncio.gather(*(self._score(side) for side in sides))
        except TimeoutError:
            return Reading(verdict=None, invalid_reason="timed out", latency_s=time.monotonic() - started)
        except RewardError as exc:
            return Reading(verdict=None, invalid_reason=str(exc), latency_s=time.monotonic() - started, unavailable=exc.unavailable)
        verdict: Verdict = "tie" if abs(first - second) <= self.tie_margin else ("a" if first > second else "b")
        return Reading(verdict=verdict, scores=(first, second), latency_s=time.monotonic() - started)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
