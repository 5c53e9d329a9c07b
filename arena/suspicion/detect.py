"""Which voters' votes do not look like honest votes: per-voter tests, checkpoints, and false-discovery control.

Three methods (``SuspicionConfig.method``):

- ``paper``: Chatbot Arena's test (arXiv 2403.04132, §5): each vote's
  one-sided p-value against the pair's history of other voters' votes,
  combined per voter by Fisher's method after 10, 25, 50, 100 and all votes,
  Bonferroni over those checkpoints.
- ``surprise``: the same combination on a two-sided per-vote p-value (how
  unlikely the outcome is under the consensus), with Lancaster's mean-value
  terms for the discrete outcomes.
- ``robust`` (the default, the best in ``bench/fraud.py``): four score tests
  (agreement, careless, side, campaign; :mod:`arena.suspicion.scores`) after
  25, 100 and all votes, scaled for honest voters' own spread, combined per
  voter by the Cauchy method, and refitted: the consensus is fitted again
  without the voters flagged so far, until the flags settle, so that a
  campaign's votes do not shift the yardstick they are measured with.

Every method ends the same way: one p-value per tested voter (at least
``min_votes`` votes), and Benjamini–Hochberg over the tested voters at
``fdr``, weighted by each voter's votes (up to ``weight_cap``), so that the
flagged list holds (in expectation) at most that share of honest voters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from arena.suspicion.campaign import DEFAULT_RANK, cross_fitted_weights
from arena.suspicion.checkpoints import DEFAULT_CHECKPOINTS, Layout, layout
from arena.suspicion.consensus import fit_consensus, own_pair_counts
from arena.suspicion.pvalues import (
    bh_adjusted,
    bonferroni,
    cauchy_combination,
    fisher_pvalue,
    history_pvalues,
    lancaster_terms,
    surprise_bounds,
)
from arena.suspicion.scores import Component, Decisive, agreement, campaign, carelessness, inflation, side
from arena.suspicion.signals import Signals, simple_signals
from arena.suspicion.votes import VoterVotes

METHODS = ("robust", "paper", "surprise")
COMBINERS = ("cauchy", "bonferroni")
ROBUST_TESTS = ("agreement", "careless", "side", "campaign")
ROBUST_CHECKPOINTS = (25, 100)


@dataclass(frozen=True)
class SuspicionConfig:
    method: str = "robust"
    fdr: float = 0.05              # Benjamini–Hochberg target over the tested voters
    checkpoints: tuple[int, ...] | None = None  # None: the method's own (see :attr:`looks`)
    min_votes: int = 10            # voters with fewer votes are not tested (and never flagged)
    rounds: int = 3                # robust: refits without the flagged voters, at most
    rank: int = DEFAULT_RANK       # robust: campaign directions tested
    combine: str = "cauchy"        # robust: how a voter's tests and checkpoints make one p-value
    seed: int = 0                  # robust: the campaign folds
    floor: float = 0.5             # robust: a voter following the consensus less than this (β) is careless
    weight_cap: int = 100          # BH weights: a voter's votes, up to this many (0: unweighted)
    tests: tuple[str, ...] = ROBUST_TESTS  # robust: which score tests

    @property
    def looks(self) -> tuple[int, ...]:
        """The checkpoints (besides "all votes"): the paper's 10, 25, 50, 100, or 25 and 100 for the robust tests.

        Every look is paid for in the combination; in ``bench/fraud.py`` the
        robust tests found more attackers with two looks than with four.
        """
        if self.checkpoints is not None:
            return self.checkpoints
        return ROBUST_CHECKPOINTS if self.method == "robust" else DEFAULT_CHECKPOINTS

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown suspicion method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.combine not in COMBINERS:
            raise ValueError(f"unknown combination {self.combine!r}; choose one of {', '.join(COMBINERS)}")
        unknown = set(self.tests) - set(ROBUST_TESTS)
        if unknown or not self.tests:
            raise ValueError(f"unknown or no tests {sorted(unknown)}; choose among {', '.join(ROBUST_TESTS)}")
        if not 0 < self.fdr < 1:
            raise ValueError(f"fdr must be between 0 and 1, got {self.fdr}")


@dataclass(frozen=True)
class Tested:
    """One method's outcome per tested voter (``Layout.tested`` order)."""

    pvalue: np.ndarray
    strongest: list[str]                # the test and checkpoint with the smallest p-value
    tests: dict[str, np.ndarray]        # each test's smallest p-value over the checkpoints (not adjusted)
    inflation: dict[str, float] = field(default_factory=dict)


def paper_test(votes: VoterVotes, rows: Layout) -> Tested:
    """Chatbot Arena's test: history p-values, Fisher per checkpoint, Bonferroni over the checkpoints."""
    counts = fit_consensus(votes).counts
    history = counts[votes.a, votes.b] - own_pair_counts(votes)
    return _fisher_over_checkpoints(rows, -2.0 * np.log(history_pvalues(history, votes.outcome)), "paper")


def surprise_test(votes: VoterVotes, rows: Layout) -> Tested:
    """Two-sided per-vote p-values under the consensus, Lancaster–Fisher per checkpoint, Bonferroni over the checkpoints."""
    probs = fit_consensus(votes).probabilities(votes.a, votes.b)
    lower, upper = surprise_bounds(probs, votes.outcome.astype(np.int64))
    return _fisher_over_checkpoints(rows, lancaster_terms(lower, upper), "surprise")


def _fisher_over_checkpoints(rows: Layout, terms: np.ndarray, name: str) -> Tested:
    per_row = fisher_pvalue(rows.totals(terms), rows.row_length)
    position = rows.row_index_of_tested()
    smallest = np.ones(len(rows.tested))
    np.minimum.at(smallest, position, per_row)
    looks = np.bincount(position, minlength=len(rows.tested))
    strongest = _strongest(rows, per_row, position, [name])
    return Tested(pvalue=bonferroni(smallest, looks), strongest=strongest, tests={name: smallest})


def _strongest(rows: Layout, per_row: np.ndarray, position: np.ndarray, names: list[str]) -> list[str]:
    """Per tested voter, "<test> after <n> votes" for the smallest p-value of *per_row* (rows, or rows × tests)."""
    out = [""] * len(rows.tested)
    if len(per_row) == 0:
        return out
    table = per_row.reshape(len(per_row), -1)
    best_test = np.argmin(table, axis=1)
    best = table[np.arange(len(table)), best_test]
    order = np.lexsort((best, position))  # per voter, its smallest row first
    first = order[np.concatenate([[True], position[order][1:] != position[order][:-1]])]
    for row in first:
        out[position[row]] = f"{names[best_test[row]]} after {rows.row_length[row]} votes"
    return out


def robust_test(votes: VoterVotes, rows: Layout, keep: np.ndarray, config: SuspicionConfig) -> Tested:
    """The score tests against the consensus of the kept votes, calibrated on the voters and combined per voter."""
    decisive = Decisive.of(votes, fit_consensus(votes, keep))
    n = rows.totals(decisive.mask.astype(float))
    components: list[Component] = []
    if "agreement" in config.tests:
        components.append(agreement(decisive, rows, n))
    if "careless" in config.tests:
        components.append(carelessness(decisive, rows, n, config.floor))
    if "side" in config.tests:
        components.append(side(decisive, rows, n))
    if "campaign" in config.tests:
        components += campaign(decisive, rows, n, cross_fitted_weights(votes, decisive, rows, rank=config.rank, seed=config.seed))
    tau2 = {c.name: inflation(c) if c.inflatable else 0.0 for c in components}
    table = np.column_stack([c.pvalues(tau2[c.name]) for c in components])
    position = rows.row_index_of_tested()
    tests = {}
    for j, c in enumerate(components):
        smallest = np.ones(len(rows.tested))
        np.minimum.at(smallest, position, table[:, j])
        tests[c.name] = smallest
    if config.combine == "cauchy":
        pvalue = cauchy_combination(table.ravel(), np.repeat(position, table.shape[1]), len(rows.tested))
    else:
        looks = np.bincount(position, minlength=len(rows.tested)) * table.shape[1]
        pvalue = bonferroni(np.min(np.column_stack(list(tests.values())), axis=1), looks)
    return Tested(pvalue=pvalue, strongest=_strongest(rows, table, position, [c.name for c in components]),
                  tests=tests, inflation=tau2)


@dataclass(frozen=True)
class SuspicionReport:
    """The tested voters (``Layout.tested`` order) with their evidence, and which of them are flagged."""

    config: SuspicionConfig
    voters: list[str]          # labels of the tested voters
    tested: Tested
    qvalue: np.ndarray
    flagged: np.ndarray        # bool per tested voter
    signals: Signals
    total_votes: int
    total_voters: int
    refits: int = 0

    @property
    def flagged_voters(self) -> list[str]:
        return [v for v, f in zip(self.voters, self.flagged) if f]


def detect(votes: VoterVotes, config: SuspicionConfig = SuspicionConfig()) -> SuspicionReport:
    """Test every voter with at least ``config.min_votes`` votes; flag at false discovery rate ``config.fdr``."""
    votes = votes.subset(votes.a != votes.b)  # a model against itself says nothing about models
    rows = layout(votes.voter, votes.n_voters, checkpoints=config.looks, min_votes=config.min_votes)
    refits = 0
    weights = np.minimum(rows.counts[rows.tested], config.weight_cap).astype(float) if config.weight_cap else None
    if config.method == "paper":
        tested = paper_test(votes, rows)
    elif config.method == "surprise":
        tested = surprise_test(votes, rows)
    else:
        flagged_codes = np.zeros(0, dtype=np.int64)
        for refits in range(max(config.rounds, 1)):
            tested = robust_test(votes, rows, ~np.isin(votes.voter, flagged_codes), config)
            now = rows.tested[bh_adjusted(tested.pvalue, weights) <= config.fdr]
            if np.array_equal(now, flagged_codes):
                break
            flagged_codes = now
    qvalue = bh_adjusted(tested.pvalue, weights)
    return SuspicionReport(config=config, voters=[votes.voters[c] for c in rows.tested], tested=tested, qvalue=qvalue,
                           flagged=qvalue <= config.fdr, signals=simple_signals(votes, rows), total_votes=len(votes),
                           total_voters=int(np.count_nonzero(rows.counts)), refits=refits)


__all__ = ["COMBINERS", "METHODS", "SuspicionConfig", "SuspicionReport", "Tested", "detect"]
