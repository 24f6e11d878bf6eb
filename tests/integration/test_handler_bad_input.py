"""The handler against inputs that used to stop a partition: with real Redis, the real world of
the test journeys, and a publisher that records what it would produce.

- an input the core raises on (a bug it triggers) goes to the DLQ; the rest of the batch commits;
- event data nested so deep that the customer's state could not be read back is rejected;
- a dead letter stays small enough for Kafka whatever the input (binary, escapes, long reasons);
- a ``tz`` naming a folder or too long for a file name (ZoneInfo raises OSError) is dead-lettered.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import load_world
from orchestrator.core import Input, Outcome, TimerFired, dedupe
from orchestrator.core import process as real_process
from orchestrator.service.clock import SystemClock
from orchestrator.service.handler import MAX_DATA_DEPTH, Handler, InRecord
from orchestrator.service.identify import route
from orchestrator.service.ports import OutRecord
from orchestrator.service.timers import timer_record
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings
from tests.integration.workers import JOURNEYS, TEMPLATES, customer_events, event

pytestmark = pytest.mark.integration
NOW = datetime.now(tz=UTC)
KAFKA_MESSAGE_LIMIT = 1_048_576


class Recording:
    """A Publisher that keeps what it is asked to produce."""

    def __init__(self) -> None:
        self.records: list[OutRecord] = []

    async def publish(self, records: Sequence[OutRecord]) -> None:
        self.records.extend(records)


def _handler(redis_client: Redis, prefix: str, publisher: Recording) -> Handler:
    _, world = load_world(Settings(xo_journeys_dir=JOURNEYS, xo_templates_dir=TEMPLATES))
    return Handler(world, RedisStore(redis_client, prefix=prefix), publisher, SystemClock(), Topics(prefix))


def _records(key: str, values: Sequence[bytes | None], first_offset: int = 0) -> list[InRecord]:
    return [InRecord(0, first_offset + n, key.encode(), v, time.monotonic()) for n, v in enumerate(values)]


def _dead_letters(publisher: Recording, prefix: str) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in publisher.records if r.topic == Topics(prefix).dlq]


def _nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth - 1):
        value = {"a": value}
    return value


async def test_an_input_the_core_raises_on_goes_to_the_dlq_and_the_rest_of_the_batch_commits(
    redis_client: Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def process(state: Any, inp: Input, now: datetime, world: Any) -> Outcome:
        if getattr(inp, "id", None) == "boom":
            raise ZeroDivisionError("a bug in the core")
        return real_process(state, inp, now, world)

    monkeypatch.setattr("orchestrator.service.handler.process", process)
    publisher = Recording()
    boom = event("boom", "M1", "product.viewed", NOW - timedelta(days=1), {})
    registered, ordered = customer_events("M1", NOW)
    batch = _records("M1", [registered, boom, ordered]) + _records("M2", customer_events("M2", NOW), 3)
    report = await _handler(redis_client, prefix, publisher).handle(batch)

    [dead] = _dead_letters(publisher, prefix)
    assert dead["reason"] == "unprocessable input: ZeroDivisionError: a bug in the core"
    assert dead["source"] == f"{prefix}.events.by-customer[0]@1"
    assert dead["payload"] == boom.decode()
    assert report.rejected == {"unprocessable": 1}
    assert report.events == {"customer.registered": 2, "order.paid": 2}
    store = RedisStore(redis_client, prefix=prefix)
    loaded = await store.load(["M1", "M2"])
    for cid in ("M1", "M2"):  # both orders were folded in and their cycle timers indexed
        state = loaded[cid].state
        assert state is not None
        assert dedupe.seen(state, f"{cid}-order")
        assert not dedupe.seen(state, "boom")
    due = await store.due_timers([0], int(NOW.timestamp() * 1000), 10)
    assert {ref.customer_id for ref in due} == {"M1", "M2"}


async def test_a_timer_the_core_raises_on_is_dead_lettered_and_stays_due(
    redis_client: Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher = Recording()
    handler = _handler(redis_client, prefix, publisher)
    await handler.handle(_records("M1", customer_events("M1", NOW)))
    store = RedisStore(redis_client, prefix=prefix)
    now_ms = int(NOW.timestamp() * 1000)
    [due] = await store.due_timers([0], now_ms, 10)

    def process(state: Any, inp: Input, now: datetime, world: Any) -> Outcome:
        if isinstance(inp, TimerFired):
            raise ZeroDivisionError("a bug in the core")
        return real_process(state, inp, now, world)

    monkeypatch.setattr("orchestrator.service.handler.process", process)
    fired = timer_record(Topics(prefix), due)
    await handler.handle([InRecord(0, 2, b"M1", fired.value, time.monotonic())])
    [dead] = _dead_letters(publisher, prefix)
    assert dead["reason"] == "unprocessable input: ZeroDivisionError: a bug in the core"
    # Still in the state and in the index: the pump fires it again (after its lease) and,
    # once the core no longer fails on it, the journey goes on.
    assert await store.due_timers([0], now_ms, 10) == [due]
    monkeypatch.setattr("orchestrator.service.handler.process", real_process)
    await handler.handle([InRecord(0, 3, b"M1", fired.value, time.monotonic())])
    assert [r.topic for r in publisher.records if ".actions." in r.topic] == [Topics(prefix).actions("wecom_private")]


async def test_data_nested_too_deep_for_the_state_store_is_rejected_and_shallower_data_is_kept(
    redis_client: Redis, prefix: str
) -> None:
    publisher = Recording()
    at = NOW - timedelta(days=1)
    deep = event("deep", "M1", "customer.registered", at, {"attributes": {"n": _nested(MAX_DATA_DEPTH)}})
    fine = event("fine", "M1", "customer.registered", at, {"attributes": {"n": _nested(MAX_DATA_DEPTH - 2)}})
    report = await _handler(redis_client, prefix, publisher).handle(_records("M1", [deep, fine]))
    [dead] = _dead_letters(publisher, prefix)
    assert dead["reason"] == f"invalid event: data: nested deeper than {MAX_DATA_DEPTH} levels"
    assert report.events == {"customer.registered": 1}
    state = (await RedisStore(redis_client, prefix=prefix).load(["M1"]))["M1"].state  # reads back
    assert state is not None
    assert dedupe.seen(state, "fine")
    assert len(state.seen_digests) == 1


@pytest.mark.parametrize(
    ("what", "value"),
    [
        ("binary, written as hex", b"\xff" * 900_000),
        ("text full of escapes", b"[" + b'"\\u0001",' * 100_000),
        ("an event of 800 kB with a bad time", orjson.dumps({"type": "x", "time": "tomorrow" * 100_000})),
        (
            "a data error naming a huge value",
            event("tz", "M1", "customer.registered", NOW, {"tz": "Mars/" + "x" * 800_000}),
        ),
    ],
)
async def test_a_dead_letter_always_fits_in_a_kafka_message(
    redis_client: Redis, prefix: str, what: str, value: bytes
) -> None:
    publisher = Recording()
    await _handler(redis_client, prefix, publisher).handle(_records("K" * 5000, [value]))
    [record] = [r for r in publisher.records if r.topic.endswith(".dlq")]
    assert len(record.value) + len(record.key.encode()) < KAFKA_MESSAGE_LIMIT // 2, what
    dead = orjson.loads(record.value)
    assert dead["reason"], what
    assert f"of {len(value)} bytes" in dead["reason"], what
    payload = str(dead["payload"])
    original = value.hex() if what.startswith("binary") else value.decode()
    assert original.startswith(payload), what


@pytest.mark.parametrize("tz", ["Asia", "x" * 300])
async def test_a_time_zone_that_is_a_folder_or_too_long_for_a_file_name_is_dead_lettered(prefix: str, tz: str) -> None:
    publisher = Recording()
    registered = event("tz", "M1", "customer.registered", NOW, {"tz": tz})
    report = await route(_records("M1", [registered]), publisher, Topics(prefix))
    assert report.rejected == {"data": 1}
    [dead] = _dead_letters(publisher, prefix)
    assert dead["reason"].startswith("invalid customer.registered data: tz:")
