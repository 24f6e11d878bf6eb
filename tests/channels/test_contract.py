"""The channel contract: committed schemas match the models; what the engine produces validates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from orchestrator.bootstrap import load_world
from orchestrator.channels.contract import ACTIONS, FailureReason, make_receipt, schemas
from orchestrator.core import CHANNELS, Action
from orchestrator.service.simulate import simulate
from orchestrator.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schema"
EVENTS = sorted((REPO / "tests" / "fixtures" / "events").glob("*.jsonl"))
FAR = datetime(2027, 12, 31, tzinfo=UTC)  # every fixture's timers fire


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _errors(name: str, record: dict[str, Any]) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator(name).iter_errors(record)]


def test_the_committed_contract_is_in_sync() -> None:
    generated = schemas()
    for name, text in generated.items():
        assert (SCHEMA / name).read_text(encoding="utf-8") == text, f"{name}: run `orchestrator schema` and commit"
    committed = {p.name for p in SCHEMA.glob("action.*.schema.json")}
    assert committed == {n for n in generated if n.startswith("action.")}, "a stale action schema is committed"
    assert set(ACTIONS) == set(CHANNELS)


@pytest.fixture(scope="module")
def produced() -> list[dict[str, Any]]:
    settings = Settings(xo_journeys_dir=REPO / "journeys", xo_templates_dir=REPO / "templates")
    _, world = load_world(settings)
    records = []
    for path in EVENTS:
        sim = simulate(world, path.read_bytes().splitlines(), until=FAR)
        records.extend(orjson.loads(r) for r in sim.records if b'"action_id"' in r[:40])
    return records


def test_every_action_the_engine_produces_validates(produced: list[dict[str, Any]]) -> None:
    channels = {r["channel"] for r in produced}
    assert {"wecom_private", "sms", "task"} <= channels  # the fixtures exercise messages and tasks
    assert len(produced) >= 20
    for record in produced:
        assert record["schema_version"] == 1
        assert _errors(f"action.{record['channel']}.schema.json", record) == [], record["action_id"]


def test_an_action_of_another_channel_or_missing_its_recipient_does_not_validate(
    produced: list[dict[str, Any]],
) -> None:
    sms = next(r for r in produced if r["channel"] == "sms")
    assert _errors("action.wecom_private.schema.json", sms)  # channel const and recipient key differ
    unaddressed = {**sms, "to": {}}
    assert any("phone" in e for e in _errors("action.sms.schema.json", unaddressed))
    unversioned = {k: v for k, v in sms.items() if k != "schema_version"}
    assert any("schema_version" in e for e in _errors("action.sms.schema.json", unversioned))


def _action(produced: list[dict[str, Any]]) -> Action:
    return ACTIONS["wecom_private"].model_validate(next(r for r in produced if r["channel"] == "wecom_private"))


def test_receipts_validate_and_name_the_customer(produced: list[dict[str, Any]]) -> None:
    action = _action(produced)
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    delivered = make_receipt(action, "message.delivered", at).model_dump(mode="json", exclude_none=True)
    failed = make_receipt(action, "message.failed", at, reason=FailureReason.unreachable).model_dump(
        mode="json", exclude_none=True
    )
    for receipt in (delivered, failed):
        assert _errors("receipt.schema.json", receipt) == []
        assert _errors("event.schema.json", receipt) == []  # a receipt is an event like any other
        assert receipt["identity"] == {"member_id": action.customer_id}
        assert receipt["data"]["action_id"] == action.action_id
    assert failed["id"] == f"receipt:message.failed:{action.action_id}"
    assert failed["data"]["reason"] == "unreachable"
    reasonless = {**failed, "data": {k: v for k, v in failed["data"].items() if k != "reason"}}
    assert any("reason" in e for e in _errors("receipt.schema.json", reasonless))


def test_a_failed_receipt_without_reason_or_routed_by_phone_is_refused(produced: list[dict[str, Any]]) -> None:
    action = _action(produced)
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    with pytest.raises(ValidationError, match="reason is required"):
        make_receipt(action, "message.failed", at)
    with pytest.raises(ValidationError, match="reason is required"):
        make_receipt(action, "message.delivered", at, reason=FailureReason.expired)
    good = make_receipt(action, "message.read", at)
    with pytest.raises(ValidationError, match="routed by customer"):
        type(good).model_validate({**good.model_dump(), "identity": {"phone": "+8613800000000"}})
