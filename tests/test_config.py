"""models.yaml validation: every bad case stops with one message naming file, model, field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.config import ConfigError, interpolate, load_catalogue
from tests.helpers import GOOD_LOCAL, GOOD_REMOTE, write_models


def error_for(tmp_path: Path, body: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_catalogue(write_models(tmp_path, body))
    return str(info.value)


def test_shipped_models_yaml_is_valid() -> None:
    """The models.yaml in the repository loads and has two enabled embedded models."""
    catalogue = load_catalogue(Path(__file__).parent.parent / "models.yaml")
    local = [m for m in catalogue.enabled if m.backend == "local"]
    assert len(local) >= 2
    assert "Starling-LM-7B-alpha" in catalogue.names


def test_good_file_parses_defaults(tmp_path: Path) -> None:
    """A minimal valid file gets the documented defaults."""
    catalogue = load_catalogue(write_models(tmp_path, "models:" + GOOD_REMOTE + GOOD_LOCAL))
    spec = catalogue.get("Starling")
    assert spec.weight == 1.0 and spec.enabled and not spec.anony_only
    assert spec.endpoints == ("${STARLING_URL}",)


def test_unknown_key_names_model_field_and_fix(tmp_path: Path) -> None:
    """A misspelt key is refused, naming the model and the allowed keys."""
    message = error_for(tmp_path, "models:" + GOOD_REMOTE + "    temprature: 0.5\n" + GOOD_LOCAL)
    assert "models.yaml" in message and "'Starling'" in message and "temprature" in message
    assert "allowed keys" in message and "temperature" in message


def test_wrong_type(tmp_path: Path) -> None:
    """A non-number temperature is refused with the field named and a fix."""
    message = error_for(tmp_path, "models:" + GOOD_REMOTE + "    temperature: hot\n" + GOOD_LOCAL)
    assert "field 'temperature'" in message and "Fix: use a number" in message


def test_duplicate_name(tmp_path: Path) -> None:
    """Two models with one name are refused, naming both entries."""
    message = error_for(tmp_path, "models:" + GOOD_LOCAL + GOOD_LOCAL)
    assert "duplicate" in message and "'Tiny'" in message and "entry 2" in message


def test_missing_endpoint(tmp_path: Path) -> None:
    """An openai model without endpoints is refused with an example fix."""
    body = "models:\n  - name: Remote\n    backend: openai\n    model: x\n"
    message = error_for(tmp_path, body)
    assert "'Remote'" in message and "endpoints" in message


def test_local_with_endpoint(tmp_path: Path) -> None:
    """A local model with endpoints is refused (they would be silently ignored)."""
    body = "models:\n  - name: L\n    backend: local\n    model: x\n    endpoints: [http://a/v1]\n"
    assert "remove 'endpoints'" in error_for(tmp_path, body)


def test_bad_url(tmp_path: Path) -> None:
    """An endpoint that is neither a URL nor an ${ENV} reference is refused."""
    body = "models:\n  - name: R\n    backend: openai\n    model: x\n    endpoints: [gpu-box:8000]\n"
    assert "http(s) URL" in error_for(tmp_path, body)


def test_missing_required_field(tmp_path: Path) -> None:
    """A model without 'model' is refused, saying to add it."""
    message = error_for(tmp_path, "models:\n  - name: R\n    backend: local\n")
    assert "field 'model'" in message and "add it" in message


def test_unknown_backend(tmp_path: Path) -> None:
    """Only openai and local backends exist."""
    message = error_for(tmp_path, "models:\n  - name: R\n    backend: tgi\n    model: x\n")
    assert "field 'backend'" in message and "'openai'" in message


def test_bad_yaml_reports_line(tmp_path: Path) -> None:
    """Broken YAML is reported with its line, not a traceback."""
    message = error_for(tmp_path, "models:\n  - name: [unclosed\n")
    assert "not valid YAML" in message and "line" in message


def test_not_a_mapping(tmp_path: Path) -> None:
    """A file that is just a list is refused with the expected shape."""
    assert "models:" in error_for(tmp_path, "- a\n- b\n")


def test_empty_models_list(tmp_path: Path) -> None:
    """An empty model list is refused."""
    assert "at least one" in error_for(tmp_path, "models: []\n") or "add at least one" in error_for(tmp_path, "models: []\n")


def test_missing_file(tmp_path: Path) -> None:
    """A missing file says how to point at one."""
    with pytest.raises(ConfigError, match="file not found"):
        load_catalogue(tmp_path / "nope.yaml")


def test_unknown_battle_target(tmp_path: Path) -> None:
    """battle_targets must name configured models."""
    body = "models:" + GOOD_LOCAL + "    battle_targets: [Ghost]\n"
    message = error_for(tmp_path, body)
    assert "battle_targets" in message and "Ghost" in message


def test_negative_weight(tmp_path: Path) -> None:
    """Weights cannot be negative."""
    message = error_for(tmp_path, "models:" + GOOD_LOCAL + "    weight: -1\n")
    assert "field 'weight'" in message


def test_interpolation_and_unset_variables() -> None:
    """${VAR} is filled from the environment; ${VAR:-default} falls back; unset gives empty."""
    env = {"A": "http://a:1/v1"}
    assert interpolate("${A}", env) == "http://a:1/v1"
    assert interpolate("${B:-http://b/v1}", env) == "http://b/v1"
    assert interpolate("${B}", env) == ""


def test_resolved_endpoints_drop_unset(tmp_path: Path) -> None:
    """A model whose variable is unset has no endpoints (so it is unavailable, not an error)."""
    spec = load_catalogue(write_models(tmp_path, "models:" + GOOD_REMOTE)).get("Starling")
    assert spec.resolved_endpoints({}) == []
    assert spec.resolved_endpoints({"STARLING_URL": "http://h:8000/v1/"}) == ["http://h:8000/v1"]


def test_pairing_defaults_to_the_weights_and_reads_active(tmp_path: Path) -> None:
    """Without a pairing: section the weights rule applies; sampling: active is read with its settings."""
    assert load_catalogue(write_models(tmp_path, "models:" + GOOD_LOCAL)).pairing.sampling == "weights"
    body = "models:" + GOOD_LOCAL + "pairing:\n  sampling: active\n  rule: widest\n  floor: 0.2\n"
    pairing = load_catalogue(write_models(tmp_path, body)).pairing
    assert (pairing.sampling, pairing.rule, pairing.floor, pairing.refresh_votes) == ("active", "widest", 0.2, 100)


def test_unknown_sampling_names_file_field_and_allowed_values(tmp_path: Path) -> None:
    """sampling: smart is refused with the file, the field and both allowed values."""
    message = error_for(tmp_path, "models:" + GOOD_LOCAL + "pairing:\n  sampling: smart\n")
    assert "models.yaml" in message and "field 'pairing.sampling'" in message
    assert "'weights'" in message and "'active'" in message and "Fix: use one of the allowed values" in message


def test_unknown_pairing_key_lists_the_pairing_keys(tmp_path: Path) -> None:
    """A misspelt key under pairing: lists the section's own keys, not the file's."""
    message = error_for(tmp_path, "models:" + GOOD_LOCAL + "pairing:\n  samplng: active\n")
    assert "field 'pairing.samplng'" in message and "allowed keys: sampling, rule, floor" in message


def test_pairing_floor_outside_zero_one(tmp_path: Path) -> None:
    """The floor is a share of the draws."""
    message = error_for(tmp_path, "models:" + GOOD_LOCAL + "pairing:\n  sampling: active\n  floor: 1.5\n")
    assert "field 'pairing.floor'" in message and "smaller value" in message
