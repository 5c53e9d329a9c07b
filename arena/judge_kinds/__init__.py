"""Judge kinds that reach a server (an LLM over a model backend, a reward model over vLLM's pooling API) and the builder.

Apart from :mod:`arena.judges` because they import :mod:`arena.backends` and
:mod:`arena.config`, which import :mod:`arena.judge_config`: kept inside
``arena.judges`` they would make an import cycle among the package's modules.
"""

from arena.judge_kinds.build import JudgeLimits, build_judges, judge_limits
from arena.judge_kinds.llm import LlmJudge
from arena.judge_kinds.reward import RewardJudge

__all__ = ["JudgeLimits", "LlmJudge", "RewardJudge", "build_judges", "judge_limits"]
