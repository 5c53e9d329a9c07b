"""Judges from the catalogue's specs: the composition root calls :func:`build_judges` once the model pool exists."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Mapping

from arena.backends.base import Backend, SamplingParams
from arena.config import ModelCatalogue, interpolate
from arena.judge_config import JudgeSpecs, LlmJudgeSpec, RewardJudgeSpec, RuleJudgeSpec
from arena.judge_kinds.llm import LlmJudge
from arena.judge_kinds.reward import RewardJudge
from arena.judges.base import Judge
from arena.judges.rules import RuleJudge

log = logging.getLogger(__name__)


def build_judge(spec: JudgeSpecs, backends: Mapping[str, Backend | None]) -> Judge | None:
    """The judge for *spec*, or None when what it needs is missing (its model has no backend, or no endpoint is set)."""
    if isinstance(spec, RuleJudgeSpec):
        return RuleJudge(spec.name, spec.rule, tie_margin=spec.tie_margin)
    if isinstance(spec, LlmJudgeSpec):
        backend = backends.get(spec.model)
        if backend is None:
            return None
        params = SamplingParams(temperature=spec.temperature, top_p=1.0, max_tokens=spec.max_tokens)
        return LlmJudge(spec.name, backend, params, timeout_s=spec.timeout_s)
    assert isinstance(spec, RewardJudgeSpec)
    endpoints = [url.rstrip("/") for url in (interpolate(e, os.environ) for e in spec.endpoints) if url]
    if not endpoints:
        return None
    api_key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
    return RewardJudge(spec.name, endpoints, spec.model, tie_margin=spec.tie_margin, timeout_s=spec.timeout_s, api_key=api_key)


def build_judges(catalogue: ModelCatalogue, backends: Mapping[str, Backend | None]) -> list[Judge]:
    """The enabled judges of *catalogue* that can run; *backends* maps model names to backends (``ModelPool.backends``).

    A judge that cannot run (its model is unavailable, its endpoint variable is unset) is left out with a warning,
    as an unavailable model is: the app still starts.
    """
    judges: list[Judge] = []
    for spec in catalogue.judges:
        if not spec.enabled:
            continue
        judge = build_judge(spec, backends)
        if judge is None:
            log.warning("judge %r left out: its model or endpoint is not available", spec.name)
            continue
        judges.append(judge)
    return judges


@dataclass(frozen=True)
class JudgeLimits:
    """How hard each judge of models.yaml may be driven, in the terms ``JudgingWorker`` takes: readings at once, readings per second."""

    concurrency: dict[str, int] = field(default_factory=dict)
    rate: dict[str, float] = field(default_factory=dict)  # judges without a rate_per_minute are not paced


def judge_limits(catalogue: ModelCatalogue, *, default_rate: float | None = None) -> JudgeLimits:
    """Each judge's ``concurrency`` and ``rate_per_minute`` (as a rate per second), so an operator tunes them in one file.

    *default_rate* (readings per second) paces the judges that set no ``rate_per_minute``; None leaves them unpaced.
    """
    rates = {spec.name: spec.rate_per_minute / 60.0 if spec.rate_per_minute is not None else default_rate for spec in catalogue.judges}
    return JudgeLimits(concurrency={spec.name: spec.concurrency for spec in catalogue.judges},
                       rate={name: rate for name, rate in rates.items() if rate is not None})
