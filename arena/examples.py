"""Example prompts offered to voters who do not know what to ask.

Why: a blank box is the hardest part of a battle. The examples span the
categories the leaderboard reports (coding, maths, writing, reasoning, long
prompts stay out) so that a voter who clicks "Example" produces a battle that
is worth ranking. They are plain data: no UI code here.
"""

from __future__ import annotations

import random

EXAMPLE_PROMPTS: tuple[str, ...] = (
    "Explain the difference between a process and a thread to someone who has just learned to program.",
    "Write a Python function that returns the n-th Fibonacci number in O(log n) time, with a short explanation.",
    "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. How much does the ball cost? Show your reasoning.",
    "Write a haiku about a lighthouse keeper's last night on duty.",
    "What are three good arguments for and three against a four-day work week?",
    "Rewrite this sentence to be clear and concise: 'Due to the fact that we are in a situation of lacking time, we will not be able to proceed.'",
    "Give me a one-week plan to start running, for a complete beginner.",
    "How does public-key cryptography let two strangers agree on a secret over an open channel?",
    "Write a SQL query that finds, for each customer, their most recent order (tables customers and orders).",
    "Summarise the causes of the 2008 financial crisis in five bullet points.",
    "I have eggs, spinach, feta and an old baguette. Suggest a dinner and give the recipe.",
    "What is the derivative of x^x? Explain each step.",
    "Write a polite email declining a job offer while keeping the door open for the future.",
    "Why is the sky blue, and why are sunsets red?",
    "Find the bug: `def mean(xs): return sum(xs) / len(xs) if xs else 0` is called with a generator and fails. Why, and how do I fix it?",
    "Invent a board game for two players that takes ten minutes to play, and explain its rules.",
    "Translate into French and Spanish: 'The meeting has been moved to Thursday afternoon.'",
    "Three friends split a bill of 87 euros so that Ana pays twice what Ben pays and Carl pays 12 euros more than Ben. Who pays what?",
    "What should I consider when choosing between PostgreSQL and SQLite for a small web app?",
    "Tell a short story, under 200 words, in which the twist is revealed by the last word.",
)


def example_prompt(rng: random.Random | None = None, *, avoid: str | None = None) -> str:
    """A random example prompt, different from *avoid* (the one on screen) so a second click changes it."""
    rng = rng or random.SystemRandom()
    choices = [p for p in EXAMPLE_PROMPTS if p != avoid] or list(EXAMPLE_PROMPTS)
    return rng.choice(choices)
