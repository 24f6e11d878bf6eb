"""The operator commands: simulate, graph, plan — through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from orchestrator.cli import main

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "examples" / "events.jsonl"
UNTIL = "2026-11-21T00:00:00+08:00"


@pytest.fixture(autouse=True)
def _repo_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XO_JOURNEYS_DIR", str(REPO / "journeys"))
    monkeypatch.setenv("XO_TEMPLATES_DIR", str(REPO / "templates"))


def _simulate(tmp_path: Path, name: str, *extra: str) -> bytes:
    out = tmp_path / name
    assert main(["simulate", "--events", str(EVENTS), "--until", UNTIL, "--out", str(out), *extra]) == 0
    return out.read_bytes()


def test_simulate_is_byte_identical_and_reports_rejects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _simulate(tmp_path, "a.jsonl")
    assert first == _simulate(tmp_path, "b.jsonl")
    records = [orjson.loads(line) for line in first.splitlines()]
    actions = [r for r in records if "action_id" in r]
    assert sorted(a["customer_id"] for a in actions) == ["M1001", "M1002", "M1006", "M1007", "M1010"]
    assert any("hit_id" in r for r in records)
    [failure] = [r["step_failure"] for r in records if "step_failure" in r]
    assert "no wecom_external_id" in failure["reason"]
    err = capsys.readouterr().err
    assert "events.jsonl:15: rejected: invalid JSON" in err
    assert "5 action(s)" in err


def test_dumped_profiles_feed_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "states.jsonl"
    _simulate(tmp_path, "out.jsonl", "--dump-profiles", str(dump))
    states = [orjson.loads(line) for line in dump.read_bytes().splitlines()]
    assert [s["customer_id"] for s in states] == sorted(s["customer_id"] for s in states)
    assert all("profile" in s for s in states)  # the stored form: fields at their default left out
    assert any("instances" in s for s in states)
    assert any("timers" in s for s in states)
    capsys.readouterr()
    assert main(["plan", "replenish@1", "replenish@1", "--dump", str(dump)]) == 0
    out = capsys.readouterr().out
    assert "replenish v1 → v1: 1 instance(s) waiting" in out  # M1007, a repeat buyer, waits for a reply
    assert "wait_reply                     1  → stays on v1 (no mapping)" in out


def test_plan_counts_waiting_instances_and_their_destination(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.yaml"
    new = tmp_path / "new.yaml"
    base = "id: j\nname: j\ntrigger: {event: chat.message}\n"
    old.write_text(base + "version: 1\nsteps:\n  - {id: pause, wait: 2d}\n  - {id: other, wait: 1d}\n")
    new.write_text(
        base + "version: 2\nmigrate: {from_version: 1, steps: {pause: hold}}\nsteps:\n  - {id: hold, wait: 1d}\n"
    )
    instance = {"journey_id": "j", "version": 1, "entered_at": "2026-11-20T10:00:00+08:00"}
    states = [
        {"customer_id": "C1", "instances": {"i1": {**instance, "id": "i1", "step": "pause"}}},
        {"customer_id": "C2", "instances": {"i2": {**instance, "id": "i2", "step": "pause"}}},
        {"customer_id": "C3", "instances": {"i3": {**instance, "id": "i3", "step": "other"}}},
    ]
    dump = tmp_path / "dump.jsonl"
    dump.write_bytes(b"\n".join(orjson.dumps(s) for s in states))
    assert main(["plan", str(old), str(new), "--dump", str(dump)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "j v1 → v2: 3 instance(s) waiting"
    assert out[2].split() == ["other", "1", "→", "stays", "on", "v1", "(no", "mapping)"]
    assert out[3].split() == ["pause", "2", "→", "hold", "(v2)"]


def test_graph_prints_mermaid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.yaml"
    path.write_text(
        "id: j\nname: j\nversion: 1\ntrigger: {scenario: consumption_cycle_ending}\nsteps:\n"
        "  - {id: ab, split: {A: {weight: 90, next: hold}, holdout: {weight: 10}}}\n"
        "  - {id: hold, wait_for: {event: message.replied, timeout: 2d, on_timeout: bye}}\n"
        "  - {id: bye, exit: true}\n"
    )
    assert main(["graph", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "flowchart TD",
        '  Start(["scenario: consumption_cycle_ending"]) --> ab',
        '  ab{"ab: split A 90% / holdout 10%"}',
        '  hold(["hold: wait for message.replied"])',
        '  bye["bye: exit"]',
        '  ab -->|"A 90%"| hold',
        '  ab -->|"holdout 10%"| Done',
        '  hold -->|"message.replied"| bye',
        '  hold -->|"timeout 2d"| bye',
        '  Done(["end"])',
    ]


def test_graph_shows_durations_channels_templates_goal_and_exits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "car-service"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == ("  Start([\"scenario: service_due<br/>entry: profile.attributes.get('car_model')\"]) --> workday")
    assert '  workday(["workday: wait until 10:00 on a business day"])' in out
    assert (
        '  card["card: send wecom_private<br/>car-service/card.j2<br/>valid 2d<br/>'
        'else sms<br/>car-service/card.sms.j2"]' in out
    )
    assert (
        '  advisor_call(["advisor_call: task call<br/>service_advisor<br/>SLA 1d<br/>'
        'car-service/advisor_call.task.j2"])' in out
    )
    assert '  wait_booking -->|"timeout 3d"| advisor_call' in out
    assert '  advisor_call -->|"SLA 1d passed"| sms_card' in out
    assert '  Goal{{"goal: service.completed within 30d"}} -.->|"converted, at any step"| Done' in out
    assert '  Exits{{"exit on: vehicle.transferred"}} -.->|"exited, at any step"| Done' in out


def _business_day_tree(root: Path) -> Path:
    (root / "journeys").mkdir()
    (root / "templates").mkdir()
    (root / "templates" / "t.j2").write_text("hi", encoding="utf-8")
    (root / "journeys" / "j.yaml").write_text(
        "id: j\nname: j\nversion: 1\ntrigger: {event: chat.message}\nsteps:\n"
        "  - {id: later, wait_until: {at: '10:00', business_day: true}}\n"
        "  - {id: hi, send: {channel: wecom_private, template: t.j2}}\n",
        encoding="utf-8",
    )
    return root


def test_the_holiday_warning_names_the_journeys_that_count_business_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = _business_day_tree(tmp_path)
    monkeypatch.setenv("XO_JOURNEYS_DIR", str(root / "journeys"))
    monkeypatch.setenv("XO_TEMPLATES_DIR", str(root / "templates"))
    assert main(["graph", "j"]) == 0  # drawing a graph runs nothing: no warning
    assert not [r for r in caplog.records if "holiday calendar" in r.message]
    assert main(["validate"]) == 0
    [warning] = [r.message for r in caplog.records if "holiday calendar" in r.message]
    assert warning.startswith("no holiday calendar for ")
    assert f"journey j count business days there as plain weekdays; add its holidays and 调休 workdays to {root}" in (
        warning
    )


def test_no_holiday_warning_for_journeys_without_business_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = _business_day_tree(tmp_path)
    journey = root / "journeys" / "j.yaml"
    journey.write_text(journey.read_text(encoding="utf-8").replace(", business_day: true", ""), encoding="utf-8")
    monkeypatch.setenv("XO_JOURNEYS_DIR", str(root / "journeys"))
    monkeypatch.setenv("XO_TEMPLATES_DIR", str(root / "templates"))
    assert main(["validate"]) == 0
    assert not [r for r in caplog.records if "holiday calendar" in r.message]


def test_simulate_rejects_a_naive_until(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--events", str(EVENTS), "--until", "2026-11-21T00:00:00"]) == 2
    assert "--until needs a time zone" in capsys.readouterr().err


def test_unknown_journey_for_graph(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "nope"]) == 1
    assert "no journey 'nope'" in capsys.readouterr().err


def test_validate_scores_the_chat_intents_on_a_labelled_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {"family": "buying_for_friends", "text": "给老人买的，很喜欢", "label": 1, "split": "held_out"},
        {"family": "buying_for_friends", "text": "朋友推荐的，很好用", "label": 0, "split": "held_out"},
        {"family": "running_out", "text": "刚吃完了晚饭", "label": 0, "split": "held_out"},
        {"family": "running_out", "text": "上次买的用完了，再来一瓶", "label": 1, "split": "held_out"},
    ]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert main(["validate", "--intents", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "| buying_for_friends | asked_by_friend | held_out | 2 | 1 | 1.000 / 1.000 | 1.000 / 1.000 |" in out
    assert "| running_out | running_out | held_out | 2 | 1 | 1.000 / 1.000 | 1.000 / 1.000 |" in out
    corpus.write_text('{"family": "moving"}\n', encoding="utf-8")
    assert main(["validate", "--intents", str(corpus)]) == 1
    assert f"{corpus}:1: not a labelled sentence" in capsys.readouterr().err
