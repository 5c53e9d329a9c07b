"""``python -m arena export``: arguments, validation with clear messages, and the printed summary."""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from arena.export.formats import FORMAT_NAMES
from arena.export.labels import UnknownJudge, parse_labels
from arena.export.source import ExportFilters
from arena.export.writers import SUFFIXES, UnsupportedOutput, output_kind
from arena.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", required=True, choices=FORMAT_NAMES, help="what each row is (see docs/export.md)")
    parser.add_argument("--out", required=True, help=f"output file ending in {', '.join(SUFFIXES)}; a README.md datasheet is written beside it")
    parser.add_argument("--ties", choices=["drop", "kto"], default="drop",
                        help="pairwise only: drop ties and both-bad votes (default) or write KTO rows (prompt, completion, label)")
    parser.add_argument("--min-answers", type=int, default=3, help="kwise only: prompts need answers from at least this many models")
    kept = parser.add_argument_group("battles kept (defaults are the safe choice)")
    kept.add_argument("--include-named", action="store_true", help="also side-by-side battles, whose voters saw the names")
    kept.add_argument("--include-leaked", action="store_true", help="also battles flagged for an identity leak")
    kept.add_argument("--include-errored", action="store_true", help="also battles with a backend error")
    kept.add_argument("--include-unfinished", action="store_true", help="also answers cut at the length limit or stopped")
    kept.add_argument("--include-moderated", action="store_true", help="also battles flagged by moderation")
    kept.add_argument("--since", help="votes at or after this date (YYYY-MM-DD or ISO time, UTC)")
    kept.add_argument("--until", help="votes before this date (YYYY-MM-DD or ISO time, UTC)")
    kept.add_argument("--models", help="comma-separated: keep battles between these models only")
    kept.add_argument("--exclude-models", help="comma-separated: drop battles involving these models")
    kept.add_argument("--daily-cap", type=int, help="at most N votes per judge per UTC day")
    kept.add_argument("--max-per-prompt", type=int, help="at most N battles per identical prompt (de-duplication)")
    kept.add_argument("--min-turns", type=int, default=1, help="battles with at least N user turns")
    kept.add_argument("--max-turns", type=int, help="battles with at most N user turns (--max-turns 1: single-turn pairs only)")
    parser.add_argument("--turns", choices=["last", "all"], default="last",
                        help="pairwise/KTO: completions are the final answers, earlier turns in the prompt (last, default: "
                             "what DPO needs), or each side's whole conversation after the first prompt (all)")
    parser.add_argument("--labels", default="human",
                        help="pairwise/KTO: whose preference picks chosen/rejected: human (default), ai:NAME (the AI judge NAME's "
                             "verdict, RLAIF), agree:NAME (only pairs where the human vote and NAME agree), agree (... and every judge "
                             "that judged the battle); kwise: whose verdicts rank the answers")
    kept.add_argument("--language", help="prompts detected as this language code (e.g. en)")
    kept.add_argument("--exclude-flagged-judges", action="store_true",
                      help="drop the battles of voters flagged as suspicious (docs/suspicion.md)")
    parser.add_argument("--license", default="other", help="licence id written in the datasheet (default: other)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


class ArgumentProblem(ValueError):
    pass


def filters_from_args(args: argparse.Namespace) -> ExportFilters:
    for name in ("daily_cap", "max_per_prompt"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ArgumentProblem(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.min_turns < 1:
        raise ArgumentProblem(f"--min-turns must be at least 1, got {args.min_turns}")
    if args.max_turns is not None and args.max_turns < args.min_turns:
        raise ArgumentProblem(f"--max-turns ({args.max_turns}) must be at least --min-turns ({args.min_turns})")
    since, until = _moment(args.since, "--since"), _moment(args.until, "--until")
    if since and until and since >= until:
        raise ArgumentProblem(f"--since ({args.since}) must be before --until ({args.until})")
    return ExportFilters(
        include_named=args.include_named, include_leaked=args.include_leaked, include_errored=args.include_errored,
        include_unfinished=args.include_unfinished, include_moderated=args.include_moderated, since=since, until=until,
        models=_names(args.models), exclude_models=_names(args.exclude_models) or frozenset(),
        daily_cap=args.daily_cap, max_per_prompt=args.max_per_prompt, min_turns=args.min_turns, max_turns=args.max_turns,
        language=args.language, turns=args.turns, labels=_labels(args.labels),
    )


def _labels(text: str) -> str:
    try:
        parse_labels(text)
    except ValueError as exc:
        raise ArgumentProblem(str(exc)) from None
    return text


def _moment(text: str | None, flag: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ArgumentProblem(f"{flag} must be a date (YYYY-MM-DD) or an ISO time, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _names(text: str | None) -> frozenset[str] | None:
    if not text:
        return None
    return frozenset(name.strip() for name in text.split(",") if name.strip())


def run(args: argparse.Namespace, settings: Settings, argv: list[str] | None = None) -> int:
    from arena.export.run import run_export
    from arena.store import Store

    try:
        filters = filters_from_args(args)
        output_kind(Path(args.out))
        if args.min_answers < 2:
            raise ArgumentProblem(f"--min-answers must be at least 2, got {args.min_answers}")
        if args.ties == "kto" and args.format != "pairwise":
            raise ArgumentProblem("--ties kto applies to --format pairwise only")
        if filters.labels != "human" and args.format not in ("pairwise", "kwise"):
            raise ArgumentProblem("--labels ai:NAME, agree and agree:NAME apply to --format pairwise (and --ties kto) and kwise only")
    except (ArgumentProblem, UnsupportedOutput) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command = "python -m arena " + shlex.join(argv if argv is not None else sys.argv[1:])
    store = Store(settings.database_url, long_prompt_tokens=settings.long_prompt_tokens)
    try:
        if args.exclude_flagged_judges:
            from arena.suspicion_service import SuspicionService

            filters = replace(filters, exclude_judges=SuspicionService(store).flagged_judge_hashes())
            print(f"{len(filters.exclude_judges)} voters flagged as suspicious: their battles are dropped", file=sys.stderr)
        summary = run_export(store, args.format, args.out, filters, ties=args.ties, min_answers=args.min_answers,
                             progress=not args.no_progress, command=command, license_id=args.license)
    except UnknownJudge as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    for line in summary.lines():
        print(line)
    return 0
