"""Operator files: every mistake is one `file:line:column: field: message`, all of them at once."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.config.catalog import load_config
from orchestrator.config.yaml_loader import load_yaml
from tests.config.helpers import problems

REPO = Path(__file__).resolve().parents[2]
HEAD = """\
id: j
name: 测试
version: 1
trigger: {scenario: consumption_cycle_ending}
steps:
"""
SEND = """\
  - id: remind
    send: {channel: wecom_private, template: t.j2}
"""


def _tree(tmp_path: Path, journey: str = HEAD + SEND, catalog: str | None = None, template: str = "hi") -> Path:
    (tmp_path / "journeys").mkdir(exist_ok=True)
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "journeys" / "j.yaml").write_text(textwrap.dedent(journey), encoding="utf-8")
    if catalog is not None:
        (tmp_path / "journeys" / "catalog.yaml").write_text(textwrap.dedent(catalog), encoding="utf-8")
    (tmp_path / "templates" / "t.j2").write_text(template, encoding="utf-8")
    return tmp_path


def test_the_shipped_journeys_catalog_and_templates_are_valid() -> None:
    config = load_config(REPO / "journeys", REPO / "templates")
    assert {j.id for j in config.journeys} >= {"replenish"}
    assert config.products.products["PRO-900"].days_per_unit == 30


def test_a_valid_tree_loads(tmp_path: Path) -> None:
    config = load_config(_tree(tmp_path) / "journeys", tmp_path / "templates")
    assert [j.id for j in config.journeys] == ["j"]


CASES = {
    "unknown field": (
        HEAD + SEND + "    colour: red\n",
        ["journeys/j.yaml:8:5: steps[0].colour: unknown key 'colour'; allowed here: id, when, next, send"],
    ),
    "missing field": (
        HEAD.replace("name: 测试\n", "") + SEND,
        ["journeys/j.yaml:1:1: name: Field required"],
    ),
    "bad duration": (
        HEAD + SEND + "  - id: pause\n    wait: 2 days\n",
        [
            "journeys/j.yaml:9:5: steps[1].wait: Value error, '2 days' is not a duration; write e.g. 90s, 15m, 2h, 3d "
            "or 1w"
        ],
    ),
    "two kinds in a step": (
        HEAD + SEND + "  - id: both\n    wait: 1d\n    exit: true\n",
        [
            "journeys/j.yaml:8:5: steps[1]: a step needs exactly one of: send, wait, wait_until, wait_for, branch, "
            "split, update, task, goto, exit"
        ],
    ),
    "trigger of no known kind": (
        HEAD.replace("{scenario: consumption_cycle_ending}", "{weather: rain}") + SEND,
        ["journeys/j.yaml:4:1: trigger: a trigger needs exactly one of: scenario, event, segment, schedule, date"],
    ),
    "bad cron": (
        HEAD.replace("{scenario: consumption_cycle_ending}", "{schedule: '0 25 * * *'}") + SEND,
        [
            "journeys/j.yaml:4:11: trigger.schedule: '0 25 * * *' is not a schedule ([0 25 * * *] is not acceptable, "
            "out of range); fields: minute hour day-of-month month day-of-week, with numbers, names (MON, JAN), "
            "ranges 1-5, lists 1,3, steps */2, 1#1 (first Monday), L (last day of the month)"
        ],
    ),
    "bad local time": (
        HEAD + SEND + "  - id: later\n    wait_until: {at: '25:00'}\n",
        [
            "journeys/j.yaml:9:18: steps[1].wait_until.at: '25:00': "
            'a local time is "HH:MM" in quotes, from "00:00" to "23:59"'
        ],
    ),
    "next to a missing step": (
        HEAD + SEND + "    next: nowhere\n",
        ["journeys/j.yaml:8:5: steps[0].next: no step with id 'nowhere'"],
    ),
    "timeout to a missing step": (
        HEAD + SEND + "  - id: hold\n    wait_for: {event: message.replied, timeout: 2d, on_timeout: gone}\n",
        ["journeys/j.yaml:9:53: steps[1].wait_for.on_timeout: no step with id 'gone'"],
    ),
    "unreachable step": (
        HEAD + SEND + "  - id: stop\n    exit: true\n  - id: orphan\n    wait: 1d\n",
        ["journeys/j.yaml:10:5: steps[2].id: step 'orphan' can never be reached"],
    ),
    "loop without a wait": (
        HEAD + SEND + "  - id: again\n    goto: {step: remind, max: 3}\n",
        ["journeys/j.yaml:6:5: steps[0].id: step 'remind' is on a loop with no wait step"],
    ),
    "split weights": (
        HEAD + "  - id: ab\n    split: {A: {weight: 50, next: remind}, B: {weight: 40}}\n" + SEND,
        ["journeys/j.yaml:7:5: steps[0].split: variant weights add up to 90, not 100"],
    ),
    "duplicate step id": (
        HEAD + SEND + SEND,
        ["journeys/j.yaml:8:5: steps[1].id: step id 'remind' is used more than once"],
    ),
    "unknown channel": (
        HEAD + SEND.replace("wecom_private", "fax"),
        [
            "journeys/j.yaml:7:12: steps[0].send.channel: unknown channel 'fax'; "
            "known: call, coupon, sms, webhook, wecom_group, wecom_private"
        ],
    ),
    "unknown template": (
        HEAD + SEND.replace("t.j2", "nope.j2"),
        ["journeys/j.yaml:7:36: steps[0].send.template: template 'nope.j2' not found under templates"],
    ),
    "unknown scenario": (
        HEAD.replace("consumption_cycle_ending", "moon_phase") + SEND,
        [
            "journeys/j.yaml:4:11: trigger.scenario: unknown scenario 'moon_phase' (did you mean 'moving_house'?); "
            "known: buying_for_friends, "
            "consumption_cycle_ending, high_effort, lifecycle.changed, moving_house, nps_detractor, nps_passive, "
            "nps_promoter, service_due, survey_tagged, value_tier.changed"
        ],
    ),
    "condition does not compile": (
        HEAD + SEND + '    when: "profile.name =="\n',
        [
            "journeys/j.yaml:8:27: steps[0].when: the condition ends too early (something is missing at the end) "
            "(column 16 of the condition: 'profile.name ==')"
        ],
    ),
    "YAML 1.1 traps": (
        HEAD + SEND + "  - id: later\n    wait_until: {at: 10:00, business_day: no}\n",
        [
            "journeys/j.yaml:9:22: '10:00' is a base-60 number in YAML 1.1: quote it (\"10:00\")",
            "journeys/j.yaml:9:43: 'no' is a boolean in YAML 1.1: quote it (\"no\") or write true/false",
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_kind_of_mistake_is_located(tmp_path: Path, case: str) -> None:
    journey, expected = CASES[case]
    assert problems(_tree(tmp_path, journey)) == expected


def test_a_template_must_render_against_the_sample(tmp_path: Path) -> None:
    root = _tree(tmp_path, template="{{ profile.attributes.car_model }} 保养提醒")
    [problem] = problems(root)
    assert problem.startswith("journeys/j.yaml:7:36: steps[0].send.template: fails to render on the sample profile")
    assert "car_model" in problem
    sample = "sample:\n  profile: {attributes: {car_model: 途观L}}\n"
    assert load_config(_tree(root, HEAD + SEND + sample) / "journeys", root / "templates").journeys


def test_broken_template_syntax_names_the_template_line(tmp_path: Path) -> None:
    [problem] = problems(_tree(tmp_path, template="ok\n{% if %}"))
    assert problem.startswith("journeys/j.yaml:7:36: steps[0].send.template: templates/t.j2:2: ")


def test_catalog_with_negative_days_refuses_to_load(tmp_path: Path) -> None:
    catalog = "products:\n  PRO-900:\n    name: 蛋白粉\n    category: protein\n    days_per_unit: -30\n"
    assert problems(_tree(tmp_path, catalog=catalog)) == [
        "journeys/catalog.yaml:5:5: products.PRO-900.days_per_unit: Input should be greater than 0"
    ]


def test_yaml_syntax_errors_carry_the_position(tmp_path: Path) -> None:
    [problem] = problems(_tree(tmp_path, "id: j\nsteps: [\n"))
    assert problem.startswith("journeys/j.yaml:3:1: YAML syntax: ")


def test_two_files_with_the_same_journey_version(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "journeys" / "k.yaml").write_text(HEAD + SEND, encoding="utf-8")
    assert problems(root) == ["journeys/k.yaml:3:1: version: journey j version 1 is also in journeys/j.yaml"]


def test_the_loader_reads_what_operators_meant(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("at: 10:00\non: 1\nflag: true\nn: 12\nf: 1.5\nq: 'no'\n", encoding="utf-8")
    loaded = load_yaml(path)
    assert loaded.data == {"at": "10:00", "on": 1, "flag": True, "n": 12, "f": 1.5, "q": "no"}
    assert [message.split(" is ")[0] for _, message in loaded.traps] == ["'10:00'", "'on'"]
    assert loaded.position_of(("flag",)) == (3, 1)


def _env(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    monkeypatch.setenv("XO_JOURNEYS_DIR", str(root / "journeys"))
    monkeypatch.setenv("XO_TEMPLATES_DIR", str(root / "templates"))


def test_validate_command_text_and_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path)
    _env(monkeypatch, root)
    assert main(["validate"]) == 0
    assert "ok: 1 journey(s) valid" in capsys.readouterr().out
    (root / "journeys" / "j.yaml").write_text(HEAD + SEND.replace("wecom_private", "fax"), encoding="utf-8")
    assert main(["validate", str(root / "journeys" / "j.yaml")]) == 1
    out = capsys.readouterr().out
    assert f"{root}/journeys/j.yaml:7:12: steps[0].send.channel: unknown channel 'fax'" in out
    assert main(["validate", "--output", "json"]) == 1
    [problem] = json.loads(capsys.readouterr().out)
    assert problem["line"] == 7
    assert problem["column"] == 12
    assert problem["field"] == "steps[0].send.channel"


def test_worker_refuses_to_start_on_invalid_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path, catalog="products:\n  X: {name: x, category: x, days_per_unit: 0}\n")
    _env(monkeypatch, root)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert main(["worker"]) == 2
    err = capsys.readouterr().err
    assert "invalid configuration, refusing to start" in err
    assert "catalog.yaml:2:29: products.X.days_per_unit: Input should be greater than 0" in err


def test_worker_refuses_to_start_without_servers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["worker"]) == 2
    assert "set KAFKA_BOOTSTRAP_SERVERS and REDIS_URL" in capsys.readouterr().err


def test_bad_environment_is_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XO_PARTITIONS", "zero")
    assert main(["validate"]) == 2
    assert "xo_partitions" in capsys.readouterr().err


def test_a_timer_started_journey_has_no_event_to_render(tmp_path: Path) -> None:
    dated = HEAD.replace("{scenario: consumption_cycle_ending}", "{date: {attribute: birthday, at: '10:00'}}")
    root = _tree(tmp_path, dated + SEND, template="{{ event.data.get('x') }}")
    [problem] = problems(root)
    assert "steps[0].send.template: fails to render on the sample profile" in problem
    assert "has no attribute 'data'" in problem
    goal = "goal: {event: coupon.redeemed, within: 7d, when: \"event.data.get('pool') == 'A'\"}\n"
    with_goal = dated.replace("steps:\n", goal + "steps:\n") + SEND
    assert load_config(_tree(root, with_goal, template="生日快乐") / "journeys", root / "templates").journeys
