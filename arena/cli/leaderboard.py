"""``python -m arena leaderboard``: the Bradley–Terry leaderboard from the store, the same numbers as the tab."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from arena.cli.output import print_report
from arena.cli.tie_report import trust_lines, trust_payload
from arena.config import ConfigError, load_catalogue
from arena.settings import Settings

if TYPE_CHECKING:  # the leaderboard (numpy, scipy, the store) is imported only by the commands that use it
    from arena.leaderboard import Leaderboard

log = logging.getLogger("arena")


def add_leaderboard_parser(sub: argparse._SubParsersAction) -> None:
    board = sub.add_parser("leaderboard", help="print the leaderboard from the store (the same numbers as the tab)")
    board.add_argument("--models", default="models.yaml", help="models.yaml for organization/license columns")
    board.add_argument("--category", default="overall", help="overall, anonymous, all, multi_turn, long_prompt, no_ties or lang:<code>")
    board.add_argument("--style-control", action="store_true", help="adjust for answer length and markdown style")
    board.add_argument("--ci", choices=["bootstrap", "sandwich"], default="bootstrap", help="interval used for Rank (UB)")
    board.add_argument("--reweight", action="store_true", help="weight votes by inverse pair frequency")
    board.add_argument("--daily-cap", type=int, default=None, help="count at most N votes per judge per day")
    board.add_argument("--min-votes", type=int, default=None, help="hide models with fewer votes (default: ARENA_LEADERBOARD_MIN_VOTES)")
    board.add_argument("--provisional-votes", type=int, default=None,
                       help="mark models with fewer votes provisional (default: ARENA_PROVISIONAL_VOTES, 300)")
    board.add_argument("--fragility-pair", nargs=2, metavar=("ABOVE", "BELOW"), default=None,
                       help="also: how many votes keep model ABOVE above model BELOW (the #1's fragility is always shown)")
    board.add_argument("--tie-model", choices=["bt", "rao-kupper"], default="bt",
                       help="bt: ties as half a win (default); rao-kupper: ties as ties, with θ and both models' calibration")
    board.add_argument("--simultaneous", action="store_true",
                       help="Rank (UB) from simultaneous 95%% intervals (chi-square), which hold for all models at once")
    board.add_argument("--exclude-flagged-judges", action="store_true",
                       help="leave out the votes of voters flagged as suspicious (docs/suspicion.md)")
    board.add_argument("--format", choices=["table", "json", "csv"], default="table")


def run_leaderboard(args: argparse.Namespace, settings: Settings) -> int:
    from arena.categories import UnknownCategory
    from arena.leaderboard import LeaderboardQuery, LeaderboardService, fragility_row, fragility_text
    from arena.store import Store

    catalogue = None
    try:
        catalogue = load_catalogue(args.models)
    except ConfigError:
        log.warning("could not read %s; organization and license columns stay empty", args.models)
    try:
        query = LeaderboardQuery(
            category=args.category, style_control=args.style_control, ci_method=args.ci, reweight=args.reweight,
            daily_cap=args.daily_cap, min_votes=settings.leaderboard_min_votes if args.min_votes is None else args.min_votes,
            provisional_votes=settings.provisional_votes if args.provisional_votes is None else args.provisional_votes,
            tie_model=args.tie_model, simultaneous=args.simultaneous, exclude_flagged_judges=args.exclude_flagged_judges,
        )
    except ValueError as exc:  # options the query refuses together (e.g. --tie-model rao-kupper with --style-control)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = Store(settings.database_url, long_prompt_tokens=settings.long_prompt_tokens)
    service = LeaderboardService(store, anchor_model=settings.anchor_model, anchor_score=settings.anchor_score)
    try:
        board = service.get(query)
        last = service.suspicion.last if query.exclude_flagged_judges else None  # what the leaderboard just used
        excluded = len(last.flagged) if last is not None else None
        top = service.fragility(query)
        pair = service.fragility(query, tuple(args.fragility_pair)) if args.fragility_pair else None
    except (UnknownCategory, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    rows = board.as_rows(catalogue)
    payload = {
        "category": query.category, "description": board.description, "style_control": query.style_control,
        "ci_method": board.ratings.ci_method, "total_votes": board.ratings.total_votes, "notes": board.ratings.notes,
        "style_coefficients": board.ratings.style_coefficients, "provisional_votes": query.provisional_votes,
        "fragility": fragility_row(top), "pair_fragility": fragility_row(pair), **trust_payload(board), "rows": rows,
    }
    if excluded is not None:
        payload["excluded_judges"] = excluded
    notes = [fragility_text(top)] + ([fragility_text(pair, top=False)] if args.fragility_pair else [])
    print_report(args.format, payload, rows, ["rank", "model", "score"], lambda: format_table(rows, board, notes))
    return 0


def format_table(rows: list[dict], board: Leaderboard, extra: list[str] | None = None) -> str:
    """A fixed-width text table with the notes underneath."""
    lines = [f"{board.description} {board.ratings.total_votes:,} votes."]
    if not rows:
        return "\n".join([*lines, "no counted votes yet"])
    width = max(len(r["model"]) for r in rows)
    cis = [_interval_text(r) for r in rows]
    ci_width = max(15, *(len(ci) for ci in cis))
    label = "95% CI (joint)" if board.ratings.simultaneous else "95% CI"
    lines.append(f"{'rank':>4}  {'model':<{width}}  {'score':>7}  {label:>{ci_width}}  {'votes':>7}  {'elo':>7}  organization")
    for r, ci in zip(rows, cis):
        elo = "" if r["elo"] is None else f"{r['elo']:.1f}"
        mark = " (provisional)" if r["provisional"] else ""
        lines.append(f"{r['rank']:>4}  {r['model']:<{width}}  {r['score']:>7.1f}  {ci:>{ci_width}}  {r['votes']:>7}  {elo:>7}  {r['organization']}{mark}")
    if board.ratings.style_coefficients:
        lines.append("style coefficients (per standard deviation): " + ", ".join(
            f"{name} {c:+.3f} ± {1.96 * e:.3f}" for name, (c, e) in board.ratings.style_coefficients.items()))
    lines.extend(trust_lines(board))
    lines.extend(f"note: {note}" for note in board.ratings.notes)
    lines.extend(extra or [])
    return "\n".join(lines)


def _interval_text(row: dict) -> str:
    """The per-model interval, then the simultaneous one Rank (UB) used when there is one."""
    from arena.leaderboard import interval_text  # the leaderboard is imported only by the commands that use it

    ci = interval_text(row, digits=1)
    if "simultaneous_plus" in row:
        joint = interval_text({"ci_plus": row["simultaneous_plus"], "ci_minus": row["simultaneous_minus"]}, digits=1)
        ci += f" (joint {joint})"
    return ci
