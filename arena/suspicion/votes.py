"""Every vote as arrays with its voter: the one input of the suspicion tests.

A vote is (voter, model A, model B, outcome) plus, when the store has them,
the seconds the voter took and the moment of the vote. Outcomes are coded
0 = A won, 1 = B won, 2 = tie (both kinds of tie are one outcome here: the
tests ask whether a voter picks winners the way others do, and "both bad"
against "tie" is a matter of taste that the consensus cannot predict).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from arena.coded import Coded, encode

A_WON, B_WON, TIE = 0, 1, 2
OUTCOME_CODE = {"model_a": A_WON, "model_b": B_WON, "tie": TIE, "tie (bothbad)": TIE}


@dataclass(frozen=True)
class VoterVotes:
    """Votes in vote order; ``voter``, ``a`` and ``b`` are codes into ``voters`` and ``models``."""

    voters: list[str]
    models: list[str]
    voter: np.ndarray               # int64 per vote
    a: np.ndarray                   # int64 model code of side A
    b: np.ndarray
    outcome: np.ndarray             # int8: A_WON, B_WON or TIE
    seconds: np.ndarray | None = None  # time to vote (float), when stored
    at: np.ndarray | None = None       # the vote's moment in seconds since the epoch (float), when stored

    def __len__(self) -> int:
        return len(self.voter)

    @property
    def n_voters(self) -> int:
        return len(self.voters)

    @property
    def n_models(self) -> int:
        return len(self.models)

    def subset(self, keep: np.ndarray) -> VoterVotes:
        """The votes where *keep* (a boolean mask) is true, with the same code books."""
        return VoterVotes(self.voters, self.models, self.voter[keep], self.a[keep], self.b[keep], self.outcome[keep],
                          None if self.seconds is None else self.seconds[keep], None if self.at is None else self.at[keep])


def outcome_codes(winners: Any) -> np.ndarray:
    """Outcome codes of a winner column (strings, list or :class:`~arena.coded.Coded`); unknown winners raise KeyError."""
    coded = encode(winners)
    lookup = np.array([OUTCOME_CODE[w] for w in coded.labels], dtype=np.int8)
    return lookup[coded.codes] if len(coded) else np.zeros(0, dtype=np.int8)


def voter_votes(voter: Any, model_a: Any, model_b: Any, winner: Any, *, seconds: np.ndarray | None = None,
                at: np.ndarray | None = None) -> VoterVotes:
    """Build from columns (strings or :class:`~arena.coded.Coded`, voter ids may be integers), in vote order."""
    if isinstance(voter, np.ndarray) and voter.dtype.kind in "iu":  # ids: no Python object per vote
        ids, codes = np.unique(voter, return_inverse=True)
        voters = Coded(codes.astype(np.int64), [str(i) for i in ids])
    else:
        voters = encode(voter if hasattr(voter, "labels") else [str(v) for v in voter])
    side_a, side_b = encode(model_a), encode(model_b)
    models = sorted(set(side_a.labels) | set(side_b.labels))
    index = {name: i for i, name in enumerate(models)}
    return VoterVotes(
        voters=list(voters.labels), models=models, voter=voters.codes.astype(np.int64),
        a=side_a.recode(index), b=side_b.recode(index), outcome=outcome_codes(winner),
        seconds=None if seconds is None else np.asarray(seconds, dtype=float),
        at=None if at is None else np.asarray(at, dtype=float),
    )
