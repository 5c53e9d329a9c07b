"""AI judges beside the human vote: combining a judge's two readings, its agreement with people, its leaderboard.

Pure numpy/scipy, no SQL and no UI (the layer contract "The domain is plain
Python" in pyproject.toml holds it to that). :mod:`.verdicts` combines the
verdicts given in both answer orders, :mod:`.agreement` reports agreement,
Cohen's κ and position consistency with bootstrap intervals over battles, and
:mod:`.goodhart` compares the board each judge would produce with the human
one. The flat names below are the public API.
"""

from arena.judges.agreement import (
    Estimate,
    GroupKey,
    JudgeAgreement,
    JudgedBattle,
    agreement,
    agreement_arrays,
    agreement_by,
    agreement_by_arrays,
)
from arena.judges.goodhart import BoardComparison, GoodhartRow, compare_boards, compare_leaderboards
from arena.judges.verdicts import JudgedVerdict, Verdict, combine_orders, human_verdict

__all__ = [
    "BoardComparison", "Estimate", "GoodhartRow", "GroupKey", "JudgeAgreement", "JudgedBattle", "JudgedVerdict", "Verdict",
    "agreement", "agreement_arrays", "agreement_by", "agreement_by_arrays", "combine_orders", "compare_boards",
    "compare_leaderboards", "human_verdict",
]
