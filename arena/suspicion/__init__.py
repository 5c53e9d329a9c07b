"""Suspicious voters: per-voter anomaly tests on the stored votes (pure numpy and scipy, no SQL, no UI).

The input is every vote with its voter (:class:`VoterVotes`); the output a
:class:`SuspicionReport`: each tested voter's p-value, its Benjamini–Hochberg
q-value, the flag, and the evidence behind it. The statistics and their limits
are explained in ``docs/suspicion.md``.

Modules: :mod:`.votes` (the input arrays), :mod:`.consensus` (what the other
votes say about each pair), :mod:`.pvalues` (per-vote p-values, Fisher,
Cauchy, Benjamini–Hochberg), :mod:`.checkpoints` (tests after 10, 25, 50,
100 and all votes), :mod:`.scores` (agreement, side and campaign score
tests), :mod:`.campaign` (cross-fitted campaign directions), :mod:`.signals`
(side share, time to vote, bursts) and :mod:`.detect` (the methods).
"""

from arena.suspicion.detect import COMBINERS, METHODS, SuspicionConfig, SuspicionReport, Tested, detect
from arena.suspicion.votes import A_WON, B_WON, TIE, VoterVotes, outcome_codes, voter_votes

__all__ = ["A_WON", "B_WON", "COMBINERS", "METHODS", "TIE", "SuspicionConfig", "SuspicionReport", "Tested", "VoterVotes",
           "detect", "outcome_codes", "voter_votes"]
