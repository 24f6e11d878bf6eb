"""journeys/scenarios.yaml: loaded, checked like journeys (file:line:column: field: message), wired into the world."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orchestrator.config.catalog import load_config, scenarios_schema
from orchestrator.core.scenarios.intents import match_intents
from orchestrator.segmentation import JiebaTokenizer
from tests.config.helpers import problems

REPO = Path(__file__).resolve().parents[2]
JOURNEY = """\
id: j
name: 测试
version: 1
trigger: {scenario: SCENARIO}
steps:
  - id: remind
    send: {channel: wecom_private, template: t.j2}
"""


def _tree(tmp_path: Path, scenarios: str | None, scenario: str = "consumption_cycle_ending") -> Path:
    (tmp_path / "journeys").mkdir(exist_ok=True)
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "journeys" / "j.yaml").write_text(JOURNEY.replace("SCENARIO", scenario), encoding="utf-8")
    (tmp_path / "templates" / "t.j2").write_text("hi", encoding="utf-8")
    if scenarios is not None:
        (tmp_path / "journeys" / "scenarios.yaml").write_text(textwrap.dedent(scenarios), encoding="utf-8")
    return tmp_path


def test_the_shipped_settings_are_valid_and_turn_every_detector_on() -> None:
    settings = load_config(REPO / "journeys", REPO / "templates").scenarios
    sections = ("consumption_cycle_ending", "buying_for_friends", "moving_house", "lifecycle", "value_tier")
    assert all(getattr(settings, s) is not None for s in (*sections, "service_due", "surveys"))
    assert set(settings.chat.intents) == {"running_out", "asked_by_friend", "moving"}
    assert settings.moving_house is not None
    assert "range_hood" in settings.moving_house.categories


def test_the_world_segments_chat_with_jieba_and_the_project_words() -> None:
    config = load_config(REPO / "journeys", REPO / "templates")
    world = config.world()
    assert isinstance(world.tokenizer, JiebaTokenizer)
    assert {"快用完了", "什么牌子", "乔迁"} <= set(world.tokenizer.words)
    assert world.scenarios is config.scenarios
    matches = match_intents("同事过来问这是什么牌子，我的也快吃完了", world.scenarios.chat, world.tokenizer)
    found = sorted((m.intent, m.phrase) for m in matches)
    assert found == [("asked_by_friend", "同事过来问这是什么牌子"), ("running_out", "我的也快吃完")]


def test_without_the_file_only_the_catalog_cycle_runs(tmp_path: Path) -> None:
    settings = load_config(_tree(tmp_path, None) / "journeys", tmp_path / "templates").scenarios
    assert settings.consumption_cycle_ending is not None
    assert settings.lifecycle is None
    assert settings.chat.intents == {}


CASES: dict[str, tuple[str, list[str]]] = {
    "unknown field": (
        "lifecycle:\n  dormant_days: 30\n",
        [
            "journeys/scenarios.yaml:2:3: lifecycle.dormant_days: unknown key 'dormant_days' "
            "(did you mean 'dormant'?); allowed here: loyal_min_orders, min_intervals, population_min, "
            "default_interval_days, dormant, churned, grace, churn_risk"
        ],
    ),
    "bad duration": (
        "buying_for_friends:\n  cooldown: a week\n",
        [
            "journeys/scenarios.yaml:2:3: buying_for_friends.cooldown: Value error, 'a week' is not a duration; "
            "write e.g. 90s, 15m, 2h, 3d or 1w"
        ],
    ),
    "an intent that does not exist": (
        "chat:\n  intents:\n    moving: {phrases: [搬家]}\nmoving_house:\n  categories: [range_hood]\n"
        "  chat_intent: relocating\n",
        [
            "journeys/scenarios.yaml:6:3: moving_house.chat_intent: no intent 'relocating' under chat.intents; "
            "known: moving"
        ],
    ),
    "an intent with nothing to match": (
        "chat:\n  intents:\n    empty: {}\n",
        ["journeys/scenarios.yaml:3:5: chat.intents.empty: Value error, an intent needs phrases, patterns or keywords"],
    ),
    "a pattern naming an unknown class": (
        "chat:\n  intents:\n    asked:\n      patterns: ['给 {folks} 买']\n",
        [
            "journeys/scenarios.yaml:4:18: chat.intents.asked.patterns[0]: "
            "pattern '给 {folks} 买': unknown class {folks} (chat.classes has [])"
        ],
    ),
    "a pattern with a dangling gap": (
        "chat:\n  intents:\n    asked:\n      patterns: ['给 ...']\n",
        ["journeys/scenarios.yaml:3:5: chat.intents.asked: Value error, pattern '给 ...': needs a slot after '...'"],
    ),
    "a category that is not a name": (
        "moving_house:\n  categories: [Range Hood]\n",
        [
            "journeys/scenarios.yaml:2:16: moving_house.categories[0]: 'Range Hood': a name is lowercase letters, "
            "digits and _, starting with a letter (did you mean 'range_hood'?)"
        ],
    ),
    "churn before dormancy": (
        "lifecycle:\n  dormant: {factor: 3}\n  churned: {factor: 2}\n",
        [
            "journeys/scenarios.yaml:1:1: lifecycle: Value error, churned must come after dormant: "
            "a larger factor and min_days at least as large"
        ],
    ),
    "tiers in the wrong order": (
        "value_tier:\n  tiers:\n    - {name: 普通, min_score: 3}\n    - {name: 钻, min_score: 13}\n",
        [
            "journeys/scenarios.yaml:1:1: value_tier: Value error, tiers go from the highest min_score down, "
            "each min_score once"
        ],
    ),
    "a YAML 1.1 boolean": (
        "buying_for_friends:\n  recipient_differs: no\n",
        ["journeys/scenarios.yaml:2:22: 'no' is a boolean in YAML 1.1: quote it (\"no\") or write true/false"],
    ),
    "a survey metric without a scale": (
        "surveys:\n  high_effort: {metric: effort}\n",
        ["journeys/scenarios.yaml:2:17: surveys.high_effort.metric: no scale 'effort' under scales"],
    ),
    "not a mapping": ("- lifecycle\n", ["journeys/scenarios.yaml:1:1: expected a mapping at the top, got list"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_kind_of_mistake_is_located(tmp_path: Path, case: str) -> None:
    scenarios, expected = CASES[case]
    assert sorted(problems(_tree(tmp_path, scenarios))) == sorted(expected)


def test_a_journey_on_a_scenario_that_is_off_is_refused(tmp_path: Path) -> None:
    root = _tree(tmp_path, "value_tier: {}\n", scenario="lifecycle.changed")
    assert problems(root) == [
        "journeys/j.yaml:4:11: trigger.scenario: scenario 'lifecycle.changed' is off: add a `lifecycle:` section "
        "to journeys/scenarios.yaml"
    ]
    (root / "journeys" / "scenarios.yaml").write_text("lifecycle: {}\n", encoding="utf-8")
    assert load_config(root / "journeys", root / "templates").scenarios.lifecycle is not None


def test_the_committed_schema_is_in_sync() -> None:
    schema = REPO / "schema" / "scenarios.schema.json"
    assert schema.read_text(encoding="utf-8") == scenarios_schema(), (
        "regenerate: .venv/bin/python -c 'from orchestrator.config.catalog import scenarios_schema; "
        'open("schema/scenarios.schema.json", "w").write(scenarios_schema())\''
    )
    first = (REPO / "journeys" / "scenarios.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schema/scenarios.schema.json"


def test_the_core_never_imports_jieba() -> None:
    code = "import sys, orchestrator.core, orchestrator.core.process; print('jieba' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)  # noqa: S603
    assert result.stdout.strip() == "False"
