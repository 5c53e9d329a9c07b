"""The 'judges:' list of models.yaml: defaults, the embedded default, and one clear message per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.config import ConfigError, load_catalogue
from arena.judge_config import LlmJudgeSpec, RewardJudgeSpec, RuleJudgeSpec
from tests.helpers import GOOD_LOCAL, GOOD_REMOTE, write_models


def judges_of(tmp_path: Path, judges: str, models: str = GOOD_REMOTE + GOOD_LOCAL) -> tuple:
    return load_catalogue(write_models(tmp_path, "models:" + models + judges)).judges


def error_for(tmp_path: Path, judges: str, models: str = GOOD_REMOTE + GOOD_LOCAL) -> str:
    with pytest.raises(ConfigError) as info:
        load_catalogue(write_models(tmp_path, "models:" + models + judges))
    return str(info.value)


def test_each_kind_gets_its_defaults(tmp_path: Path) -> None:
    judges = judges_of(tmp_path, """
judges:
  - {name: gpt, kind: llm, model: Starling}
  - {name: rm, kind: reward, endpoints: "http://rm:8001", model: skywork-rm}
  - {name: len, kind: rule, rule: longer, enabled: false, concurrency: 1, rate_per_minute: 30}
""")
    llm, reward, rule = judges
    assert isinstance(llm, LlmJudgeSpec) and (llm.temperature, llm.max_tokens, llm.timeout_s) == (0.0, 256, 60.0)
    assert llm.enabled and llm.concurrency == 2 and llm.rate_per_minute is None
    assert isinstance(reward, RewardJudgeSpec) and reward.endpoints == ("http://rm:8001",) and reward.tie_margin == 0.0
    assert isinstance(rule, RuleJudgeSpec) and rule.rule == "longer" and rule.tie_margin == 0.0
    assert not rule.enabled and rule.concurrency == 1 and rule.rate_per_minute == 30


def test_no_judges_key_gives_the_rule_baselines_and_the_embedded_model(tmp_path: Path) -> None:
    judges = judges_of(tmp_path, "")
    assert [(j.name, j.kind) for j in judges] == [("longer-answer", "rule"), ("more-markdown", "rule"), ("embedded-judge", "llm")]
    assert [j.rule for j in judges[:2]] == ["longer", "markdown"]
    assert judges[2].model == "Tiny"


def test_no_embedded_model_no_embedded_judge(tmp_path: Path) -> None:
    assert [j.name for j in judges_of(tmp_path, "", models=GOOD_REMOTE)] == ["longer-answer", "more-markdown"]


def test_an_empty_list_means_no_judges(tmp_path: Path) -> None:
    assert judges_of(tmp_path, "\njudges: []\n") == ()


def test_the_shipped_file_has_the_embedded_default() -> None:
    catalogue = load_catalogue(Path(__file__).parent.parent / "models.yaml")
    assert [j.name for j in catalogue.judges] == ["longer-answer", "more-markdown", "embedded-judge"]


@pytest.mark.parametrize(
    ("judges", "expected"),
    [
        ("- {name: j, kind: oracle}",
         ["judge 'j' (entry 1), field 'kind'", "'oracle'", "'llm', 'reward', 'rule'", "Fix: use one of the allowed kinds: llm, reward, rule"]),
        ("- {name: j}", ["judge 'j' (entry 1), field 'kind'", "Fix: add 'kind:' with one of llm, reward, rule"]),
        ("- {name: j, kind: rule, rule: shortest}", ["judge 'j' (entry 1), field 'rule'", "'longer' or 'markdown'"]),
        ("- {name: j, kind: rule, rule: longer, temprature: 1}",
         ["judge 'j' (entry 1), field 'temprature'", "Fix: remove it or fix its spelling; allowed keys: name, enabled"]),
        ("- {name: j, kind: llm, model: Tiny, concurrency: 0}", ["judge 'j' (entry 1), field 'concurrency'", "Fix: use a larger value"]),
        ("- {name: j, kind: llm}", ["judge 'j' (entry 1), field 'model'", "Fix: add it"]),
        ("- {name: j, kind: reward, model: rm, endpoints: [rm:8001]}",
         ["judge 'j' (entry 1), field 'endpoints'", "must be an http(s) URL"]),
        ("- {name: j, kind: reward, model: rm}", ["judge 'j' (entry 1), field 'endpoints'", "Fix: add it"]),
        ("- {kind: rule, rule: longer}", ["judge entry 1, field 'name'", "Fix: add it"]),
    ],
)
def test_bad_judges_are_named_with_field_and_fix(tmp_path: Path, judges: str, expected: list[str]) -> None:
    message = error_for(tmp_path, "judges:\n  " + judges + "\n")
    assert message.startswith(str(tmp_path / "models.yaml") + ": ")
    for part in expected:
        assert part in message


def test_an_llm_judge_must_name_a_model_of_the_file(tmp_path: Path) -> None:
    message = error_for(tmp_path, "judges:\n  - {name: j, kind: llm, model: GPT-9}\n")
    assert "judge 'j' (entry 1), field 'model': unknown model 'GPT-9'" in message
    assert "Fix: use one of Starling, Tiny." in message


def test_judge_names_are_unique(tmp_path: Path) -> None:
    message = error_for(tmp_path, "judges:\n  - {name: j, kind: rule, rule: longer}\n  - {name: j, kind: rule, rule: markdown}\n")
    assert "judge 'j' (entry 2), field 'name': duplicate of entry 1" in message


def test_a_misspelt_top_level_key_lists_judges_as_allowed(tmp_path: Path) -> None:
    message = error_for(tmp_path, "judgez: []\n")
    assert "field 'judgez'" in message and "allowed keys: models, judges" in message
