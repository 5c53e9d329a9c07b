"""Endpoint lists in models.yaml, for models and judges alike: one URL or several, each http(s) or a ``${VAR}``."""

from __future__ import annotations

import re
from functools import partial
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

# ``${NAME}`` or ``${NAME:-default}``: resolved from the environment when the file is read (arena.config).
ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def one_or_many(value: Any) -> Any:
    """A single endpoint may be written as a string instead of a list."""
    return (value,) if isinstance(value, str) else value


def checked_urls(endpoints: tuple[str, ...], *, example_url: str, example_variable: str) -> tuple[str, ...]:
    """*endpoints* unchanged if each is an http(s) URL or an environment reference; else a message with examples."""
    for endpoint in endpoints:
        if not (endpoint.startswith(("http://", "https://")) or ENV_PATTERN.search(endpoint)):
            raise ValueError(f"endpoint {endpoint!r} must be an http(s) URL such as {example_url} "
                             f"or an environment reference such as ${{{example_variable}}}")
    return endpoints


def _checked_as(example_url: str, example_variable: str) -> AfterValidator:
    return AfterValidator(partial(checked_urls, example_url=example_url, example_variable=example_variable))


# Field types: one endpoint or a list of them, each checked, the message naming examples for that use.
ModelEndpoints = Annotated[tuple[str, ...], BeforeValidator(one_or_many), _checked_as("http://127.0.0.1:8000/v1", "STARLING_URL")]
RewardEndpoints = Annotated[tuple[str, ...], BeforeValidator(one_or_many), _checked_as("http://127.0.0.1:8001", "REWARD_URL")]
