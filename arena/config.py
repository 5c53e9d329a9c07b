"""The model catalogue: ``models.yaml`` parsed, validated and interpolated.

Admins edit ``models.yaml``; this module is the single place that reads it.
Validation happens once, at the edge, and a bad file produces one
:class:`ConfigError` whose message names the file, the model, the field and
the fix, so that a typo never turns into a traceback wall at start-up.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from arena.endpoints import ENV_PATTERN, ModelEndpoints
from arena.judge_config import JUDGE_KINDS, SPEC_BY_KIND, JudgeSpec, JudgeSpecs, LlmJudgeSpec, default_judges

Backend = Literal["openai", "local"]



class ConfigError(Exception):
    """A models.yaml that cannot be used, with a message meant for the admin."""


class ModelSpec(BaseModel):
    """One entry of ``models.yaml``: how to reach a model and how to show it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    backend: Backend
    endpoints: ModelEndpoints = ()
    model: str = Field(min_length=1)
    api_key_env: str | None = None
    system_prompt: str | None = None
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=512, ge=1, le=32768)
    weight: float = Field(default=1.0, ge=0.0)
    battle_targets: tuple[str, ...] = ()
    enabled: bool = True
    anony_only: bool = False
    max_concurrency: int = Field(default=1, ge=1, le=64)
    leak_terms: tuple[str, ...] = ()
    organization: str | None = None
    license: str | None = None
    description: str | None = None
    link: str | None = None

    @model_validator(mode="after")
    def _endpoints_match_backend(self) -> ModelSpec:
        if self.backend == "openai" and not self.endpoints:
            raise ValueError(
                "backend 'openai' needs at least one entry in 'endpoints' "
                "(e.g. endpoints: [\"${STARLING_URL}\"])"
            )
        if self.backend == "local" and self.endpoints:
            raise ValueError("backend 'local' runs in-process: remove 'endpoints'")
        return self

    def resolved_endpoints(self, environ: dict[str, str] | None = None) -> list[str]:
        """Endpoints with ``${VAR}`` filled in; unset variables leave an endpoint out."""
        env = os.environ if environ is None else environ
        resolved = []
        for endpoint in self.endpoints:
            url = interpolate(endpoint, env)
            if url:
                resolved.append(url.rstrip("/"))
        return resolved

    def identity_terms(self) -> list[str]:
        """Words that, in an answer, would reveal this model (used by the leak check)."""
        terms = {self.name, self.model, *self.leak_terms}
        if self.organization:
            terms.add(self.organization)
        return sorted(t for t in terms if t)


class PairingSpec(BaseModel):
    """The optional ``pairing:`` section: how anonymous pairs are drawn (docs/models.md, "Pairing")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sampling: Literal["weights", "active"] = "weights"
    rule: Literal["paper", "widest"] = "paper"  # active only: which intervals one more vote should shrink
    floor: float = Field(default=0.1, ge=0.0, le=1.0)  # active only: share of draws left to the weights alone
    refresh_votes: int = Field(default=100, ge=1)
    refresh_seconds: float = Field(default=30.0, gt=0.0)


class ModelsFile(BaseModel):
    """The whole file: a list of models under ``models:``, optionally the AI judges under ``judges:`` and ``pairing:``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: tuple[ModelSpec, ...] = Field(min_length=1)
    judges: tuple[JudgeSpec, ...] | None = None  # None: the key is absent, so the embedded default applies
    pairing: PairingSpec = PairingSpec()


@dataclass(frozen=True)
class ModelCatalogue:
    """The validated models of one ``models.yaml``, in file order."""

    path: Path
    models: tuple[ModelSpec, ...]
    judges: tuple[JudgeSpecs, ...] = ()
    pairing: PairingSpec = field(default_factory=PairingSpec)

    def get(self, name: str) -> ModelSpec:
        for spec in self.models:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def enabled(self) -> list[ModelSpec]:
        return [m for m in self.models if m.enabled]

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]


def interpolate(text: str, environ: os._Environ[str] | dict[str, str]) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}`` with values from *environ*."""

    def substitute(match: re.Match[str]) -> str:
        value = environ.get(match.group(1))
        if value:
            return value
        return match.group(2) or ""

    return ENV_PATTERN.sub(substitute, text)


_FIX_HINTS = {
    "extra_forbidden": "remove it or fix its spelling; allowed keys: {allowed}",
    "missing": "add it",
    "literal_error": "use one of the allowed values",
    "model_type": "use a mapping of keys (see docs/models.md)",
    "bool_type": "use true or false",
    "bool_parsing": "use true or false",
    "float_type": "use a number",
    "float_parsing": "use a number",
    "int_type": "use a whole number",
    "int_parsing": "use a whole number",
    "string_type": "use text (quote it if it looks like a number)",
    "too_short": "add at least one entry",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "greater_than": "use a larger value",
    "tuple_type": "use a YAML list, e.g. [a, b]",
    "union_tag_invalid": "use one of the allowed kinds: " + ", ".join(JUDGE_KINDS),
    "union_tag_not_found": "add 'kind:' with one of " + ", ".join(JUDGE_KINDS),
}


def _entry_name(raw: Any, section: str, index: int) -> str | None:
    """The ``name:`` of entry *index* of *section* in the raw YAML, if it has one."""
    entries = raw.get(section) if isinstance(raw, dict) else None
    if isinstance(entries, list) and index < len(entries) and isinstance(entries[index], dict):
        name = entries[index].get("name")
        return str(name) if name else None
    return None


def _locate(raw: Any, error: Mapping[str, Any]) -> tuple[str, list[Any], list[str]]:
    """Where an error is (e.g. "model 'x' (entry 2)"), the rest of its location, and the keys allowed there."""
    loc = list(error["loc"])
    if len(loc) >= 2 and loc[0] in ("models", "judges") and isinstance(loc[1], int):
        section, index, loc = loc[0], loc[1], loc[2:]
        noun = "model" if section == "models" else "judge"
        name = _entry_name(raw, section, index)
        where = f"{noun} {name!r} (entry {index + 1})" if name else f"{noun} entry {index + 1}"
        if section == "models":
            return where, loc, list(ModelSpec.model_fields)
        if error["type"].startswith("union_tag"):
            return where, ["kind"], []
        kind = loc.pop(0) if loc and loc[0] in SPEC_BY_KIND else None
        return where, loc, list(SPEC_BY_KIND[kind].model_fields) if kind else []
    if len(loc) >= 2 and loc[0] == "pairing":
        return "", loc, list(PairingSpec.model_fields)
    return "", loc, list(ModelsFile.model_fields)


def _describe(path: Path, raw: Any, error: Mapping[str, Any]) -> str:  # one of ValidationError.errors()
    where, loc, allowed = _locate(raw, error)
    field = ".".join(str(part) for part in loc if not str(part).startswith("function-")) or "(the entry)"
    hint = _FIX_HINTS.get(error["type"], "see docs/models.md for the format")
    hint = hint.format(allowed=", ".join(allowed))
    message = error["msg"].removeprefix("Value error, ")
    place = f"{where}, field '{field}'" if where else f"field '{field}'"
    return f"{path}: {place}: {message}. Fix: {hint}."


def load_catalogue(path: str | Path) -> ModelCatalogue:
    """Read and validate *path*; raise :class:`ConfigError` with an admin-friendly message."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found. Fix: pass --models PATH or create it (see models.yaml in the repository).") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}).") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}. Fix: check indentation and quoting there.") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'models:' list at the top. Fix: start the file with 'models:'.")
    try:
        parsed = ModelsFile.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        lines = [_describe(path, raw, errors[0])]
        if len(errors) > 1:
            lines.extend("  also: " + _describe(path, raw, e) for e in errors[1:5])
        raise ConfigError("\n".join(lines)) from None
    _check_cross_references(path, parsed.models)
    judges = _judges_of(parsed)
    _check_judges(path, judges, parsed.models)
    return ModelCatalogue(path=path, models=parsed.models, judges=judges, pairing=parsed.pairing)


def _judges_of(parsed: ModelsFile) -> tuple[JudgeSpecs, ...]:
    """The file's judges; without a ``judges:`` key, the rule baselines and the embedded model (if the file has one)."""
    if parsed.judges is not None:
        return parsed.judges
    local = next((spec.name for spec in parsed.models if spec.backend == "local"), None)
    return default_judges(local)


def _check_judges(path: Path, judges: tuple[JudgeSpecs, ...], models: tuple[ModelSpec, ...]) -> None:
    seen: dict[str, int] = {}
    model_names = [spec.name for spec in models]
    for index, judge in enumerate(judges):
        where = f"{path}: judge {judge.name!r} (entry {index + 1})"
        if judge.name in seen:
            raise ConfigError(f"{where}, field 'name': duplicate of entry {seen[judge.name] + 1}. Fix: give every judge a unique name.")
        seen[judge.name] = index
        if isinstance(judge, LlmJudgeSpec) and judge.model not in model_names:
            raise ConfigError(
                f"{where}, field 'model': unknown model {judge.model!r} (an llm judge names an entry of 'models:'). "
                f"Fix: use one of {', '.join(model_names)}."
            )


def _check_cross_references(path: Path, models: tuple[ModelSpec, ...]) -> None:
    seen: dict[str, int] = {}
    for index, spec in enumerate(models):
        if spec.name in seen:
            raise ConfigError(
                f"{path}: model {spec.name!r} (entry {index + 1}), field 'name': duplicate of entry "
                f"{seen[spec.name] + 1}. Fix: give every model a unique name."
            )
        seen[spec.name] = index
    for index, spec in enumerate(models):
        for target in spec.battle_targets:
            if target not in seen:
                raise ConfigError(
                    f"{path}: model {spec.name!r} (entry {index + 1}), field 'battle_targets': "
                    f"unknown model {target!r}. Fix: use one of {', '.join(seen)}."
                )
            if target == spec.name:
                raise ConfigError(
                    f"{path}: model {spec.name!r} (entry {index + 1}), field 'battle_targets': "
                    "a model cannot target itself. Fix: remove it."
                )
