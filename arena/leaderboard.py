"""The one place that turns the store into a leaderboard: the UI, the CLI and the benchmarks call it.

Results are cached per query and recomputed only when a new vote arrived (the
newest vote id changed), so a page view or a timer tick costs one indexed
query when nothing changed. Online Elo is maintained incrementally: each
refresh folds in only the votes since the last one.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
from threadpoolctl import threadpool_limits

from arena.categories import DEFAULT_CATEGORY, describe
from arena.coded import encode
from arena.config import ModelCatalogue
from arena.live import LayoutChanged, LiveBootstrap
from arena.ratings import (
    TIE_MODELS,
    Comparisons,
    Fragility,
    RatingRow,
    Ratings,
    StyleFit,
    compute_ratings,
    fit_bradley_terry,
    fit_style_control,
    online_elo,
    order_fragility,
    style_design,
    top_fragility,
)
from arena.store import Store
from arena.suspicion_service import SuspicionService, comparisons_without
from arena.vote_arrays import VoteArrays

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class LeaderboardQuery:
    category: str = DEFAULT_CATEGORY
    style_control: bool = False
    ci_method: str = "bootstrap"  # or "sandwich"
    reweight: bool = False
    daily_cap: int | None = None
    min_votes: int = 0
    provisional_votes: int = 0  # models with fewer votes are marked provisional (ARENA_PROVISIONAL_VOTES in the app)
    rounds: int = 100
    seed: int = 0
    tie_model: str = "bt"        # or "rao-kupper": ties as ties, with θ and both models' calibration
    simultaneous: bool = False   # Rank (UB) from simultaneous (chi-square) intervals
    exclude_flagged_judges: bool = False  # leave out the votes of voters flagged by arena.suspicion_service

    def __post_init__(self) -> None:
        if self.tie_model not in TIE_MODELS:
            raise ValueError(f"tie_model: unknown value {self.tie_model!r}; allowed: {', '.join(TIE_MODELS)}")
        if self.style_control and self.tie_model != "bt":
            raise ValueError("tie_model: style control fits Bradley–Terry only; use tie_model 'bt' with style_control")


@dataclass
class Leaderboard:
    query: LeaderboardQuery
    ratings: Ratings
    version: int
    seconds: float
    description: str
    comparisons: Comparisons | None = None  # what the fit saw: the fragility search refits on it

    def as_rows(self, catalogue: ModelCatalogue | None = None) -> list[dict]:
        """Plain dicts (for JSON, CSV and tables), with display metadata from models.yaml."""
        meta = {m.name: m for m in catalogue.models} if catalogue else {}
        out = []
        per_model = self.ratings.ties.calibration.by_model() if self.ratings.ties is not None else {}
        for row in self.ratings.rows:
            spec = meta.get(row.model)
            out.append(
                {
                    "rank": row.rank,
                    "model": row.model,
                    "score": round(row.score, 2),
                    "ci_low": _finite(row.ci_low),  # None: unbounded (see arena.ratings.honest)
                    "ci_high": _finite(row.ci_high),
                    "ci_plus": _finite(row.ci_high - row.score),
                    "ci_minus": _finite(row.score - row.ci_low),
                    "sandwich_low": _finite(row.sandwich_low),
                    "sandwich_high": _finite(row.sandwich_high),
                    "provisional": row.provisional,
                    "votes": row.votes,
                    "elo": None if row.elo is None else round(row.elo, 1),
                    "organization": (spec.organization if spec else None) or "",
                    "license": (spec.license if spec else None) or "",
                    "link": (spec.link if spec else None) or "",
                    **self._trust_columns(row, per_model),
                }
            )
        return out

    def _trust_columns(self, row: RatingRow, per_model: dict[str, tuple[float, float, float]]) -> dict:
        """Columns only the options that compute them add: simultaneous bounds, the tie model's θ and calibration."""
        extra: dict = {}
        if row.simultaneous_low is not None and row.simultaneous_high is not None:
            extra.update(simultaneous_low=_finite(row.simultaneous_low), simultaneous_high=_finite(row.simultaneous_high),
                         simultaneous_plus=_finite(row.simultaneous_high - row.score),
                         simultaneous_minus=_finite(row.score - row.simultaneous_low))
        ties = self.ratings.ties
        if ties is not None:
            tie_rate, mae_bt, mae_rk = per_model.get(row.model, (float("nan"),) * 3)
            extra.update(tie_theta=round(ties.theta, 4), observed_tie_rate=round(tie_rate, 4),
                         calibration_mae_bt=round(mae_bt, 4), calibration_mae_rk=round(mae_rk, 4))
        return extra


def _finite(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


def interval_text(row: dict, digits: int = 0) -> str:
    """A row's interval as ``+12 / -9``, an unbounded side as ∞; both sides are never negative (the interval holds the score)."""
    plus = "∞" if row["ci_plus"] is None else f"{row['ci_plus']:.{digits}f}"
    minus = "∞" if row["ci_minus"] is None else f"{row['ci_minus']:.{digits}f}"
    return f"+{plus} / -{minus}"


def fragility_text(fragility: Fragility | None, *, top: bool = True) -> str:
    """One sentence on how many votes an order rests on (the tab and the CLI say the same)."""
    if fragility is None:
        return "Fragility: needs at least two models with votes."
    leader, challenger = fragility.leader, fragility.challenger
    what = f"The #1 ({leader})" if top else f"{leader} above {challenger}"
    if fragility.votes == 0:
        lead = "The #1 is not settled: " if top else ""
        return f"{lead}{challenger} is level with or above {leader} in the plain Bradley–Terry fit."
    if fragility.votes is None:
        return f"{what} holds whichever votes are dropped: removing votes can at most level {leader} with {challenger}."
    share = fragility.votes / fragility.total_votes if fragility.total_votes else 0.0
    rival = f" ({challenger} takes its place)" if top else ""
    return (f"{what} holds unless {fragility.votes:,} of {fragility.total_votes:,} votes ({share:.3%}) are dropped{rival}: "
            "the votes found by their influence on the fit, confirmed by refitting without them.")


def fragility_row(fragility: Fragility | None) -> dict | None:
    """The fragility as plain values, for JSON."""
    if fragility is None:
        return None
    return {"leader": fragility.leader, "challenger": fragility.challenger, "votes": fragility.votes,
            "total_votes": fragility.total_votes, "share": fragility.share, "linear_estimate": fragility.linear_estimate,
            "refits": fragility.refits}


@dataclass
class _EloState:
    last_vote_id: int = 0
    ratings: dict[str, float] = field(default_factory=dict)


class LeaderboardService:
    """Computes and caches leaderboards from a store."""

    def __init__(self, store: Store, *, anchor_model: str = "", anchor_score: float = 1000.0, elo_settle_s: float = 5.0,
                 suspicion: SuspicionService | None = None) -> None:
        self.store = store
        self.suspicion = suspicion or SuspicionService(store)  # runs its tests only when a query excludes flagged voters
        # Online Elo folds in votes in id order and never revisits them. On PostgreSQL a vote with a
        # smaller id can commit after one with a larger id; waiting until votes are a few seconds old
        # makes sure none is skipped. The kept style-control arrays follow the same rule.
        self.elo_settle_s = elo_settle_s
        self.anchor_model = anchor_model or None
        self.anchor_score = anchor_score
        self._cache: dict[LeaderboardQuery, Leaderboard] = {}
        self._live: dict[tuple[str, int, int], LiveBootstrap] = {}
        self._elo: dict[str, _EloState] = {}
        self._style_cache: dict[str, VoteArrays] = {}
        self._lock = threading.Lock()
        self._fragility: dict[tuple[LeaderboardQuery, tuple[str, str] | None], tuple[int, Fragility | None]] = {}

    def categories(self) -> list[str]:
        """The categories that have votes (languages among them), for the tab's selector."""
        return self.store.categories()

    def votes_version(self) -> int:
        """The newest vote's version: a leaderboard showing another one is stale."""
        return self.store.votes_version()

    def get(self, query: LeaderboardQuery = LeaderboardQuery()) -> Leaderboard:
        """The leaderboard for *query*: cached while no vote arrives, then updated incrementally when it can be."""
        version = self.store.votes_version()
        with self._lock:
            cached = self._cache.get(query)
            if cached is not None and cached.version == version:
                return cached
            with _small_matrix_blas():
                board = self._refresh_live(query, version) if _is_plain(query) else None
                if board is None:
                    board = self.compute(query, version)
            self._cache[query] = board
            return board

    def _refresh_live(self, query: LeaderboardQuery, version: int) -> Leaderboard | None:
        """Fold the votes since the last refresh into the live bootstrap; None when a full computation is needed."""
        started = time.perf_counter()
        key = (query.category, query.rounds, query.seed)
        live = self._live.get(key)
        if live is None:
            return None
        new = self.store.vote_columns_for(query.category, ["id", "model_a", "model_b", "winner"], after_id=live.version)
        try:
            cells = live.cells_of(encode(new["model_a"]).decode(), encode(new["model_b"]).decode(), encode(new["winner"]).decode())
        except LayoutChanged as exc:
            log.info("leaderboard %s: %s; recomputing from scratch", query.category, exc)
            del self._live[key]
            return None
        late_commits_possible = not self.store.commits_in_id_order
        if len(cells) and late_commits_possible and self.store.category_total(query.category) != live.total + len(cells):
            log.info("leaderboard %s: counts moved under us (a late commit?); recomputing from scratch", query.category)
            del self._live[key]
            return None
        live.add(cells, int(new["id"][-1]) if len(cells) else live.version)
        board = self._board(query, live.merged, version, started, fitted=(live.theta, live.samples))
        return board

    def _board(self, query: LeaderboardQuery, comparisons: Comparisons, version: int, started: float, *,
               fitted: tuple[np.ndarray, np.ndarray] | None = None, style: StyleFit | None = None,
               description: str | None = None) -> Leaderboard:
        ratings = compute_ratings(
            comparisons,
            rounds=query.rounds,
            seed=query.seed,
            reweight=query.reweight,
            min_votes=query.min_votes,
            anchor_model=self.anchor_model,
            anchor_score=self.anchor_score,
            ci_method=query.ci_method,
            elo=self.elo_ratings(query.category),
            style=style,
            fitted=fitted,
            provisional_votes=query.provisional_votes,
            tie_model=query.tie_model,
            simultaneous=query.simultaneous,
        )
        seconds = time.perf_counter() - started
        log.info("leaderboard %s computed in %.2f s (%d votes)", query.category, seconds, ratings.total_votes)
        return Leaderboard(query=query, ratings=ratings, version=version, seconds=seconds,
                           description=description or describe(query.category), comparisons=comparisons)

    def fragility(self, query: LeaderboardQuery, pair: tuple[str, str] | None = None) -> Fragility | None:
        """How many votes keep the #1 on top (or *pair*'s first model above its second), for the current board.

        Searched on the board's plain Bradley–Terry fit (see :mod:`arena.ratings.fragility`) and kept until a vote
        arrives; None with fewer than two models.
        """
        board = self.get(query)
        kept = self._fragility.get((query, pair))
        if kept is not None and kept[0] == board.version:
            return kept[1]
        comparisons = board.comparisons
        if comparisons is None or comparisons.n_models < 2:
            return None
        if pair is not None:
            unknown = [m for m in pair if m not in comparisons.models]
            if unknown:
                raise ValueError(f"no votes for {', '.join(unknown)} in this category; models: {', '.join(comparisons.models)}")
            result: Fragility | None = order_fragility(comparisons, *pair)
        else:
            result = top_fragility(comparisons, [row.model for row in board.ratings.rows])
        self._fragility[(query, pair)] = (board.version, result)
        return result

    def compute(self, query: LeaderboardQuery, version: int | None = None) -> Leaderboard:
        """Compute from scratch (no cache), e.g. for benchmarks."""
        with _small_matrix_blas():
            return self._compute(query, version)

    def _compute(self, query: LeaderboardQuery, version: int | None) -> Leaderboard:
        started = time.perf_counter()
        version = self.store.votes_version() if version is None else version
        description = describe(query.category)
        flagged = self._flagged(query)
        if flagged is not None:
            description += f" Votes of {len(flagged)} flagged voter{'s' if len(flagged) != 1 else ''} left out (online Elo keeps them)."
        if query.daily_cap:
            outcomes = self.store.outcome_counts_capped(query.category, query.daily_cap, exclude_judges=flagged or ())
            description += f" At most {query.daily_cap} votes per judge per day."
            comparisons = Comparisons.from_outcomes(outcomes)
        elif flagged is not None:
            comparisons = comparisons_without(self.store, query.category, flagged)
        else:
            columns = self.store.outcome_columns(query.category)
            comparisons = Comparisons.from_columns(columns["model_a"], columns["model_b"], columns["winner"], columns["n"])
        style = (self._style_fit(query.category, comparisons, flagged) if query.style_control and comparisons.n_models >= 2
                 else None)
        fitted = None
        if _is_plain(query) and comparisons.n_models >= 2:
            live = LiveBootstrap(comparisons, version=version, rounds=query.rounds, seed=query.seed)
            self._live[(query.category, query.rounds, query.seed)] = live
            fitted = (live.theta, live.samples)
        return self._board(query, comparisons, version, started, fitted=fitted, style=style, description=description)

    def _flagged(self, query: LeaderboardQuery) -> frozenset[int] | None:
        """The judge ids whose votes *query* leaves out (None: it keeps every vote).

        A result up to 1 % of the votes old is good enough here: the tests read
        every vote, and the tab refreshes after every new one.
        """
        if not query.exclude_flagged_judges:
            return None
        return self.suspicion.flagged_judge_ids(stale_votes=max(100, self.store.votes_version() // 100))

    def _settled_before(self) -> datetime | None:
        """Votes created before this moment can no longer be overtaken by a late commit (None: ids commit in order)."""
        if self.elo_settle_s <= 0 or self.store.commits_in_id_order:
            return None
        return datetime.now(timezone.utc) - timedelta(seconds=self.elo_settle_s)

    def _style_votes(self, category: str) -> VoteArrays:
        """Every vote of *category* with its style counts, read once and then extended by the newer votes only.

        Where ids may commit out of order (PostgreSQL) only votes older than the
        settle window join the kept arrays; the newest ones are read afresh each time.
        """
        kept = self._style_cache.get(category)
        after = kept.last_id if kept is not None else 0
        settled_before = self._settled_before()
        newer = self.store.vote_arrays(category, style=True, after_id=after, created_before=settled_before)
        kept = newer if kept is None else kept.extended(newer)
        self._style_cache[category] = kept
        if settled_before is None:
            return kept
        return kept.extended(self.store.vote_arrays(category, style=True, after_id=kept.last_id))

    def _style_fit(self, category: str, comparisons: Comparisons, flagged: frozenset[int] | None = None) -> StyleFit:
        votes = self.store.vote_arrays(category, style=True, exclude_judges=flagged) if flagged else self._style_votes(category)
        index = {m: i for i, m in enumerate(comparisons.models)}
        lookup = np.array([index.get(m, -1) for m in votes.models], dtype=np.int64)
        a, b = lookup[votes.a], lookup[votes.b]
        assert votes.style_a is not None and votes.style_b is not None, "read with style=True"
        keep = (a >= 0) & (b >= 0) & (a != b)  # votes the counts table holds (self-battles never are)
        return fit_style_control(a[keep], b[keep], votes.score[keep], style_design(votes.style_a[keep], votes.style_b[keep]),
                                 comparisons.n_models, theta0=fit_bradley_terry(comparisons.win_matrix()))

    def elo_ratings(self, category: str = DEFAULT_CATEGORY) -> dict[str, float]:
        """Online Elo for *category*, folding in only votes newer than the last update (state kept in the store)."""
        if category not in self._elo:
            last_vote_id, saved = self.store.load_elo(category)
            self._elo[category] = _EloState(last_vote_id, saved)
        state = self._elo[category]
        new = self.store.vote_arrays(category, after_id=state.last_vote_id, created_before=self._settled_before())
        if new.last_id == state.last_vote_id:
            return dict(state.ratings)
        if len(new):
            names = sorted(set(state.ratings) | {new.models[i] for i in np.unique(np.concatenate([new.a, new.b]))})
            index = {m: i for i, m in enumerate(names)}
            lookup = np.array([index.get(m, -1) for m in new.models], dtype=np.int64)
            start = [state.ratings.get(name, 1000.0) for name in names]
            ratings = online_elo(lookup[new.a].tolist(), lookup[new.b].tolist(), new.score.tolist(), len(names), start=start)
            state.ratings = {name: float(ratings[index[name]]) for name in names}
        state.last_vote_id = new.last_id
        self.store.save_elo(category, state.last_vote_id, state.ratings)
        return dict(state.ratings)


def _is_plain(query: LeaderboardQuery) -> bool:
    """Queries whose bootstrap can be kept current incrementally (no style control, reweighting, cap, tie model or exclusion)."""
    return not (query.style_control or query.reweight or query.daily_cap or query.tie_model != "bt" or query.exclude_flagged_judges)


def _small_matrix_blas() -> threadpool_limits:
    """One BLAS thread while a leaderboard is computed.

    Its matrices are small (models × models) and the bootstrap already runs
    two Python threads; OpenBLAS's own threads on top of those fight for the
    same cores and spin, which made a 200 × 200 inverse take 100 ms instead of 2.
    """
    return threadpool_limits(limits=1, user_api="blas")
