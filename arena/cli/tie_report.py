"""What ``--tie-model rao-kupper`` and ``--simultaneous`` add to ``python -m arena leaderboard``'s JSON and table."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arena.leaderboard import Leaderboard

TABLE_PAIRS = 10  # calibration rows in the text table (the JSON has every pair)


def trust_payload(board: Leaderboard) -> dict:
    """The JSON fields of the tie model and of the simultaneous intervals."""
    from arena.ratings import BT_TIE_RULE, simultaneous_multiplier

    ratings = board.ratings
    payload: dict = {"tie_model": ratings.tie_model, "simultaneous": ratings.simultaneous}
    if ratings.simultaneous:
        payload["simultaneous_multiplier"] = round(simultaneous_multiplier(len(ratings.models)), 4) if ratings.models else None
    ties = ratings.ties
    if ties is not None:
        calibration = ties.calibration
        payload["ties"] = {
            "theta": round(ties.theta, 4), "theta_low": round(ties.theta_low, 4), "theta_high": round(ties.theta_high, 4),
            "pooled_tie_rate": round(calibration.pooled_tie_rate, 4), "bt_tie_rule": BT_TIE_RULE,
            "mae": {"bt": round(calibration.mae(calibration.bradley_terry), 4), "rao_kupper": round(calibration.mae(calibration.rao_kupper), 4)},
            "score_mae": {"bt": round(calibration.score_mae(calibration.bradley_terry), 4),
                          "rao_kupper": round(calibration.score_mae(calibration.rao_kupper), 4)},
            "pairs": calibration.rows(),
        }
    return payload


def trust_lines(board: Leaderboard) -> list[str]:
    """Text-table lines: θ, both MAEs and the most-voted pairs' calibration."""
    ties = board.ratings.ties
    if ties is None:
        return []
    calibration = ties.calibration
    lines = [
        f"Rao–Kupper tie parameter θ = {ties.theta:.3f} (95% {ties.theta_low:.3f}–{ties.theta_high:.3f}); "
        f"pooled tie rate {calibration.pooled_tie_rate:.3f}",
        f"calibration MAE (win/tie/loss, vote-weighted over {len(calibration.votes)} pairs): "
        f"Bradley–Terry {calibration.mae(calibration.bradley_terry):.4f}, Rao–Kupper {calibration.mae(calibration.rao_kupper):.4f}; "
        f"expected score: BT {calibration.score_mae(calibration.bradley_terry):.4f}, RK {calibration.score_mae(calibration.rao_kupper):.4f} "
        "(BT's tie rate: the pooled one)",
    ]
    rows = calibration.rows(TABLE_PAIRS)
    if rows:
        width = max(len(f"{r['model_a']} vs {r['model_b']}") for r in rows)
        lines.append(f"{'pair':<{width}}  {'votes':>7}  {'observed w/t/l':>17}  {'BT w/t/l':>17}  {'RK w/t/l':>17}")
        for r in rows:
            cells = [f"{r[f'{k}_win']:.2f}/{r[f'{k}_tie']:.2f}/{r[f'{k}_loss']:.2f}" for k in ("observed", "bt", "rk")]
            lines.append(f"{r['model_a'] + ' vs ' + r['model_b']:<{width}}  {r['votes']:>7}  " + "  ".join(f"{c:>17}" for c in cells))
    return lines
