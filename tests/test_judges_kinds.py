"""The judge kinds: rule baselines on known answers, the LLM judge's strict parser and its failures against a
scripted OpenAI-compatible upstream, the reward judge against a fake pooling server, and build_judges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest

from arena.backends.base import GenerationStats, Health, SamplingParams
from arena.backends.openai_compat import OpenAICompatBackend, Timeouts
from arena.config import load_catalogue
from arena.judge_kinds import LlmJudge, RewardJudge, build_judges
from arena.judge_kinds.llm import judge_messages, parse_reply
from arena.judge_kinds.reward import pooling_url, score_of
from arena.judges.base import JudgeInput, Reading
from arena.judges.rules import RuleJudge, markdown_count, rule_verdict
from tests.upstream import DEFAULT_MODEL, Behavior, Upstream

CONVERSATION = [{"role": "user", "content": "What is 2+2?"}]
ITEM = JudgeInput(CONVERSATION, first="4", second="The answer is 4.")
FAST = Timeouts(connect=2.0, first_token=5.0, total=10.0)
PARAMS = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=64)

MARKDOWN = """# Title
Some **bold** text.

- one
- two
1. three

| a | b |
|---|---|

```python
x = 1
```
"""


# --- rules -----------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_longer_answer_wins_with_lengths_as_scores() -> None:
    reading = await RuleJudge("len", "longer").read(ITEM)
    assert reading == Reading(verdict="b", scores=(1.0, 16.0))
    swapped = await RuleJudge("len", "longer").read(JudgeInput(CONVERSATION, ITEM.second, ITEM.first))
    assert swapped.verdict == "a"


@pytest.mark.asyncio
async def test_equal_or_close_lengths_are_a_tie() -> None:
    assert (await RuleJudge("len", "longer").read(JudgeInput(CONVERSATION, "abcd", " wxyz\n"))).verdict == "tie"
    close = JudgeInput(CONVERSATION, "a" * 95, "a" * 100)
    assert (await RuleJudge("len", "longer").read(close)).verdict == "b"
    assert (await RuleJudge("len", "longer", tie_margin=0.1).read(close)).verdict == "tie"


def test_markdown_count_counts_headers_lists_bold_tables_and_code_blocks() -> None:
    # 1 header + 3 list items + 1 bold + 2 table rows + 1 code block
    assert markdown_count(MARKDOWN) == 8
    assert markdown_count("plain text, no markup at all") == 0


@pytest.mark.asyncio
async def test_more_markdown_wins() -> None:
    reading = await RuleJudge("md", "markdown").read(JudgeInput(CONVERSATION, "plain", MARKDOWN))
    assert reading.verdict == "b" and reading.scores == (0.0, 8.0)


def test_rule_verdict_table() -> None:
    assert [rule_verdict(*pair, 0.0) for pair in [(0, 0), (2, 1), (1, 2), (3, 3)]] == ["tie", "a", "b", "tie"]


# --- the LLM judge's prompt and parser -------------------------------------------------------------------------


def test_prompt_shows_the_conversation_then_both_answers_in_reading_order() -> None:
    system, user = judge_messages(ITEM)
    assert system["role"] == "system" and "impartial" in system["content"]
    text = user["content"]
    assert text.index("User: What is 2+2?") < text.index("[Answer 1]\n4") < text.index("[Answer 2]\nThe answer is 4.")
    assert "Verdict: <1, 2 or tie>" in text and "Rationale:" in text


@pytest.mark.parametrize(
    ("reply", "verdict", "rationale"),
    [
        ("Rationale: Answer 1 is correct and terse.\nVerdict: 1", "a", "Answer 1 is correct and terse."),
        ("Rationale: the second explains.\nVerdict: 2\n", "b", "the second explains."),
        ("rationale: both fine\nverdict: TIE", "tie", "both fine"),
        ("Let me think.\nRationale: first line\ncontinued here\n\nVerdict:2", "b", "first line continued here"),
        ("  Rationale: " + "x" * 900 + "\n  Verdict: 1  ", "a", "x" * 500),
    ],
)
def test_good_replies_parse(reply: str, verdict: str, rationale: str) -> None:
    assert parse_reply(reply) == Reading(verdict=verdict, rationale=rationale)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "reply",
    [
        "Verdict: 1",  # no rationale
        "Rationale: good\nVerdict: 1\nThanks!",  # verdict not last
        "Rationale: good\nVerdict: 3",  # no such answer
        "Rationale: good\nVerdict: Answer 1",  # not one of 1, 2, tie
        "Rationale: good\n**Verdict: 1**",  # decorated
        "Rationale:\nVerdict: 2",  # empty rationale
        "Verdict: 1\nRationale: after the verdict",
        "I prefer the first answer.",
    ],
)
def test_bad_replies_are_unparseable_with_their_start(reply: str) -> None:
    reading = parse_reply(reply)
    assert reading.verdict is None and reading.invalid_reason == f"unparseable: {reply.strip()[:80]}"


@pytest.mark.parametrize("reply", ["", "  \n\n "])
def test_empty_replies_are_empty(reply: str) -> None:
    assert parse_reply(reply) == Reading(verdict=None, invalid_reason="empty")


# --- the LLM judge against a scripted upstream -----------------------------------------------------------------


async def llm_reading(up: Upstream, behavior: Behavior, timeout_s: float = 10.0) -> Reading:
    up.behavior = behavior
    backend = OpenAICompatBackend(DEFAULT_MODEL, [up.url], timeouts=FAST)
    judge = LlmJudge("judge", backend, PARAMS, timeout_s=timeout_s)
    try:
        return await judge.read(ITEM)
    finally:
        await judge.aclose()
        await backend.aclose()


@pytest.mark.asyncio
async def test_llm_judge_reads_a_good_verdict(up: Upstream) -> None:
    reading = await llm_reading(up, Behavior(reply="Rationale: the second shows its work.\nVerdict: 2", chunks=5))
    assert (reading.verdict, reading.rationale, reading.invalid_reason) == ("b", "the second shows its work.", None)
    assert reading.latency_s > 0
    sent = up.requests[-1]
    assert sent["temperature"] == 0.0 and sent["max_tokens"] == 64
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert "[Answer 1]\n4" in sent["messages"][1]["content"]


@pytest.mark.asyncio
async def test_llm_judge_garbage_is_unparseable(up: Upstream) -> None:
    reading = await llm_reading(up, Behavior(reply="Both answers are great, really."))
    assert reading.verdict is None and reading.invalid_reason == "unparseable: Both answers are great, really."


@pytest.mark.asyncio
async def test_llm_judge_blank_reply_is_empty(up: Upstream) -> None:
    reading = await llm_reading(up, Behavior(reply=" \n\n ", chunks=1))
    assert reading.verdict is None and reading.invalid_reason == "empty"


@pytest.mark.asyncio
async def test_llm_judge_no_text_at_all_is_the_backends_protocol_error(up: Upstream) -> None:
    """The OpenAI-compatible backend itself refuses a stream without any answer."""
    reading = await llm_reading(up, Behavior(reply="", chunks=1))
    assert reading.verdict is None and reading.invalid_reason == "backend error: protocol"


class _SilentBackend:
    """A backend whose stream ends without a word (the embedded model may do that)."""

    async def stream(self, messages: list, params: SamplingParams, stats: GenerationStats) -> AsyncIterator[str]:
        for chunk in ():
            yield chunk

    async def health(self) -> Health:
        return Health(ok=True)

    async def aclose(self) -> None:
        pass


@pytest.mark.asyncio
async def test_llm_judge_empty_stream_is_empty() -> None:
    reading = await LlmJudge("judge", _SilentBackend(), PARAMS).read(ITEM)
    assert reading.verdict is None and reading.invalid_reason == "empty"


@pytest.mark.asyncio
async def test_llm_judge_http_500_is_a_backend_error(up: Upstream) -> None:
    reading = await llm_reading(up, Behavior(status=500))
    assert reading.verdict is None and reading.invalid_reason == "backend error: http" and reading.unavailable


@pytest.mark.asyncio
async def test_llm_judge_stall_times_out(up: Upstream) -> None:
    reading = await llm_reading(up, Behavior(reply="Rationale: x\nVerdict: 1", stall_s=3.0), timeout_s=0.3)
    assert reading.verdict is None and reading.invalid_reason == "timed out"
    assert 0.3 <= reading.latency_s < 2.0


# --- the reward judge against a fake pooling server ------------------------------------------------------------


def pooling_server(scores: dict[str, object], status: int = 200, seen: list[dict] | None = None) -> httpx.MockTransport:
    """A fake ``POST /pooling``: the score of a request is looked up by its last (assistant) message."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/pooling":
            return httpx.Response(404)
        body = json.loads(request.content)
        if seen is not None:
            seen.append(body)
        if status != 200:
            return httpx.Response(status, json={"error": {"message": "boom"}})
        data = scores[body["messages"][-1]["content"]]
        if data == "not json":
            return httpx.Response(200, content=b"<html>oops</html>")
        return httpx.Response(200, json={"object": "list", "model": body["model"], "data": [{"index": 0, "object": "pooling", "data": data}]})

    return httpx.MockTransport(handle)


async def reward_reading(transport: httpx.MockTransport, tie_margin: float = 0.0) -> Reading:
    judge = RewardJudge("rm", ["http://rm:8001/v1"], "skywork-rm", tie_margin=tie_margin, transport=transport)
    try:
        return await judge.read(ITEM)
    finally:
        await judge.aclose()


@pytest.mark.asyncio
async def test_reward_judge_higher_score_wins_and_sends_each_side_as_chat() -> None:
    seen: list[dict] = []
    reading = await reward_reading(pooling_server({"4": [0.5], "The answer is 4.": [1.25]}, seen=seen))
    assert (reading.verdict, reading.scores, reading.invalid_reason) == ("b", (0.5, 1.25), None)
    assert sorted(body["messages"][-1]["content"] for body in seen) == ["4", "The answer is 4."]
    assert all(body["model"] == "skywork-rm" and body["messages"][:-1] == CONVERSATION for body in seen)
    assert all(body["use_activation"] is False for body in seen)  # the raw reward, not vLLM's default sigmoid of it
    assert all(body["messages"][-1]["role"] == "assistant" for body in seen)


@pytest.mark.asyncio
async def test_reward_judge_first_side_and_ties() -> None:
    assert (await reward_reading(pooling_server({"4": 2.0, "The answer is 4.": [[0.1], [1.0]]}))).verdict == "a"
    assert (await reward_reading(pooling_server({"4": [1.0], "The answer is 4.": [1.2]}), tie_margin=0.25)).verdict == "tie"
    assert (await reward_reading(pooling_server({"4": [1.0], "The answer is 4.": [1.0]}))).verdict == "tie"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("transport", "reason"),
    [
        (pooling_server({}, status=500), "http 500"),
        (pooling_server({"4": "not json", "The answer is 4.": [1.0]}), "garbage response: not JSON"),
        (pooling_server({"4": [0.1, 0.9], "The answer is 4.": [1.0]}), "garbage response: expected one score, got [0.1, 0.9]"),
        (pooling_server({"4": "high", "The answer is 4.": [1.0]}), "garbage response: expected one score, got high"),
    ],
)
async def test_reward_judge_failures_are_invalid_readings(transport: httpx.MockTransport, reason: str) -> None:
    reading = await reward_reading(transport)
    assert reading.verdict is None and reading.scores is None and reading.invalid_reason == reason
    assert reading.unavailable == reason.startswith("http")  # the server's failure, retried; garbage is the judge's answer


@pytest.mark.asyncio
async def test_reward_judge_unreachable_server_is_an_invalid_reading() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    reading = await reward_reading(httpx.MockTransport(refuse))
    assert reading.verdict is None and reading.invalid_reason == "http error: ConnectError" and reading.unavailable


def test_pooling_url_and_score_shapes() -> None:
    assert pooling_url("http://rm:8001/v1/") == pooling_url("http://rm:8001") == "http://rm:8001/pooling"
    assert score_of({"data": [{"data": [[0.0], [0.3]]}]}) == 0.3
    assert score_of({"data": [{"data": -1}]}) == -1.0


# --- build_judges ----------------------------------------------------------------------------------------------


def test_build_judges_from_the_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNSET_RM_URL", raising=False)
    path = tmp_path / "models.yaml"
    path.write_text("""
models:
  - {name: Tiny, backend: local, model: smollm2-135m-instruct}
  - {name: Remote, backend: openai, endpoints: ["${UNSET_URL}"], model: r}
judges:
  - {name: len, kind: rule, rule: longer, tie_margin: 0.1}
  - {name: tiny-judge, kind: llm, model: Tiny, max_tokens: 99}
  - {name: remote-judge, kind: llm, model: Remote}
  - {name: rm, kind: reward, endpoints: ["http://rm:8001"], model: skywork-rm}
  - {name: rm-unset, kind: reward, endpoints: ["${UNSET_RM_URL}"], model: skywork-rm}
  - {name: md-disabled, kind: rule, rule: markdown, enabled: false}
""")
    tiny_backend = object()
    judges = build_judges(load_catalogue(path), {"Tiny": tiny_backend, "Remote": None})  # type: ignore[dict-item]
    assert [(j.name, j.kind) for j in judges] == [("len", "rule"), ("tiny-judge", "llm"), ("rm", "reward")]
    rule, llm, reward = judges
    assert isinstance(rule, RuleJudge) and rule.tie_margin == 0.1
    assert isinstance(llm, LlmJudge) and llm.backend is tiny_backend and llm.params == SamplingParams(0.0, 1.0, 99)
    assert isinstance(reward, RewardJudge) and reward.model == "skywork-rm"
