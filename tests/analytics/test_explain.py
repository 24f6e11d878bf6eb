"""``simulate --explain ID``: why a customer was or was not entered, on simulated customers."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from orchestrator.cli import main
from orchestrator.core.steps import assign_variant
from tests.analytics.population import WEIGHTS, population

REPO = Path(__file__).resolve().parents[2]
OFFER_YAML = """\
id: offer-test
name: offer
version: 1
trigger: {event: chat.message, when: "event.data.get('text') == '在吗'"}
entry: {reentry: never}
goal: {event: order.paid, within: 7d}
steps:
  - {id: hello, update: {add_tags: [hello]}}
  - id: offer
    split:
      A: {weight: 40, next: a}
      B: {weight: 40, next: b}
      holdout: {weight: 20}
  - {id: a, update: {add_tags: [a]}, next: done}
  - {id: b, update: {add_tags: [b]}, next: done}
  - {id: done, update: {add_tags: [done]}}
"""


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines, _ = population(30)
    again = orjson.loads(lines[0])  # the first customer chats again a day later: re-entry is never
    again.update(id="chat-again", time="2026-11-03T10:00:00+08:00")
    stranger = {"id": "s1", "type": "page.viewed", "time": "2026-11-02T09:00:00+08:00"}
    stranger |= {"identity": {"member_id": "S1", "phone": "+8613800009999"}, "data": {}}
    path = tmp_path_factory.mktemp("explain") / "events.jsonl"
    path.write_bytes(b"\n".join([*lines, orjson.dumps(again), orjson.dumps(stranger)]) + b"\n")
    return path


def _explain(events: Path, who: str, journeys: Path, capsys: pytest.CaptureFixture[str]) -> str:
    args = ["simulate", "--journeys", str(journeys), "--templates", str(REPO / "templates")]
    assert main([*args, "--events", str(events), "--until", "2026-12-01T00:00:00+08:00", "--explain", who]) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def journeys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("journeys")
    (folder / "offer.yaml").write_text(OFFER_YAML, encoding="utf-8")
    return folder


def test_an_entered_customer_shows_the_entry_the_arm_and_the_refused_second_try(
    events: Path, journeys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _explain(events, "P00000", journeys, capsys)
    arm = assign_variant("offer-test", "offer", "P00000", WEIGHTS)
    assert out.startswith("P00000 (member_id P00000, wecom_external_id wm-P00000): 2 event(s)")
    assert "offer-test v1: entered 1×" in out
    assert "2026-11-02T10:00+08:00 entered" in out
    assert f"assigned arm {arm} at offer" in out
    assert "2026-11-03T10:00+08:00 refused by entry.reentry: never: entered at 2026-11-02T10:00:00+08:00" in out


def test_a_customer_the_trigger_never_matched_is_told_so_and_found_by_any_identifier(
    events: Path, journeys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _explain(events, "phone:+8613800009999", journeys, capsys)
    assert out.startswith("S1 (member_id S1, phone +8613800009999): 1 event(s)")
    assert "offer-test v1: not entered" in out
    assert "trigger: event chat.message when event.data.get('text') == '在吗'" in out
    assert "entry: re-entry never; at most 1 running" in out
    assert "why: 0 chat.message event(s): the trigger never matched" in out


def test_an_unknown_customer_is_said_to_be_unknown(
    events: Path, journeys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _explain(events, "nobody", journeys, capsys) == "nobody: no such customer in these events\n"


def test_the_report_lists_steps_as_the_journey_file_writes_them(
    events: Path, journeys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "log.jsonl"
    args = ["simulate", "--journeys", str(journeys), "--templates", str(REPO / "templates"), "--events", str(events)]
    assert main([*args, "--out", str(tmp_path / "out.jsonl"), "--log", str(log)]) == 0
    assert main(["report", str(log), "--output", "json"]) == 0
    reached = [s["step"] for s in orjson.loads(capsys.readouterr().out)[0]["steps"]]
    assert reached[:2] == ["hello", "offer"]
    assert sorted(reached) == ["a", "b", "done", "hello", "offer"]
    assert reached != ["hello", "offer", "a", "b", "done"]  # the first customer went to B: first reached first
    assert main(["report", str(log), "--output", "json", "--journeys", str(journeys)]) == 0
    assert [s["step"] for s in orjson.loads(capsys.readouterr().out)[0]["steps"]] == [
        "hello",
        "offer",
        "a",
        "b",
        "done",
    ]
