"""Operator files: every mistake is reported as file:line: field: message, all at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.config.catalog import load_config
from orchestrator.config.yaml_loader import load_yaml
from orchestrator.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
JOURNEY = """\
id: j
name: 测试
version: 1
trigger: {scenario: consumption_cycle_ending}
steps:
  - id: remind
    send:
      channel: wecom_private
      template: t.j2
"""


def _tree(tmp_path: Path, journey: str = JOURNEY, catalog: str | None = None, template: str = "hi") -> Path:
    (tmp_path / "journeys").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "journeys" / "j.yaml").write_text(textwrap.dedent(journey), encoding="utf-8")
    if catalog is not None:
        (tmp_path / "journeys" / "catalog.yaml").write_text(textwrap.dedent(catalog), encoding="utf-8")
    (tmp_path / "templates" / "t.j2").write_text(template, encoding="utf-8")
    return tmp_path


def _problems(root: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(root / "journeys", root / "templates")
    return [p.replace(str(root) + "/", "") for p in caught.value.problems]


def test_the_shipped_journeys_catalog_and_templates_are_valid() -> None:
    config = load_config(REPO / "journeys", REPO / "templates")
    assert {j.id for j in config.journeys} >= {"replenish"}
    assert config.products.products["PRO-900"].days_per_unit == 30


def test_a_valid_tree_loads(tmp_path: Path) -> None:
    config = load_config(_tree(tmp_path) / "journeys", tmp_path / "templates")
    assert [j.id for j in config.journeys] == ["j"]


def test_unknown_channel_names_file_line_and_field(tmp_path: Path) -> None:
    root = _tree(tmp_path, JOURNEY.replace("wecom_private", "fax"))
    assert _problems(root) == [
        "journeys/j.yaml:8: steps[0].send.channel: unknown channel 'fax'; "
        "known: call, coupon, sms, webhook, wecom_group, wecom_private"
    ]


def test_missing_and_broken_templates_are_reported(tmp_path: Path) -> None:
    root = _tree(tmp_path, template="{% if %}")
    [problem] = _problems(root)
    assert problem.startswith("journeys/j.yaml:9: steps[0].send.template: templates/t.j2:1: ")
    (root / "templates" / "t.j2").unlink()
    assert _problems(root) == ["journeys/j.yaml:9: steps[0].send.template: template 't.j2' not found under templates"]


def test_catalog_with_negative_days_refuses_to_load(tmp_path: Path) -> None:
    catalog = """\
    products:
      PRO-900:
        name: 蛋白粉
        category: protein
        days_per_unit: -30
    """
    assert _problems(_tree(tmp_path, catalog=catalog)) == [
        "journeys/catalog.yaml:5: products.PRO-900.days_per_unit: Input should be greater than 0"
    ]


def test_schema_errors_point_into_the_steps(tmp_path: Path) -> None:
    journey = JOURNEY + "  - id: pause\n    wait: 10:00\n  - id: both\n    wait: 1d\n    exit: true\n"
    problems = _problems(_tree(tmp_path, journey))
    assert problems == [
        "journeys/j.yaml:11: steps[1].wait: Value error, '10:00' is not a duration; write e.g. 90s, 15m, 2h, 3d or 1w",
        "journeys/j.yaml:12: steps[2]: a step needs exactly one of: send, wait, exit",
    ]


def test_cross_reference_problems_are_all_listed(tmp_path: Path) -> None:
    journey = JOURNEY.replace("consumption_cycle_ending", "moon_phase") + (
        '    next: nowhere\n    when: "profile.name =="\n  - id: remind\n    exit: true\n'
    )
    problems = _problems(_tree(tmp_path, journey))
    assert problems[0] == (
        "journeys/j.yaml:4: trigger.scenario: unknown scenario 'moon_phase'; known: consumption_cycle_ending"
    )
    assert "journeys/j.yaml:6: steps[0].id: step id 'remind' is used more than once" in problems
    assert "journeys/j.yaml:10: steps[0].next: no step with id 'nowhere'" in problems
    assert any(p.startswith("journeys/j.yaml:11: steps[0].when: condition does not compile:") for p in problems)


def test_yaml_syntax_errors_carry_the_line(tmp_path: Path) -> None:
    [problem] = _problems(_tree(tmp_path, "id: j\nsteps: [\n"))
    assert problem.startswith("journeys/j.yaml:3: (yaml): ")


def test_the_loader_closes_the_yaml_1_1_traps(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("at: 10:00\non: yes\nno: 1_0\nflag: true\nn: 12\nf: 1.5\n", encoding="utf-8")
    loaded = load_yaml(path)
    assert loaded.data == {"at": "10:00", "on": "yes", "no": "1_0", "flag": True, "n": 12, "f": 1.5}
    assert loaded.line_of(("no",)) == 3


def test_validate_command_exit_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path)
    monkeypatch.setenv("XO_JOURNEYS_DIR", str(root / "journeys"))
    monkeypatch.setenv("XO_TEMPLATES_DIR", str(root / "templates"))
    assert main(["validate"]) == 0
    assert "ok: 1 journey(s)" in capsys.readouterr().out
    (root / "journeys" / "j.yaml").write_text(JOURNEY.replace("wecom_private", "fax"), encoding="utf-8")
    assert main(["validate"]) == 2
    assert "j.yaml:8: steps[0].send.channel: unknown channel 'fax'" in capsys.readouterr().err


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


def test_worker_refuses_to_start_on_invalid_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path, catalog="products:\n  X: {name: x, category: x, days_per_unit: 0}\n")
    monkeypatch.setenv("XO_JOURNEYS_DIR", str(root / "journeys"))
    monkeypatch.setenv("XO_TEMPLATES_DIR", str(root / "templates"))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert main(["worker"]) == 2
    err = capsys.readouterr().err
    assert "invalid configuration, refusing to start" in err
    assert "catalog.yaml:2: products.X.days_per_unit: Input should be greater than 0" in err
