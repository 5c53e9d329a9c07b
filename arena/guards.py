"""The checks a battle, a prompt, a turn's answers and a vote pass: rate limits, moderation, identity leaks.

One object holds them so that the composition root (:mod:`arena.server`)
chooses the limiter and the moderator once, and the turn runner and the vote
service only ask: may this judge start a battle, is this prompt acceptable,
did these answers give a model's identity away.
"""

from __future__ import annotations

import logging
from typing import Callable, Literal

from arena.battle import Battle, RuleViolation
from arena.leak import LeakDetector
from arena.moderation import Moderator, Verdict, battle_texts, build_moderator
from arena.ratelimit import RateLimiter, build_rate_limiter
from arena.settings import Settings

log = logging.getLogger(__name__)

Window = Literal["minute", "hour", "day"]
WINDOW_SECONDS: dict[str, float] = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}


class GuardPipeline:
    """Per-judge rate limits, content moderation, and the identity-leak check and masking of anonymous battles."""

    def __init__(self, settings: Settings, limiter: RateLimiter, moderator: Moderator, identity_terms: list[str]) -> None:
        self.settings = settings
        self.limiter = limiter
        self.moderator = moderator
        self.use_identity_terms(identity_terms)

    @classmethod
    def from_settings(cls, settings: Settings, identity_terms: list[str]) -> GuardPipeline:
        """The limiter (Redis or memory) and moderator the settings ask for."""
        limiter = build_rate_limiter(settings.redis_url, settings.rate_limit_on_redis_down)  # type: ignore[arg-type]
        moderator = build_moderator(settings.moderation, url=settings.moderation_url, model=settings.moderation_model,
                                    api_key=settings.moderation_api_key, patterns=settings.moderation_patterns)
        return cls(settings, limiter, moderator, identity_terms)

    def use_identity_terms(self, terms: list[str]) -> None:
        """Check and mask these identity terms from now on (after a models.yaml reload, the new models' names)."""
        self.leaks = LeakDetector(terms)
        self.masker = LeakDetector(terms, well_known=False)

    # --- rate limits ------------------------------------------------------------
    async def check_rate(self, what: str, judge_hash: str, limit: int, window: Window = "minute") -> None:
        """Refuse the *what* (prompt, battle, vote) once the judge had *limit* of them in this *window*."""
        if not await self.limiter.allow(f"{what}:{window}:{judge_hash}", limit, WINDOW_SECONDS[window]):
            later = "please wait a moment" if window == "minute" else "please come back later"
            raise RuleViolation(f"Too many {what}s in one {window} (at most {limit}); {later}.")

    async def admit_battle(self, judge_hash: str) -> None:
        await self.check_rate("battle", judge_hash, self.settings.battles_per_hour, "hour")

    async def admit_prompt(self, judge_hash: str) -> None:
        """A prompt or a regeneration: both make the models answer."""
        await self.check_rate("prompt", judge_hash, self.settings.prompts_per_minute)

    async def admit_vote(self, judge_hash: str) -> None:
        await self.check_rate("vote", judge_hash, self.settings.votes_per_minute)
        await self.check_rate("vote", judge_hash, self.settings.votes_per_day, "day")

    # --- moderation and leaks -----------------------------------------------------
    async def moderate(self, battle: Battle, prompt: str | None = None) -> Verdict:
        """Moderate *prompt* with both sides' whole history; an unreachable moderator lets the turn through (logged)."""
        texts = battle_texts((side.messages for side in battle.sides.values()), prompt)
        try:
            return await self.moderator.check(texts)
        except Exception as exc:  # noqa: BLE001 - a broken or unreachable moderator lets the turn through (logged)
            log.warning("moderation unavailable, battle %s not checked: %r", battle.id, exc)
            return Verdict(False)

    def check_leak(self, battle: Battle) -> None:
        """Flag an anonymous battle whose last answers name a model (a term the voter did not ask about)."""
        if battle.mode != "anony":
            return
        answers: dict[str, str] = {name: side.last_answer for name, side in battle.sides.items()}
        findings = self.leaks.check(answers, battle.user_prompts)
        if findings:
            battle.flag_leak({f.term for f in findings})
            log.info("battle %s flagged: identity leak", battle.id)

    async def screen_answers(self, battle: Battle) -> None:
        """After a turn's answers: the leak check, then moderation of the whole battle (a flag closes it)."""
        self.check_leak(battle)
        verdict = await self.moderate(battle)
        if verdict.flagged:
            battle.moderated = True
            log.warning("battle %s: answers flagged by moderation (%s)", battle.id, ", ".join(verdict.categories) or "unspecified")

    def display_filter(self, battle: Battle | None) -> Callable[[str], str] | None:
        """How answers must be altered for display: configured identities hidden in an anonymous battle until the vote."""
        if battle is None or battle.mode != "anony" or battle.reveal() is not None:
            return None
        prompts = battle.user_prompts
        masker = self.masker
        return lambda text: masker.mask(text, prompts)
