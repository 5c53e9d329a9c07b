"""The ``judges:`` list of models.yaml: which AI judges read battles, and how each is reached.

Validated at the edge like the models (``arena.config.load_catalogue`` turns
errors into one admin-facing message). Pure pydantic: this module may not
import ``arena.config`` (that module imports this one), so cross-references
to the ``models:`` list and ``${VAR}`` interpolation happen there and at build
time.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from arena.endpoints import RewardEndpoints

JUDGE_KINDS = ("llm", "reward", "rule")
RULES = ("longer", "markdown")



class _JudgeSpecBase(BaseModel):
    """What every judge has: a name, whether it runs, and how hard it may be driven."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    enabled: bool = True
    concurrency: int = Field(default=2, ge=1, le=64)
    rate_per_minute: float | None = Field(default=None, gt=0.0)


class LlmJudgeSpec(_JudgeSpecBase):
    """A chat model of the same file asked to compare the two answers (it reuses that model's backend)."""

    kind: Literal["llm"]
    model: str = Field(min_length=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=256, ge=1, le=32768)
    timeout_s: float = Field(default=60.0, gt=0.0)


class RewardJudgeSpec(_JudgeSpecBase):
    """A reward model behind vLLM's pooling API (``vllm serve … --runner pooling``): the higher-scored answer wins."""

    kind: Literal["reward"]
    endpoints: RewardEndpoints = Field(min_length=1)
    model: str = Field(min_length=1)
    api_key_env: str | None = None
    tie_margin: float = Field(default=0.0, ge=0.0)
    timeout_s: float = Field(default=60.0, gt=0.0)



class RuleJudgeSpec(_JudgeSpecBase):
    """A baseline that needs no model: the longer answer, or the one with more markdown, wins."""

    kind: Literal["rule"]
    rule: Literal["longer", "markdown"]
    tie_margin: float = Field(default=0.0, ge=0.0, le=1.0)


JudgeSpec = Annotated[Union[LlmJudgeSpec, RewardJudgeSpec, RuleJudgeSpec], Field(discriminator="kind")]
JudgeSpecs = Union[LlmJudgeSpec, RewardJudgeSpec, RuleJudgeSpec]  # the same union, for annotations and isinstance

SPEC_BY_KIND: dict[str, type[_JudgeSpecBase]] = {"llm": LlmJudgeSpec, "reward": RewardJudgeSpec, "rule": RuleJudgeSpec}

EMBEDDED_JUDGE = "embedded-judge"


def default_judges(local_model: str | None) -> tuple[JudgeSpecs, ...]:
    """The judges of a file without a ``judges:`` key: the two rule baselines, and the embedded model if there is one."""
    judges: list[JudgeSpecs] = [
        RuleJudgeSpec(kind="rule", name="longer-answer", rule="longer"),
        RuleJudgeSpec(kind="rule", name="more-markdown", rule="markdown"),
    ]
    if local_model is not None:
        judges.append(LlmJudgeSpec(kind="llm", name=EMBEDDED_JUDGE, model=local_model))
    return tuple(judges)


__all__ = [
    "EMBEDDED_JUDGE", "JUDGE_KINDS", "JudgeSpec", "JudgeSpecs", "LlmJudgeSpec", "RULES", "RewardJudgeSpec",
    "RuleJudgeSpec", "SPEC_BY_KIND", "default_judges",
]
