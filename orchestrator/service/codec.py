"""bytes ⇄ inputs and outputs. JSON with orjson; every failure is an InputError with a reason."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from orchestrator.core import Action, Event, Input, ScenarioHit, TimerFired, check_data, customer_key, parse_event
from orchestrator.core.events import describe_validation_error
from orchestrator.core.journey_log import LogRecord
from orchestrator.errors import InputError

# An event record above this is refused at the door: far below the producer's 1 MB limit, so
# identify can forward it with its key, and a journey that keeps its trigger event stays small.
MAX_RECORD_BYTES = 64 * 1024
_ACTION = Action.__pydantic_serializer__
_LOG = LogRecord.__pydantic_serializer__


def decode_object(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        raise InputError("empty record (no value)", "json")
    if len(raw) > MAX_RECORD_BYTES:
        raise InputError(f"record of {len(raw)} bytes exceeds {MAX_RECORD_BYTES}", "size")
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc}", "json") from exc
    if not isinstance(payload, dict):
        raise InputError(f"invalid event: expected a JSON object, got {type(payload).__name__}", "schema")
    return payload


def decode_event(raw: bytes | None) -> tuple[str, Event]:
    """A raw ``xo.events`` record → (customer id, validated event)."""
    event = parse_event(decode_object(raw))
    check_data(event)
    return customer_key(event), event


def decode_input(raw: bytes | None) -> tuple[str, Input]:
    """A by-customer record: an event, or a timer that came due."""
    payload = decode_object(raw)
    if payload.get("kind") == "timer":
        try:
            timer = TimerFired.model_validate(payload)
        except ValidationError as exc:
            raise InputError(f"invalid timer record: {describe_validation_error(exc)}") from exc
        return timer.customer_id, timer
    event = parse_event(payload)
    check_data(event)
    return customer_key(event), event


def encode_timer(timer: TimerFired) -> bytes:
    return timer.model_dump_json().encode()


def encode_action(action: Action) -> bytes:
    """``action.model_dump_json()`` as bytes, straight from the serializer (no text in between)."""
    return _ACTION.to_json(action)


def encode_hit(hit: ScenarioHit) -> bytes:
    return orjson.dumps({"hit_id": hit.hit_id, **hit.model_dump(mode="json")})


def input_key(inp: Input) -> str:
    """What names one input in the journey log: the event id, or the timer and its due time."""
    if isinstance(inp, TimerFired):
        return f"timer:{inp.timer_id}@{inp.due_at.isoformat()}"
    return f"event:{inp.id}"


def encode_log(key: str, records: tuple[LogRecord, ...]) -> bytes:
    """One input's journey-log records as one ``<prefix>.journey-log`` record: the bytes of
    ``orjson.dumps({"input": key, "records": [r.compact() for r in records]})``, each record's JSON
    written by its serializer instead of going through a dict (pinned by tests/service/test_codec_bytes.py)."""
    return b'{"input":%b,"records":[%b]}' % (
        orjson.dumps(key),
        b",".join([_LOG.to_json(r, exclude_none=True) for r in records]),
    )


def dead_letter(raw: bytes | None, reason: str, where: str) -> bytes:
    """The DLQ record: the original payload (as text when it is text) plus why and where."""
    original: str | None
    try:
        original = raw.decode("utf-8") if raw is not None else None
    except UnicodeDecodeError:
        original = raw.hex() if raw is not None else None
    return orjson.dumps({"reason": reason, "source": where, "payload": original})
