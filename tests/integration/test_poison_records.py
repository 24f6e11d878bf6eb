"""Records that used to poison a partition for good, against real Redis and the test journeys:

- two valid ``order.paid`` with amount 1e308 made ``spent`` infinite; the population fold then
  raised OverflowError after the commit, and the state (``inf`` written as ``null``) no longer
  loaded, so every restart stopped again;
- a valid record just under 1 MB, or a 1 MB identifier that reaches an action, exceeded the
  producer's limit: refused as transient forever, and re-produced from the outbox after every
  restart;
- a stored state that cannot be loaded stopped the whole partition;
- 3,000 unknown event types became 3,000 metrics series.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from orchestrator.adapters.metrics import Metrics
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import load_world
from orchestrator.core import CustomerState
from orchestrator.core.view import plain
from orchestrator.errors import TransientError
from orchestrator.service.clock import SystemClock
from orchestrator.service.deadletter import MAX_OUT_BYTES, fits
from orchestrator.service.handler import Handler, InRecord
from orchestrator.service.identify import route
from orchestrator.service.ports import Commit, OutRecord
from orchestrator.service.timers import timer_record
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings
from tests.integration.workers import JOURNEYS, TEMPLATES, customer_events, event

pytestmark = pytest.mark.integration
NOW = datetime.now(tz=UTC)


class Recording:
    def __init__(self, fail: bool = False) -> None:
        self.records: list[OutRecord] = []
        self.fail = fail

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if self.fail:
            raise TransientError("broker away")
        self.records.extend(records)


class HugeText:
    """A renderer whose every message is 1.2 MB: an action no producer takes."""

    def render(self, template: str, context: Mapping[str, Any]) -> str:
        return "好" * 400_000


def _handler(redis_client: Redis, prefix: str, publisher: Recording, huge: bool = False) -> Handler:
    _, world = load_world(Settings(xo_journeys_dir=JOURNEYS, xo_templates_dir=TEMPLATES))
    if huge:
        world = replace(world, renderer=HugeText())
    return Handler(world, RedisStore(redis_client, prefix=prefix), publisher, SystemClock(), Topics(prefix))


def _records(key: str, values: Sequence[bytes | None], first_offset: int = 0) -> list[InRecord]:
    return [InRecord(0, first_offset + n, key.encode(), v, time.monotonic()) for n, v in enumerate(values)]


def _letters(publisher: Recording, prefix: str) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in publisher.records if r.topic == Topics(prefix).dlq]


def _order(id_: str, cid: str, amount: float) -> bytes:
    data = {"order_id": id_, "amount": amount, "items": [{"sku": "PRO-900", "qty": 1}]}
    return event(id_, cid, "order.paid", NOW - timedelta(days=2), data)


async def test_two_orders_of_1e308_are_dead_lettered_and_the_partition_goes_on(
    redis_client: Redis, prefix: str
) -> None:
    publisher = Recording()
    m1 = _records("M1", [customer_events("M1", NOW)[0], _order("O1", "M1", 1e308), _order("O2", "M1", 1e308)])
    batch = m1 + _records("M2", customer_events("M2", NOW), 3)
    report = await _handler(redis_client, prefix, publisher).handle(batch)
    letters = _letters(publisher, prefix)
    assert [d["reason"] for d in letters] == [
        "invalid order.paid data: amount: Input should be less than or equal to 1000000000"
    ] * 2
    assert report.events == {"customer.registered": 2, "order.paid": 1}
    loaded = await RedisStore(redis_client, prefix=prefix).load(["M1", "M2"])
    m1_state, m2_state = loaded["M1"].state, loaded["M2"].state
    assert m1_state is not None
    assert m2_state is not None
    assert (m1_state.profile.spent, m2_state.profile.spent) == (0.0, 199.0)


async def test_a_valid_record_just_under_1_MB_is_dead_lettered_at_the_door(prefix: str) -> None:
    publisher = Recording()
    blob = event("big", "M1", "x_blob.uploaded", NOW, {"blob": "x" * 990_000})
    report = await route(_records("M1", [blob]), publisher, Topics(prefix))
    assert report.rejected == {"size": 1}
    [letter] = _letters(publisher, prefix)
    assert letter["reason"].startswith(f"record of {len(blob)} bytes exceeds 65536")
    assert all(fits(r) for r in publisher.records)


@pytest.mark.parametrize("size", [5_000, 990_000])
async def test_a_huge_identifier_never_reaches_an_action(redis_client: Redis, prefix: str, size: int) -> None:
    publisher = Recording()
    registered = event("reg", "M1", "customer.registered", NOW - timedelta(days=40), {}, wecom_external_id="w" * size)
    batch = _records("M1", [registered, customer_events("M1", NOW)[1]])
    routed = await route(batch, publisher, Topics(prefix))
    assert routed.rejected in ({"schema": 1}, {"size": 1})
    [letter] = _letters(publisher, prefix)
    assert "identity" in letter["reason"] or "exceeds" in letter["reason"]
    await _handler(redis_client, prefix, publisher).handle(batch)
    assert all(fits(r) for r in publisher.records)


async def _fire_cycle_timer(handler: Handler, store: RedisStore, offset: int) -> list[InRecord]:
    [due] = await store.due_timers([0], int(NOW.timestamp() * 1000), 10)
    fired = timer_record(handler.topics, due)
    return [InRecord(0, offset, b"M1", fired.value, time.monotonic())]


async def test_an_action_too_large_to_produce_is_dead_lettered_before_the_commit(
    redis_client: Redis, prefix: str
) -> None:
    publisher = Recording()
    handler = _handler(redis_client, prefix, publisher, huge=True)
    store = RedisStore(redis_client, prefix=prefix)
    await handler.handle(_records("M1", customer_events("M1", NOW)))
    timer = await _fire_cycle_timer(handler, store, 2)
    handler.publisher = Recording(fail=True)  # a crash after the commit: the outbox stays pending
    with pytest.raises(TransientError):
        await handler.handle(timer)
    pending = await redis_client.hgetall(f"{prefix}:{{M1}}:outbox")
    assert pending
    assert all(len(raw) < MAX_OUT_BYTES for raw in pending.values())
    handler.publisher = publisher
    report = await handler.handle(timer)  # redelivered: a duplicate; the outbox is produced
    assert report.duplicates == 1
    assert all(fits(r) for r in publisher.records)
    [letter] = _letters(publisher, prefix)
    assert letter["reason"].startswith("output too large: action wait_and_send:1:")
    assert letter["payload"].startswith('{"schema_version":1,"action_id":"wait_and_send:1:')
    assert await redis_client.hgetall(f"{prefix}:{{M1}}:outbox") == {}
    state = (await store.load(["M1"]))["M1"].state
    assert state is not None
    assert [i.step for i in state.instances.values()] == ["pause"]  # the journey went on


async def test_an_oversize_entry_left_in_the_outbox_is_dead_lettered_and_settled(
    redis_client: Redis, prefix: str
) -> None:
    store = RedisStore(redis_client, prefix=prefix)
    stuck = OutRecord(Topics(prefix).actions("sms"), "M1", orjson.dumps({"text": "x" * 1_100_000}))
    assert (
        await store.commit([Commit("M1", 0, CustomerState.new("M1").model_copy(update={"version": 1}), {"a1": stuck})])
        == []
    )
    publisher = Recording()
    await _handler(redis_client, prefix, publisher).handle(_records("M1", customer_events("M1", NOW)[:1]))
    assert all(fits(r) for r in publisher.records)
    [letter] = _letters(publisher, prefix)
    assert letter["reason"].startswith("output too large: outbox entry a1")
    assert await redis_client.hgetall(f"{prefix}:{{M1}}:outbox") == {}


async def test_an_unloadable_state_quarantines_its_customer_and_the_partition_goes_on(
    redis_client: Redis, prefix: str
) -> None:
    broken = plain(CustomerState.new("M1").model_copy(update={"version": 3}))
    broken["profile"]["spent"] = None  # what pydantic wrote for an infinite float
    await redis_client.hset(f"{prefix}:{{M1}}:state", mapping={"v": "3", "s": orjson.dumps(broken)})
    publisher = Recording()
    batch = _records("M1", customer_events("M1", NOW)) + _records("M2", customer_events("M2", NOW), 2)
    report = await _handler(redis_client, prefix, publisher).handle(batch)
    assert report.quarantined == 1
    assert report.rejected == {"quarantined": 2}
    letters = _letters(publisher, prefix)
    assert [d["reason"] for d in letters] == [
        "quarantined: unloadable state: state of M1: profile.spent: Input should be a valid number"
    ] * 2
    assert [d["source"] for d in letters] == [f"{prefix}.events.by-customer[0]@{n}" for n in (0, 1)]
    assert orjson.loads(await redis_client.hget(f"{prefix}:{{M1}}:state", "s") or b"{}") == broken  # untouched
    loaded = await RedisStore(redis_client, prefix=prefix).load(["M1", "M2"])
    assert loaded["M1"].unloadable is not None
    m2 = loaded["M2"].state
    assert m2 is not None
    assert m2.profile.orders == 1


async def test_unknown_event_types_share_one_metrics_label(redis_client: Redis, prefix: str) -> None:
    events = [event(f"u{n}", "M1", f"x_upstream.kind{n}", NOW, {}) for n in range(3000)]
    events.append(customer_events("M1", NOW)[1])
    report = await _handler(redis_client, prefix, Recording()).handle(_records("M1", events))
    assert report.events == {"other": 3000, "order.paid": 1}
    metrics = Metrics()
    metrics.observe(report, "process")
    series = [line for line in metrics.exposition().decode().splitlines() if line.startswith("xo_events_total")]
    assert sorted(series) == ['xo_events_total{type="order.paid"} 1.0', 'xo_events_total{type="other"} 3000.0']


async def test_a_seen_event_id_with_other_content_is_dead_lettered_as_a_conflicting_duplicate(
    redis_client: Redis, prefix: str
) -> None:
    publisher = Recording()
    handler = _handler(redis_client, prefix, publisher)
    await handler.handle(_records("M1", [_order("O1", "M1", 100.0)]))
    before = (await RedisStore(redis_client, prefix=prefix).load(["M1"]))["M1"].state
    redelivered, changed = _order("O1", "M1", 100.0), _order("O1", "M1", 5000.0)
    report = await handler.handle(_records("M1", [redelivered, changed], 1))
    assert (report.duplicates, dict(report.rejected)) == (1, {"conflict": 1})
    [letter] = _letters(publisher, prefix)
    assert letter["reason"] == "conflicting duplicate: event id 'O1' was processed before with other content"
    assert letter["payload"] == changed.decode()
    assert (await RedisStore(redis_client, prefix=prefix).load(["M1"]))["M1"].state == before
