"""Ratings from votes: Bradley–Terry, confidence intervals, style control, online Elo.

Pure numpy/scipy; no SQL, no UI (``tests/test_ratings_purity.py`` checks that
importing this package loads no SQLAlchemy). The input is aggregated: one row
per (model_a, model_b, outcome) with a count, as the store keeps it, so the
cost of a fit depends on the number of model pairs, not on the number of
votes. Only style control and online Elo need one row per vote, as arrays.

Conventions
-----------
* A tie (``tie`` or ``tie (bothbad)``) counts as half a win for each side,
  except under Rao–Kupper (:mod:`.rao_kupper`), which models ties as ties.
* Logits are reported on the arena scale: 400 / ln 10 points per logit,
  centred so the average model scores 1000 (or pinned to an anchor model).
* A tiny ridge prior (``DEFAULT_PRIOR`` on the logits) keeps every estimate
  finite: a model with only wins, or a comparison graph in disconnected
  pieces, would otherwise have no maximum-likelihood estimate. With
  thousands of votes its effect is far below a rating point.

Modules: :mod:`.comparisons` (the aggregated input), :mod:`.bradley_terry`,
:mod:`.bootstrap`, :mod:`.sandwich`, :mod:`.scaling` (arena points, Rank (UB)),
:mod:`.elo`, :mod:`.style`, :mod:`.matrices` (graph matrices), :mod:`.honest` (intervals that claim no
more than the votes), :mod:`.fragility` (how many votes keep an order),
:mod:`.rao_kupper` and :mod:`.tie_bootstrap` (ties as ties),
:mod:`.calibration` (predicted vs observed outcome rates), :mod:`.ties`
(Rao–Kupper for a leaderboard), :mod:`.simultaneous` (chi-square simultaneous
intervals) and :mod:`.compute` (the leaderboard of one category). The flat names below are
the public API; import from here.
"""

from arena.domain import OUTCOME_SCORE
from arena.ratings.bootstrap import (
    ChordRefitter,
    _chord_refits,  # private, but arena.live and the tests use it
    _poisson_fill,  # private, but the tests use it
    bootstrap_draws_and_logits,
    bootstrap_logits,
    pair_games_and_wins,
)
from arena.ratings.bradley_terry import DEFAULT_PRIOR, fit_bradley_terry, fit_bradley_terry_batch
from arena.ratings.calibration import BT_TIE_RULE, Calibration, TieReport, calibrate
from arena.ratings.comparisons import Comparisons, Outcome, connected_groups, outcome_scores
from arena.ratings.compute import Z95, RatingRow, Ratings, compute_ratings
from arena.ratings.elo import online_elo
from arena.ratings.fragility import Fragility, order_fragility, top_fragility
from arena.ratings.rao_kupper import (
    TIE_MODELS,
    PairOutcomes,
    RaoKupperFit,
    fit_rao_kupper,
    fit_rao_kupper_pairs,
    rao_kupper_log_likelihood,
    rao_kupper_probabilities,
    rao_kupper_sandwich,
)
from arena.ratings.sandwich import sandwich_covariance
from arena.ratings.scaling import CENTER, SCALE, contrast, rank_upper_bound, scale_logits
from arena.ratings.simultaneous import simultaneous_half_widths, simultaneous_multiplier
from arena.ratings.style import STYLE_FEATURES, StyleFit, fit_style_control, style_design
from arena.ratings.tie_bootstrap import rao_kupper_bootstrap

__all__ = [
    "CENTER", "DEFAULT_PRIOR", "OUTCOME_SCORE", "SCALE", "STYLE_FEATURES", "Z95",
    "ChordRefitter", "Comparisons", "Fragility", "Outcome", "RatingRow", "Ratings", "StyleFit",
    "_chord_refits", "_poisson_fill",
    "bootstrap_draws_and_logits", "bootstrap_logits", "compute_ratings", "connected_groups", "contrast",
    "fit_bradley_terry", "fit_bradley_terry_batch", "fit_style_control", "online_elo", "order_fragility", "outcome_scores",
    "pair_games_and_wins", "rank_upper_bound", "sandwich_covariance", "scale_logits", "style_design", "top_fragility",
    # ties as ties, calibration and simultaneous intervals
    "BT_TIE_RULE", "TIE_MODELS", "Calibration", "PairOutcomes", "RaoKupperFit", "TieReport", "calibrate",
    "fit_rao_kupper", "fit_rao_kupper_pairs", "rao_kupper_bootstrap", "rao_kupper_log_likelihood",
    "rao_kupper_probabilities", "rao_kupper_sandwich", "simultaneous_half_widths", "simultaneous_multiplier",
]
